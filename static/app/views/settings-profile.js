// Settings, Profile: display name, avatar (the avatar picker and upload the avatar menu uses) and
// bio, saved with PATCH users/me; the server's refusals are shown beside the field they name.

import { api } from "../api.js";
import { byId, fillAvatar } from "../dom.js";
import { errorText } from "../errors.js";
import { format, gettext } from "../i18n.js";
import { state } from "../store.js";
import { chooseAvatar } from "./avatar-picker.js";
import { showMe } from "./profile.js";
import { registerSettingsPanel } from "./settings.js";

const form = () => byId("profile-form");

const LIMITS = { nickname: 64, bio: 500 };
const FIELD_REASONS = {
  max_length: (details) => format(gettext("This is too long: at most %(count)s characters."), { count: details.max_length ?? LIMITS[details.field] }),
  too_long: (details) => format(gettext("This is too long: at most %(count)s characters."), { count: LIMITS[details.field] }),
};

function clearErrors() {
  form().querySelectorAll(".form-error").forEach((el) => { el.textContent = ""; });
  form().querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

function showError(error) {
  const field = error.details?.field;
  const slot = field && form().querySelector(`[data-field-error="${CSS.escape(field)}"]`);
  if (slot) {
    slot.textContent = FIELD_REASONS[error.details.reason]?.(error.details) ?? errorText(error);
    form().elements[field].setAttribute("aria-invalid", "true");
    form().elements[field].focus();
  } else {
    form().querySelector("[role=alert]").textContent = errorText(error);
  }
}

function render() {
  const me = state.me;
  const name = me.nickname || me.username;
  fillAvatar(byId("profile-avatar"), name, me.avatar_url);
  byId("profile-avatar-remove").hidden = !me.avatar_url;
  clearErrors();
  byId("profile-nickname").value = me.nickname;
  byId("profile-bio").value = me.bio;
  form().querySelector("[role=status]").textContent = "";
}

async function save(request) {
  clearErrors();
  form().querySelector("[role=status]").textContent = "";
  try {
    showMe(await request());
  } catch (error) {
    showError(error);
    return false;
  }
  return true;
}

async function submit(event) {
  event.preventDefault();
  const fields = { nickname: byId("profile-nickname").value.trim(), bio: byId("profile-bio").value.trim() };
  if (await save(() => api.patch("users/me", fields))) {
    render();
    form().querySelector("[role=status]").textContent = gettext("Your profile is saved.");
  }
}

const avatarChanged = (request) => save(request).then((saved) => saved && render());

export function initProfileSettings() {
  registerSettingsPanel("profile", render);
  form().addEventListener("submit", submit);
  byId("profile-avatar-change").addEventListener("click", () =>
    chooseAvatar((data) => avatarChanged(() => api.post("users/me/avatar", data))));
  byId("profile-avatar-remove").addEventListener("click", () => avatarChanged(() => api.delete("users/me/avatar")));
}
