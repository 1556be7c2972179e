// The unread and unread-mention counts, kept by store-chats.js alone: a new message, a deletion,
// reading here or on another device, and the tab title's total.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { chat, fresh, ME, message, told } from "./helpers.js";
import { state } from "../../static/app/store.js";
import { markReadUpTo, mentionsMe, setChats, unreadTotal } from "../../static/app/store-chats.js";
import { historyOf, receiveDeletion, receiveMessage } from "../../static/app/store-messages.js";

const BEN = 2;
const counts = (chatId = 5) => {
  const { unread_count: unread, unread_mention_count: mentions, last_read_message_id: read } = state.chats.get(chatId);
  return { unread, mentions, read };
};

beforeEach(() => {
  fresh();
  setChats([chat(5, { last_message: message(10, 5, BEN), last_read_message_id: 10 })]);
  told();
});

test("a new message of someone else counts; one mentioning me counts as a mention too", () => {
  assert.equal(receiveMessage(message(11, 5, BEN)), true);
  assert.equal(receiveMessage(message(12, 5, BEN, { mentions: [ME.id] })), true);
  receiveMessage(message(13, 5, BEN, { mentions: ["all"] }));
  receiveMessage(message(14, 5, BEN, { mentions: [3] }));
  assert.deepEqual(counts(), { unread: 4, mentions: 2, read: 10 });
  assert.equal(state.chats.get(5).last_message.id, 14);
  assert.equal(state.chats.get(5).last_activity_at, message(14, 5, BEN).created_at);
  assert.deepEqual(told(), [["chats"], ["chats"], ["chats"], ["chats"]]);
});

test("my own, deleted, already read and older messages do not count", () => {
  receiveMessage(message(11, 5, ME.id, { mentions: ["all"] }));
  receiveMessage(message(12, 5, BEN, { is_deleted: true, mentions: [ME.id] }));
  receiveMessage(message(9, 5, BEN));  // older than the last message
  receiveMessage(message(12, 5, BEN, { content: "edited" }));  // a change of the last message
  assert.deepEqual(counts(), { unread: 0, mentions: 0, read: 10 });
  assert.equal(state.chats.get(5).last_message.content, "edited");
  markReadUpTo(5, 20);  // read further on another device
  receiveMessage(message(15, 5, BEN));
  assert.equal(counts().unread, 0);
});

test("a message of an unknown chat: false, nothing told", () => {
  assert.equal(receiveMessage(message(11, 99, BEN)), false);
  assert.deepEqual(told(), []);
});

const deletion = (chatId, id, by = BEN) => ({ chat_id: chatId, message_id: id, deleted_by: by, deleted_at: "2026-01-03T00:00:00Z" });

test("deleting an unread message counts it out (a mention too); a deleted or own one does not", () => {
  historyOf(5);
  receiveMessage(message(11, 5, BEN, { mentions: [ME.id] }));
  receiveMessage(message(12, 5, BEN));
  receiveMessage(message(13, 5, ME.id));
  assert.deepEqual(counts(), { unread: 2, mentions: 1, read: 10 });
  told();
  receiveDeletion(deletion(5, 11));
  assert.deepEqual(counts(), { unread: 1, mentions: 0, read: 10 });
  receiveDeletion(deletion(5, 11));  // again
  receiveDeletion(deletion(5, 13, ME.id));
  assert.deepEqual(counts(), { unread: 1, mentions: 0, read: 10 });
  assert.deepEqual(state.chats.get(5).last_message, { ...message(13, 5, ME.id), is_deleted: true, content: "", deleted_by: ME.id, deleted_at: "2026-01-03T00:00:00Z" });
  assert.deepEqual(told(), [["messages", 5], ["chats"], ["messages", 5], ["chats"], ["messages", 5], ["chats"]]);
});

test("deleting a message the history does not hold changes no count, only the summary", () => {
  receiveMessage(message(11, 5, BEN));
  told();
  receiveDeletion(deletion(5, 11));
  assert.deepEqual(counts(), { unread: 1, mentions: 0, read: 10 });
  assert.equal(state.chats.get(5).last_message.is_deleted, true);
  assert.deepEqual(told(), [["chats"]]);
});

test("a deletion of a message read already changes no count", () => {
  historyOf(5);
  receiveMessage(message(11, 5, BEN));
  markReadUpTo(5, 11, true);
  receiveMessage(message(12, 5, BEN));
  receiveDeletion(deletion(5, 11));
  assert.deepEqual(counts(), { unread: 1, mentions: 0, read: 11 });
});

test("read here up to the newest message of others: nothing unread", () => {
  receiveMessage(message(11, 5, BEN, { mentions: [ME.id] }));
  receiveMessage(message(12, 5, ME.id));
  told();
  assert.equal(markReadUpTo(5, 11, true), true);
  assert.deepEqual(counts(), { unread: 0, mentions: 0, read: 11 });
  assert.deepEqual(told(), [["chats"]]);
  assert.equal(markReadUpTo(5, 11, true), true);  // nothing changed: nobody is told
  assert.deepEqual(told(), []);
});

test("read on another device to the chat's end: nothing unread", () => {
  receiveMessage(message(11, 5, BEN, { mentions: ["all"] }));
  receiveMessage(message(12, 5, BEN));
  told();
  assert.equal(markReadUpTo(5, 12), true);
  assert.deepEqual(counts(), { unread: 0, mentions: 0, read: 12 });
  assert.deepEqual(told(), [["chats"]]);
});

test("read on another device partway: the position moves, the counts are the server's to tell", () => {
  receiveMessage(message(11, 5, BEN, { mentions: ["all"] }));
  receiveMessage(message(12, 5, BEN));
  told();
  assert.equal(markReadUpTo(5, 11), false);
  assert.deepEqual(counts(), { unread: 2, mentions: 1, read: 11 });
  assert.equal(markReadUpTo(5, 9), false);  // never back
  assert.equal(counts().read, 11);
  assert.deepEqual(told(), [["chats"]]);
});

test("read in an unknown chat: nothing to do, nothing to reload", () => {
  assert.equal(markReadUpTo(99, 5), true);
  assert.deepEqual(told(), []);
});

test("mentionsMe: by id or @all, from someone else, not deleted", () => {
  assert.equal(mentionsMe(message(1, 5, BEN, { mentions: [ME.id] })), true);
  assert.equal(mentionsMe(message(1, 5, BEN, { mentions: ["all"] })), true);
  assert.equal(mentionsMe(message(1, 5, BEN, { mentions: [3] })), false);
  assert.equal(mentionsMe(message(1, 5, BEN)), false);
  assert.equal(mentionsMe(message(1, 5, ME.id, { mentions: [ME.id] })), false);
  assert.equal(mentionsMe(message(1, 5, BEN, { mentions: [ME.id], is_deleted: true })), false);
});

test("unreadTotal: the unread messages of the chats that are not muted", () => {
  setChats([
    chat(1, { unread_count: 2 }),
    chat(2, { unread_count: 1, notify: "muted", notify_until: null }),
    chat(3, { unread_count: 8, notify: "muted", notify_until: "2999-01-01T00:00:00Z" }),
    chat(4, { unread_count: 4, notify: "muted", notify_until: "2020-01-01T00:00:00Z" }),  // the mute ended
    chat(5, { unread_count: 5, notify: "mentions" }),
    chat(6, { unread_count: 0 }),
  ]);
  assert.equal(unreadTotal(), 2 + 4 + 5);
  assert.equal(unreadTotal([]), 0);
  assert.equal(unreadTotal([{ unread_count: 3 }]), 3);
});
