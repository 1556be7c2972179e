// The open conversation: header (title, typing / presence / members, call and group buttons),
// the history with day separators (older pages load on scrolling up), and the composer (Enter
// sends, Shift+Enter adds a line; reply, edit, image by URL, attachments and voice messages with
// the uploads' tray; closed while muted or dissolved). Reading aids: a "new messages" divider
// before the first message unread when the chat was opened, the jump-to-latest button, and
// Up-arrow in the empty composer edits one's last message.

import { isBlocked } from "../blocks.js";
import { draftOf, noteDraft, saveDraftNow, sentFrom } from "../drafts.js";
import { byId, cached, fillAvatar, h, reconcile, safeUrl } from "../dom.js";
import { dayKey, format, formatDateTime, formatDay, gettext, ngettext } from "../i18n.js";
import { isModerator, loadGroup, memberOf, speakingBlock } from "../groups.js";
import { deleteMessage, editMessage, loadMore, markRead, noteTyping, retry, sendMessage, stopTyping } from "../messaging.js";
import { initMentions, noteOpened } from "../mentions.js";
import { tickState } from "../receipts.js";
import { nameOf, presenceOf, state, subscribe } from "../store.js";
import { setCurrentChat } from "../store-chats.js";
import { historyOf, isPinned } from "../store-messages.js";
import { ask, confirmAction } from "./ask.js";
import { mediaLabel } from "./attachment-view.js";
import { openForward } from "./forward-dialog.js";
import { initJumpLatest, resetJump, updateJump } from "./jump-latest.js";
import { messageNode } from "./message-item.js";
import { openEditHistory, openSeenBy } from "./message-info.js";
import { pinMessage, showPins, unpinMessage } from "./pins.js";
import { openReport } from "./report-dialog.js";
import { cancelRecording } from "./recorder.js";
import { attempt, toastError } from "./toasts.js";
import { cancelUploads, hasStaged, renderTray, sendStaged } from "./upload-tray.js";

const LOAD_OLDER_WITHIN_PX = 120;
const STICK_TO_BOTTOM_PX = 80;
const nodes = new Map();  // chat id -> node cache
const revealed = new Set();  // ids of blocked people's group messages the user chose to show
let context = null;       // {mode: "reply" | "edit", message}
let pinToEnd = false;     // a chat just opened shows its newest messages
let unreadAfter = null;   // the read position when the chat was opened with unread messages
let startCall = () => {};
let toggleGroupPanel = () => {};

const currentChat = () => state.chats.get(state.currentChatId);
const currentGroup = () => state.groups.get(state.currentChatId);

export function openChat(chatId) {
  if (state.currentChatId !== chatId) {
    pinToEnd = true;
    stopTyping();
    cancelRecording();
    if (state.currentChatId) saveDraftNow(state.currentChatId);
    setContext(null);
    restoreDraft(chatId);
    const opened = state.chats.get(chatId);
    unreadAfter = opened?.unread_count ? opened.last_read_message_id : null;
    resetJump();
  }
  byId("no-chat").hidden = true;
  byId("chat-view").hidden = false;
  byId("main-view").dataset.pane = "chat";
  setCurrentChat(chatId);
  const chat = currentChat();
  renderAll();
  const history = historyOf(chatId);
  if (!history.loaded) attempt(() => loadMore(chatId));
  if (chat.type === "group") attempt(() => loadGroup(chatId));
  showPins(chatId);
  noteOpened(chat);
  markRead(chatId);
  byId("composer-input").focus();
}

/** The chat's draft into the composer, with the message it replies to when that is loaded. */
function restoreDraft(chatId) {
  const draft = draftOf(chatId);
  const input = byId("composer-input");
  input.value = draft?.text ?? "";
  autosize();
  const replyTo = draft?.reply_to_id && historyOf(chatId).messages.find((m) => m.id === draft.reply_to_id);
  if (replyTo) setContext({ mode: "reply", message: replyTo });
}

/** The composer changed: the open chat's draft follows (not while editing a sent message). */
function keepDraft() {
  if (state.currentChatId && context?.mode !== "edit") {
    noteDraft(state.currentChatId, byId("composer-input").value, context?.message.id ?? null);
  }
}

function closeChat() {
  const closed = state.currentChatId;
  if (closed) saveDraftNow(closed);
  stopTyping();
  cancelRecording();
  byId("chat-view").hidden = true;
  byId("no-chat").hidden = false;
  byId("main-view").dataset.pane = "list";
  setCurrentChat(null);
  if (closed !== null) document.querySelector(`[data-testid=chat-item][data-chat-id="${closed}"]`)?.focus();
}

// ---- header ---------------------------------------------------------------------------------

function statusLine(chat) {
  const typing = [...(state.typing.get(chat.id)?.values() || [])].map((person) => person.name);
  if (typing.length === 1 && chat.type === "private") return { text: gettext("typing…"), typing: true };
  if (typing.length) return { text: format(gettext("%(names)s typing…"), { names: typing.join(", ") }), typing: true };
  if (chat.type === "group") {
    const group = currentGroup();
    if (group?.info.dissolved_at) return { text: gettext("Dissolved group") };
    const count = group?.info.member_count ?? chat.member_count;
    return { text: format(ngettext("%(count)s member", "%(count)s members", count), { count }) };
  }
  const presence = chat.peer && presenceOf(chat.peer.id);
  if (presence === "unknown") return { text: "" };  // no "last seen" while the own connection is down
  if (presence === "online") return { text: gettext("online") };
  const lastSeen = chat.peer && state.people.get(chat.peer.id)?.last_seen;
  return { text: lastSeen ? format(gettext("last seen %(when)s"), { when: formatDateTime(lastSeen) }) : gettext("offline") };
}

function renderHeader() {
  const chat = currentChat();
  if (!chat) return;
  const group = currentGroup();
  const title = group?.info.name ?? chat.title ?? "";
  byId("chat-title").textContent = title;
  fillAvatar(byId("chat-avatar"), title, group?.info.avatar_url || chat.peer?.avatar_url);
  const line = statusLine(chat);
  const status = byId("chat-status");
  status.textContent = line.text;
  status.classList.toggle("typing", Boolean(line.typing));
  status.dataset.typing = String(Boolean(line.typing));
  const isPrivate = chat.type === "private";
  byId("audio-call-button").hidden = !isPrivate;
  byId("video-call-button").hidden = !isPrivate;
  byId("group-info-button").hidden = isPrivate;
}

// ---- messages -------------------------------------------------------------------------------

function replyText(chatId, replyToId) {
  if (!replyToId) return null;
  const quoted = historyOf(chatId).messages.find((m) => m.id === replyToId);
  if (!quoted) return gettext("Reply to an earlier message");
  let what = mediaLabel(quoted) ?? (quoted.message_type === "image" ? gettext("Image") : quoted.content);
  if (quoted.is_deleted) what = gettext("This message was deleted.");
  return `${senderName(quoted.sender_id)}: ${what.length > 120 ? `${what.slice(0, 120)}…` : what}`;
}

function senderName(userId) {
  if (userId === state.me.id) return gettext("You");
  return memberOf(currentGroup(), userId)?.title || nameOf(userId);
}

function messageView(chat, message) {
  const mine = message.sender_id === state.me.id;
  const moderator = chat.type === "group" && isModerator(currentGroup()?.info.my_role);
  let readState = null;
  if (mine && chat.type === "private" && message.id) readState = tickState(chat, message);
  return {
    mine,
    senderName: chat.type === "group" && !mine ? senderName(message.sender_id) : null,
    replyText: replyText(chat.id, message.reply_to_id),
    readState,
    canEdit: mine && message.message_type === "text",
    canDelete: mine || moderator,
    collapsed: chat.type === "group" && !mine && isBlocked(message.sender_id) && !revealed.has(message.id),
    onShow: () => {
      revealed.add(message.id);
      renderMessages();
    },
    canReport: !mine && Boolean(message.sender_id),
    canSeeReaders: chat.type === "group",
    onSeenBy: () => openSeenBy(message),
    onEdits: () => openEditHistory(message),
    onReply: () => setContext({ mode: "reply", message }),
    onEdit: () => setContext({ mode: "edit", message }),
    onDelete: () => removeMessage(message),
    onReport: () => openReport("message", message.id, message.content),
    onRetry: () => retry(chat.id, message.local.cid),
    onForward: () => openForward(message, replyText(chat.id, message.id)),
    canPin: chat.type === "private" || moderator,
    pinned: isPinned(chat.id, message.id),
    onPin: () => attempt(() => (isPinned(chat.id, message.id) ? unpinMessage(message) : pinMessage(message))),
  };
}

async function removeMessage(message) {
  if (await confirmAction(gettext("Delete this message for everyone?"))) attempt(() => deleteMessage(message));
}

function renderMessages() {
  const chat = currentChat();
  if (!chat) return;
  const list = byId("message-list");
  const history = historyOf(chat.id);
  const cache = nodes.get(chat.id) || new Map();
  nodes.set(chat.id, cache);
  const items = [];
  if (history.complete) items.push(cached(cache, "start", "", () => h("li", { class: "history-edge", "data-testid": "history-start", text: gettext("This is the start of the conversation.") })));
  else if (history.loading || !history.loaded) items.push(cached(cache, "loading", "", () => h("li", { class: "history-edge", role: "status", text: gettext("Loading…") })));
  let lastDay = null;
  let divider = null;
  for (const message of history.messages) {
    const day = dayKey(message.created_at);
    if (day !== lastDay) {
      items.push(cached(cache, `day:${day}`, formatDay(message.created_at), () => h("li", { class: "day-separator", "data-testid": "day-separator" }, h("span", { text: formatDay(message.created_at) }))));
      lastDay = day;
    }
    if (!divider && unreadAfter !== null && message.id > unreadAfter && message.sender_id !== state.me.id) {
      divider = cached(cache, "new-divider", "", () => h("li", { class: "new-divider", role: "separator", "data-testid": "new-divider", text: gettext("New messages") }));
      items.push(divider);
    }
    const view = messageView(chat, message);
    const signature = JSON.stringify([message.content, message.mentions, message.attachments?.length, message.link_previews, message.is_edited, message.is_deleted, message.reactions, message.local?.status, view.readState, view.senderName, view.replyText, view.canDelete, view.collapsed, view.canPin, view.pinned]);
    items.push(cached(cache, message.id ?? message.local.cid, signature, () => messageNode(message, view)));
  }
  const oldFirst = list.querySelector("[data-testid=message]");
  const fromBottom = list.scrollHeight - list.scrollTop - list.clientHeight;
  reconcile(list, items);
  const olderAdded = oldFirst && oldFirst !== list.querySelector("[data-testid=message]");
  if (pinToEnd && divider && history.loaded) {
    list.scrollTop = list.scrollHeight;  // then up to the divider, unless it is already in sight
    divider.scrollIntoView({ block: "nearest" });
  } else if (pinToEnd || fromBottom < STICK_TO_BOTTOM_PX || history.messages.at(-1)?.local?.status === "pending") list.scrollTop = list.scrollHeight;
  else if (olderAdded) list.scrollTop = list.scrollHeight - list.clientHeight - fromBottom;
  if (history.loaded) pinToEnd = false;
  if (history.loaded && !history.complete && list.scrollHeight <= list.clientHeight) attempt(() => loadMore(chat.id));
  updateJump();
}

/** One's newest message that may be edited (text, not deleted, stored), for Up-arrow. */
function lastEditable() {
  const messages = historyOf(state.currentChatId).messages;
  return messages.findLast((m) => m.id && m.sender_id === state.me.id && m.message_type === "text" && !m.is_deleted) ?? null;
}

// ---- composer -------------------------------------------------------------------------------

function setContext(next) {
  context = next;
  const box = byId("compose-context");
  const input = byId("composer-input");
  box.hidden = !next;
  if (!next) return;
  const label = next.mode === "edit" ? gettext("Editing your message") : format(gettext("Replying to %(name)s"), { name: senderName(next.message.sender_id) });
  box.querySelector(".compose-context-text").textContent = label;
  if (next.mode === "edit") input.value = next.message.content;
  autosize();
  input.focus();
}

function renderComposer() {
  const chat = currentChat();
  if (!chat) return;
  const block = chat.type === "group" ? speakingBlock(currentGroup()) : blockedPeer(chat);
  const notice = byId("compose-blocked");
  notice.hidden = !block;
  notice.dataset.reason = block?.reason ?? "";
  if (block?.reason === "blocked") notice.textContent = gettext("You blocked this person: unblock them (Settings, Blocked people) to write to each other.");
  else if (block?.reason === "dissolved") notice.textContent = gettext("This group has been dissolved; its history stays readable.");
  else if (block?.reason === "muted") notice.textContent = format(gettext("You are muted in this group until %(until)s."), { until: formatDateTime(block.until) });
  else if (block) notice.textContent = format(gettext("Only the owner and admins can write until %(until)s."), { until: formatDateTime(block.until) });
  for (const id of ["composer-input", "image-button", "attach-button", "mic-button"]) byId(id).disabled = Boolean(block);
  byId("composer").querySelector("[type=submit]").disabled = Boolean(block);
  if (block) cancelRecording();
  renderTray();
}

function blockedPeer(chat) {
  return chat.peer && isBlocked(chat.peer.id) ? { reason: "blocked" } : null;
}

function autosize() {
  const input = byId("composer-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

async function submit() {
  const chat = currentChat();
  const input = byId("composer-input");
  const content = input.value.trim();
  const withFiles = chat && context?.mode !== "edit" && hasStaged(chat.id);
  if (!chat || (!content && !withFiles)) return;
  const current = context;
  input.value = "";
  autosize();
  setContext(null);
  if (current?.mode === "edit") {
    stopTyping();
    try {
      await editMessage(current.message, content);
    } catch (error) {
      toastError(error);
      input.value = content;
      setContext(current);
    }
  } else if (withFiles) {
    sendStaged(chat.id, content, current?.message.id ?? null);
  } else {
    sendMessage(chat.id, content, { replyToId: current?.message.id ?? null });
  }
  if (current?.mode !== "edit") sentFrom(chat.id);
}

async function sendImage() {
  const chat = currentChat();
  const url = await ask({ title: gettext("Send an image"), label: gettext("Image URL (http or https)"), type: "url" });
  if (url === null) return;
  if (!safeUrl(url)) {
    toastError({ code: "VALIDATION_ERROR", details: {}, message: gettext("That is not an http(s) URL.") });
    return;
  }
  sendMessage(chat.id, url, { messageType: "image" });
}

function renderAll() {
  renderHeader();
  renderMessages();
  renderComposer();
}

/** The pins of a chat changed (pins.js): its messages' pin actions follow. */
export const pinsChanged = (chatId) => chatId === state.currentChatId && renderMessages();

export function initConversation({ onCall, onToggleGroupPanel }) {
  startCall = onCall;
  toggleGroupPanel = onToggleGroupPanel;
  initMentions();
  initJumpLatest();
  const input = byId("composer-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "ArrowUp" && !input.value && !context && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      const message = state.currentChatId && !input.disabled ? lastEditable() : null;
      if (!message) return;
      event.preventDefault();
      setContext({ mode: "edit", message });
    } else if (event.key === "Escape" && context) {
      setContext(null);
      input.value = "";
      keepDraft();
    }
  });
  input.addEventListener("input", () => {
    autosize();
    keepDraft();
    if (input.value.trim() && context?.mode !== "edit") noteTyping(state.currentChatId);
  });
  input.addEventListener("blur", stopTyping);
  byId("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  byId("compose-context-cancel").addEventListener("click", () => {
    if (context?.mode === "edit") input.value = "";
    setContext(null);
    keepDraft();
  });
  byId("image-button").addEventListener("click", sendImage);
  byId("back-button").addEventListener("click", closeChat);
  byId("audio-call-button").addEventListener("click", () => startCall(currentChat(), "audio"));
  byId("video-call-button").addEventListener("click", () => startCall(currentChat(), "video"));
  byId("group-info-button").addEventListener("click", () => toggleGroupPanel(state.currentChatId));
  byId("message-list").addEventListener("scroll", () => {
    const history = state.currentChatId && historyOf(state.currentChatId);
    if (history?.loaded && byId("message-list").scrollTop < LOAD_OLDER_WITHIN_PX) attempt(() => loadMore(state.currentChatId));
  });
  const ifCurrent = (render) => (chatId) => chatId === state.currentChatId && render();
  subscribe("messages", ifCurrent(() => {
    renderMessages();
    markRead(state.currentChatId);
  }));
  subscribe("typing", ifCurrent(renderHeader));
  subscribe("draft", ifCurrent(() => document.activeElement !== input && !context && restoreDraft(state.currentChatId)));
  subscribe("presence", () => state.currentChatId && renderHeader());
  subscribe("chats", () => state.currentChatId && (currentChat() ? renderAll() : closeChat()));
  subscribe("group", ifCurrent(renderAll));
  subscribe("blocks", () => state.currentChatId && renderAll());
  document.addEventListener("visibilitychange", () => state.currentChatId && markRead(state.currentChatId));
}

export function resetConversation() {
  cancelUploads();
  nodes.clear();
  revealed.clear();
  closeChat();
  byId("message-list").replaceChildren();
}
