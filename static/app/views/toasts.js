// Toasts: `notification` events from the server and the outcome of the user's actions.

import { byId, h, safeUrl } from "../dom.js";
import { errorText } from "../errors.js";
import { gettext } from "../i18n.js";
import { icon } from "../icons.js";

const SHOW_MS = 6000;
const TYPES = new Set(["info", "success", "warning", "error"]);

const showing = new Set();  // what the visible toasts say: the same words are not stacked twice

/** `sticky`: stays until dismissed (what happened to the user's membership, for instance). */
export function toast({ title = "", message = "", type = "info", action_url: actionUrl = null, sticky = false }) {
  const href = actionUrl && safeUrl(actionUrl);
  const kind = TYPES.has(type) ? type : "info";
  const key = JSON.stringify([title, message, kind, href]);
  if (showing.has(key)) return;
  showing.add(key);
  const close = () => {
    showing.delete(key);
    item.remove();
  };
  const item = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast", "data-type": kind },
    h(
      "div",
      { class: "toast-body" },
      title && h("strong", { class: "toast-title", text: title }),
      message && h("p", { text: message }),
      href && h("a", { href, target: "_blank", rel: "noopener noreferrer", text: gettext("Open") }),
    ),
    h("button", { type: "button", class: "icon-button", "aria-label": gettext("Dismiss"), onclick: close }, icon("close")),
  );
  const box = byId("toasts");
  placeAboveDialogs(box);
  box.append(item);
  if (!sticky) setTimeout(close, kind === "error" ? SHOW_MS * 2 : SHOW_MS);
}

/** An open modal <dialog> sits in the top layer, above any z-index, and makes the rest of the page
 * inert: so the toasts live inside the topmost open modal dialog (seen and dismissable there), and
 * back in the page once no dialog is open. */
function placeAboveDialogs(box) {
  const dialogs = document.querySelectorAll("dialog:modal");
  const home = dialogs[dialogs.length - 1] ?? document.body;
  if (box.parentElement !== home) home.append(box);
}

// A dialog opening covers the toasts, one closing hides those inside it: move them each time.
new MutationObserver(() => placeAboveDialogs(byId("toasts"))).observe(document.body, { subtree: true, attributeFilter: ["open"] });

export const toastError = (error) => toast({ message: errorText(error), type: "error" });

/** Run an action; its failure becomes an error toast. Resolves to whether it succeeded. */
export async function attempt(action) {
  try {
    await action();
    return true;
  } catch (error) {
    toastError(error);
    return false;
  }
}
