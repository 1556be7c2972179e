// Web Push (docs/protocol.md): the service worker /sw.js shows a notification when every tab is
// closed. After sign-in the worker is registered; with "Push when the tab is closed" on (the sidebar's
// avatar menu), this browser subscribes with the server's VAPID key and registers the subscription
// with the server; signing out removes both. A clicked notification opens its chat: the worker's
// message to an open window, or ?chat=<id> in a new one.

import { api } from "./api.js";
import { byId, h } from "./dom.js";
import { gettext } from "./i18n.js";
import { state } from "./store.js";
import { toastError } from "./views/toasts.js";

const KEY = "imsuite.webpush";  // {id, endpoint}: this browser's subscription, as the server knows it
const supported =
  window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
let openChat = () => {};
let toggle = null;

function stored() {
  try {
    return JSON.parse(localStorage.getItem(KEY));
  } catch {
    return null;
  }
}

const bytesOf = (base64url) =>
  Uint8Array.from(atob(base64url.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

function sameKey(buffer, base64url) {
  const a = new Uint8Array(buffer || []);
  const b = bytesOf(base64url);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function openKnownChat(chatId) {
  if (state.chats.has(chatId)) openChat(chatId);
}

/** Subscribe this browser (again: a subscription the server dropped is registered anew). */
async function subscribe() {
  const registration = await navigator.serviceWorker.ready;
  const { public_key: key } = await api.get("push/vapid-key");
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();  // made for another server key: nothing can be pushed to it
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytesOf(key) });
  const { endpoint, keys } = subscription.toJSON();
  const saved = await api.post("push/subscriptions", { kind: "webpush", endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  localStorage.setItem(KEY, JSON.stringify({ id: saved.id, endpoint }));
}

/** Unsubscribe this browser; `signedIn`: also remove the server's record (it needs the session). */
async function unsubscribe(signedIn) {
  const saved = stored();
  localStorage.removeItem(KEY);
  if (saved && signedIn) await api.delete(`push/subscriptions/${saved.id}`).catch(() => null);
  const registration = await navigator.serviceWorker.getRegistration("/");
  const subscription = await registration?.pushManager.getSubscription();
  await subscription?.unsubscribe();
}

async function onToggle() {
  toggle.disabled = true;
  try {
    if (!toggle.checked) await unsubscribe(true);
    else if ((await Notification.requestPermission()) !== "granted") toggle.checked = false;
    else await subscribe();
  } catch (error) {
    toggle.checked = false;
    await unsubscribe(true).catch(() => null);
    toastError(error);
  } finally {
    toggle.disabled = false;
  }
}

export function initWebPush(open) {
  openChat = open;
  if (!supported) return;
  toggle = h("input", { type: "checkbox", id: "webpush-toggle", "data-testid": "webpush-toggle", onchange: onToggle });
  byId("me-menu").querySelector(".member-actions-body").append(
    h("label", { class: "menu-toggle", for: "webpush-toggle" }, toggle, gettext("Push when the tab is closed")),
  );
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type === "open-chat") openKnownChat(event.data.chat_id);
  });
  navigator.serviceWorker.startMessages();
}

/** After sign-in, once the chats are known: the chat a notification opened this window for, the
 * worker, and this browser's subscription renewed if push is on. */
export async function startWebPush() {
  const wanted = Number(new URLSearchParams(location.search).get("chat"));
  if (wanted) {
    history.replaceState(null, "", "/");
    openKnownChat(wanted);
  }
  if (!supported) return;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch {
    toggle.closest("label").hidden = true;  // workers refused here (a private window, a policy)
    return;
  }
  toggle.checked = Boolean(stored()) && Notification.permission === "granted";
  if (stored() && !toggle.checked) await unsubscribe(true);  // permission taken back meanwhile
  if (toggle.checked) await subscribe();
}

/** Before signing out (the session still works): this browser gets no more pushes for this person. */
export async function signOutWebPush() {
  if (supported) await unsubscribe(true).catch(() => null);
}

/** The session is over (here or in another tab): no pushes for the person who was signed in. */
export function stopWebPush() {
  if (!supported) return;
  toggle.checked = false;
  unsubscribe(false).catch(() => null);
}
