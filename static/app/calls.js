// Voice and video calls in private chats: WebRTC between the two browsers, signalled over the
// WebSocket with call.offer / call.answer / call.ice / call.end (the server adds call.status,
// which tells the caller the call_id). Media never passes through the server.

import * as socket from "./socket.js";
import { nameOf, notify, state } from "./store.js";
import { noteMissedCall } from "./store-chats.js";

// No STUN/TURN server is configured: peers reach each other on the same network (host candidates).
const RTC_CONFIG = { iceServers: [] };

let current = null;  // {callId, peerId, peerName, type, direction, phase, pc, localStream, remoteStream, ...}

const changed = () => notify("call", current);

/** A call that cannot start; `reason`: in_call, no_media (no devices or not a secure context), offline. */
class CallUnavailable extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

function isCurrent(callId) {
  return current !== null && current.callId === callId;
}

function peerConnection(call) {
  const pc = new RTCPeerConnection(RTC_CONFIG);
  call.pc = pc;
  call.localStream.getTracks().forEach((track) => pc.addTrack(track, call.localStream));
  pc.ontrack = (event) => {
    call.remoteStream = event.streams[0] || new MediaStream([event.track]);
    changed();
  };
  pc.onicecandidate = ({ candidate }) => {
    if (!candidate) return;
    if (call.callId) socket.send("call.ice", { call_id: call.callId, ice_candidate: candidate.toJSON() });
    else call.localIce.push(candidate.toJSON());
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected" && call.phase !== "connected" && call.phase !== "ended") {
      call.phase = "connected";
      call.connectedAt = Date.now();
      changed();
    } else if (pc.connectionState === "failed") {
      hangUp("connection_failed");
    }
  };
  return pc;
}

async function addRemoteCandidates(call, candidates) {
  for (const candidate of candidates) await call.pc.addIceCandidate(candidate).catch(() => null);
}

async function media(type) {
  if (!navigator.mediaDevices?.getUserMedia) throw new CallUnavailable("no_media");
  return navigator.mediaDevices.getUserMedia({ audio: true, video: type === "video" });
}

function release(call) {
  call.localStream?.getTracks().forEach((track) => track.stop());
  call.pc?.close();
}

function finish(call, reason, duration = null) {
  if (call.phase !== "ended") release(call);
  call.phase = "ended";
  call.endReason = reason;
  call.duration = duration ?? (call.connectedAt ? Math.round((Date.now() - call.connectedAt) / 1000) : 0);
  changed();
}

const busy = () => current !== null && current.phase !== "ended";

export async function startCall(peer, type) {
  if (busy()) throw new CallUnavailable("in_call");
  const call = { callId: null, peerId: peer.id, peerName: peer.nickname, type, direction: "outgoing", phase: "ringing", localIce: [], remoteIce: [], muted: false };
  current = call;
  changed();
  try {
    call.localStream = await media(type);
    if (call.phase === "ended") return release(call);
    const pc = peerConnection(call);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (!socket.send("call.offer", { to_user: peer.id, call_type: type, sdp: offer.sdp })) throw new CallUnavailable("offline");
  } catch (error) {
    finish(call, "failed");
    throw error;
  }
}

export async function accept() {
  const call = current;
  if (!call || call.phase !== "incoming") return;
  call.phase = "connecting";
  call.answered = true;
  changed();
  try {
    call.localStream = await media(call.type);
    const pc = peerConnection(call);
    await pc.setRemoteDescription({ type: "offer", sdp: call.offer.sdp });
    await addRemoteCandidates(call, call.remoteIce.splice(0));
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (!socket.send("call.answer", { call_id: call.callId, sdp: answer.sdp })) throw new CallUnavailable("offline");
  } catch (error) {
    hangUp("failed");
    throw error;
  }
}

export function reject() {
  if (current?.phase !== "incoming") return;
  socket.send("call.end", { call_id: current.callId, reason: "rejected" });
  finish(current, "rejected");
  dismiss();
}

export function hangUp(reason = "user_hangup") {
  if (!busy()) return;
  if (current.callId) socket.send("call.end", { call_id: current.callId, reason });
  finish(current, reason);
}

export function toggleMute() {
  if (!current?.localStream) return;
  current.muted = !current.muted;
  current.localStream.getAudioTracks().forEach((track) => (track.enabled = !current.muted));
  changed();
}

export function dismiss() {
  if (busy()) return;
  current = null;
  changed();
}

// ---- signalling from the server -------------------------------------------------------------

export function onOffer(offer) {
  if (busy()) {
    socket.send("call.end", { call_id: offer.call_id, reason: "busy" });
    return;
  }
  current = {
    callId: offer.call_id,
    peerId: offer.from_user,
    peerName: nameOf(offer.from_user),
    type: offer.call_type,
    direction: "incoming",
    phase: "incoming",
    offer,
    localIce: [],
    remoteIce: [...(offer.ice_candidates || [])],
    muted: false,
  };
  changed();
}

/** The caller learns the call_id; ICE gathered meanwhile goes out now. */
export function onStatus({ call_id: callId, to_user: toUser }) {
  const call = current;
  if (!call || call.direction !== "outgoing" || call.callId || call.peerId !== toUser) return;
  call.callId = callId;
  if (call.phase === "ended") {
    socket.send("call.end", { call_id: callId, reason: call.endReason });
    return;
  }
  call.localIce.splice(0).forEach((candidate) => socket.send("call.ice", { call_id: callId, ice_candidate: candidate }));
}

export async function onAnswer(answer) {
  if (!isCurrent(answer.call_id) || current.direction !== "outgoing") return;
  const call = current;
  call.phase = "connecting";
  changed();
  await call.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  await addRemoteCandidates(call, [...(answer.ice_candidates || []), ...call.remoteIce.splice(0)]);
}

export async function onIce({ call_id: callId, ice_candidate: candidate }) {
  if (!isCurrent(callId)) return;
  if (current.pc?.remoteDescription) await addRemoteCandidates(current, [candidate]);
  else current.remoteIce.push(candidate);
}

export function onEnd(end) {
  const call = current;
  const mine = call && (call.callId === end.call_id || (call.direction === "outgoing" && !call.callId && call.peerId === end.to_user));
  const unanswered = end.to_user === state.me.id && !(mine && call.answered);
  if (unanswered && end.reason !== "answered_elsewhere" && end.reason !== "rejected") {
    noteMissedCall(end.from_user, { ended_at: end.ended_at, call_type: call?.type ?? "audio" });
  }
  if (!mine) return;
  call.callId = end.call_id;
  if (call.phase === "incoming") {  // it stopped ringing: cancelled, timed out or answered elsewhere
    finish(call, end.reason);
    dismiss();
    return;
  }
  finish(call, call.phase === "ended" ? call.endReason : end.reason, end.duration);
}

/** The server refused a call frame (e.g. not friends): a call still being set up ends here. */
export function onRefused() {
  if (current && (current.phase === "ringing" || current.phase === "connecting")) hangUp("failed");
}
