// What a user does with messages: load history, send (pending until acknowledged, retried with
// the same client_msg_id; with uploaded attachments, the text is their caption), edit, delete,
// mark read, and say they are typing.

import { api, withQuery } from "./api.js";
import { messageTypeOf } from "./attachments.js";
import * as socket from "./socket.js";
import { findPending, historyOf, mergeMessages, notify, receiveMessage, state } from "./store.js";

const PAGE_SIZE = 50;
const ACK_TIMEOUT_MS = 10_000;
const TYPING_EVERY_MS = 3000;

let pendingOrder = 0;

/** A client_msg_id: crypto.randomUUID, which only secure contexts have; random bytes elsewhere. */
export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The newest page first, then each older page (keyset cursor next_before) until the start. */
export async function loadMore(chatId) {
  const history = historyOf(chatId);
  if (history.loading || history.complete) return;
  history.loading = true;
  let page;
  try {
    page = await api.get(withQuery(`chats/${chatId}/messages`, { before: history.loaded ? history.nextBefore : undefined, limit: PAGE_SIZE }));
  } finally {
    history.loading = false;
  }
  history.nextBefore = page.next_before;
  history.complete = page.next_before === null;
  history.loaded = true;
  mergeMessages(chatId, page.results);
}

/** `attachments`: attachment objects from POST /api/uploads (the message type then follows them). */
export function sendMessage(chatId, content, { messageType = "text", replyToId = null, attachments = [] } = {}) {
  const pending = {
    id: null,
    chat_id: chatId,
    sender_id: state.me.id,
    content,
    message_type: attachments.length ? messageTypeOf(attachments) : messageType,
    reply_to_id: replyToId,
    attachments,
    created_at: new Date().toISOString(),
    is_edited: false,
    is_deleted: false,
    local: { cid: newClientMsgId(), status: "pending", order: ++pendingOrder },
  };
  historyOf(chatId).messages.push(pending);
  stopTyping();
  transmit(pending);
}

/** Over the WebSocket when it is up (the message.new echo acknowledges it), else over REST. */
function transmit(pending) {
  const { local } = pending;
  const body = {
    content: pending.content,
    message_type: pending.message_type,
    reply_to_id: pending.reply_to_id,
    client_msg_id: local.cid,
  };
  if (pending.attachments.length) body.attachment_ids = pending.attachments.map((attachment) => attachment.id);
  local.status = "pending";
  local.error = null;
  clearTimeout(local.timer);
  if (socket.send("message.send", { chat_id: pending.chat_id, ...body })) {
    local.timer = setTimeout(() => failPending(pending.chat_id, local.cid), ACK_TIMEOUT_MS);
  } else {
    api.post(`chats/${pending.chat_id}/messages`, body).then(receiveMessage, (error) => failPending(pending.chat_id, local.cid, error));
  }
  notify("messages", pending.chat_id);
}

export function failPending(chatId, cid, error = null) {
  const pending = findPending(chatId, cid);
  if (!pending) return;
  clearTimeout(pending.local.timer);
  pending.local.status = "failed";
  pending.local.error = error;
  notify("messages", chatId);
}

/** Send a failed message again under the same client_msg_id: the server stores it at most once. */
export function retry(chatId, cid) {
  const pending = findPending(chatId, cid);
  if (pending) transmit(pending);
}

export async function editMessage(message, content) {
  receiveMessage(await api.patch(`messages/${message.id}`, { content }));
}

export async function deleteMessage(message) {
  receiveMessage(await api.delete(`messages/${message.id}`));
}

/** Move the read position to the newest message of others in the open chat, while the page is seen. */
export function markRead(chatId) {
  const chat = state.chats.get(chatId);
  const history = state.histories.get(chatId);
  if (!chat || !history || state.currentChatId !== chatId || document.visibilityState !== "visible") return;
  const newest = history.messages.findLast((m) => m.id && m.sender_id !== state.me.id);
  if (newest && newest.id > chat.last_read_message_id) {
    chat.last_read_message_id = newest.id;
    if (!socket.send("message.read", { message_id: newest.id })) api.post(`messages/${newest.id}/read`).catch(() => null);
  }
  if (chat.unread_count) {
    chat.unread_count = 0;
    notify("chats");
  }
}

let typingChatId = null;
let typingSentAt = 0;

/** Called on input: a typing start at most every 3 s while the user keeps typing. */
export function noteTyping(chatId) {
  if (typingChatId !== chatId) stopTyping();
  if (Date.now() - typingSentAt < TYPING_EVERY_MS) return;
  if (socket.send("typing", { chat_id: chatId, is_typing: true })) {
    typingChatId = chatId;
    typingSentAt = Date.now();
  }
}

/** On send, blur or leaving the chat. */
export function stopTyping() {
  if (typingChatId !== null) socket.send("typing", { chat_id: typingChatId, is_typing: false });
  typingChatId = null;
  typingSentAt = 0;
}
