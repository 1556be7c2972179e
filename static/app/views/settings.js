// The Settings dialog (from the avatar menu): one tab per subject. Each tab's panel is filled by its
// own module (views/settings-*.js), which registers what to do when the panel is shown.

import { byId } from "../dom.js";

const panels = new Map();

function tabs() {
  return [...byId("settings-dialog").querySelectorAll("[data-settings-tab]")];
}

function select(name) {
  for (const tab of tabs()) {
    const selected = tab.dataset.settingsTab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    byId(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  panels.get(name)?.();
}

/** What the module of the panel `name` does each time the panel is shown (load, render). */
export function registerSettingsPanel(name, onShow) {
  panels.set(name, onShow);
}

/** Open the dialog at the panel `name` (the first tab when not given). */
export function openSettings(name = tabs()[0].dataset.settingsTab) {
  byId("me-menu").open = false;
  const dialog = byId("settings-dialog");
  if (!dialog.open) dialog.showModal();
  select(name);
  tabs().find((tab) => tab.dataset.settingsTab === name).focus();
}

/** Arrow keys move between tabs, as in every tab list. */
function onTabKey(event) {
  const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
  if (!step) return;
  event.preventDefault();
  const all = tabs();
  const next = all[(all.indexOf(event.target) + step + all.length) % all.length];
  select(next.dataset.settingsTab);
  next.focus();
}

export function initSettings() {
  const dialog = byId("settings-dialog");
  byId("settings-button").addEventListener("click", () => openSettings());
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  // Opened from the avatar menu, which closed: the focus goes back to the menu's button.
  dialog.addEventListener("close", () => !byId("main-view").hidden && byId("me-menu").querySelector("summary").focus());
  for (const tab of tabs()) tab.addEventListener("click", () => select(tab.dataset.settingsTab));
  dialog.querySelector("[role=tablist]").addEventListener("keydown", onTabKey);
}
