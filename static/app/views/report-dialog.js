// Reporting a message, a person or a group (a reason and optional details), and telling the
// reporter what became of it when the group's owner and admins or the moderators act.

import { api } from "../api.js";
import { byId } from "../dom.js";
import { errorText } from "../errors.js";
import { format, gettext } from "../i18n.js";
import { toast } from "./toasts.js";

const TITLES = {
  message: () => gettext("Report this message"),
  user: () => gettext("Report this person"),
  group: () => gettext("Report this group"),
};
const OUTCOMES = {
  recall: () => gettext("the message was removed"),
  mute: () => gettext("the sender was muted in the group"),
  kick: () => gettext("the sender was removed from the group"),
  deactivate: () => gettext("the account was deactivated"),
};

let target = null;

/** Open the dialog for one thing; `label` says which (a name, a quote of the message). */
export function openReport(kind, targetId, label = "") {
  target = { kind, target_id: targetId };
  const form = byId("report-form");
  form.reset();
  form.querySelector(".form-error").textContent = "";
  byId("report-title").textContent = TITLES[kind]();
  byId("report-what").textContent = label;
  byId("report-what").hidden = !label;
  byId("report-dialog").showModal();
}

/** A `report.resolved` frame: only the reporter (`mine`) is told, with the outcome. */
export function tellOutcome({ report, mine }) {
  if (!mine) return;
  if (report.status === "dismissed") {
    toast({ title: gettext("Your report was reviewed"), message: gettext("No action was taken.") });
  } else {
    const outcome = OUTCOMES[report.outcome]?.() ?? report.outcome;
    toast({ title: gettext("Your report was acted on"), message: format(gettext("Outcome: %(outcome)s."), { outcome }), type: "success" });
  }
}

export function initReportDialog() {
  const dialog = byId("report-dialog");
  const form = byId("report-form");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await api.post("reports", { ...target, reason: data.get("reason"), comment: data.get("comment").trim() });
      dialog.close();
      toast({ message: gettext("Thank you: your report was sent."), type: "success" });
    } catch (error) {
      form.querySelector(".form-error").textContent = errorText(error);
    }
  });
}
