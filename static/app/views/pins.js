// Pinned messages of the open conversation: a bar under the header shows the latest pin (click:
// jump to it), a button opens the list of all pins (jump, unpin). Pins are loaded when a chat
// opens and after a reconnect, and follow message.pinned / message.unpinned live (the store keeps
// them: store-messages.js, topic "pins").

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { format, formatDateTime, gettext } from "../i18n.js";
import * as socket from "../socket.js";
import { notePinned, noteUnpinned, pinsOf, setPins } from "../store-messages.js";
import { nameOf, state, subscribe } from "../store.js";
import { mediaLabel } from "./attachment-view.js";
import { jumpTo } from "./search.js";
import { attempt } from "./toasts.js";

function preview(message) {
  const text = mediaLabel(message) ?? (message.message_type === "image" ? gettext("Image") : message.content);
  return `${nameOf(message.sender_id)}: ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`;
}

export async function loadPins(chatId) {
  setPins(chatId, await api.get(`chats/${chatId}/pins`));
}

export const pinMessage = (message) => api.put(`messages/${message.id}/pin`);
export const unpinMessage = (message) => api.delete(`messages/${message.id}/pin`);

function jump(pin) {
  byId("pins-dialog").close();
  attempt(() => jumpTo(pin.message.chat_id, pin.message.id));
}

function render() {
  const pins = state.currentChatId ? pinsOf(state.currentChatId) : [];
  const bar = byId("pinned-bar");
  bar.hidden = !pins.length;
  bar.dataset.count = String(pins.length);
  if (pins.length) byId("pinned-latest").textContent = format(gettext("Pinned: %(text)s"), { text: preview(pins[0].message) });
  byId("pinned-all").textContent = format(gettext("All pins (%(count)s)"), { count: pins.length });
  byId("pins-list").replaceChildren(
    ...pins.map((pin) =>
      h(
        "li",
        { class: "pin-item", "data-testid": "pin-item", "data-message-id": pin.message.id },
        h("button", { type: "button", class: "link-button pin-jump", "data-testid": "pin-jump", onclick: () => jump(pin), text: preview(pin.message) }),
        h("span", { class: "pin-meta", text: format(gettext("pinned by %(name)s, %(when)s"), { name: pin.pinned_by?.nickname ?? "", when: formatDateTime(pin.pinned_at) }) }),
        h("button", { type: "button", class: "link-button", "data-testid": "pin-unpin", onclick: () => attempt(() => unpinMessage(pin.message)), text: gettext("Unpin") }),
      ),
    ),
  );
}

/** `onChange(chatId)`: the conversation redraws its messages' pin actions. */
export function initPins(onChange) {
  subscribe("pins", (chatId) => {
    if (chatId === state.currentChatId) render();
    onChange(chatId);
  });
  socket.on("message.pinned", ({ chat_id: chatId, pin }) => notePinned(chatId, pin));
  socket.on("message.unpinned", ({ chat_id: chatId, message_id: messageId }) => noteUnpinned(chatId, messageId));
  socket.on("connect", () => state.currentChatId && attempt(() => loadPins(state.currentChatId)));
  const dialog = byId("pins-dialog");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  byId("pinned-latest").addEventListener("click", () => {
    const latest = pinsOf(state.currentChatId)[0];
    if (latest) jump(latest);
  });
  byId("pinned-all").addEventListener("click", () => dialog.showModal());
}

export function showPins(chatId) {
  render();
  attempt(() => loadPins(chatId));
}
