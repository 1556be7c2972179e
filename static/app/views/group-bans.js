// Bans (keeping someone out of the group, unlike a mute) and handing the group to another member:
// the ban control in a member's menu, the banned list with Lift, and the owner's transfer.

import { api } from "../api.js";
import { avatar, byId, h } from "../dom.js";
import { format, formatDateTime, gettext } from "../i18n.js";
import { confirmAction } from "./ask.js";
import { change, durationSelect, keyed, section } from "./group-parts.js";

/** Ban a member for a chosen time or for good (the default), after a confirmation. */
export function banControl(group, member) {
  const id = group.info.id;
  const key = `ban-${member.user_id}-duration`;
  return h(
    "span",
    { class: "inline-controls" },
    durationSelect(key, gettext("Ban for"), [["", gettext("For good")]]),
    keyed(gettext("Ban"), `ban-${member.user_id}`, async () => {
      const duration = byId(key).value;
      if (!(await confirmAction(format(gettext("Ban %(name)s? They are removed and cannot join again until the ban is lifted."), { name: member.title })))) return;
      change(id, () => api.post(`groups/${id}/banned`, { user_id: member.user_id, ...(duration ? { duration: Number(duration) } : {}) }));
    }, { class: "danger", "data-testid": "ban" }),
  );
}

/** The owner makes another member the owner (and becomes an admin), after a confirmation. */
export function transferControl(group, member) {
  const id = group.info.id;
  return keyed(gettext("Make owner"), `transfer-${member.user_id}`, async () => {
    const question = format(gettext("Make %(name)s the owner of this group? You will become an admin."), { name: member.title });
    if (await confirmAction(question)) change(id, () => api.post(`groups/${id}/transfer`, { user_id: member.user_id }));
  }, { "data-testid": "transfer" });
}

function bannedItem(group, ban) {
  const id = group.info.id;
  const name = ban.user?.nickname ?? `#${ban.user_id}`;
  const until = ban.until ? format(gettext("until %(until)s"), { until: formatDateTime(ban.until) }) : gettext("for good");
  return h(
    "li",
    { class: "person", "data-testid": "banned-person", "data-user-id": ban.user_id },
    avatar(name, ban.user?.avatar_url),
    h(
      "div",
      { class: "person-text" },
      h("span", { class: "person-name", text: name }),
      h("small", { text: until }),
      ban.reason && h("small", { text: ban.reason }),
    ),
    keyed(gettext("Lift"), `lift-ban-${ban.user_id}`, () => change(id, () => api.delete(`groups/${id}/banned/${ban.user_id}`)), { "data-testid": "lift-ban" }),
  );
}

export function bannedSection(group) {
  return section(gettext("Banned"), "banned-list",
    group.banned.length
      ? h("ul", { class: "people" }, group.banned.map((ban) => bannedItem(group, ban)))
      : h("p", { class: "empty", text: gettext("Nobody is banned.") }));
}
