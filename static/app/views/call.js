// The call screens: the incoming-call dialog (accept, decline) and the in-call view with remote
// and local video, status, duration, mute and hang-up.

import * as calls from "../calls.js";
import { byId } from "../dom.js";
import { format, formatDuration, gettext } from "../i18n.js";
import { subscribe } from "../store.js";
import { toast } from "./toasts.js";

const PHASES = {
  ringing: () => gettext("Calling…"),
  connecting: () => gettext("Connecting…"),
  connected: () => gettext("Connected"),
};
const END_REASONS = {
  rejected: () => gettext("Call declined"),
  busy: () => gettext("Busy"),
  unavailable: () => gettext("Not reachable right now"),
  timeout: () => gettext("No answer"),
  failed: () => gettext("The call could not be set up"),
  connection_failed: () => gettext("The connection was lost"),
  connection_lost: () => gettext("The connection was lost"),
};

let timer = null;

function showDuration(call) {
  const seconds = call.phase === "ended" ? call.duration : call.connectedAt ? (Date.now() - call.connectedAt) / 1000 : 0;
  byId("call-timer").textContent = formatDuration(seconds);
}

function renderIncoming(call) {
  const dialog = byId("incoming-call");
  if (call?.phase !== "incoming") {
    if (dialog.open) dialog.close();
    return;
  }
  const template = call.type === "video" ? gettext("%(name)s is video calling you") : gettext("%(name)s is calling you");
  byId("incoming-call-title").textContent = format(template, { name: call.peerName });
  if (!dialog.open) {
    dialog.showModal();
    byId("incoming-accept").focus();
  }
}

function render(call) {
  renderIncoming(call);
  const view = byId("call-view");
  const visible = Boolean(call) && call.phase !== "incoming";
  const wasHidden = view.hidden;
  view.hidden = !visible;
  clearInterval(timer);
  if (!visible) {
    view.dataset.state = "idle";
    byId("local-video").srcObject = null;
    byId("remote-video").srcObject = null;
    return;
  }
  view.dataset.state = call.phase;
  view.dataset.callType = call.type;
  byId("call-peer").textContent = call.peerName;
  const ended = call.phase === "ended";
  byId("call-status").textContent = ended ? (END_REASONS[call.endReason] || (() => gettext("Call ended")))() : PHASES[call.phase]();
  if (byId("local-video").srcObject !== (call.localStream || null)) byId("local-video").srcObject = call.localStream || null;
  if (byId("remote-video").srcObject !== (call.remoteStream || null)) byId("remote-video").srcObject = call.remoteStream || null;
  const mute = byId("call-mute");
  mute.hidden = ended;
  mute.setAttribute("aria-pressed", String(call.muted));
  mute.textContent = call.muted ? gettext("Unmute") : gettext("Mute");
  byId("call-hangup").hidden = ended;
  byId("call-close").hidden = !ended;
  showDuration(call);
  if (call.phase === "connected") timer = setInterval(() => showDuration(call), 1000);
  if (wasHidden) byId("call-hangup").focus();
  if (ended) byId("call-close").focus();
}

const UNAVAILABLE = {
  in_call: () => gettext("You are already in a call."),
  no_media: () => gettext("Calls need a camera or microphone, and HTTPS (or localhost)."),
  offline: () => gettext("Not connected: try again when the connection is back."),
};

function failed(error) {
  const text = UNAVAILABLE[error.reason] || (() => gettext("Camera or microphone not available."));
  toast({ message: text(), type: "error" });
}

export function initCallView() {
  byId("incoming-accept").addEventListener("click", () => calls.accept().catch(failed));
  byId("incoming-reject").addEventListener("click", calls.reject);
  byId("incoming-call").addEventListener("cancel", (event) => {
    event.preventDefault();
    calls.reject();
  });
  byId("call-hangup").addEventListener("click", () => calls.hangUp());
  byId("call-mute").addEventListener("click", calls.toggleMute);
  byId("call-close").addEventListener("click", calls.dismiss);
  subscribe("call", render);
}

/** The chat header's call buttons. */
export function callPeer(chat, type) {
  if (!chat?.peer) return;
  calls.startCall(chat.peer, type).catch(failed);
}
