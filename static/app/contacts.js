// Friends and friend requests: loaded over REST, refreshed by friend.* events.

import { api } from "./api.js";
import { notify, rememberPerson, setOnline, state } from "./store.js";

export async function loadContacts() {
  const [friends, requests] = await Promise.all([api.get("friends"), api.get("friends/requests")]);
  state.friends = friends;
  state.requests = requests;
  for (const friend of friends) {
    rememberPerson({ id: friend.id, nickname: friend.nickname || friend.username, avatar_url: friend.avatar_url, last_seen: friend.last_seen });
    setOnline(friend.id, friend.is_online);
  }
  notify("contacts");
}

export const isFriend = (userId) => state.friends.some((friend) => friend.id === userId);
export const pendingWith = (userId) =>
  state.requests.find((r) => r.status === "pending" && (r.from_user.id === userId || r.to_user.id === userId));
