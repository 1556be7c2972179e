// What the store's tests share: a recorder of every notification, a fresh state per test, and
// chats and messages in the server's shapes.
import "./catalog.js";
import { resetState, setMe, subscribe } from "../../static/app/store.js";

export const ME = { id: 1, username: "me", nickname: "Me" };
const TOPICS = ["me", "chats", "draft", "messages", "pins", "typing", "presence", "contacts", "group", "blocks"];
const notes = [];
TOPICS.forEach((topic) => subscribe(topic, (detail) => notes.push(detail === undefined ? [topic] : [topic, detail])));

/** The notifications since the last call, as [topic] or [topic, detail]. */
export const told = () => notes.splice(0);

/** Signed in as ME with nothing else, nothing told yet. */
export function fresh() {
  resetState();
  setMe(ME);
  told();
}

export const chat = (id, fields = {}) => ({
  id,
  type: "group",
  title: `Chat ${id}`,
  peer: null,
  last_message: null,
  last_activity_at: "2026-01-01T00:00:00Z",
  last_read_message_id: 0,
  unread_count: 0,
  unread_mention_count: 0,
  ...fields,
});

export const message = (id, chatId, senderId, fields = {}) => ({
  id,
  chat_id: chatId,
  sender_id: senderId,
  content: `message ${id}`,
  created_at: `2026-01-02T00:00:${String(id % 60).padStart(2, "0")}Z`,
  is_deleted: false,
  ...fields,
});
