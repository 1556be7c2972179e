// The new-group dialog: a name, an optional avatar URL and friends to add.

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { errorText } from "../errors.js";
import { state } from "../store.js";
import { loadChats } from "../chats.js";

export function initNewGroup(openChat) {
  const dialog = byId("new-group-dialog");
  const form = byId("new-group-form");
  byId("new-group-button").addEventListener("click", () => {
    form.reset();
    form.querySelector(".form-error").textContent = "";
    byId("new-group-members").replaceChildren(
      ...state.friends.map((friend) =>
        h("li", {}, h("label", {}, h("input", { type: "checkbox", name: "member_ids", value: friend.id, "data-testid": "new-group-member" }), ` ${friend.nickname || friend.username}`)),
      ),
    );
    dialog.showModal();
  });
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name").trim(), member_ids: data.getAll("member_ids").map(Number) };
    if (data.get("avatar_url").trim()) body.avatar_url = data.get("avatar_url").trim();
    try {
      const group = await api.post("groups", body);
      await loadChats();
      dialog.close();
      openChat(group.id);
    } catch (error) {
      form.querySelector(".form-error").textContent = errorText(error);
    }
  });
}
