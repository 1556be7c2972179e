// Drafts: what the user began writing in each chat, kept on the server for all their devices.
// The composer's text is kept here at once and saved after a second's pause (and at once on
// leaving the chat), over the WebSocket when it is up (no echo to this connection), else over
// REST; what could not be saved is saved on the next connection. A message the user sends in the
// chat supersedes its draft on the server by itself; other devices drop theirs on hearing it.

import { api } from "./api.js";
import * as socket from "./socket.js";
import { state } from "./store.js";
import { putDraft, setDrafts } from "./store-chats.js";

const SAVE_AFTER_MS = 1000;

const timers = new Map();  // chat id -> the pending save
const unsaved = new Set();  // chat ids whose last save failed (offline)

export const draftOf = (chatId) => state.drafts.get(chatId) ?? null;

/** GET /api/drafts: on start and after every reconnection (drafts have no seq to sync by). */
export async function loadDrafts() {
  const mine = new Set([...timers.keys(), ...unsaved]);  // typed here and not saved yet: these win
  const kept = [...mine].map(draftOf).filter(Boolean);
  setDrafts([...(await api.get("drafts")).filter((draft) => !mine.has(draft.chat_id)), ...kept]);
  [...unsaved].forEach(save);
}

/** The composer of a chat now says `text` (replying to `replyToId`): save it after a pause. */
export function noteDraft(chatId, text, replyToId = null) {
  const draft = draftOf(chatId);
  if ((draft?.text ?? "") === text && (draft?.reply_to_id ?? null) === replyToId) return;
  putDraft(chatId, text.trim() ? { chat_id: chatId, text, reply_to_id: replyToId, updated_at: new Date().toISOString() } : null);
  clearTimeout(timers.get(chatId));
  timers.set(chatId, setTimeout(() => save(chatId), SAVE_AFTER_MS));
}

/** Save a chat's draft now if a save is due (leaving the chat, hiding the page). */
export function saveDraftNow(chatId) {
  if (timers.has(chatId)) save(chatId);
}

/** A message was sent from here: the draft is done (the server knows by the send). */
export function sentFrom(chatId) {
  clearTimeout(timers.get(chatId));
  timers.delete(chatId);
  unsaved.delete(chatId);
  putDraft(chatId, null);
}

/** message.new: my message sent from another device supersedes an older draft of its chat. */
export function noteMyMessage(message) {
  const draft = draftOf(message.chat_id);
  if (draft && !timers.has(message.chat_id) && Date.parse(message.created_at) >= Date.parse(draft.updated_at)) {
    putDraft(message.chat_id, null);
  }
}

/** draft.updated from another device of mine; what is being typed here meanwhile wins. */
export function onDraftUpdated(draft) {
  if (!timers.has(draft.chat_id)) putDraft(draft.chat_id, draft);
}

function save(chatId) {
  clearTimeout(timers.get(chatId));
  timers.delete(chatId);
  const draft = draftOf(chatId);
  const body = { text: draft?.text ?? "", reply_to_id: draft?.reply_to_id ?? null };
  unsaved.delete(chatId);
  if (socket.send("draft.update", { chat_id: chatId, ...body })) return;
  const path = `chats/${chatId}/draft`;
  (draft ? api.put(path, body) : api.delete(path)).catch((error) => error.code === "NETWORK_ERROR" && unsaved.add(chatId));
}

// A page being hidden may be closed next: save what is due now.
document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && [...timers.keys()].forEach(save));

export function resetDrafts() {
  timers.forEach(clearTimeout);
  timers.clear();
  unsaved.clear();
}
