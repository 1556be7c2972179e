// The contacts dialog: find people, send friend requests, accept or reject the ones received,
// open a private chat with a friend, and report someone.

import { api, withQuery } from "../api.js";
import { loadContacts, isFriend, pendingWith } from "../contacts.js";
import { avatar, button, byId, h, reconcile } from "../dom.js";
import { isBlocked } from "../blocks.js";
import { gettext } from "../i18n.js";
import { presenceOf, state, subscribe } from "../store.js";
import { putChat } from "../store-chats.js";
import { confirmBlock } from "./settings-blocked.js";
import { openSettings } from "./settings.js";
import { openReport } from "./report-dialog.js";
import { attempt, toast } from "./toasts.js";

let searchResults = [];
let searched = false;
let openChat = () => {};

function person(user, ...controls) {
  const name = user.nickname || user.username || `#${user.id}`;
  const presence = presenceOf(user.id);
  return h(
    "li",
    { class: "person", "data-testid": "person", "data-user-id": user.id },
    h("span", { class: "avatar-wrap" }, avatar(name, user.avatar_url),
      presence === "online" && h("span", { class: "online-dot", role: "img", "aria-label": gettext("online") }),
      presence === "unknown" && h("span", { class: "online-dot unknown", role: "img", "aria-label": gettext("presence unknown") })),
    h("span", { class: "person-text" }, h("span", { class: "person-name", text: name }), user.username && h("small", { text: `@${user.username}` })),
    ...controls,
    user.id !== state.me.id && button(gettext("Report"), () => openReport("user", user.id, name), { class: "link-button", "data-testid": "report-person" }),
  );
}

async function messageFriend(userId) {
  await attempt(async () => {
    const chat = await api.post("chats/private", { user_id: userId });
    putChat(chat);
    byId("contacts-dialog").close();
    openChat(chat.id);
  });
}

const answer = (request, verb) => () => attempt(() => api.post(`friends/requests/${request.id}/${verb}`).then(loadContacts));

/** Block (with a confirmation), or for someone blocked already the way to unblock them. */
function blockControl(user) {
  const name = user.nickname || user.username || `#${user.id}`;
  if (isBlocked(user.id)) {
    return button(gettext("Blocked"), () => {
      byId("contacts-dialog").close();
      openSettings("blocked");
    }, { class: "tag-button", "data-testid": "blocked-tag", title: gettext("Unblock in Settings") });
  }
  return button(gettext("Block"), () => confirmBlock(user.id, name), { class: "danger", "data-testid": "block-person" });
}

function controlsFor(user) {
  if (user.id === state.me.id) return [h("small", { class: "tag", text: gettext("You") })];
  return isBlocked(user.id) ? [blockControl(user)] : [...actionsFor(user), blockControl(user)];
}

function actionsFor(user) {
  if (isFriend(user.id)) return [button(gettext("Message"), () => messageFriend(user.id), { class: "primary", "data-testid": "message-friend" })];
  const pending = pendingWith(user.id);
  if (pending && pending.to_user.id === state.me.id) {
    return [
      button(gettext("Accept"), answer(pending, "accept"), { class: "primary", "data-testid": "accept-request" }),
      button(gettext("Reject"), answer(pending, "reject"), { "data-testid": "reject-request" }),
    ];
  }
  if (pending) return [h("small", { class: "tag", text: gettext("Request sent") })];
  return [
    button(gettext("Add friend"), () =>
      attempt(async () => {
        await api.post("friends/requests", { user_id: user.id });
        await loadContacts();
        toast({ message: gettext("Friend request sent."), type: "success" });
      }), { class: "primary", "data-testid": "add-friend" }),
  ];
}

function render() {
  const mine = (r) => r.status === "pending" && r.from_user.id === state.me.id;
  const theirs = (r) => r.status === "pending" && r.to_user.id === state.me.id;
  const empty = (text) => [h("li", { class: "empty", text })];
  const fill = (id, items, emptyText) => reconcile(byId(id), items.length ? items : empty(emptyText));
  fill("user-search-results", searchResults.map((user) => person(user, ...controlsFor(user))), searched ? gettext("Nobody found.") : "");
  fill("incoming-requests", state.requests.filter(theirs).map((r) => person(r.from_user, ...controlsFor(r.from_user))), gettext("No requests."));
  fill("outgoing-requests", state.requests.filter(mine).map((r) => person(r.to_user, h("small", { class: "tag", text: gettext("Waiting") }))), gettext("No requests."));
  fill("friend-list", state.friends.map((friend) => person(friend, ...controlsFor(friend))), gettext("No friends yet: find people above."));
  byId("user-search-results").hidden = !searched;
}

export function initContacts(onOpenChat) {
  openChat = onOpenChat;
  const dialog = byId("contacts-dialog");
  byId("contacts-button").addEventListener("click", () => {
    render();
    dialog.showModal();
    attempt(loadContacts);
  });
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  byId("user-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = byId("user-search").value.trim();
    attempt(async () => {
      searchResults = await api.get(withQuery("users", { search: text, limit: 20 }));
      searched = true;
      render();
    });
  });
  subscribe("contacts", () => dialog.open && render());
  subscribe("presence", () => dialog.open && render());
  subscribe("blocks", () => dialog.open && render());
}

export function resetContacts() {
  searchResults = [];
  searched = false;
  byId("user-search").value = "";
}
