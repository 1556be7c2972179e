// One's own name and avatar at the top of the sidebar, and its menu: change or remove the avatar.

import { api } from "../api.js";
import { byId, fillAvatar } from "../dom.js";
import { rememberPerson, setMe } from "../store.js";
import { chooseAvatar } from "./avatar-picker.js";
import { attempt } from "./toasts.js";

/** Show this account (as the server answered it) at the top of the sidebar. */
export function showMe(me) {
  setMe(me);
  const name = me.nickname || me.username;
  rememberPerson({ id: me.id, nickname: name, avatar_url: me.avatar_url });
  byId("me-name").textContent = name;
  fillAvatar(byId("me-avatar"), name, me.avatar_url);
  byId("me-avatar-remove").hidden = !me.avatar_url;
}

function changed(request) {
  byId("me-menu").open = false;
  return attempt(async () => showMe(await request()));
}

export function initProfile() {
  byId("me-avatar-change").addEventListener("click", () =>
    chooseAvatar((form) => changed(() => api.post("users/me/avatar", form))));
  byId("me-avatar-remove").addEventListener("click", () => changed(() => api.delete("users/me/avatar")));
}
