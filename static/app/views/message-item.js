// One message in the conversation: sender (groups), quoted reply, text with links, attachments
// (with their caption) or an image by URL, time (the full date on hover), edited mark, read ticks (private chats), pending
// and failed states, and its actions.

import { h, linkify, safeUrl } from "../dom.js";
import { formatFullDate, formatTime, gettext } from "../i18n.js";
import { icon } from "../icons.js";
import { decorateMentions } from "../mentions.js";
import { attachmentsNode } from "./attachment-view.js";

const textNode = (content) => h("p", { class: "text", "data-testid": "message-text" }, linkify(content));

function body(message) {
  if (message.is_deleted) return h("p", { class: "text deleted", text: gettext("This message was deleted.") });
  if (message.attachments?.length) return [attachmentsNode(message), message.content && textNode(message.content)];
  const url = message.message_type !== "text" && safeUrl(message.content);
  if (url && message.message_type === "image") {
    return h(
      "a",
      { href: url, target: "_blank", rel: "noopener noreferrer", class: "image-link" },
      h("img", { src: url, alt: gettext("Image"), loading: "lazy", "data-testid": "message-image" }),
    );
  }
  if (url) return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "file-link", text: url });
  if (message.message_type === "text") return textNode(message.content);
  // Files removed (retention) leave the message with its caption and no attachments.
  return [h("p", { class: "text deleted", "data-testid": "files-gone", text: gettext("The file is no longer available.") }), message.content && textNode(message.content)];
}

function status(message, readState, onRetry) {
  const local = message.local;
  if (local?.status === "failed") {
    return [
      h("span", { class: "failed-label", role: "status", text: gettext("Not sent") }),
      h("button", { type: "button", class: "link-button", "data-testid": "retry", onclick: onRetry, text: gettext("Retry") }),
    ];
  }
  if (local) return h("span", { class: "pending-label", "data-testid": "pending", text: gettext("Sending…") });
  if (!readState) return null;
  const read = readState === "read";
  return h("span", {
    class: `ticks ${readState}`,
    role: "img",
    "data-testid": "read-state",
    "data-state": readState,
    "aria-label": read ? gettext("Read") : gettext("Sent"),
    title: read ? gettext("Read") : gettext("Sent"),
    text: read ? "✓✓" : "✓",
  });
}

const action = (name, label, onclick) =>
  h("button", { type: "button", class: "icon-button", "aria-label": label, title: label, "data-testid": name, onclick }, icon(name));

/** A group message of someone the reader blocked: collapsed, with a control to show it. */
function collapsedNode(message, onShow) {
  return h(
    "li",
    { class: "message theirs collapsed", "data-testid": "message", "data-message-id": message.id, "data-collapsed": "true" },
    h(
      "div",
      { class: "bubble" },
      h("span", { class: "collapsed-note", text: gettext("Message from a blocked person") }),
      h("button", { type: "button", class: "link-button", "data-testid": "show-blocked-message", onclick: onShow, text: gettext("Show") }),
    ),
  );
}

/** `view`: {mine, senderName, replyText, readState: null|"sent"|"read", canEdit, canDelete,
 * collapsed, canReport, onReply, onEdit, onDelete, onReport, onRetry, onShow}. */
export function messageNode(message, view) {
  if (view.collapsed) return collapsedNode(message, view.onShow);
  const local = message.local;
  const classes = ["message", view.mine ? "mine" : "theirs", local?.status, message.is_deleted && "is-deleted"];
  const actions = message.id && !message.is_deleted && [
    action("reply", gettext("Reply"), view.onReply),
    view.canEdit && action("edit", gettext("Edit"), view.onEdit),
    view.canDelete && action("delete", gettext("Delete"), view.onDelete),
    view.canReport && action("report", gettext("Report"), view.onReport),
  ];
  const node = h(
    "li",
    {
      class: classes.filter(Boolean).join(" "),
      "data-testid": "message",
      "data-message-id": message.id,
      "data-client-msg-id": local?.cid,
      "data-status": local ? local.status : "sent",
    },
    h(
      "div",
      { class: "bubble" },
      view.senderName && h("span", { class: "sender", "data-testid": "message-sender", text: view.senderName }),
      view.replyText && h("blockquote", { class: "reply-quote", "data-testid": "reply-quote", text: view.replyText }),
      body(message),
      h(
        "span",
        { class: "meta" },
        message.is_edited && !message.is_deleted && h("span", { class: "edited", "data-testid": "edited", text: gettext("edited") }),
        h("time", { datetime: message.created_at, title: formatFullDate(message.created_at), "data-testid": "message-time", text: formatTime(message.created_at) }),
        status(message, view.readState, view.onRetry),
      ),
    ),
    actions && h("div", { class: "message-actions" }, actions),
  );
  return decorateMentions(node, message);
}
