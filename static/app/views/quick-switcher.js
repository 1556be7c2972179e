// The quick switcher: Ctrl+K (Cmd+K on a Mac) anywhere in the signed-in client opens a dialog to
// jump to a chat by name. Typing filters the chats (most recent first), Up/Down move the choice,
// Enter opens it (the focus then lands in its composer), Escape closes and gives the focus back.

import { byId, h } from "../dom.js";
import { gettext } from "../i18n.js";
import { state } from "../store.js";
import { sortedChats } from "../store-chats.js";

const MAX_RESULTS = 8;
let matches = [];
let active = 0;
let opener = null;  // what had the focus before the switcher opened
let openChat = () => {};

const dialog = () => byId("quick-switcher");
const input = () => byId("quick-switcher-input");

function render() {
  const query = input().value.trim().toLocaleLowerCase();
  matches = sortedChats().filter((chat) => (chat.title ?? "").toLocaleLowerCase().includes(query)).slice(0, MAX_RESULTS);
  active = Math.min(active, Math.max(matches.length - 1, 0));
  const options = matches.map((chat, index) =>
    h("li", {
      id: `quick-switcher-option-${chat.id}`,
      role: "option",
      class: "quick-switcher-option",
      "aria-selected": String(index === active),
      "data-testid": "quick-switcher-option",
      "data-chat-id": chat.id,
      text: chat.title ?? "",
      onclick: () => choose(index),
    }),
  );
  const list = byId("quick-switcher-list");
  list.replaceChildren(...(options.length ? options : [h("li", { class: "empty", role: "presentation", text: gettext("No chat by that name") })]));
  if (matches.length) input().setAttribute("aria-activedescendant", options[active].id);
  else input().removeAttribute("aria-activedescendant");
  options[active]?.scrollIntoView({ block: "nearest" });
}

function choose(index) {
  const chat = matches[index];
  if (!chat) return;
  opener = null;  // the chat's composer takes the focus, not the control that opened the switcher
  dialog().close();
  openChat(chat.id);
}

function onKey(event) {
  const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
  if (step && matches.length) {
    event.preventDefault();
    active = (active + step + matches.length) % matches.length;
    render();
  } else if (event.key === "Enter") {
    event.preventDefault();
    choose(active);
  }
}

/** Open the switcher (when signed in and no other dialog is open). */
export function openQuickSwitcher() {
  if (!state.me || dialog().open || document.querySelector("dialog[open]")) return;
  opener = document.activeElement;
  input().value = "";
  active = 0;
  render();
  dialog().showModal();
  input().focus();
}

export function initQuickSwitcher(onOpenChat) {
  openChat = onOpenChat;
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === "k") {
      if (!state.me) return;
      event.preventDefault();
      openQuickSwitcher();
    }
  });
  input().addEventListener("input", () => {
    active = 0;
    render();
  });
  input().addEventListener("keydown", onKey);
  dialog().addEventListener("close", () => {
    opener?.focus?.();
    opener = null;
  });
}
