// The client's state, and who to tell when a part of it changes. Views subscribe to topics:
// "chats", "messages" (chat id), "typing" (chat id), "presence", "contacts", "group" (group id),
// "call", "blocks". Server data keeps the REST/WebSocket shapes; local-only data lives under `local`.

import { gettext } from "./i18n.js";

const TYPING_FALLBACK_MS = 7000;  // the server ends an unrenewed "typing" after 6 s
const DELETED_NICKNAME = "Deleted account"; // an anonymised account's (lifecycle.deletion), shown translated

export const state = {
  me: null,
  chats: new Map(),        // chat id -> ChatOut
  histories: new Map(),    // chat id -> {messages, nextBefore, loaded, complete, loading}
  currentChatId: null,
  online: new Map(),       // user id -> is_online
  typing: new Map(),       // chat id -> Map(user id -> {name, timer})
  friends: [],
  requests: [],
  missedCalls: new Map(),  // peer id -> the newest missed incoming call {ended_at, call_type}
  groups: new Map(),       // group id -> {info, members, notices, joinRequests}
  people: new Map(),       // user id -> {id, nickname, avatar_url}, from whatever named them last
  blocks: [],              // the people I blocked, newest first (blocks.js)
  drafts: new Map(),       // chat id -> {chat_id, text, reply_to_id, updated_at} (drafts.js)
  presenceKnown: false,    // false while the own connection is down: peers' presence is unknown
};

const listeners = new Map();

export function subscribe(topic, listener) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(listener);
}

export function notify(topic, detail) {
  listeners.get(topic)?.forEach((listener) => listener(detail));
}

export function resetState() {
  state.typing.forEach((people) => people.forEach(({ timer }) => clearTimeout(timer)));
  Object.assign(state, {
    me: null,
    chats: new Map(),
    histories: new Map(),
    currentChatId: null,
    online: new Map(),
    typing: new Map(),
    friends: [],
    requests: [],
    missedCalls: new Map(),
    groups: new Map(),
    people: new Map(),
    blocks: [],
    drafts: new Map(),
    presenceKnown: false,
  });
}

// ---- chats ----------------------------------------------------------------------------------

/** A private chat with a deleted account is titled with its name, translated. */
const shownChat = (chat) => (chat.peer && chat.title === DELETED_NICKNAME ? { ...chat, title: gettext("Deleted account") } : chat);

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

/** The missed call to show for a private chat: one newer than its last message. */
export function missedCallOf(chat) {
  const missed = chat.peer && state.missedCalls.get(chat.peer.id);
  return missed && Date.parse(missed.ended_at) > Date.parse(chat.last_activity_at) ? missed : null;
}

/** When the chat last saw activity (ms): its last message, or a newer missed call. */
export const activityOf = (chat) => Date.parse(missedCallOf(chat)?.ended_at ?? chat.last_activity_at);

export const sortedChats = () => [...state.chats.values()].sort((a, b) => activityOf(b) - activityOf(a));

// ---- messages -------------------------------------------------------------------------------

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

/** A stored message, new or changed (message.new, message.edit, a REST answer): into its
 * history when that is loaded, and into the chat's summary. False when the chat is unknown. */
export function receiveMessage(message) {
  if (state.histories.has(message.chat_id)) mergeMessages(message.chat_id, [message]);
  const chat = state.chats.get(message.chat_id);
  if (!chat) return false;
  const last = chat.last_message;
  if (!last || message.id > last.id) {
    chat.last_message = message;
    chat.last_activity_at = message.created_at;
    const fromOthers = message.sender_id !== state.me.id;
    if (fromOthers && !message.is_deleted && message.id > chat.last_read_message_id) chat.unread_count += 1;
  } else if (last.id === message.id) {
    chat.last_message = message;
  }
  notify("chats");
  return true;
}

/** message.delete: the message stays, empty and marked deleted. */
export function receiveDeletion({ message_id: id, chat_id: chatId, deleted_by, deleted_at }) {
  const deleted = { is_deleted: true, content: "", deleted_by, deleted_at };
  const history = state.histories.get(chatId);
  const message = history?.messages.find((m) => m.id === id);
  if (message) {
    const wasUnread = !message.is_deleted && message.sender_id !== state.me.id;
    mergeMessages(chatId, [{ ...message, ...deleted }]);
    const chat = state.chats.get(chatId);
    if (chat && wasUnread && id > chat.last_read_message_id && chat.unread_count > 0) chat.unread_count -= 1;
  }
  const chat = state.chats.get(chatId);
  if (chat?.last_message?.id === id) chat.last_message = { ...chat.last_message, ...deleted };
  notify("chats");
}

// ---- drafts ---------------------------------------------------------------------------------

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

/** message.preview: the message's link previews, replaced ([] removes them). */
export function receivePreviews({ chat_id: chatId, message_id: id, previews }) {
  const message = state.histories.get(chatId)?.messages.find((m) => m.id === id);
  if (message) mergeMessages(chatId, [{ ...message, link_previews: previews.length ? previews : undefined }]);
}

export const findPending = (chatId, cid) => state.histories.get(chatId)?.messages.find((m) => m.local?.cid === cid);

/** The own connection is up (presence is known) or down (every peer's presence is unknown). */
export function setPresenceKnown(known) {
  if (state.presenceKnown === known) return;
  state.presenceKnown = known;
  notify("presence");
}

// ---- people ---------------------------------------------------------------------------------

/** Remember a user object ({id, nickname, avatar_url}) seen in an event or a REST answer. */
export function rememberPerson(user) {
  if (!user?.id) return;
  const shown = user.nickname === DELETED_NICKNAME ? { ...user, nickname: gettext("Deleted account") } : user;
  state.people.set(user.id, { ...state.people.get(user.id), ...shown });
}

export const nameOf = (userId) => state.people.get(userId)?.nickname || `#${userId}`;

export function setTyping(chatId, user, isTyping) {
  const people = state.typing.get(chatId) || new Map();
  if (!isTyping && !people.has(user.id)) return;
  clearTimeout(people.get(user.id)?.timer);
  if (isTyping) {
    const timer = setTimeout(() => setTyping(chatId, user, false), TYPING_FALLBACK_MS);
    people.set(user.id, { name: user.nickname, timer });
  } else {
    people.delete(user.id);
  }
  state.typing.set(chatId, people);
  notify("typing", chatId);
}

/** "online", "offline", or "unknown" while the own connection is down. */
export const presenceOf = (userId) => (!state.presenceKnown ? "unknown" : state.online.get(userId) === true ? "online" : "offline");

export function setOnline(userId, isOnline) {
  state.online.set(userId, isOnline);
  notify("presence", userId);
}

export function noteMissedCall(peerId, call) {
  const known = state.missedCalls.get(peerId);
  if (!known || Date.parse(call.ended_at) > Date.parse(known.ended_at)) state.missedCalls.set(peerId, call);
  notify("chats");
}
