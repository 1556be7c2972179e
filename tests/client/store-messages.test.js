// store-messages.js: histories, merging, pending messages, deletions, previews and pins.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { chat, fresh, ME, message, told } from "./helpers.js";
import { state } from "../../static/app/store.js";
import { setChats } from "../../static/app/store-chats.js";
import {
  addPending, failPending, findPending, historyOf, isPinned, mergeMessages, notePinned, noteUnpinned, pinsOf,
  putHistoryPage, receiveDeletion, receiveMessage, receivePreviews, retryPending, setHistoryLoading, setPins,
} from "../../static/app/store-messages.js";

const BEN = 2;
const ids = (chatId = 5) => historyOf(chatId).messages.map((m) => m.id ?? m.local.cid);
const draft = (content) => ({ chat_id: 5, sender_id: ME.id, content, message_type: "text", created_at: "2026-01-02T00:00:00Z" });

beforeEach(fresh);

test("historyOf makes an empty history once, silently", () => {
  const history = historyOf(5);
  assert.deepEqual(history, { messages: [], nextBefore: null, loaded: false, complete: false, loading: false });
  assert.equal(historyOf(5), history);
  assert.deepEqual(told(), []);
});

test("mergeMessages keeps the history by id, a newer copy replacing the older", () => {
  mergeMessages(5, [message(3, 5, BEN), message(1, 5, BEN)]);
  mergeMessages(5, [message(2, 5, BEN), message(3, 5, BEN, { content: "edited" })]);
  assert.deepEqual(ids(), [1, 2, 3]);
  assert.equal(historyOf(5).messages[2].content, "edited");
  assert.deepEqual(told(), [["messages", 5], ["messages", 5]]);
});

test("loading flag and history pages", () => {
  setHistoryLoading(5, true);
  assert.equal(historyOf(5).loading, true);
  setHistoryLoading(5, false);
  assert.deepEqual(told(), []);  // the page's arrival re-renders
  putHistoryPage(5, [message(51, 5, BEN), message(52, 5, BEN)], 51);
  assert.deepEqual({ ...historyOf(5), messages: ids() }, { messages: [51, 52], nextBefore: 51, loaded: true, complete: false, loading: false });
  putHistoryPage(5, [message(50, 5, BEN)], null);
  assert.deepEqual({ ...historyOf(5), messages: ids() }, { messages: [50, 51, 52], nextBefore: null, loaded: true, complete: true, loading: false });
  assert.deepEqual(told(), [["messages", 5], ["messages", 5]]);
});

test("pending messages: after the stored ones in the order written, replaced by their acknowledgement", () => {
  mergeMessages(5, [message(1, 5, BEN)]);
  const first = addPending(draft("one"), "cid-1");
  const second = addPending(draft("two"), "cid-2");
  assert.deepEqual(first, { ...draft("one"), id: null, local: { cid: "cid-1", status: "pending", error: null, order: first.local.order } });
  assert.ok(second.local.order > first.local.order);
  mergeMessages(5, [message(2, 5, BEN)]);  // someone else's, before the acknowledgements
  assert.deepEqual(ids(), [1, 2, "cid-1", "cid-2"]);
  assert.equal(findPending(5, "cid-2"), second);
  mergeMessages(5, [message(4, 5, ME.id, { client_msg_id: "cid-2" })]);
  mergeMessages(5, [message(3, 5, ME.id, { client_msg_id: "cid-1" })]);
  assert.deepEqual(ids(), [1, 2, 3, 4]);
  assert.equal(findPending(5, "cid-1"), undefined);
  assert.deepEqual(told(), [["messages", 5], ["messages", 5], ["messages", 5], ["messages", 5], ["messages", 5], ["messages", 5]]);
});

test("a refused pending message is failed, and pending again on retry", () => {
  const pending = addPending(draft("one"), "cid-1");
  told();
  const error = { error_code: "RATE_LIMITED" };
  failPending(5, "cid-1", error);
  assert.deepEqual(pending.local, { cid: "cid-1", status: "failed", error, order: pending.local.order });
  assert.equal(retryPending(5, "cid-1"), pending);
  assert.deepEqual(pending.local, { cid: "cid-1", status: "pending", error: null, order: pending.local.order });
  failPending(5, "unknown");
  assert.equal(retryPending(5, "unknown"), undefined);
  assert.deepEqual(told(), [["messages", 5], ["messages", 5]]);
});

test("receiveMessage merges into a history only when there is one", () => {
  setChats([chat(5), chat(6)]);
  historyOf(5);
  told();
  receiveMessage(message(1, 5, BEN));
  receiveMessage(message(2, 6, BEN));
  assert.deepEqual(ids(5), [1]);
  assert.equal(state.histories.has(6), false);
  assert.equal(state.chats.get(6).last_message.id, 2);
  assert.deepEqual(told(), [["messages", 5], ["chats"], ["chats"]]);
});

test("receiveDeletion empties the message and keeps it, marked deleted", () => {
  setChats([chat(5)]);
  mergeMessages(5, [message(1, 5, BEN, { mentions: [ME.id] })]);
  told();
  receiveDeletion({ chat_id: 5, message_id: 1, deleted_by: BEN, deleted_at: "2026-01-03T00:00:00Z" });
  assert.deepEqual(historyOf(5).messages, [{ ...message(1, 5, BEN, { mentions: [ME.id] }), is_deleted: true, content: "", deleted_by: BEN, deleted_at: "2026-01-03T00:00:00Z" }]);
  assert.deepEqual(told(), [["messages", 5], ["chats"]]);
});

test("receivePreviews replaces a held message's previews; none removes them", () => {
  mergeMessages(5, [message(1, 5, BEN)]);
  told();
  const preview = { id: 7, url: "https://example.com/" };
  receivePreviews({ chat_id: 5, message_id: 1, previews: [preview] });
  assert.deepEqual(historyOf(5).messages[0].link_previews, [preview]);
  receivePreviews({ chat_id: 5, message_id: 1, previews: [] });
  assert.equal(historyOf(5).messages[0].link_previews, undefined);
  receivePreviews({ chat_id: 5, message_id: 99, previews: [preview] });
  receivePreviews({ chat_id: 6, message_id: 1, previews: [preview] });
  assert.deepEqual(told(), [["messages", 5], ["messages", 5]]);
});

test("pins: a listed set, a new pin first, a pin again moves it, an unpin removes it, per chat", () => {
  const pin = (id) => ({ message: message(id, 5, BEN), pinned_by: { id: BEN, nickname: "Ben" }, pinned_at: "2026-01-03T00:00:00Z" });
  assert.deepEqual(pinsOf(5), []);
  setPins(5, [pin(2), pin(1)]);
  notePinned(5, pin(3));
  notePinned(5, pin(1));
  assert.deepEqual(pinsOf(5).map((p) => p.message.id), [1, 3, 2]);
  noteUnpinned(5, 3);
  noteUnpinned(6, 1);  // another chat's: nothing here changes
  assert.deepEqual(pinsOf(5).map((p) => p.message.id), [1, 2]);
  assert.equal(isPinned(5, 2), true);
  assert.equal(isPinned(5, 3), false);
  assert.equal(isPinned(6, 1), false);
  assert.deepEqual(told(), [["pins", 5], ["pins", 5], ["pins", 5], ["pins", 5], ["pins", 6]]);
});
