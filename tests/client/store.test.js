// store.js: the topics, resetState, and the people side (me, people, presence, typing, contacts,
// blocks, groups).
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { fresh, ME, told } from "./helpers.js";
import {
  nameOf, notify, presenceOf, putGroup, rememberPerson, resetState, setBlocks, setContacts, setMe,
  setOnline, setPresenceKnown, setTyping, state, subscribe, updateMe,
} from "../../static/app/store.js";
import { putChat } from "../../static/app/store-chats.js";

beforeEach(fresh);
afterEach(() => mock.timers.reset());

test("notify calls each listener of the topic with the detail, and no other topic's", () => {
  const heard = [];
  subscribe("test-topic", (detail) => heard.push(["a", detail]));
  subscribe("test-topic", (detail) => heard.push(["b", detail]));
  notify("test-topic", 7);
  notify("other-topic", 8);
  assert.deepEqual(heard, [["a", 7], ["b", 7]]);
});

test("resetState forgets everything of the last user and stops typing timers", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  putChat({ id: 5, type: "group", title: "G", last_activity_at: "2026-01-01T00:00:00Z" });
  setTyping(5, { id: 2, nickname: "Ben" }, true);
  setOnline(2, true);
  setPresenceKnown(true);
  rememberPerson({ id: 2, nickname: "Ben" });
  told();
  resetState();
  assert.equal(state.me, null);
  assert.equal(state.currentChatId, null);
  assert.equal(state.presenceKnown, false);
  for (const map of ["chats", "histories", "online", "typing", "missedCalls", "groups", "people", "drafts"]) {
    assert.equal(state[map].size, 0, map);
  }
  assert.deepEqual([state.friends, state.requests, state.blocks], [[], [], []]);
  mock.timers.tick(10_000);
  assert.deepEqual(told(), []);  // the typing fallback was cleared, not run
});

test("setMe and updateMe", () => {
  assert.deepEqual(state.me, ME);
  updateMe({ email: "me@example.com" });
  assert.deepEqual(state.me, { ...ME, email: "me@example.com" });
  setMe({ id: 9, username: "other" });
  assert.deepEqual(state.me, { id: 9, username: "other" });
  assert.deepEqual(told(), [["me"], ["me"]]);
});

test("rememberPerson merges what is known, translates a deleted account, tells nobody", () => {
  rememberPerson({ id: 2, nickname: "Ben", avatar_url: "/a.png" });
  rememberPerson({ id: 2, last_seen: "2026-01-01T00:00:00Z" });
  rememberPerson({ id: 3, nickname: "Deleted account" });
  rememberPerson(null);
  rememberPerson({ nickname: "no id" });
  assert.deepEqual(state.people.get(2), { id: 2, nickname: "Ben", avatar_url: "/a.png", last_seen: "2026-01-01T00:00:00Z" });
  assert.equal(nameOf(3), "Konto gelöscht");
  assert.equal(nameOf(4), "#4");
  assert.equal(state.people.size, 2);
  assert.deepEqual(told(), []);
});

test("presence is unknown while the own connection is down", () => {
  setOnline(2, true);
  assert.equal(presenceOf(2), "unknown");
  setPresenceKnown(true);
  setPresenceKnown(true);  // no change: nobody is told
  assert.equal(presenceOf(2), "online");
  assert.equal(presenceOf(3), "offline");
  setOnline(2, false);
  assert.equal(presenceOf(2), "offline");
  setPresenceKnown(false);
  assert.equal(presenceOf(2), "unknown");
  assert.deepEqual(told(), [["presence", 2], ["presence"], ["presence", 2], ["presence"]]);
});

test("typing starts, is renewed, stops, and ends by itself after 7 s without renewal", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  const ben = { id: 2, nickname: "Ben" };
  setTyping(5, ben, true);
  assert.deepEqual([...state.typing.get(5).values()].map((p) => p.name), ["Ben"]);
  mock.timers.tick(5000);
  setTyping(5, ben, true);  // renewed: the fallback starts again
  mock.timers.tick(5000);
  assert.equal(state.typing.get(5).size, 1);
  mock.timers.tick(2000);
  assert.equal(state.typing.get(5).size, 0);
  assert.deepEqual(told(), [["typing", 5], ["typing", 5], ["typing", 5]]);
  setTyping(5, ben, false);  // not typing any more: nothing to tell
  assert.deepEqual(told(), []);
  setTyping(5, ben, true);
  setTyping(5, ben, false);
  assert.equal(state.typing.get(5).size, 0);
  mock.timers.tick(10_000);
  assert.deepEqual(told(), [["typing", 5], ["typing", 5]]);
});

test("setContacts keeps friends and requests, their names and presence", () => {
  const friends = [{ id: 2, username: "ben", nickname: "", avatar_url: null, last_seen: null, is_online: true }];
  const requests = [{ id: 1, status: "pending", from_user: { id: 3 }, to_user: ME }];
  setContacts(friends, requests);
  assert.equal(state.friends, friends);
  assert.equal(state.requests, requests);
  assert.equal(nameOf(2), "ben");
  assert.equal(state.online.get(2), true);
  assert.deepEqual(told(), [["presence", 2], ["contacts"]]);
});

test("setBlocks keeps the list and the blocked people's names", () => {
  const blocks = [{ user_id: 4, user: { id: 4, nickname: "Dan" } }];
  setBlocks(blocks);
  assert.equal(state.blocks, blocks);
  assert.equal(nameOf(4), "Dan");
  assert.deepEqual(told(), [["blocks"]]);
});

test("putGroup keeps the group's details and its members' names", () => {
  const group = { info: { id: 5 }, members: [{ user_id: 2, user: { id: 2, nickname: "Ben" } }], notices: [] };
  putGroup(5, group);
  assert.equal(state.groups.get(5), group);
  assert.equal(nameOf(2), "Ben");
  assert.deepEqual(told(), [["group", 5]]);
});
