// Mentions in the web client (issue 19): the composer's member autocomplete after "@" in a group
// (arrow keys, Enter or Tab to pick, Escape to close; it inserts "@username "), mentions of me and
// @all highlighted in bubbles, the chat list's "@" badge for unread mentions, and the "jump to
// the first unread mention" button (the badge opens the chat and jumps too). The server decides
// who a message mentions (message.mentions); the client only shows it.

import { byId, h } from "./dom.js";
import { format, gettext, ngettext } from "./i18n.js";
import { isModerator } from "./groups.js";
import { loadMore } from "./messaging.js";
import { state } from "./store.js";
import { mentionsMe } from "./store-chats.js";
import { historyOf } from "./store-messages.js";

const ALL = "all";
const ALL_WORDS = ["all", "全体成员"];
const MAX_SUGGESTIONS = 8;
// An "@" that starts a mention: at the start or after anything but a word or e-mail character.
const QUERY_BEFORE_CARET = /(?:^|[^\p{L}\p{N}_.%+-]|[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}])[@＠]([^\s@＠]{0,32})$/u;

const jumps = new Map();  // chat id -> read position when it was opened with unread mentions
let picker = null;        // {start, options, index} while the autocomplete is open

// ---- bubbles --------------------------------------------------------------------------------

function myNames() {
  const group = state.groups.get(state.currentChatId);
  const card = group?.members.find((m) => m.user_id === state.me.id)?.card;
  return [state.me.username, state.me.nickname, card, ...ALL_WORDS].filter(Boolean).map((name) => name.toLowerCase());
}

/** Wrap "@<my name>" and "@all" in the message's text in <mark>, and mark the bubble. */
export function decorateMentions(node, message) {
  if (!mentionsMe(message)) return node;
  node.classList.add("mentions-me");
  node.dataset.mentionsMe = "true";
  const names = myNames().sort((a, b) => b.length - a.length);
  for (const text of node.querySelectorAll("[data-testid=message-text]")) markIn(text, names);
  return node;
}

function markIn(element, names) {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const textNodes = [];
  while (walker.nextNode()) textNodes.push(walker.currentNode);
  for (const textNode of textNodes) {
    const value = textNode.nodeValue;
    const lower = value.toLowerCase();
    const parts = [];
    let last = 0;
    for (let at = 0; at < value.length; at += 1) {
      if (value[at] !== "@" && value[at] !== "＠") continue;
      const name = names.find((n) => lower.startsWith(n, at + 1));
      if (!name) continue;
      parts.push(value.slice(last, at), h("mark", { class: "mention", "data-testid": "mention", text: value.slice(at, at + 1 + name.length) }));
      last = at + 1 + name.length;
      at = last - 1;
    }
    if (!parts.length) continue;
    parts.push(value.slice(last));
    textNode.replaceWith(...parts.filter((part) => part !== ""));
  }
}

// ---- the group's setting ---------------------------------------------------------------------

/** The group setting (owner and admins): whether plain members may use @all. */
export function mentionAllSetting(info, onChange) {
  const box = h("input", { type: "checkbox", "data-testid": "mention-all-setting", checked: Boolean(info.members_mention_all) });
  box.addEventListener("change", () => onChange(box.checked));
  return h("label", { class: "inline-controls" }, box, gettext("Members may mention everyone (@all)"));
}

// ---- the chat list ----------------------------------------------------------------------------

/** The "@" badge of a chat with unread mentions (clicking it opens the chat at the first one). */
export function mentionBadge(chat) {
  const count = chat.unread_mention_count || 0;
  if (!count) return null;
  const label = format(ngettext("%(count)s unread mention", "%(count)s unread mentions", count), { count });
  return h("span", {
    class: "badge mention-badge",
    "data-testid": "mention-badge",
    title: label,
    "aria-label": label,
    text: "@",
    onclick: () => { pendingJumpTo = chat.id; },
  });
}

let pendingJumpTo = null;  // the chat whose badge was clicked: jump once it is open

/** The conversation opens a chat: remember where its unread mentions start, before it is read
 * (markRead then zeroes the count, as the server does). */
export function noteOpened(chat) {
  if (chat.unread_mention_count) jumps.set(chat.id, chat.last_read_message_id);
  renderJump();
  if (pendingJumpTo === chat.id) jumpToMention();
  pendingJumpTo = null;
}

// ---- jump to the first unread mention --------------------------------------------------------

const firstUnread = (chatId) => historyOf(chatId).messages.find((m) => m.id > jumps.get(chatId) && mentionsMe(m));

export function renderJump() {
  const button = byId("mention-jump");
  if (button) button.hidden = !jumps.has(state.currentChatId);
}

async function jumpToMention() {
  const chatId = state.currentChatId;
  if (!jumps.has(chatId)) return;
  const history = historyOf(chatId);
  let guard = 0;
  while (!firstUnread(chatId) && !history.complete && guard < 50) {  // older pages, until it is there
    guard += 1;
    if (!history.loading) await loadMore(chatId);
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const target = firstUnread(chatId);
  jumps.delete(chatId);
  renderJump();
  if (!target) return;
  const node = byId("message-list").querySelector(`[data-message-id="${target.id}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center" });
  node.classList.add("jumped");
  setTimeout(() => node.classList.remove("jumped"), 2000);
}

// ---- the composer's autocomplete ---------------------------------------------------------------

function candidates(query) {
  const group = state.groups.get(state.currentChatId);
  if (!group || state.chats.get(state.currentChatId)?.type !== "group") return [];
  const q = query.toLowerCase();
  const matches = (...names) => names.some((name) => name && name.toLowerCase().includes(q));
  const people = group.members
    .filter((m) => m.user_id !== state.me.id && matches(m.username, m.user.nickname, m.card))
    .sort((a, b) => Number(!a.username.toLowerCase().startsWith(q)) - Number(!b.username.toLowerCase().startsWith(q)))
    .slice(0, MAX_SUGGESTIONS)
    .map((m) => ({ insert: m.username, label: m.card || m.user.nickname, detail: `@${m.username}` }));
  const mayAll = isModerator(group.info.my_role) || group.info.members_mention_all;
  if (mayAll && matches(...ALL_WORDS, gettext("Everyone"))) people.unshift({ insert: ALL, label: gettext("Everyone"), detail: "@all" });
  return people;
}

function closePicker() {
  picker = null;
  const list = byId("mention-list");
  if (list) list.hidden = true;
  byId("composer-input").removeAttribute("aria-activedescendant");
}

function renderPicker() {
  const list = byId("mention-list");
  list.hidden = false;
  list.replaceChildren(...picker.options.map((option, i) => h(
    "li",
    {
      id: `mention-option-${i}`,
      role: "option",
      class: "mention-option",
      "data-testid": "mention-option",
      "aria-selected": String(i === picker.index),
      onmousedown: (event) => {
        event.preventDefault();  // keep the focus in the composer
        pick(i);
      },
    },
    h("span", { class: "mention-name", text: option.label }),
    h("span", { class: "mention-username", text: option.detail }),
  )));
  byId("composer-input").setAttribute("aria-activedescendant", `mention-option-${picker.index}`);
}

function update() {
  const input = byId("composer-input");
  const match = QUERY_BEFORE_CARET.exec(input.value.slice(0, input.selectionStart));
  const options = match ? candidates(match[1]) : [];
  if (!options.length) {
    closePicker();
    return;
  }
  picker = { start: input.selectionStart - match[1].length - 1, options, index: 0 };
  renderPicker();
}

function pick(index) {
  const input = byId("composer-input");
  const text = `@${picker.options[index].insert} `;
  const caret = input.selectionStart;
  input.value = input.value.slice(0, picker.start) + text + input.value.slice(caret);
  const at = picker.start + text.length;
  input.setSelectionRange(at, at);
  closePicker();
  input.dispatchEvent(new Event("input"));
}

/** Keys for the open autocomplete, seen before the composer's own (Enter would send). */
function onKey(event) {
  if (!picker || event.isComposing) return;
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key in moves) {
    picker.index = (picker.index + moves[event.key] + picker.options.length) % picker.options.length;
    renderPicker();
  } else if (event.key === "Enter" || event.key === "Tab") {
    pick(picker.index);
  } else if (event.key === "Escape") {
    closePicker();
  } else {
    return;
  }
  event.preventDefault();
  event.stopPropagation();
}

export function initMentions() {
  const input = byId("composer-input");
  const list = h("ul", { id: "mention-list", class: "mention-list", role: "listbox", hidden: true, "aria-label": gettext("Mention someone"), "data-testid": "mention-list" });
  byId("composer").append(list);
  input.setAttribute("aria-controls", "mention-list");
  byId("composer").addEventListener("keydown", onKey, true);
  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", closePicker);
  const jump = h("button", {
    type: "button",
    id: "mention-jump",
    class: "mention-jump",
    hidden: true,
    title: gettext("Jump to the first unread mention"),
    "aria-label": gettext("Jump to the first unread mention"),
    "data-testid": "mention-jump",
    text: "@",
    onclick: jumpToMention,
  });
  byId("message-list").after(jump);
}
