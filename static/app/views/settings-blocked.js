// Settings, Blocked people: the block list with Unblock; and the Block action (with a
// confirmation) that the contacts dialog offers on a person.

import { blockPerson, unblockPerson } from "../blocks.js";
import { avatar, button, byId, h, reconcile } from "../dom.js";
import { format, gettext } from "../i18n.js";
import { state, subscribe } from "../store.js";
import { confirmAction } from "./ask.js";
import { registerSettingsPanel } from "./settings.js";
import { attempt, toast } from "./toasts.js";

function render() {
  const rows = state.blocks.map((block) => {
    const name = block.user.nickname || `#${block.user_id}`;
    return h(
      "li",
      { class: "person", "data-testid": "blocked-person", "data-user-id": block.user_id },
      h("span", { class: "avatar-wrap" }, avatar(name, block.user.avatar_url)),
      h("span", { class: "person-text" }, h("span", { class: "person-name", text: name })),
      button(gettext("Unblock"), () => unblock(block.user_id, name), { "data-testid": "unblock", "aria-label": format(gettext("Unblock %(name)s"), { name }) }),
    );
  });
  reconcile(byId("blocked-list"), rows.length ? rows : [h("li", { class: "empty", text: gettext("You have not blocked anyone.") })]);
}

function unblock(userId, name) {
  return attempt(async () => {
    await unblockPerson(userId);
    toast({ message: format(gettext("%(name)s is unblocked."), { name }), type: "success" });
  });
}

/** Block a person after a confirmation; resolves once done (or cancelled). */
export async function confirmBlock(userId, name) {
  const question = format(gettext("Block %(name)s? They will not be able to message or call you, and you will not be able to message them until you unblock them."), { name });
  if (!(await confirmAction(question))) return;
  await attempt(async () => {
    await blockPerson(userId);
    toast({ message: format(gettext("%(name)s is blocked."), { name }), type: "success" });
  });
}

export function initBlockedSettings() {
  registerSettingsPanel("blocked", render);
  subscribe("blocks", () => !byId("settings-blocked").hidden && render());
}
