// On demand, about one message (issue 22): who of the group has seen it, and its earlier texts.
// One dialog (#message-info-dialog) serves both; its content is read over REST when opened.

import { api, withQuery } from "../api.js";
import { avatar, byId, h } from "../dom.js";
import { errorText } from "../errors.js";
import { format, formatDateTime, gettext, ngettext } from "../i18n.js";
import { nameOf } from "../store.js";

const READERS_PAGE = 50;

function open(title, fill) {
  const dialog = byId("message-info-dialog");
  const body = byId("message-info-body");
  byId("message-info-title").textContent = title;
  body.replaceChildren(h("p", { role: "status", text: gettext("Loading…") }));
  if (!dialog.open) dialog.showModal();
  fill(body).catch((error) => body.replaceChildren(h("p", { class: "form-error", role: "alert", text: errorText(error) })));
}

const reader = ({ user }) =>
  h("li", { class: "reader", "data-testid": "reader", "data-user-id": user.id }, avatar(user.nickname, user.avatar_url), h("span", { class: "reader-name", "data-testid": "reader-name", text: user.nickname }));

async function fillReaders(body, message, after = 0, list = null) {
  const page = await api.get(withQuery(`messages/${message.id}/readers`, { after, limit: READERS_PAGE }));
  const items = list ?? h("ul", { class: "reader-list", "data-testid": "reader-list" });
  items.append(...page.results.map(reader));
  if (!list) {
    const counts = [
      format(ngettext("Seen by %(count)s", "Seen by %(count)s", page.read_count), { count: page.read_count }),
      format(ngettext("%(count)s not yet", "%(count)s not yet", page.unread_count), { count: page.unread_count }),
    ].join(" · ");
    body.replaceChildren(h("p", { class: "message-info-note", "data-testid": "reader-counts", text: counts }));
    if (!page.read_count) body.append(h("p", { "data-testid": "no-readers", text: gettext("Nobody has seen it yet.") }));
    body.append(items);
  }
  body.querySelector("[data-testid=more-readers]")?.remove();
  if (page.next_after !== null) {
    body.append(h("button", { type: "button", class: "link-button", "data-testid": "more-readers", text: gettext("Show more"), onclick: () => fillReaders(body, message, page.next_after, items) }));
  }
}

async function fillEdits(body, message) {
  const { results } = await api.get(`messages/${message.id}/edits`);
  const versions = [...results.map((edit) => ({ content: edit.content, at: edit.edited_at })), { content: message.content, at: null }];
  body.replaceChildren(
    h(
      "ol",
      { class: "edit-list", "data-testid": "edit-list" },
      versions.map(({ content, at }) =>
        h(
          "li",
          { class: "edit", "data-testid": "edit-version" },
          h("p", { class: "text", text: content }),
          h("span", { class: "message-info-note", text: at ? format(gettext("Replaced %(time)s"), { time: formatDateTime(at) }) : gettext("Current") }),
        ),
      ),
    ),
  );
}

/** "Seen by": the group's members who have read the message, a page at a time. */
export function openSeenBy(message) {
  open(format(gettext("Seen by · %(name)s"), { name: nameOf(message.sender_id) }), (body) => fillReaders(body, message));
}

/** The message's texts, oldest first, the current one last. */
export function openEditHistory(message) {
  open(gettext("Edit history"), (body) => fillEdits(body, message));
}

export function initMessageInfo() {
  const dialog = byId("message-info-dialog");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
}
