// The sidebar: the chats, newest activity first, with last message, unread badge (grey where
// muted or mentions only), muted mark, online dot (grey while presence is unknown), drafts and
// missed calls; the filter; the connection state; the friend-request badge.

import { avatar, byId, cached, h, reconcile } from "../dom.js";
import { format, formatFullDate, formatListTime, gettext, ngettext } from "../i18n.js";
import { icon } from "../icons.js";
import { mentionBadge } from "../mentions.js";
import * as socket from "../socket.js";
import { presenceOf, state, subscribe } from "../store.js";
import { activityOf, missedCallOf, notifyLevel, sortedChats } from "../store-chats.js";
import { mediaLabel } from "./attachment-view.js";

const rows = new Map();
let openChat = () => {};

const CONNECTION_LABELS = {
  connecting: () => gettext("Connecting…"),
  connected: () => gettext("Connected"),
  reconnecting: () => gettext("Reconnecting…"),
  offline: () => gettext("Offline"),
};

/** What the list shows under a chat's title. */
function preview(chat) {
  const typing = state.typing.get(chat.id);
  if (typing?.size) return { text: gettext("typing…"), kind: "typing" };
  const draft = chat.id !== state.currentChatId && state.drafts.get(chat.id);
  if (draft) return { text: format(gettext("Draft: %(text)s"), { text: draft.text }), kind: "draft" };
  const missed = missedCallOf(chat);
  if (missed) {
    const text = missed.call_type === "video" ? gettext("Missed video call") : gettext("Missed voice call");
    return { text, kind: "missed" };
  }
  const message = chat.last_message;
  if (!message) return { text: "", kind: "" };
  let text = message.content;
  if (message.is_deleted) text = gettext("Message deleted");
  else if (message.attachments?.length) text = mediaLabel(message);
  else if (message.message_type === "image") text = gettext("Image");
  else if (message.message_type === "file") text = gettext("File");
  if (message.sender_id === state.me.id) text = format(gettext("You: %(text)s"), { text });
  return { text, kind: message.is_deleted ? "deleted" : "" };
}

function chatRow(chat) {
  const online = chat.peer ? presenceOf(chat.peer.id) : "";
  const { text, kind } = preview(chat);
  const current = chat.id === state.currentChatId;
  const unread = chat.unread_count;
  const when = new Date(activityOf(chat)).toISOString();
  const level = notifyLevel(chat);
  const mentions = chat.unread_mention_count;
  const signature = JSON.stringify([chat.title, chat.peer?.avatar_url, online, text, kind, current, unread, mentions, when, level]);
  return cached(rows, chat.id, signature, () => {
    const unreadLabel = format(ngettext("%(count)s unread message", "%(count)s unread messages", unread), { count: unread });
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: "chat-item",
          "data-testid": "chat-item",
          "data-chat-id": chat.id,
          "data-chat-type": chat.type,
          "aria-current": current ? "true" : null,
          onclick: () => openChat(chat.id),
        },
        h(
          "span",
          { class: "avatar-wrap" },
          avatar(chat.title, chat.peer?.avatar_url),
          online === "online" && h("span", { class: "online-dot", role: "img", "aria-label": gettext("online"), "data-testid": "online-dot" }),
          online === "unknown" && h("span", { class: "online-dot unknown", role: "img", "aria-label": gettext("presence unknown"), "data-testid": "presence-unknown" }),
        ),
        h(
          "span",
          { class: "chat-item-main" },
          h(
            "span",
            { class: "chat-item-top" },
            h("span", { class: "chat-item-title", "data-testid": "chat-item-title", text: chat.title || gettext("Chat") }),
            level === "muted" && h("span", { class: "muted-mark", role: "img", "aria-label": gettext("Muted"), title: gettext("Muted"), "data-testid": "muted-mark" }, icon("bellOff")),
            h("time", { datetime: when, title: formatFullDate(when), "data-testid": "chat-item-time", text: formatListTime(when) }),
          ),
          h(
            "span",
            { class: "chat-item-bottom" },
            h("span", { class: `chat-item-preview ${kind}`, "data-testid": { missed: "missed-call", draft: "chat-draft" }[kind] ?? "chat-preview", text }),
            mentionBadge(chat),
            unread > 0 && h("span", { class: level === "all" ? "badge" : "badge quiet", "data-testid": "unread-badge", "aria-hidden": "true", text: String(unread) }),
            unread > 0 && h("span", { class: "visually-hidden", text: unreadLabel }),
          ),
        ),
      ),
    );
  });
}

function renderChats() {
  const filter = byId("chat-filter").value.trim().toLowerCase();
  const chats = sortedChats().filter((chat) => !filter || (chat.title || "").toLowerCase().includes(filter));
  const list = byId("chat-list");
  reconcile(list, chats.map(chatRow));
  if (!chats.length) list.replaceChildren(h("li", { class: "empty", text: filter ? gettext("No chat matches.") : gettext("No chats yet.") }));
}

function renderConnection(connection) {
  const box = byId("connection");
  box.dataset.state = connection;
  box.querySelector(".connection-label").textContent = CONNECTION_LABELS[connection]();
  byId("reconnect-button").hidden = connection !== "reconnecting";  // never needed: it only hurries
}

function renderRequestsBadge() {
  const incoming = state.requests.filter((r) => r.to_user.id === state.me.id && r.status === "pending").length;
  const badge = byId("requests-badge");
  badge.hidden = incoming === 0;
  badge.textContent = String(incoming);
  badge.title = format(ngettext("%(count)s friend request", "%(count)s friend requests", incoming), { count: incoming });
}

export function initSidebar(onOpenChat) {
  openChat = onOpenChat;
  byId("chat-filter").addEventListener("input", renderChats);
  byId("reconnect-button").addEventListener("click", socket.reconnect);
  socket.onStateChange(renderConnection);
  renderConnection(socket.connectionState());
  for (const topic of ["chats", "presence", "typing"]) subscribe(topic, renderChats);
  subscribe("contacts", renderRequestsBadge);
}

export function resetSidebar() {
  rows.clear();
  byId("chat-list").replaceChildren();
}
