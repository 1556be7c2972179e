// The store's messages (store.js has the state and the topics): each chat's history, stored
// messages merged in, pending messages (written here, not acknowledged yet), deletions, previews.

import { state, notify } from "./store.js";
import { summarizeDeletion, summarizeMessage } from "./store-chats.js";

let pendingOrder = 0;  // pending messages keep the order they were written in

export function historyOf(chatId) {
  if (!state.histories.has(chatId)) {
    state.histories.set(chatId, { messages: [], nextBefore: null, loaded: false, complete: false, loading: false });
  }
  return state.histories.get(chatId);
}

/** Stored messages by id, pending ones (no id yet) after them in the order they were written. */
function byPosition(a, b) {
  if (a.id && b.id) return a.id - b.id;
  if (a.id) return -1;
  if (b.id) return 1;
  return a.local.order - b.local.order;
}

/** Merge stored messages into a chat's history: a message replaces its older copy, and the
 * acknowledgement of a pending message (its client_msg_id) replaces the pending one. */
export function mergeMessages(chatId, messages) {
  const list = historyOf(chatId).messages;
  for (const message of messages) {
    const pending = message.client_msg_id ? list.findIndex((m) => m.local?.cid === message.client_msg_id) : -1;
    if (pending >= 0) list.splice(pending, 1);
    const index = list.findIndex((m) => m.id === message.id);
    if (index >= 0) list[index] = message;
    else list.push(message);
  }
  list.sort(byPosition);
  notify("messages", chatId);
}

/** A page is being fetched (or no longer): silent, the page's arrival re-renders. */
export function setHistoryLoading(chatId, loading) {
  historyOf(chatId).loading = loading;
}

/** A page of the history (GET chats/{id}/messages): merged, with the cursor to older pages
 * (`nextBefore` null: the history is complete back to the chat's start). */
export function putHistoryPage(chatId, messages, nextBefore) {
  Object.assign(historyOf(chatId), { nextBefore, complete: nextBefore === null, loaded: true });
  mergeMessages(chatId, messages);
}

/** A stored message, new or changed (message.new, message.edit, a REST answer): into its
 * history when that is loaded, and into the chat's summary. False when the chat is unknown. */
export function receiveMessage(message) {
  if (state.histories.has(message.chat_id)) mergeMessages(message.chat_id, [message]);
  return summarizeMessage(message);
}

/** message.delete: the message stays, empty and marked deleted. */
export function receiveDeletion({ message_id: id, chat_id: chatId, deleted_by, deleted_at }) {
  const deleted = { is_deleted: true, content: "", deleted_by, deleted_at };
  const message = state.histories.get(chatId)?.messages.find((m) => m.id === id);
  if (message) mergeMessages(chatId, [{ ...message, ...deleted }]);
  summarizeDeletion(chatId, id, deleted, message);
}

/** message.preview: the message's link previews, replaced ([] removes them). */
export function receivePreviews({ chat_id: chatId, message_id: id, previews }) {
  const message = state.histories.get(chatId)?.messages.find((m) => m.id === id);
  if (message) mergeMessages(chatId, [{ ...message, link_previews: previews.length ? previews : undefined }]);
}

// ---- pins -------------------------------------------------------------------------------------

/** A chat's pins as the server listed them (GET /api/chats/{id}/pins). */
export function setPins(chatId, pins) {
  state.pins.set(chatId, pins);
  notify("pins", chatId);
}

/** message.pinned: the pin goes first (a pin again of a pinned message moves it). */
export function notePinned(chatId, pin) {
  const others = (state.pins.get(chatId) || []).filter((item) => item.message.id !== pin.message.id);
  state.pins.set(chatId, [pin, ...others]);
  notify("pins", chatId);
}

/** message.unpinned */
export function noteUnpinned(chatId, messageId) {
  state.pins.set(chatId, (state.pins.get(chatId) || []).filter((item) => item.message.id !== messageId));
  notify("pins", chatId);
}

export const pinsOf = (chatId) => state.pins.get(chatId) || [];

export const isPinned = (chatId, messageId) => pinsOf(chatId).some((pin) => pin.message.id === messageId);

// ---- pending messages -------------------------------------------------------------------------

export const findPending = (chatId, cid) => state.histories.get(chatId)?.messages.find((m) => m.local?.cid === cid);

/** A message written here, under its client_msg_id `cid`, at the end of its history until the
 * server's acknowledgement replaces it (mergeMessages). Returns the stored pending message. */
export function addPending(message, cid) {
  const pending = { ...message, id: null, local: { cid, status: "pending", error: null, order: ++pendingOrder } };
  historyOf(message.chat_id).messages.push(pending);
  notify("messages", message.chat_id);
  return pending;
}

/** The server refused a pending message (an error frame naming its client_msg_id): "Not sent". */
export function failPending(chatId, cid, error = null) {
  const pending = findPending(chatId, cid);
  if (!pending) return;
  Object.assign(pending.local, { status: "failed", error });
  notify("messages", chatId);
}

/** A refused message goes out again: pending once more. Returns it (undefined when gone). */
export function retryPending(chatId, cid) {
  const pending = findPending(chatId, cid);
  if (!pending) return undefined;
  Object.assign(pending.local, { status: "pending", error: null });
  notify("messages", chatId);
  return pending;
}
