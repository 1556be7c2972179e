// A small modal question (<dialog id="ask-dialog">): confirm, or ask for one line of text.

import { byId } from "../dom.js";

/** Resolves to the text entered (or "" for a plain confirmation), or null when cancelled. */
export function ask({ title, label = "", value = "", type = "text", confirmOnly = false }) {
  const dialog = byId("ask-dialog");
  const input = byId("ask-input");
  byId("ask-title").textContent = title;
  byId("ask-label").textContent = label;
  byId("ask-label").hidden = confirmOnly;
  input.hidden = confirmOnly;
  input.type = type;
  input.value = value;
  input.required = !confirmOnly;
  dialog.returnValue = "";
  dialog.showModal();
  (confirmOnly ? dialog.querySelector("[value=ok]") : input).focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? (confirmOnly ? "" : input.value.trim()) : null),
      { once: true },
    );
  });
}

export const confirmAction = (title) => ask({ title, confirmOnly: true }).then((answer) => answer !== null);
