// Settings, Language: the same set_language form as the footer's switch (a POST that sets the
// language cookie and comes back to the client), shown with the current language chosen.

import { byId } from "../dom.js";
import { registerSettingsPanel } from "./settings.js";

export function initLanguageSettings() {
  registerSettingsPanel("language", () => {
    byId("settings-language-select").value = document.documentElement.lang;
  });
}
