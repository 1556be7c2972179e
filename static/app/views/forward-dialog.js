// Forwarding a message to other chats: a dialog listing one's chats (newest activity first), each
// with a checkbox; the server answers per chat, and the dialog says where it went and where not.

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { errorText } from "../errors.js";
import { format, gettext, ngettext } from "../i18n.js";
import { newClientMsgId } from "../messaging.js";
import { sortedChats } from "../store-chats.js";
import { toast } from "./toasts.js";

const MAX_CHATS = 10;  // FORWARD_MAX_CHATS, the server's default
let messageId = null;

const chatTitle = (chat) => chat.title || gettext("Chat");

/** Open the dialog for one message; `label` quotes it. */
export function openForward(message, label) {
  messageId = message.id;
  const form = byId("forward-form");
  form.reset();
  form.querySelector(".form-error").textContent = "";
  byId("forward-what").textContent = label;
  byId("forward-chats").replaceChildren(
    ...sortedChats().map((chat) =>
      h("li", {}, h("label", {}, h("input", { type: "checkbox", name: "chat_ids", value: chat.id, "data-testid": "forward-chat", "data-chat-id": chat.id }), ` ${chatTitle(chat)}`)),
    ),
  );
  byId("forward-dialog").showModal();
}

async function submit(form) {
  const chatIds = new FormData(form).getAll("chat_ids").map(Number);
  const error = form.querySelector(".form-error");
  if (!chatIds.length || chatIds.length > MAX_CHATS) {
    error.textContent = format(gettext("Choose 1 to %(count)s chats."), { count: MAX_CHATS });
    return;
  }
  try {
    const { results } = await api.post(`messages/${messageId}/forward`, { chat_ids: chatIds, client_msg_id: newClientMsgId() });
    const refused = results.filter((result) => result.error);
    byId("forward-dialog").close();
    const sent = results.length - refused.length;
    toast({ message: format(ngettext("Forwarded to %(count)s chat.", "Forwarded to %(count)s chats.", sent), { count: sent }), type: "success" });
    for (const result of refused) toast({ message: errorText({ code: result.error.error_code, details: result.error.details, message: result.error.message }), type: "error" });
  } catch (failure) {
    error.textContent = errorText(failure);
  }
}

export function initForwardDialog() {
  const dialog = byId("forward-dialog");
  const form = byId("forward-form");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form);
  });
}
