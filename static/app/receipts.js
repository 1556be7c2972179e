// Delivery receipts of private chats (issue 22): this client tells the server how far it has
// received each private chat (`message.delivered`, one frame for everything up to a message id,
// coalesced per chat), and keeps how far the other person's devices have received it, for the
// sender's two ticks. Cumulative positions: no per-message work on either side.

import * as socket from "./socket.js";
import { state, subscribe } from "./store.js";
import { markDelivered, notePeerDelivered } from "./store-chats.js";

const ACK_DELAY_MS = 200;  // a burst of messages (a sync replay, a chat list) is acknowledged once
let timer = null;

/** Acknowledge each private chat up to its newest message from the other person, once. */
function acknowledgeSoon() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    for (const chat of state.chats.values()) {
      const newest = chat.last_message;
      if (chat.type !== "private" || !newest || newest.sender_id === state.me?.id) continue;
      if (newest.id <= (chat.last_delivered_message_id ?? 0)) continue;
      if (socket.send("message.delivered", { chat_id: chat.id, up_to_message_id: newest.id })) markDelivered(chat.id, newest.id);
    }
  }, ACK_DELAY_MS);
}

/** The sender's tick state of one of their messages in a private chat. */
export function tickState(chat, message) {
  if (message.id <= (chat.peer_last_read_message_id ?? 0)) return "read";
  if (message.id <= (chat.peer_last_delivered_message_id ?? 0)) return "delivered";
  return "sent";
}

export function initReceipts() {
  socket.on("message.delivered", ({ chat_id: chatId, up_to_message_id: upTo }) => notePeerDelivered(chatId, upTo));
  // a message arrived, or the chat list was (re)loaded with what came while this client was away
  subscribe("chats", acknowledgeSoon);
  socket.on("connect", acknowledgeSoon);  // the list may have loaded before the socket could send
}
