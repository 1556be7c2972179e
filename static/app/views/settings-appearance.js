// Settings, Appearance: the colour theme (System, Light, Dark) as a radio group; it applies at once.

import { byId } from "../dom.js";
import { currentTheme, setTheme } from "../theme.js";
import { registerSettingsPanel } from "./settings.js";

const choices = () => [...byId("settings-appearance").querySelectorAll("input[name=theme]")];

export function initAppearanceSettings() {
  registerSettingsPanel("appearance", () => {
    const theme = currentTheme();
    for (const input of choices()) input.checked = input.value === theme;
  });
  for (const input of choices()) input.addEventListener("change", () => input.checked && setTheme(input.value));
}
