// What a user does with messages: load history, send, edit, delete, mark read, and say they are
// typing. A message written is pending until the server's message.new acknowledges it: it waits in
// the outbox while the connection is down and goes out, in the order written, once it is up; a
// drop before the acknowledgement sends it again on the next connection under the same
// client_msg_id, which the server stores at most once. Only a refusal marks it "Not sent". With
// uploaded attachments, the text is their caption.

import { api, withQuery } from "./api.js";
import { messageTypeOf } from "./attachments.js";
import * as socket from "./socket.js";
import { state } from "./store.js";
import { markReadUpTo } from "./store-chats.js";
import { addPending, findPending, historyOf, putHistoryPage, receiveMessage, retryPending, setHistoryLoading } from "./store-messages.js";

const PAGE_SIZE = 50;
const TYPING_EVERY_MS = 3000;

let outbox = [];  // pending messages, in the order written, until acknowledged
let sentOn = new WeakMap();  // pending message -> the connection (socket.connectionNumber) it went out on

/** A client_msg_id: crypto.randomUUID, which only secure contexts have; random bytes elsewhere. */
export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The newest page first, then each older page (keyset cursor next_before) until the start. */
export async function loadMore(chatId) {
  const history = historyOf(chatId);
  if (history.loading || history.complete) return;
  setHistoryLoading(chatId, true);
  let page;
  try {
    page = await api.get(withQuery(`chats/${chatId}/messages`, { before: history.loaded ? history.nextBefore : undefined, limit: PAGE_SIZE }));
  } finally {
    setHistoryLoading(chatId, false);
  }
  putHistoryPage(chatId, page.results, page.next_before);
}

/** `attachments`: attachment objects from POST /api/uploads (the message type then follows them). */
export function sendMessage(chatId, content, { messageType = "text", replyToId = null, attachments = [] } = {}) {
  const message = {
    chat_id: chatId,
    sender_id: state.me.id,
    content,
    message_type: attachments.length ? messageTypeOf(attachments) : messageType,
    reply_to_id: replyToId,
    attachments,
    created_at: new Date().toISOString(),
    is_edited: false,
    is_deleted: false,
  };
  outbox.push(addPending(message, newClientMsgId()));
  stopTyping();
  flushOutbox();
}

/** Send what waits, in order, over the current connection: each message once per connection.
 * Called on every send and every (re)connection; when the connection is down it waits. */
export function flushOutbox() {
  outbox = outbox.filter((pending) => findPending(pending.chat_id, pending.local.cid));  // the acknowledged go
  const connection = socket.connectionNumber();
  for (const pending of outbox) {
    const { local } = pending;
    if (local.status !== "pending" || sentOn.get(pending) === connection) continue;
    const body = {
      chat_id: pending.chat_id,
      content: pending.content,
      message_type: pending.message_type,
      reply_to_id: pending.reply_to_id,
      client_msg_id: local.cid,
    };
    if (pending.attachments.length) body.attachment_ids = pending.attachments.map((attachment) => attachment.id);
    if (!socket.send("message.send", body)) return;
    sentOn.set(pending, connection);
  }
}

/** Send a refused message again under the same client_msg_id: the server stores it at most once. */
export function retry(chatId, cid) {
  const pending = retryPending(chatId, cid);
  if (!pending) return;
  sentOn.delete(pending);
  if (!outbox.includes(pending)) outbox.push(pending);
  flushOutbox();
}

/** Signing out forgets what was not sent. */
export function resetOutbox() {
  outbox = [];
  sentOn = new WeakMap();
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
  const moved = newest && newest.id > chat.last_read_message_id;
  markReadUpTo(chatId, newest?.id ?? 0, true);
  if (moved && !socket.send("message.read", { message_id: newest.id })) api.post(`messages/${newest.id}/read`).catch(() => null);
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
