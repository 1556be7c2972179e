// Desktop notifications: a browser Notification (and an optional beep) for a new message from
// someone else in a chat the user is not looking at, as the chat's notify setting allows; the
// unread total in the tab title and a dot in the favicon. Settings live in localStorage per user.

import { isBlocked } from "./blocks.js";
import { safeUrl } from "./dom.js";
import { memberOf } from "./groups.js";
import { format, gettext, ngettext } from "./i18n.js";
import { nameOf, state, subscribe } from "./store.js";
import { notifyLevel, unreadTotal } from "./store-chats.js";
import { mediaLabel } from "./views/attachment-view.js";

const DEFAULTS = { desktop: false, previews: true, sound: false };
const BODY_MAX = 200;
const DOT_ICON = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#e5484d"/></svg>',
)}`;

const shown = new Map();  // chat id -> {notification, count}: the one per chat, replaced by the next
let openChat = () => {};
let baseTitle = "";
let baseIcon = "";
let audio = null;

// ---- settings ------------------------------------------------------------------------------

const settingsKey = () => `imsuite.notifications.${state.me.id}`;

/** {desktop, previews, sound} of the signed-in user (defaults for what was never set). */
export function loadSettings() {
  let stored = {};
  try {
    stored = JSON.parse(localStorage.getItem(settingsKey())) || {};
  } catch {
    stored = {};
  }
  return { ...DEFAULTS, ...stored };
}

export function saveSettings(changes) {
  localStorage.setItem(settingsKey(), JSON.stringify({ ...loadSettings(), ...changes }));
}

/** "granted" | "denied" | "default", or "unsupported" without the Notification API. */
export const permission = () => (globalThis.Notification ? globalThis.Notification.permission : "unsupported");

// ---- the rule (SPEC19): who is told what ------------------------------------------------------

/** Whether a message of someone else may alert the user at this level. */
export function allows(level, message, myId) {
  if (level === "muted") return false;
  if (level === "mentions") return (message.mentions ?? []).some((who) => who === myId || who === "all");
  return true;
}

// ---- the tab title and the favicon -----------------------------------------------------------

/** "(3) IM-Suite", or the bare title when nothing is unread. */
export const titled = (base, count) => (count > 0 ? `(${count}) ${base}` : base);

function showUnread() {
  const count = state.me ? unreadTotal() : 0;
  document.title = titled(baseTitle, count);
  const link = document.querySelector("link[rel=icon]");
  if (link) link.href = count > 0 ? DOT_ICON : baseIcon;
}

// ---- alerts ----------------------------------------------------------------------------------

/** The user sees this chat now: the page shown, the window focused, the chat open. */
const looking = (chatId) => document.visibilityState === "visible" && document.hasFocus() && state.currentChatId === chatId;

function textOf(message) {
  let text = mediaLabel(message) ?? message.content;  // an image or file by URL: not the URL
  if (message.message_type === "image" && !message.attachments?.length) text = gettext("Image");
  else if (message.message_type === "file" && !message.attachments?.length) text = gettext("File");
  return text.length > BODY_MAX ? `${text.slice(0, BODY_MAX)}…` : text || gettext("New message");
}

function titleOf(chat, chatId, sender) {
  const name = memberOf(state.groups.get(chatId), sender.id)?.title || sender.nickname || nameOf(sender.id);
  return chat?.type === "group" && chat.title ? format(gettext("%(sender)s in %(group)s"), { sender: name, group: chat.title }) : name;
}

function bodyOf(message, count, previews) {
  const many = format(ngettext("%(count)s new message", "%(count)s new messages", count), { count });
  if (!previews) return count > 1 ? many : gettext("New message");
  return count > 1 ? `${many}\n${textOf(message)}` : textOf(message);
}

/** The audio context, started (browsers allow that once the user has clicked or typed). */
function audioContext() {
  const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!Context) return null;
  audio ??= new Context();
  if (audio.state === "suspended") audio.resume().catch(() => null);
  return audio;
}

/** On the user's first click or key press, so that a beep can sound later in a hidden page. */
function unlockAudio() {
  if (audio?.state !== "running" && state.me && loadSettings().sound) audioContext();
}

/** A short two-tone beep, made here (no sound file). */
function beep() {
  if (!audioContext()) return;
  const start = audio.currentTime;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.3);
  gain.connect(audio.destination);
  const tone = audio.createOscillator();
  tone.frequency.setValueAtTime(880, start);
  tone.frequency.setValueAtTime(1175, start + 0.12);
  tone.connect(gain);
  tone.start(start);
  tone.stop(start + 0.32);
}

/** The sound the settings play when it is turned on (a click: browsers then allow audio). */
export const sampleSound = beep;

function forget(chatId) {
  shown.get(chatId)?.notification.close();
  shown.delete(chatId);
}

/** Close the notification of the chat the user now looks at. */
function seen() {
  if (state.currentChatId !== null && looking(state.currentChatId)) forget(state.currentChatId);
}

/** Called with every message.new, before the client takes it in: a notification for a new message of
 * someone else, in a chat the user is not looking at, that the chat's setting lets through. */
export function alertMessage({ message, chat: summary, sender }) {
  if (!state.me || message.sender_id === state.me.id || message.is_deleted || looking(message.chat_id)) return;
  if (isBlocked(message.sender_id)) return;  // a blocked person's messages never alert
  const settings = loadSettings();
  if (!settings.desktop || permission() !== "granted") return;
  const chat = state.chats.get(message.chat_id);
  // Already known (a replay of what the chat list holds) or already read: nothing new.
  if (chat && (message.id <= (chat.last_message?.id ?? 0) || message.id <= chat.last_read_message_id)) return;
  if (!allows(notifyLevel(chat), message, state.me.id)) return;
  const chatId = message.chat_id;
  const count = (shown.get(chatId)?.count ?? 0) + 1;
  const who = sender ?? { id: message.sender_id };
  let notification;
  try {
    notification = new globalThis.Notification(titleOf(chat ?? summary, chatId, who), {
      body: bodyOf(message, count, settings.previews),
      icon: (who.avatar_url && safeUrl(who.avatar_url, location.origin)) || undefined,
      tag: `imsuite-chat-${chatId}`,
    });
  } catch {
    return;  // a browser that shows notifications only from a service worker (Chrome on Android)
  }
  notification.onclick = () => {
    window.focus();
    forget(chatId);
    if (state.chats.has(chatId)) openChat(chatId);
  };
  shown.set(chatId, { notification, count });
  if (settings.sound) beep();
}

export function initNotifier(onOpenChat) {
  openChat = onOpenChat;
  baseTitle = document.title;
  baseIcon = document.querySelector("link[rel=icon]")?.getAttribute("href") ?? "";
  subscribe("chats", () => {
    showUnread();
    seen();
  });
  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);
}

/** Signed out: no notification, count or title of the last user stays. */
export function resetNotifier() {
  [...shown.keys()].forEach(forget);
  showUnread();
}
