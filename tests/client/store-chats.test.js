// store-chats.js: the chat list, the open chat, notify settings, drafts, missed calls, and the
// other person's delivery and read positions (the unread counts: unread.test.js).
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { chat, fresh, told } from "./helpers.js";
import { nameOf, state } from "../../static/app/store.js";
import {
  activityOf, expireNotify, markDelivered, missedCallOf, noteMissedCall, notePeerDelivered, notePeerRead,
  notifyLevel, putChat, putDraft, setChatNotify, setChats, setCurrentChat, setDrafts, sortedChats,
} from "../../static/app/store-chats.js";

const PAST = "2020-01-01T00:00:00Z";
const FUTURE = "2999-01-01T00:00:00Z";

beforeEach(fresh);

test("setChats replaces the list; a private chat with a deleted account is titled translated", () => {
  putChat(chat(9));
  const peer = { id: 3, nickname: "Deleted account" };
  setChats([chat(5, { type: "private", peer, title: "Deleted account" }), chat(6, { title: "Deleted account" })]);
  assert.deepEqual([...state.chats.keys()], [5, 6]);
  assert.equal(state.chats.get(5).title, "Konto gelöscht");
  assert.equal(state.chats.get(6).title, "Deleted account");  // a group's own name
  assert.equal(nameOf(3), "Konto gelöscht");
  assert.deepEqual(told(), [["chats"], ["chats"]]);
});

test("putChat adds or replaces one chat", () => {
  setChats([chat(5)]);
  putChat(chat(5, { title: "Renamed" }));
  putChat(chat(6, { type: "private", peer: { id: 2, nickname: "Ben" } }));
  assert.equal(state.chats.get(5).title, "Renamed");
  assert.equal(nameOf(2), "Ben");
  assert.deepEqual(told(), [["chats"], ["chats"], ["chats"]]);
});

test("setCurrentChat tells the views even when the chat stays open", () => {
  setCurrentChat(5);
  setCurrentChat(5);
  assert.equal(state.currentChatId, 5);
  setCurrentChat(null);
  assert.equal(state.currentChatId, null);
  assert.deepEqual(told(), [["chats"], ["chats"], ["chats"]]);
});

test("missed calls: the newest per peer, shown when newer than the chat's activity", () => {
  const older = chat(5, { type: "private", peer: { id: 2 }, last_activity_at: "2026-01-01T10:00:00Z" });
  const newer = chat(6, { type: "private", peer: { id: 3 }, last_activity_at: "2026-01-01T12:00:00Z" });
  setChats([older, newer]);
  noteMissedCall(2, { ended_at: "2026-01-01T13:00:00Z", call_type: "audio" });
  noteMissedCall(2, { ended_at: "2026-01-01T09:00:00Z", call_type: "video" });  // older: kept out
  noteMissedCall(3, { ended_at: "2026-01-01T11:00:00Z", call_type: "audio" });  // before the last message
  assert.equal(state.missedCalls.get(2).call_type, "audio");
  assert.equal(missedCallOf(state.chats.get(5)).ended_at, "2026-01-01T13:00:00Z");
  assert.equal(missedCallOf(state.chats.get(6)), null);
  assert.equal(activityOf(state.chats.get(5)), Date.parse("2026-01-01T13:00:00Z"));
  assert.deepEqual(sortedChats().map((c) => c.id), [5, 6]);
  assert.deepEqual(told(), [["chats"], ["chats"], ["chats"], ["chats"]]);
});

test("notifyLevel: the setting, or all when absent, unknown or past its until", () => {
  assert.equal(notifyLevel(undefined), "all");
  assert.equal(notifyLevel({ notify: "nonsense" }), "all");
  assert.equal(notifyLevel({ notify: "muted", notify_until: null }), "muted");
  assert.equal(notifyLevel({ notify: "muted", notify_until: FUTURE }), "muted");
  assert.equal(notifyLevel({ notify: "muted", notify_until: PAST }), "all");
  assert.equal(notifyLevel({ notify: "mentions", notify_until: null }), "mentions");
  assert.equal(notifyLevel({ notify: "mentions", notify_until: "2026-01-01T00:00:00Z" }, Date.parse("2025-12-31T00:00:00Z")), "mentions");
});

test("setChatNotify applies chat.notify to a known chat only", () => {
  setChats([chat(5)]);
  told();
  setChatNotify({ chat_id: 5, notify: "muted", until: FUTURE });
  assert.deepEqual([state.chats.get(5).notify, state.chats.get(5).notify_until], ["muted", FUTURE]);
  setChatNotify({ chat_id: 5, notify: "mentions" });
  assert.deepEqual([state.chats.get(5).notify, state.chats.get(5).notify_until], ["mentions", null]);
  setChatNotify({ chat_id: 99, notify: "muted", until: null });
  assert.deepEqual(told(), [["chats"], ["chats"]]);
});

test("expireNotify turns settings whose until has come into all", () => {
  setChats([chat(5, { notify: "muted", notify_until: PAST }), chat(6, { notify: "muted", notify_until: FUTURE }), chat(7, { notify: "muted", notify_until: null })]);
  told();
  assert.equal(expireNotify(), true);
  assert.deepEqual([5, 6, 7].map((id) => [state.chats.get(id).notify, state.chats.get(id).notify_until]), [["all", null], ["muted", FUTURE], ["muted", null]]);
  assert.equal(expireNotify(), false);
  assert.deepEqual(told(), [["chats"]]);
});

test("drafts: set, put, and an empty one removed", () => {
  const draft = { chat_id: 5, text: "hi", reply_to_id: null, updated_at: PAST };
  setDrafts([draft]);
  assert.equal(state.drafts.get(5), draft);
  putDraft(6, { chat_id: 6, text: "there", reply_to_id: 3, updated_at: PAST });
  putDraft(5, { chat_id: 5, text: "", reply_to_id: null, updated_at: PAST });
  putDraft(7, null);  // none to remove: nobody is told
  assert.deepEqual([...state.drafts.keys()], [6]);
  assert.deepEqual(told(), [["chats"], ["chats"], ["draft", 6], ["chats"], ["draft", 5]]);
});

test("delivery: this client's acknowledgement is silent; the other person's moves forward only", () => {
  setChats([chat(5, { type: "private" })]);
  told();
  markDelivered(5, 10);
  markDelivered(99, 10);
  assert.equal(state.chats.get(5).last_delivered_message_id, 10);
  assert.deepEqual(told(), []);
  notePeerDelivered(5, 12);
  notePeerDelivered(5, 11);
  notePeerDelivered(99, 20);
  assert.equal(state.chats.get(5).peer_last_delivered_message_id, 12);
  assert.deepEqual(told(), [["messages", 5]]);
});

test("the other person's read position moves forward only", () => {
  setChats([chat(5, { type: "private" })]);
  told();
  notePeerRead(5, 8);
  notePeerRead(5, 7);
  notePeerRead(5, 8);
  notePeerRead(99, 8);
  assert.equal(state.chats.get(5).peer_last_read_message_id, 8);
  assert.deepEqual(told(), [["messages", 5]]);
});
