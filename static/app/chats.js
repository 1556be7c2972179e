// The chat list over REST: chats, the presence of private-chat peers, and missed calls.

import { api, withQuery } from "./api.js";
import { rememberPerson, setOnline, state } from "./store.js";
import { noteMissedCall, setChats } from "./store-chats.js";

const CALL_HISTORY_PAGE = 50;

/** Private-chat peers whose presence no friend list told (bots, former friends). */
async function loadPeerPresence() {
  const unknown = [...state.chats.values()].filter((chat) => chat.peer && !state.online.has(chat.peer.id));
  await Promise.all(
    unknown.map(async ({ peer }) => {
      const user = await api.get(`users/${peer.id}`);
      rememberPerson({ id: user.id, last_seen: user.last_seen });
      setOnline(user.id, user.is_online);
    }),
  );
}

export async function loadChats() {
  setChats(await api.get("chats"));
  await loadPeerPresence();
}

/** Calls to me that nobody answered, for the chat list. */
export async function loadMissedCalls() {
  const page = await api.get(withQuery("calls", { limit: CALL_HISTORY_PAGE }));
  for (const call of page.results) {
    if (call.direction === "incoming" && call.status === "missed") noteMissedCall(call.peer.id, call);
  }
}
