// Message search: a box under the chat filter; the results (newest first, more on demand) take the
// chat list's place, each with its chat and a snippet whose matches are <mark> text nodes (the
// server gives plain text and offsets, never HTML). A result opens its chat at that message
// (GET chats/{id}/messages?around=) and highlights it.

import { api, withQuery } from "../api.js";
import { byId, h } from "../dom.js";
import { formatFullDate, formatListTime, gettext } from "../i18n.js";
import { historyOf, putHistoryPage } from "../store-messages.js";
import { attempt } from "./toasts.js";

const PAGE_SIZE = 20;
const MAX_QUERY = 100;
const AROUND_SIZE = 50;
const NEWER_PAGE_SIZE = 100;
// A found message is shown joined to the chat's newest messages (the history has no gaps): at
// most this many pages of newer messages are fetched to join them.
const NEWER_PAGES = 20;
// A page of a 1-2 character query may come back short while older messages remain (the server
// scans a bounded window per page): ask again, up to this many pages, before waiting for "More".
const SHORT_PAGE_RETRIES = 4;
const TYPING_PAUSE_MS = 300;
const HIGHLIGHT_MS = 2500;

let openChat = () => {};
let search = null;  // {q, results, nextBefore, loading, started} while results are shown
let pause = null;

/** The snippet as text nodes with the matches in <mark>; offsets count code points. */
export function snippetNode(snippet) {
  const chars = Array.from(snippet.text);
  const parts = [];
  let at = 0;
  for (const { start, end } of snippet.highlights) {
    if (start < at || start >= end || end > chars.length) continue;
    parts.push(chars.slice(at, start).join(""), h("mark", { text: chars.slice(start, end).join("") }));
    at = end;
  }
  parts.push(chars.slice(at).join(""));
  return h("span", { class: "search-snippet", "data-testid": "search-snippet" }, parts.filter((part) => part !== ""));
}

function resultNode(result) {
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "search-result",
        "data-testid": "search-result",
        "data-chat-id": result.chat.id,
        "data-message-id": result.id,
        onclick: () => attempt(() => jumpTo(result.chat.id, result.id)),
      },
      h(
        "span",
        { class: "search-result-top" },
        h("span", { class: "chat-item-title", text: result.chat.title || gettext("Chat") }),
        h("time", { datetime: result.created_at, title: formatFullDate(result.created_at), text: formatListTime(result.created_at) }),
      ),
      snippetNode(result.snippet),
    ),
  );
}

function render() {
  const list = byId("search-results");
  list.hidden = search === null;
  byId("chat-list").hidden = search !== null;
  if (search === null) {
    list.replaceChildren();
    return;
  }
  const items = search.results.map(resultNode);
  if (search.loading) items.push(h("li", { class: "empty", role: "status", text: gettext("Searching…") }));
  else if (search.nextBefore !== null) {
    const label = search.results.length ? gettext("More results") : gettext("Search older messages");
    items.push(h("li", { class: "search-more" }, h("button", { type: "button", class: "link-button", "data-testid": "search-more", onclick: () => attempt(more), text: label })));
  } else if (!search.results.length) items.push(h("li", { class: "empty", "data-testid": "search-empty", text: gettext("No messages found.") }));
  list.replaceChildren(...items);
}

/** The next page(s) of the current search; a newer search makes an older one's answers moot. */
async function more() {
  const mine = search;
  if (!mine || mine.loading) return;
  mine.loading = true;
  render();
  try {
    const before = mine.results.length;
    for (let asked = 0; asked <= SHORT_PAGE_RETRIES; asked += 1) {
      const page = await api.get(withQuery("search/messages", { q: mine.q, before: mine.started ? mine.nextBefore : undefined, limit: PAGE_SIZE }));
      if (search !== mine) return;
      mine.started = true;
      mine.results.push(...page.results);
      mine.nextBefore = page.next_before;
      if (mine.nextBefore === null || mine.results.length - before >= PAGE_SIZE) break;
    }
  } finally {
    mine.loading = false;
    if (search === mine) render();
  }
}

function start(q) {
  search = q ? { q, results: [], nextBefore: null, loading: false, started: false } : null;
  render();
  if (search) attempt(more);
}

/** The page around the message, joined to the newest messages, into the chat's history. */
async function loadAround(chatId, messageId) {
  const path = `chats/${chatId}/messages`;
  const around = await api.get(withQuery(path, { around: messageId, limit: AROUND_SIZE }));
  const pages = [around.results];
  let nextAfter = around.next_after;
  for (let fetched = 0; nextAfter !== null && fetched < NEWER_PAGES; fetched += 1) {
    const newer = await api.get(withQuery(path, { after: nextAfter, limit: NEWER_PAGE_SIZE }));
    pages.push(newer.results);
    nextAfter = newer.next_after;
  }
  if (nextAfter !== null) throw new Error(gettext("That message is too far back to open here."));
  putHistoryPage(chatId, pages.flat(), around.next_before);
}

/** Open the chat at the message: from the history when it holds it, else from the server. */
export async function jumpTo(chatId, messageId) {
  if (!historyOf(chatId).messages.some((message) => message.id === messageId)) await loadAround(chatId, messageId);
  openChat(chatId);
  const node = byId("message-list").querySelector(`[data-message-id="${Number(messageId)}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center" });
  node.classList.add("search-hit");
  setTimeout(() => node.classList.remove("search-hit"), HIGHLIGHT_MS);
}

export function initSearch(onOpenChat) {
  openChat = onOpenChat;
  const input = h("input", { id: "message-search", type: "search", maxlength: MAX_QUERY, placeholder: gettext("Search messages"), "data-testid": "message-search" });
  const form = h("form", { class: "filter", role: "search" }, h("label", { for: "message-search", class: "visually-hidden", text: gettext("Search messages") }), input);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(pause);
    start(input.value.trim());
  });
  input.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(() => start(input.value.trim()), TYPING_PAUSE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      input.value = "";
      start("");
    }
  });
  byId("chat-filter").closest(".filter").after(form);
  byId("chat-list").after(h("ul", { id: "search-results", class: "chat-list search-results", "aria-label": gettext("Search results"), "data-testid": "search-results", hidden: true }));
}

export function resetSearch() {
  clearTimeout(pause);
  byId("message-search").value = "";
  start("");
}
