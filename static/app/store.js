// The client's state, and who to tell when a part of it changes. State changes only through the
// store's actions (here, store-chats.js and store-messages.js), each a plain change followed by a
// notification; views subscribe to topics: "me", "chats", "draft" (chat id), "messages" (chat id), "pins" (chat id),
// "typing" (chat id), "presence" (user id or none), "contacts", "group" (group id), "blocks", and
// calls.js's "call". Server data keeps the REST/WebSocket shapes; local-only data lives under `local`.
// This module: the state itself, topics, and the people side (me, people, presence, typing,
// contacts, blocks, groups).

import { gettext } from "./i18n.js";

const TYPING_FALLBACK_MS = 7000;  // the server ends an unrenewed "typing" after 6 s
const DELETED_NICKNAME = "Deleted account"; // an anonymised account's (lifecycle.deletion), shown translated

const initialState = () => ({
  me: null,
  chats: new Map(),        // chat id -> ChatOut
  histories: new Map(),    // chat id -> {messages, nextBefore, loaded, complete, loading}
  currentChatId: null,
  online: new Map(),       // user id -> is_online
  typing: new Map(),       // chat id -> Map(user id -> {name, timer})
  friends: [],
  requests: [],
  missedCalls: new Map(),  // peer id -> the newest missed incoming call {ended_at, call_type}
  groups: new Map(),       // group id -> {info, members, notices, joinRequests, banned, invites, reports}
  people: new Map(),       // user id -> {id, nickname, avatar_url}, from whatever named them last
  blocks: [],              // the people I blocked, newest first
  drafts: new Map(),       // chat id -> {chat_id, text, reply_to_id, updated_at}
  pins: new Map(),         // chat id -> [{message, pinned_by, pinned_at}], newest pin first (loaded ones)
  presenceKnown: false,    // false while the own connection is down: peers' presence is unknown
});

export const state = initialState();

const listeners = new Map();

export function subscribe(topic, listener) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(listener);
}

export function notify(topic, detail) {
  listeners.get(topic)?.forEach((listener) => listener(detail));
}

/** Signed out: nothing of the last user stays (subscriptions do: the views outlive a session). */
export function resetState() {
  state.typing.forEach((people) => people.forEach(({ timer }) => clearTimeout(timer)));
  Object.assign(state, initialState());
}

// ---- me and people --------------------------------------------------------------------------

/** The signed-in account, as the server answered it. */
export function setMe(me) {
  state.me = me;
  notify("me");
}

/** Some of the account's fields changed (a settings answer). */
export function updateMe(fields) {
  state.me = { ...state.me, ...fields };
  notify("me");
}

/** An account name as shown: an anonymised account's, translated. */
export const shownName = (name) => (name === DELETED_NICKNAME ? gettext("Deleted account") : name);

/** Remember a user object ({id, nickname, avatar_url}) seen in an event or a REST answer. */
export function rememberPerson(user) {
  if (!user?.id) return;
  const shown = user.nickname === DELETED_NICKNAME ? { ...user, nickname: shownName(user.nickname) } : user;
  state.people.set(user.id, { ...state.people.get(user.id), ...shown });
}

export const nameOf = (userId) => state.people.get(userId)?.nickname || `#${userId}`;

// ---- presence and typing --------------------------------------------------------------------

/** "online", "offline", or "unknown" while the own connection is down. */
export const presenceOf = (userId) => (!state.presenceKnown ? "unknown" : state.online.get(userId) === true ? "online" : "offline");

export function setOnline(userId, isOnline) {
  state.online.set(userId, isOnline);
  notify("presence", userId);
}

/** The own connection is up (presence is known) or down (every peer's presence is unknown). */
export function setPresenceKnown(known) {
  if (state.presenceKnown === known) return;
  state.presenceKnown = known;
  notify("presence");
}

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

// ---- contacts, blocks, groups ----------------------------------------------------------------

/** Friends (with their presence) and friend requests, as GET /api/friends[/requests] answer. */
export function setContacts(friends, requests) {
  state.friends = friends;
  state.requests = requests;
  for (const friend of friends) {
    rememberPerson({ id: friend.id, nickname: friend.nickname || friend.username, avatar_url: friend.avatar_url, last_seen: friend.last_seen });
    setOnline(friend.id, friend.is_online);
  }
  notify("contacts");
}

/** The people I blocked, newest first. */
export function setBlocks(list) {
  state.blocks = list;
  list.forEach((block) => rememberPerson(block.user));
  notify("blocks");
}

/** A group's details: {info, members, notices, joinRequests, banned, invites, reports}. */
export function putGroup(groupId, group) {
  group.members.forEach((member) => rememberPerson(member.user));
  state.groups.set(groupId, group);
  notify("group", groupId);
}
