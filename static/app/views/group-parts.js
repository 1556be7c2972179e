// Pieces the group panel and its sections share: run a change and reload the group, buttons that
// keep the focus across redraws, titled sections, duration choices.

import { button, byId, h } from "../dom.js";
import { gettext } from "../i18n.js";
import { loadGroup } from "../groups.js";
import { attempt } from "./toasts.js";

/** Run a change, then show the group as it is now (the group.* events also arrive). Resolves
 * to whether the change succeeded. */
export async function change(groupId, action) {
  const done = await attempt(action);
  await attempt(() => loadGroup(groupId));
  return done;
}

/** A button that keeps the focus when the panel is drawn again (see rerender). */
export const keyed = (label, key, onclick, attrs = {}) => button(label, onclick, { "data-key": key, ...attrs });

export function section(title, testid, ...content) {
  return h("section", { class: "panel-section", "data-testid": testid }, h("h3", { text: title }), ...content);
}

export const DURATIONS = [
  [600, () => gettext("10 minutes")],
  [3600, () => gettext("1 hour")],
  [43200, () => gettext("12 hours")],
  [86400, () => gettext("1 day")],
  [604800, () => gettext("7 days")],
  [2592000, () => gettext("30 days")],
];

/** A labelled <select> of DURATIONS (plus `extra` [value, label] choices first); read it with byId(key). */
export function durationSelect(key, label, extra = []) {
  const choices = [...extra, ...DURATIONS.map(([seconds, text]) => [seconds, text()])];
  return [
    h("label", { for: key, class: "visually-hidden", text: label }),
    h("select", { id: key, "data-key": key }, choices.map(([value, text]) => h("option", { value, text }))),
  ];
}

export const selected = (key) => byId(key).value;
