// The "jump to the latest" button over the open conversation: shown while the person has scrolled
// up, with the count of other people's messages that arrived since they left the bottom; a click
// scrolls to the newest message and puts the focus back in the composer.

import { byId, h } from "../dom.js";
import { format, gettext, ngettext } from "../i18n.js";
import { state } from "../store.js";
import { historyOf } from "../store-messages.js";

const AT_BOTTOM_PX = 80;
let seenUpTo = null;  // the newest message id while the person was last at the bottom

const list = () => byId("message-list");
export const atBottom = () => list().scrollHeight - list().scrollTop - list().clientHeight < AT_BOTTOM_PX;

/** Show or hide the button and its count; called after every scroll and every render. */
export function updateJump() {
  const button = byId("jump-latest");
  const messages = state.currentChatId ? historyOf(state.currentChatId).messages : [];
  const newest = messages.findLast((m) => m.id)?.id ?? null;
  if (atBottom() || seenUpTo === null) seenUpTo = newest;
  const away = !atBottom();
  button.hidden = !away;
  if (!away) return;
  const count = messages.filter((m) => m.id > seenUpTo && m.sender_id !== state.me?.id && !m.is_deleted).length;
  const badge = button.querySelector(".badge");
  badge.hidden = count === 0;
  badge.textContent = String(count);
  const label = count
    ? format(ngettext("Jump to the latest messages (%(count)s new)", "Jump to the latest messages (%(count)s new)", count), { count })
    : gettext("Jump to the latest messages");
  button.setAttribute("aria-label", label);
  button.title = label;
}

/** A different chat was opened: nothing seen yet. */
export function resetJump() {
  seenUpTo = null;
  byId("jump-latest").hidden = true;
}

export function initJumpLatest() {
  const button = h(
    "button",
    { type: "button", id: "jump-latest", class: "jump-latest", hidden: true, "data-testid": "jump-latest" },
    h("span", { "aria-hidden": "true", text: "↓" }),
    h("span", { class: "badge", hidden: true, "data-testid": "jump-latest-count" }),
  );
  button.addEventListener("click", () => {
    list().scrollTop = list().scrollHeight;
    updateJump();
    byId("composer-input").focus();
  });
  list().after(button);
  list().addEventListener("scroll", updateJump, { passive: true });
}
