// The realtime connection (/ws). The access token travels as the `bearer.<token>` subprotocol
// (browsers cannot set headers). After a drop it tries again for as long as the page is open:
// after 1 s, doubling up to 30 s (the client document's 重连机制), then every 24-30 s (jittered, so
// that a restarted server is not met by every client at once); at once when the browser comes back
// online or the page becomes visible. A server that stops gracefully (`disconnect` with reason
// `server_restart`, close 1001) is left for another within 0.2-2 s, at random so that its thousands
// of clients do not all come back in the same instant. Once back, `sync` from the largest seq seen,
// which is kept in localStorage per user so that a reload misses nothing either.

import { SessionEnded, currentTokens, endSession, freshAccess, refreshAccess } from "./session.js";

const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 30_000;
const STEADY_JITTER = 0.2;  // steady retries wait 80-100 % of MAX_WAIT_MS
const RESTART_WAIT_MS = [200, 2000];  // after a graceful server stop: somewhere in between
const CLOSE_GOING_AWAY = 1001;
const PING_EVERY_MS = 30_000;
const SILENT_PINGS = 2;  // a connection that answered none of this many pings is dead (half-open)
const RENEW_REASONS = new Set(["token_expired", "token_invalid"]);
const FINAL_REASONS = new Set(["logged_out", "deactivated", "session_revoked", "user_inactive", "missing"]);

const handlers = new Map();
const stateListeners = new Set();
let socket = null;
let userId = null;
let tries = 0;
let retryTimer = null;
let pingTimer = null;
let syncTimer = null;
let stopped = true;
let renewed = false;  // the last connection was opened right after a token refresh
let state = "offline";
let connections = 0;  // how many times the connection came up: a send belongs to one of them
let heardAt = 0;  // when the server last said anything

/** Call `handler(payload, frame)` for every server frame of this type. */
export function on(type, handler) {
  handlers.set(type, [...(handlers.get(type) || []), handler]);
}

/** connecting | connected | reconnecting | offline (only when stopped: signed out) */
export const connectionState = () => state;
/** Which coming-up of the connection is current (changes on every reconnect). */
export const connectionNumber = () => connections;
export const onStateChange = (listener) => stateListeners.add(listener);

function setState(next) {
  state = next;
  stateListeners.forEach((listener) => listener(next));
}

const seqKey = () => `imsuite.seq.${userId}`;
const storedSeq = () => localStorage.getItem(seqKey());

function noteSeq(seq) {
  if (seq > Number(storedSeq() || 0)) localStorage.setItem(seqKey(), String(seq));
}

/** Send a client frame; false when the connection is not up (the caller falls back or fails). */
export function send(type, payload) {
  if (state !== "connected" || socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify({ type, payload }));
  return true;
}

export function start(id) {
  userId = id;
  stopped = false;
  tries = 0;
  open();
}

export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  clearInterval(pingTimer);
  clearTimeout(syncTimer);
  const closing = socket;
  socket = null;
  closing?.close(1000);
  setState("offline");
}

/** The "Reconnect now" button, the browser coming back online, the page shown again: try now,
 * and start the waits again from 1 s. Nothing when connected or already trying. */
export function reconnect() {
  if (stopped || socket) return;
  clearTimeout(retryTimer);
  tries = 0;
  open();
}

window.addEventListener("online", reconnect);
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && reconnect());

async function open() {
  setState(state === "offline" && tries === 0 ? "connecting" : "reconnecting");
  let token;
  try {
    token = await freshAccess();
  } catch (error) {
    if (!(error instanceof SessionEnded)) retryLater();
    return;
  }
  if (stopped) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`, [`bearer.${token}`]);
  socket = ws;
  let renew = false;
  let restarting = false;  // the server said it stops: come back soon
  ws.onmessage = (event) => {
    heardAt = Date.now();
    const frame = JSON.parse(event.data);
    const reason = frame.payload?.reason ?? frame.payload?.details?.reason;
    if (frame.type === "connect") connected(frame.payload);
    else if (frame.type === "disconnect" || (frame.type === "error" && frame.payload.error_code === "AUTHENTICATION_FAILED")) {
      if (RENEW_REASONS.has(reason)) renew = true;
      else if (reason === "server_restart") restarting = true;
      else if (FINAL_REASONS.has(reason)) {
        stop();
        endSession();
      }
    }
    (handlers.get(frame.type) || []).forEach((handler) => handler(frame.payload, frame));
    if (Number.isInteger(frame.seq)) noteSeq(frame.seq);
    // A sync comes in pages: ask for the next; asked too often, ask again once the window allows.
    if (frame.type === "sync.done" && frame.payload.has_more) send("sync", { since_seq: frame.payload.last_seq });
    else if (frame.type === "error" && frame.payload.error_code === "RATE_LIMITED" && frame.payload.details.event === "sync") {
      const again = () => send("sync", { since_seq: Number(storedSeq() || 0) });
      syncTimer = setTimeout(again, frame.payload.details.retry_after * 1000);
    }
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    clearInterval(pingTimer);
    clearTimeout(syncTimer);
    if (stopped) return;
    if (renew && !renewed && currentTokens()) {
      renewed = true;
      refreshAccess(token).then(open, (error) => error instanceof SessionEnded || retryLater());
    } else if (restarting || event.code === CLOSE_GOING_AWAY) comeBackSoon();
    else retryLater();
  };
}

function connected(payload) {
  tries = 0;
  renewed = false;
  connections += 1;
  setState("connected");
  clearInterval(pingTimer);
  pingTimer = setInterval(ping, PING_EVERY_MS);
  const since = storedSeq();
  // A brand-new client starts from connect.last_seq; its history comes over REST.
  if (since === null) localStorage.setItem(seqKey(), String(payload.last_seq));
  else send("sync", { since_seq: Number(since) });
}

/** Keep the connection warm, and drop one that stopped answering (a half-open TCP connection
 * never closes by itself): the drop starts the reconnection. */
function ping() {
  if (Date.now() - heardAt <= SILENT_PINGS * PING_EVERY_MS) {
    send("ping", { timestamp: new Date().toISOString() });
    return;
  }
  const dead = socket;
  socket = null;  // its close event, whenever the browser gets to it, is no longer heard
  dead?.close();
  clearInterval(pingTimer);
  retryLater();
}

/** Another server is ready (the one that stopped has left the load balancer): try again after a
 * random 0.2-2 s; should that fail, the usual waits follow (a reconnection resets them). */
function comeBackSoon() {
  setState("reconnecting");
  const [least, most] = RESTART_WAIT_MS;
  retryTimer = setTimeout(open, least + (most - least) * Math.random());
}

function retryLater() {
  setState("reconnecting");
  const doubled = FIRST_WAIT_MS * 2 ** tries;
  const wait = doubled <= MAX_WAIT_MS ? doubled : MAX_WAIT_MS * (1 - STEADY_JITTER * Math.random());
  tries = Math.min(tries + 1, 16);  // past the cap the count no longer matters
  retryTimer = setTimeout(open, wait);
}
