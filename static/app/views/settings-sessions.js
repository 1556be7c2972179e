// Settings, "Sessions": where the account is signed in (device, address, last use), with sign-out
// of any other session and of all others at once; their connections close at the server's word.

import { api } from "../api.js";
import { button, byId, h } from "../dom.js";
import { format, formatDateTime, gettext } from "../i18n.js";
import { registerSettingsPanel } from "./settings.js";
import { attempt } from "./toasts.js";

function deviceName({ browser, system }) {
  if (browser && system) return format(gettext("%(browser)s on %(system)s"), { browser, system });
  return browser || system || gettext("Unknown device");
}

function item(session) {
  const details = format(gettext("%(address)s, last used %(when)s"), {
    address: session.address || gettext("unknown address"),
    when: formatDateTime(session.last_used_at),
  });
  return h(
    "li",
    { class: "session-item", "data-testid": "session-item", "data-current": String(session.current) },
    h(
      "div",
      { class: "session-text" },
      h("strong", { text: deviceName(session) }),
      session.current && h("span", { class: "tag", "data-testid": "session-current", text: gettext("This device") }),
      h("small", { text: details, title: session.user_agent }),
    ),
    !session.current &&
      button(gettext("Sign out"), () => signOutSession(session.id), {
        class: "danger",
        "data-testid": "session-sign-out",
        "aria-label": format(gettext("Sign out %(device)s"), { device: deviceName(session) }),
      }),
  );
}

async function load() {
  const sessions = await api.get("users/me/sessions");
  byId("sessions-list").replaceChildren(...sessions.map(item));
  byId("sessions-sign-out-others").hidden = sessions.every((session) => session.current);
}

const signOutSession = (id) => attempt(async () => {
  await api.delete(`users/me/sessions/${id}`);
  await load();
});

export function initSessionSettings() {
  registerSettingsPanel("sessions", () => attempt(load));
  byId("sessions-sign-out-others").addEventListener("click", () =>
    attempt(async () => {
      await api.post("users/me/sessions/sign-out-others");
      await load();
    }));
}
