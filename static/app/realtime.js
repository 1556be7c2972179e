// Server frames -> state: every event type the client protocol sends, in one place.

import { onBlocked, onUnblocked } from "./blocks.js";
import * as calls from "./calls.js";
import { loadChats } from "./chats.js";
import { loadContacts } from "./contacts.js";
import { errorText } from "./errors.js";
import { loadGroup } from "./groups.js";
import { format, gettext } from "./i18n.js";
import { failPending, markRead } from "./messaging.js";
import { alertMessage } from "./notifier.js";
import * as socket from "./socket.js";
import { notify, receiveDeletion, receiveMessage, receivePreviews, rememberPerson, setOnline, setTyping, state } from "./store.js";
import { tellOutcome } from "./views/report-dialog.js";
import { toast } from "./views/toasts.js";

const RELOAD_DELAY_MS = 300;

/** Coalesce bursts (a sync replay, several group events) into one reload per key. */
const scheduled = new Map();
function soon(key, task) {
  if (scheduled.has(key)) return;
  scheduled.set(key, setTimeout(() => {
    scheduled.delete(key);
    task().catch(() => null);
  }, RELOAD_DELAY_MS));
}

const reloadChats = () => soon("chats", loadChats);
const reloadContacts = () => soon("contacts", loadContacts);

function onMessage(payload) {
  const { message, sender } = payload;
  alertMessage(payload);  // first: it tells a new message from one the chat list already holds
  rememberPerson(sender);
  if (!receiveMessage(message)) reloadChats();  // a chat this client does not know yet
  if (sender) setTyping(message.chat_id, sender, false);
  markRead(message.chat_id);
}

function onRead({ chat_id: chatId, message_id: messageId, read_by: readBy }) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  if (readBy === state.me.id) {  // read on another device of mine
    chat.last_read_message_id = Math.max(chat.last_read_message_id, messageId);
    if (chat.last_message && messageId >= chat.last_message.id) chat.unread_count = 0;
    else reloadChats();
    notify("chats");
  } else if (chat.type === "private") {
    chat.peer_last_read_message_id = Math.max(chat.peer_last_read_message_id ?? 0, messageId);
    notify("messages", chatId);
  }
}

function onFriendRequest({ request }) {
  reloadContacts();
  if (request.status === "pending" && request.to_user.id === state.me.id) {
    toast({ title: gettext("Friend request"), message: format(gettext("%(name)s wants to be your friend."), { name: request.from_user.nickname }) });
  } else if (request.status === "accepted" && request.from_user.id === state.me.id) {
    toast({ message: format(gettext("%(name)s accepted your friend request."), { name: request.to_user.nickname }), type: "success" });
  }
}

/** Any group.* event: the chat list may have changed (name, membership), and the group's details. */
function onGroupEvent(payload) {
  reloadChats();
  if (payload.reason === "ban" && payload.user_id === state.me.id) toast({ message: gettext("You were banned from a group."), type: "warning" });
  if (state.groups.has(payload.group_id)) soon(`group:${payload.group_id}`, () => loadGroup(payload.group_id));
}

function onError(error) {
  const event = error.details?.event || "";
  if (event === "message.send" && error.details.client_msg_id) {
    const pending = [...state.histories.keys()].find((chatId) => state.histories.get(chatId).messages.some((m) => m.local?.cid === error.details.client_msg_id));
    if (pending) failPending(pending, error.details.client_msg_id, error);
  }
  if (event.startsWith("call.")) calls.onRefused();
  if (error.error_code !== "AUTHENTICATION_FAILED" && event !== "typing") toast({ message: errorText(error), type: "error" });
}

const GROUP_EVENTS = ["created", "updated", "member_added", "member_removed", "member_updated", "ban", "notice", "join_request", "dissolved"];

export function initRealtime(onConnected) {
  socket.on("connect", onConnected);
  socket.on("message.new", onMessage);
  socket.on("message.edit", ({ message }) => receiveMessage(message));
  socket.on("message.delete", receiveDeletion);
  socket.on("message.preview", receivePreviews);
  socket.on("message.read", onRead);
  socket.on("typing", ({ chat_id: chatId, user, is_typing: isTyping }) => setTyping(chatId, user, isTyping));
  socket.on("presence", ({ user, user_id: userId, is_online: isOnline, last_seen: lastSeen }) => {
    rememberPerson({ ...user, id: userId, last_seen: lastSeen });
    setOnline(userId, isOnline);
  });
  socket.on("notification", toast);
  socket.on("friend.request", onFriendRequest);
  socket.on("friend.added", () => {
    reloadContacts();
    reloadChats();
  });
  socket.on("friend.removed", reloadContacts);
  socket.on("user.blocked", onBlocked);
  socket.on("user.unblocked", onUnblocked);
  GROUP_EVENTS.forEach((name) => socket.on(`group.${name}`, onGroupEvent));
  socket.on("report.created", ({ report }) => report.group_id && onGroupEvent({ group_id: report.group_id }));
  socket.on("report.resolved", (payload) => {
    tellOutcome(payload);
    if (payload.report.group_id) onGroupEvent({ group_id: payload.report.group_id });
  });
  socket.on("call.offer", calls.onOffer);
  socket.on("call.status", calls.onStatus);
  socket.on("call.answer", calls.onAnswer);
  socket.on("call.ice", calls.onIce);
  socket.on("call.end", calls.onEnd);
  socket.on("error", onError);
}
