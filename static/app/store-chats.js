// The store's chats (store.js has the state and the topics): the chat list and its summaries, the
// open chat, notify settings, drafts, missed calls, delivery and read positions, and the unread
// counts. Only this module computes or writes unread_count and unread_mention_count.

import { notify, rememberPerson, shownName, state } from "./store.js";

// ---- the chat list ----------------------------------------------------------------------------

/** A private chat with a deleted account is titled with its name, translated. */
function shownChat(chat) {
  const title = chat.peer ? shownName(chat.title) : chat.title;
  return title === chat.title ? chat : { ...chat, title };
}

export function setChats(list) {
  state.chats = new Map(list.map((chat) => [chat.id, shownChat(chat)]));
  list.forEach((chat) => rememberPerson(chat.peer));
  notify("chats");
}

export function putChat(chat) {
  state.chats.set(chat.id, shownChat(chat));
  rememberPerson(chat.peer);
  notify("chats");
}

/** The chat shown in the conversation (null: none); views re-render even when it stays the same. */
export function setCurrentChat(chatId) {
  state.currentChatId = chatId;
  notify("chats");
}

export function noteMissedCall(peerId, call) {
  const known = state.missedCalls.get(peerId);
  if (!known || Date.parse(call.ended_at) > Date.parse(known.ended_at)) state.missedCalls.set(peerId, call);
  notify("chats");
}

/** The missed call to show for a private chat: one newer than its last message. */
export function missedCallOf(chat) {
  const missed = chat.peer && state.missedCalls.get(chat.peer.id);
  return missed && Date.parse(missed.ended_at) > Date.parse(chat.last_activity_at) ? missed : null;
}

/** When the chat last saw activity (ms): its last message, or a newer missed call. */
export const activityOf = (chat) => Date.parse(missedCallOf(chat)?.ended_at ?? chat.last_activity_at);

export const sortedChats = () => [...state.chats.values()].sort((a, b) => activityOf(b) - activityOf(a));

// ---- notify settings --------------------------------------------------------------------------

/** "all" | "mentions" | "muted": a chat's setting, "all" when absent or when its until has passed
 * (the server's rule, chats.selectors.effective_notify). */
export function notifyLevel(chat, now = Date.now()) {
  const level = chat?.notify;
  if (level !== "muted" && level !== "mentions") return "all";
  if (chat.notify_until && Date.parse(chat.notify_until) <= now) return "all";
  return level;
}

/** chat.notify, or the REST answer of a change (the same shape). */
export function setChatNotify({ chat_id: chatId, notify: level, until }) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  Object.assign(chat, { notify: level, notify_until: until ?? null });
  notify("chats");
}

/** Settings whose until has come become "all"; false when there was none. */
export function expireNotify(now = Date.now()) {
  const due = [...state.chats.values()].filter((chat) => chat.notify_until && notifyLevel(chat, now) === "all");
  due.forEach((chat) => Object.assign(chat, { notify: "all", notify_until: null }));
  if (due.length) notify("chats");
  return due.length > 0;
}

// ---- drafts -----------------------------------------------------------------------------------

export function setDrafts(list) {
  state.drafts = new Map(list.map((draft) => [draft.chat_id, draft]));
  notify("chats");
}

/** A chat's draft, or (null, or empty text) none. Topic "draft" (chat id) for the composer. */
export function putDraft(chatId, draft) {
  if (draft?.text) state.drafts.set(chatId, draft);
  else if (!state.drafts.delete(chatId)) return;
  notify("chats");
  notify("draft", chatId);
}

// ---- delivery and read positions of the other person (private chats) ------------------------

/** This client acknowledged the chat up to a message: no view shows it, so nobody is told. */
export function markDelivered(chatId, messageId) {
  const chat = state.chats.get(chatId);
  if (chat) chat.last_delivered_message_id = messageId;
}

/** message.delivered: the other person's devices have the chat up to a message (two ticks). */
export function notePeerDelivered(chatId, messageId) {
  const chat = state.chats.get(chatId);
  if (!chat || messageId <= (chat.peer_last_delivered_message_id ?? 0)) return;
  chat.peer_last_delivered_message_id = messageId;
  notify("messages", chatId);
}

/** message.read by the other person of a private chat. */
export function notePeerRead(chatId, messageId) {
  const chat = state.chats.get(chatId);
  if (!chat || messageId <= (chat.peer_last_read_message_id ?? 0)) return;
  chat.peer_last_read_message_id = messageId;
  notify("messages", chatId);
}

// ---- the summary and the unread counts ---------------------------------------------------------

/** Whether a message calls me (by name or @all), from someone else. */
export const mentionsMe = (message) =>
  Boolean(state.me) && message.sender_id !== state.me.id && !message.is_deleted &&
  (message.mentions || []).some((m) => m === state.me.id || m === "all");

/** Whether a message counts as unread (and, mentioning me, as an unread mention). */
const countsAsUnread = (chat, message) =>
  message.sender_id !== state.me.id && !message.is_deleted && message.id > chat.last_read_message_id;

/** A stored message, new or changed, into its chat's summary: a newer one is the last message and
 * counts as unread when it does. False when the chat is unknown. */
export function summarizeMessage(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return false;
  const last = chat.last_message;
  if (!last || message.id > last.id) {
    chat.last_message = message;
    chat.last_activity_at = message.created_at;
    if (countsAsUnread(chat, message)) {
      chat.unread_count += 1;
      if (mentionsMe(message)) chat.unread_mention_count = (chat.unread_mention_count || 0) + 1;
    }
  } else if (last.id === message.id) {
    chat.last_message = message;
  }
  notify("chats");
  return true;
}

/** A message was deleted (`message`: it as it was, when the history held it): no longer counted,
 * and the summary's last message follows. */
export function summarizeDeletion(chatId, messageId, deleted, message) {
  const chat = state.chats.get(chatId);
  if (chat && message && countsAsUnread(chat, message)) {
    if (chat.unread_count > 0) chat.unread_count -= 1;
    if (chat.unread_mention_count > 0 && mentionsMe(message)) chat.unread_mention_count -= 1;
  }
  if (chat?.last_message?.id === messageId) chat.last_message = { ...chat.last_message, ...deleted };
  notify("chats");
}

/** I read a chat up to a message: here (`toEnd`: the open chat, seen up to its newest message of
 * others) or on another device of mine (to its end when that is the chat's newest message). Read
 * to its end, the chat has no unread messages or mentions; false when it is not, so its counts
 * are the server's to tell again. */
export function markReadUpTo(chatId, messageId, toEnd = false) {
  const chat = state.chats.get(chatId);
  if (!chat) return true;
  const end = toEnd || (Boolean(chat.last_message) && messageId >= chat.last_message.id);
  const before = chat.last_read_message_id;
  chat.last_read_message_id = Math.max(before, messageId);
  let changed = chat.last_read_message_id !== before;
  if (end && (chat.unread_count || chat.unread_mention_count)) {
    Object.assign(chat, { unread_count: 0, unread_mention_count: 0 });
    changed = true;
  }
  if (changed) notify("chats");
  return end;
}

/** Unread messages over the chats that are not muted (the tab title's count). */
export const unreadTotal = (chats = state.chats.values(), now = Date.now()) =>
  [...chats].reduce((total, chat) => total + (notifyLevel(chat, now) === "muted" ? 0 : chat.unread_count || 0), 0);
