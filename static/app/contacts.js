// Friends and friend requests: loaded over REST, refreshed by friend.* events.

import { api } from "./api.js";
import { setContacts, state } from "./store.js";

export async function loadContacts() {
  setContacts(...(await Promise.all([api.get("friends"), api.get("friends/requests")])));
}

export const isFriend = (userId) => state.friends.some((friend) => friend.id === userId);
export const pendingWith = (userId) =>
  state.requests.find((r) => r.status === "pending" && (r.from_user.id === userId || r.to_user.id === userId));
