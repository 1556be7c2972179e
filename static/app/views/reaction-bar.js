// The reaction bar under a message: a chip per emoji (count, highlighted when it is mine, who
// reacted in its tooltip; a click toggles mine) and an "Add reaction" button with a small picker
// (common emoji, or any one typed in).

import { h } from "../dom.js";
import { format, gettext } from "../i18n.js";
import { toggleReaction } from "../reactions.js";
import { nameOf, state } from "../store.js";
import { attempt } from "./toasts.js";

const COMMON = ["👍", "❤️", "😂", "😮", "😢", "🎉", "🙏", "👀"];

function whoReacted(reaction) {
  const names = reaction.user_ids.map((id) => (id === state.me.id ? gettext("You") : nameOf(id)));
  const more = reaction.count - names.length;
  const list = names.join(", ");
  return more > 0 ? format(gettext("%(names)s and %(count)s more"), { names: list, count: more }) : list;
}

function chip(message, reaction) {
  const label = format(gettext("%(emoji)s: %(who)s"), { emoji: reaction.emoji, who: whoReacted(reaction) });
  return h(
    "button",
    {
      type: "button",
      class: reaction.me ? "reaction-chip mine" : "reaction-chip",
      "data-testid": "reaction-chip",
      "data-emoji": reaction.emoji,
      "data-count": reaction.count,
      "data-mine": reaction.me ? "true" : "false",
      "aria-pressed": reaction.me ? "true" : "false",
      "aria-label": label,
      title: label,
      onclick: () => attempt(() => toggleReaction(message, reaction.emoji)),
    },
    h("span", { class: "reaction-emoji", text: reaction.emoji }),
    h("span", { class: "reaction-count", text: String(reaction.count) }),
  );
}

function picker(message, close) {
  const choose = (emoji) => {
    close();
    if (!(message.reactions || []).some((r) => r.emoji === emoji && r.me)) attempt(() => toggleReaction(message, emoji));
  };
  const input = h("input", { type: "text", class: "reaction-input", maxlength: "16", "aria-label": gettext("Any emoji"), placeholder: gettext("Any emoji"), "data-testid": "reaction-input" });
  const form = h(
    "form",
    {
      class: "reaction-other",
      onsubmit: (event) => {
        event.preventDefault();
        if (input.value.trim()) choose(input.value.trim());
      },
    },
    input,
    h("button", { type: "submit", class: "link-button", text: gettext("Add") }),
  );
  return h(
    "div",
    {
      class: "reaction-picker",
      role: "group",
      "aria-label": gettext("Choose a reaction"),
      "data-testid": "reaction-picker",
      hidden: true,
      onkeydown: (event) => event.key === "Escape" && close(true),
    },
    h("div", { class: "reaction-common" }, COMMON.map((emoji) => h("button", { type: "button", class: "reaction-option", "aria-label": emoji, "data-testid": "reaction-option", "data-emoji": emoji, onclick: () => choose(emoji), text: emoji }))),
    form,
  );
}

/** The bar, or null for a message that cannot take reactions (not stored yet, or deleted). */
export function reactionBar(message) {
  if (!message.id || message.is_deleted) return null;
  let add = null;
  const close = (refocus = false) => {
    panel.hidden = true;
    add.setAttribute("aria-expanded", "false");
    if (refocus) add.focus();
  };
  const panel = picker(message, close);
  add = h("button", {
    type: "button",
    class: "reaction-add icon-button",
    "aria-label": gettext("Add reaction"),
    title: gettext("Add reaction"),
    "aria-expanded": "false",
    "data-testid": "add-reaction",
    text: "☺",
    onclick: () => {
      panel.hidden = !panel.hidden;
      add.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) panel.querySelector("button")?.focus();
    },
  });
  return h("div", { class: "reaction-bar", "data-testid": "reaction-bar" }, (message.reactions || []).map((r) => chip(message, r)), add, panel);
}
