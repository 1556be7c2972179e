// The group panel's Reports section for the owner and admins: each open report of a message in
// the group with its evidence (the message as it was when reported), and the steps within their
// powers: remove the message, mute or remove its sender, or dismiss the report.

import { api } from "../api.js";
import { button, h } from "../dom.js";
import { format, formatDateTime, gettext } from "../i18n.js";
import { loadGroup, memberOf } from "../groups.js";
import { state } from "../store.js";
import { attempt } from "./toasts.js";

const RANK = { owner: 3, admin: 2, member: 1 };
const REASONS = {
  spam: () => gettext("Spam"),
  harassment: () => gettext("Harassment"),
  illegal: () => gettext("Illegal content"),
  other: () => gettext("Something else"),
};
const MUTE_SECONDS = 86400;

function evidenceNode(evidence) {
  const files = evidence.attachments || [];
  return h(
    "blockquote",
    { class: "report-evidence", "data-testid": "report-evidence" },
    h("strong", { text: evidence.sender_nickname ?? gettext("Deleted account") }),
    evidence.content && h("p", { "data-testid": "report-content", text: evidence.content }),
    files.length > 0 && h("ul", {}, files.map((file) => h("li", { text: `${file.name} (${file.mime})` }))),
    h("small", { text: formatDateTime(evidence.created_at) }),
  );
}

function reportItem(group, report) {
  const id = group.info.id;
  const resolve = (action, extra = {}) => async () => {
    await attempt(() => api.post(`groups/${id}/reports/${report.id}/resolve`, { action, ...extra }));
    await attempt(() => loadGroup(id));
  };
  const sender = memberOf(group, report.evidence.sender_id);
  const outranked = sender && sender.user_id !== state.me.id && RANK[group.info.my_role] > RANK[sender.role];
  const key = (name) => ({ "data-key": `report-${report.id}-${name}`, "data-testid": `report-${name}` });
  return h(
    "li",
    { class: "report", "data-testid": "group-report", "data-report-id": report.id },
    h("span", { class: "report-reason", text: REASONS[report.reason]() }),
    report.comment && h("p", { class: "report-comment", text: report.comment }),
    evidenceNode(report.evidence),
    h(
      "div",
      { class: "inline-controls" },
      button(gettext("Remove message"), resolve("recall"), key("recall")),
      outranked && button(gettext("Mute sender for a day"), resolve("mute", { duration: MUTE_SECONDS }), key("mute")),
      outranked && button(gettext("Remove sender from group"), resolve("kick"), { class: "danger", ...key("kick") }),
      button(gettext("Dismiss"), resolve("dismiss"), key("dismiss")),
    ),
  );
}

/** The section, or null when nothing waits. */
export function reportsSection(group) {
  const reports = group.reports || [];
  if (!reports.length) return null;
  return h(
    "section",
    { class: "panel-section", "data-testid": "group-reports" },
    h("h3", { "data-testid": "group-reports-title", text: format(gettext("Reports (%(count)s)"), { count: reports.length }) }),
    h("ul", { class: "reports" }, reports.map((report) => reportItem(group, report))),
  );
}
