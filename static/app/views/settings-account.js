// Settings, "Email and password": one's address (and whether it is confirmed) and the password
// change, which signs out every other session (this one stays signed in).

import { api } from "../api.js";
import { byId } from "../dom.js";
import { gettext } from "../i18n.js";
import { state, updateMe } from "../store.js";
import { onSubmit } from "./forms.js";
import { registerSettingsPanel } from "./settings.js";
import { attempt } from "./toasts.js";

function emailState(me) {
  if (!me.email) return gettext("No address: a forgotten password could not be reset.");
  if (me.email_verified) return gettext("Confirmed.");
  return gettext("Not confirmed yet: open the link we mailed to it.");
}

function render(me) {
  updateMe(me);
  byId("email-input").value = me.email;
  byId("email-state").textContent = emailState(me);
  byId("email-state").dataset.verified = String(me.email_verified);
  byId("password-form").elements.username.value = me.username;
}

export function initAccountSettings() {
  registerSettingsPanel("account", () => {
    byId("password-done").textContent = "";
    return attempt(async () => render(await api.get("users/me")));
  });
  onSubmit(byId("email-form"), ({ email }) => api.put("users/me/email", { email: email.trim() }), render);
  onSubmit(
    byId("password-form"),
    ({ old_password, new_password }) => api.post("users/me/password", { old_password, new_password }),
    () => {
      byId("password-done").textContent = gettext("Your password is changed. Your other sessions are signed out.");
      byId("password-form").elements.username.value = state.me.username;
    },
  );
}
