// The service worker, served at /sw.js with the whole site as its scope (docs/protocol.md, Web Push):
// a push becomes a notification when no window of IM-Suite is in front (a focused page tells the
// person itself), and clicking one opens its chat: in a window already open, else in a new one.
// A classic script (importScripts): its texts come from the page's JavaScript catalog.

try {
  importScripts("/jsi18n/");  // the catalog in the language Django chooses for this browser
} catch {
  // unreachable while installing: the English texts
}

const catalog = self.django;
const gettext = (msgid) => (catalog ? catalog.gettext(msgid) : msgid);
const ngettext = (singular, plural, count) =>
  catalog ? catalog.ngettext(singular, plural, count) : count === 1 ? singular : plural;
const format = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

const windows = () => self.clients.matchAll({ type: "window", includeUncontrolled: true });

/** Title: the chat. Body: "sender: text" (or, with previews hidden, "New message" or "You were
 * mentioned"), and "N new messages" under it when several were coalesced into this push. */
function notificationOf(push) {
  const count = Number.isInteger(push.count) && push.count > 1 ? push.count : 1;
  const many = count > 1 ? format(ngettext("%(count)s new message", "%(count)s new messages", count), { count }) : "";
  const hasText = typeof push.text === "string";
  let first = many || gettext("New message");
  if (hasText) first = push.sender_name ? `${push.sender_name}: ${push.text}` : push.text;
  else if (push.mentioned) first = gettext("You were mentioned");
  const body = [first, first === many ? "" : many].filter(Boolean).join("\n");
  const title = push.chat_title || "IM-Suite";
  return [title, { body, tag: `chat-${push.chat_id}`, renotify: true, data: push }];
}

async function showPush(push) {
  const open = await windows();
  if (open.some((client) => client.focused && client.visibilityState === "visible")) return;
  await self.registration.showNotification(...notificationOf(push));
}

self.addEventListener("push", (event) => {
  let push = null;
  try {
    push = event.data ? event.data.json() : null;
  } catch {
    return;  // not ours: nothing to show
  }
  if (push && Number.isInteger(push.chat_id)) event.waitUntil(showPush(push));
});

async function openChat(chatId) {
  const open = await windows();
  const target = open.find((client) => client.focused) || open[0];
  if (target) {
    await target.focus();
    target.postMessage({ type: "open-chat", chat_id: chatId });
    return;
  }
  await self.clients.openWindow(`/?chat=${encodeURIComponent(chatId)}`);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const chatId = event.notification.data?.chat_id;
  if (Number.isInteger(chatId)) event.waitUntil(openChat(chatId));
});
