// One message in the conversation: sender (groups), quoted reply, text with links, attachments
// (with their caption) or an image by URL, time (the full date on hover), edited mark (opens the
// edit history), ticks (private chats: sent, delivered, read), pending and failed states, and its
// actions.

import { h, linkify, safeUrl } from "../dom.js";
import { format, formatFullDate, formatTime, gettext } from "../i18n.js";
import { icon } from "../icons.js";
import { decorateMentions } from "../mentions.js";
import { attachmentsNode } from "./attachment-view.js";
import { linkPreviewsNode } from "./link-preview.js";
import { reactionBar } from "./reaction-bar.js";

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

const TICKS = { sent: () => gettext("Sent"), delivered: () => gettext("Delivered"), read: () => gettext("Read") };

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
  const label = TICKS[readState]();
  return h("span", {
    class: `ticks ${readState}`,
    role: "img",
    "data-testid": "read-state",
    "data-state": readState,
    "aria-label": label,
    title: label,
    text: readState === "sent" ? "✓" : "✓✓",
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

/** A forwarded message's mark: who wrote the original (a copy kept when it was forwarded). */
const forwardedNode = (origin) =>
  origin && h("span", { class: "forwarded", "data-testid": "forwarded-from", text: format(gettext("Forwarded from %(name)s"), { name: origin.sender_name }) });

/** `view`: {mine, senderName, replyText, readState: null|"sent"|"delivered"|"read", canEdit,
 * canDelete, collapsed, canReport, canSeeReaders, canPin, pinned, onReply, onEdit, onDelete,
 * onReport, onSeenBy, onEdits, onRetry, onShow, onForward, onPin}. */
export function messageNode(message, view) {
  if (view.collapsed) return collapsedNode(message, view.onShow);
  const local = message.local;
  const classes = ["message", view.mine ? "mine" : "theirs", local?.status, message.is_deleted && "is-deleted"];
  const actions = message.id && !message.is_deleted && [
    action("reply", gettext("Reply"), view.onReply),
    message.message_type !== "system" && action("forward", gettext("Forward"), view.onForward),
    view.canPin && action(view.pinned ? "unpin" : "pin", view.pinned ? gettext("Unpin") : gettext("Pin"), view.onPin),
    view.canEdit && action("edit", gettext("Edit"), view.onEdit),
    view.canDelete && action("delete", gettext("Delete"), view.onDelete),
    view.canSeeReaders && action("seen-by", gettext("Seen by"), view.onSeenBy),
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
      !message.is_deleted && forwardedNode(message.forwarded_from),
      view.replyText && h("blockquote", { class: "reply-quote", "data-testid": "reply-quote", text: view.replyText }),
      body(message),
      linkPreviewsNode(message),
      h(
        "span",
        { class: "meta" },
        message.is_edited && !message.is_deleted && h("button", { type: "button", class: "edited link-button", "data-testid": "edited", title: gettext("Show the edit history"), onclick: view.onEdits, text: gettext("edited") }),
        h("time", { datetime: message.created_at, title: formatFullDate(message.created_at), "data-testid": "message-time", text: formatTime(message.created_at) }),
        status(message, view.readState, view.onRetry),
      ),
      reactionBar(message),
    ),
    actions && h("div", { class: "message-actions" }, actions),
  );
  return decorateMentions(node, message);
}
