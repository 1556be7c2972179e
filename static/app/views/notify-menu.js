// Per-chat notification settings: the bell menu in the chat header (all messages, mentions only,
// muted for a while or until changed), and the chat.notify frames that keep every tab and device
// of the user in step (what a setting means now: store-chats.js's notifyLevel).
// An until that has come is not announced by the server: each client reads it as "all" (the
// server's rule, chats.selectors.effective_notify) and re-renders when it comes.

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { format, formatDateTime, gettext } from "../i18n.js";
import { icon } from "../icons.js";
import * as socket from "../socket.js";
import { state, subscribe } from "../store.js";
import { expireNotify, notifyLevel, setChatNotify } from "../store-chats.js";
import { toastError } from "./toasts.js";

const HOUR_MS = 3_600_000;
const LONGEST_TIMER_MS = 24 * HOUR_MS;  // setTimeout holds ~24.8 days at most: a later until is looked at again

const CHOICES = [  // [test id, notify, muted for (ms; null: until changed), label, groups only]
  ["notify-all", "all", null, () => gettext("All messages"), false],
  ["notify-mentions", "mentions", null, () => gettext("Mentions only"), true],
  ["notify-mute-1h", "muted", HOUR_MS, () => gettext("Mute for 1 hour"), false],
  ["notify-mute-8h", "muted", 8 * HOUR_MS, () => gettext("Mute for 8 hours"), false],
  ["notify-mute-1d", "muted", 24 * HOUR_MS, () => gettext("Mute for 1 day"), false],
  ["notify-mute", "muted", null, () => gettext("Mute until I change it"), false],
];

let menu = null;       // the <details> in the chat header
let shownFor = null;   // the chat the menu was last rendered for
let expiryTimer = null;

/** Settings whose until has come become "all" (and the views re-render); then wait for the next. */
function expireDue() {
  if (!expireNotify()) scheduleExpiry();  // else the "chats" topic schedules it
}

function scheduleExpiry() {
  clearTimeout(expiryTimer);
  const untils = [...state.chats.values()].filter((chat) => chat.notify_until).map((chat) => Date.parse(chat.notify_until));
  if (!untils.length) return;
  expiryTimer = setTimeout(expireDue, Math.min(Math.max(0, Math.min(...untils) - Date.now()), LONGEST_TIMER_MS));
}

async function choose(chatId, notify, mutedForMs) {
  menu.open = false;
  const until = mutedForMs ? new Date(Date.now() + mutedForMs).toISOString() : null;
  try {
    setChatNotify(await api.put(`chats/${chatId}/notify`, { notify, until }));
  } catch (error) {
    toastError(error);
  }
}

/** What the menu says of the current setting (empty for "all"). */
function describe(chat) {
  const level = notifyLevel(chat);
  if (level === "all") return "";
  const until = chat.notify_until;
  if (level === "mentions") return until ? format(gettext("Mentions only until %(when)s"), { when: formatDateTime(until) }) : gettext("Mentions only");
  return until ? format(gettext("Muted until %(when)s"), { when: formatDateTime(until) }) : gettext("Muted until you change it");
}

function renderMenu() {
  scheduleExpiry();
  const chat = state.chats.get(state.currentChatId);
  if (!chat) return;
  if (shownFor !== chat.id) menu.open = false;
  shownFor = chat.id;
  const level = notifyLevel(chat);
  const summary = menu.querySelector("summary");
  summary.dataset.level = level;
  summary.replaceChildren(icon(level === "all" ? "bell" : "bellOff"));
  const status = menu.querySelector(".notify-status");
  status.textContent = describe(chat);
  status.hidden = level === "all";
  // Checked: the kind of setting in force; a timed mute checks none (the status says until when).
  const timed = level === "muted" && chat.notify_until;
  for (const [testId, notify, mutedFor, , groupsOnly] of CHOICES) {
    const item = menu.querySelector(`[data-testid="${testId}"]`);
    item.hidden = groupsOnly && chat.type !== "group";
    item.setAttribute("aria-checked", String(!timed && notify === level && mutedFor === null));
  }
}

export function initNotifyMenu() {
  const label = gettext("Notifications for this chat");
  menu = h(
    "details",
    { class: "member-actions notify-menu", "data-testid": "notify-menu" },
    h("summary", { class: "icon-button", "aria-label": label, title: label, "data-testid": "notify-button" }),
    h(
      "div",
      { class: "member-actions-body", role: "menu", "aria-label": label },
      h("p", { class: "notify-status", "data-testid": "notify-status", hidden: true }),
      CHOICES.map(([testId, notify, mutedFor, text]) =>
        h("button", {
          type: "button",
          role: "menuitemradio",
          "aria-checked": "false",
          "data-testid": testId,
          text: text(),
          onclick: () => choose(state.currentChatId, notify, mutedFor),
        }),
      ),
    ),
  );
  byId("audio-call-button").before(menu);
  socket.on("chat.notify", setChatNotify);
  subscribe("chats", renderMenu);
}
