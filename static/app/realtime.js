// Server frames -> state: every event type the client protocol sends, in one place.

import { onBlocked, onUnblocked } from "./blocks.js";
import * as calls from "./calls.js";
import { loadChats } from "./chats.js";
import { loadContacts } from "./contacts.js";
import { noteMyMessage, onDraftUpdated } from "./drafts.js";
import { errorText } from "./errors.js";
import { loadGroup } from "./groups.js";
import { format, gettext } from "./i18n.js";
import { flushOutbox, markRead } from "./messaging.js";
import { keepMine, onReaction } from "./reactions.js";
import { alertMessage } from "./notifier.js";
import * as socket from "./socket.js";
import { rememberPerson, setOnline, setPresenceKnown, setTyping, state } from "./store.js";
import { markReadUpTo, notePeerRead } from "./store-chats.js";
import { failPending, receiveDeletion, receiveMessage, receivePreviews } from "./store-messages.js";
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
  if (message.sender_id === state.me.id) noteMyMessage(message);
  markRead(message.chat_id);
}

function onRead({ chat_id: chatId, message_id: messageId, read_by: readBy }) {
  if (readBy === state.me.id) {  // read on another device of mine; partway: the server recounts
    if (!markReadUpTo(chatId, messageId)) reloadChats();
  } else if (state.chats.get(chatId)?.type === "private") {
    notePeerRead(chatId, messageId);
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

const REMOVALS = {
  kick: () => gettext("You were removed from “%(name)s” by an administrator."),
  ban: () => gettext("You were banned from “%(name)s”."),
  dissolve: () => gettext("“%(name)s” was dissolved; its history stays readable."),
};

/** Someone else removed me from a group: say so (the chat leaves the list, or stays read-only
 * when dissolved), in a notice that stays until dismissed. Read before the chat list reloads. */
function tellRemoval({ group_id: groupId, user_id: userId, operator_id: operatorId, reason }) {
  if (userId !== state.me.id || operatorId === state.me.id || !REMOVALS[reason]) return;
  const name = state.groups.get(groupId)?.info.name ?? state.chats.get(groupId)?.title ?? gettext("a group");
  toast({ message: format(REMOVALS[reason](), { name }), type: "warning", sticky: true });
}

/** Any group.* event: the chat list may have changed (name, membership), and the group's details. */
function onGroupEvent(payload) {
  reloadChats();
  if (state.groups.has(payload.group_id)) soon(`group:${payload.group_id}`, () => loadGroup(payload.group_id));
}

function onError(error) {
  const event = error.details?.event || "";
  if (event === "message.send" && error.details.client_msg_id) {
    const pending = [...state.histories.keys()].find((chatId) => state.histories.get(chatId).messages.some((m) => m.local?.cid === error.details.client_msg_id));
    if (pending) failPending(pending, error.details.client_msg_id, error);
  }
  if (event.startsWith("call.")) calls.onRefused();
  // Typing and drafts are best effort: their refusals (a chat just left) are not worth a word.
  if (error.error_code !== "AUTHENTICATION_FAILED" && event !== "typing" && event !== "draft.update") toast({ message: errorText(error), type: "error" });
}

const GROUP_EVENTS = ["created", "updated", "member_added", "member_removed", "member_updated", "ban", "notice", "join_request", "dissolved"];

export function initRealtime(onConnected) {
  socket.on("connect", (payload) => {
    flushOutbox();  // after the sync the socket asked for: what was written meanwhile, in order
    onConnected(payload);
  });
  socket.onStateChange((connection) => setPresenceKnown(connection === "connected"));
  socket.on("draft.updated", onDraftUpdated);
  socket.on("group.member_removed", tellRemoval);
  socket.on("message.new", onMessage);
  socket.on("message.edit", ({ message }) => receiveMessage(keepMine(message)));
  socket.on("message.delete", receiveDeletion);
  socket.on("message.preview", receivePreviews);
  socket.on("message.read", onRead);
  socket.on("message.reaction", onReaction);
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
