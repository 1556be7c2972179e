// Settings, Notifications: desktop notifications on or off (turning them on asks the browser's
// permission, from this click), message text in them, and a sound. The avatar menu's
// Notifications button opens Settings at this panel.

import { byId } from "../dom.js";
import { gettext } from "../i18n.js";
import { loadSettings, permission, sampleSound, saveSettings } from "../notifier.js";
import { openSettings, registerSettingsPanel } from "./settings.js";

const NOTES = {
  denied: () => gettext("The browser blocks notifications from this site: allow them in its site settings."),
  unsupported: () => gettext("This browser cannot show notifications."),
};

function render() {
  const settings = loadSettings();
  const allowed = permission();
  byId("notify-desktop").checked = settings.desktop && allowed === "granted";
  byId("notify-desktop").disabled = allowed === "unsupported";
  byId("notify-previews").checked = settings.previews;
  byId("notify-sound").checked = settings.sound;
  byId("notify-note").textContent = NOTES[allowed]?.() ?? "";
}

async function changeDesktop(wanted) {
  if (wanted && permission() === "default") await globalThis.Notification.requestPermission();
  saveSettings({ desktop: wanted && permission() === "granted" });
  render();
}

export function initNotificationSettings() {
  registerSettingsPanel("notifications", render);
  byId("notify-settings-button").addEventListener("click", () => openSettings("notifications"));
  byId("notify-desktop").addEventListener("change", (event) => changeDesktop(event.target.checked));
  byId("notify-previews").addEventListener("change", (event) => saveSettings({ previews: event.target.checked }));
  byId("notify-sound").addEventListener("change", (event) => {
    saveSettings({ sound: event.target.checked });
    if (event.target.checked) sampleSound();
  });
}
