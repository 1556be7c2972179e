// The group panel: members with role, card and mute state, and what the owner and admins may do
// to them (promote, demote, mute for a chosen time, unmute, kick); mute everyone; notices; join
// requests; rename and avatar; add or invite friends; leave, or dissolve as the owner. Bans and
// ownership transfer (group-bans.js) and invite links (group-invites.js) have modules of their own.

import { api } from "../api.js";
import { isBlocked, unblockPerson } from "../blocks.js";
import { avatar, byId, h, rerender, safeUrl } from "../dom.js";
import { format, formatDateTime, gettext, ngettext } from "../i18n.js";
import { isModerator, isMuted, loadGroup, memberOf } from "../groups.js";
import { icon } from "../icons.js";
import { mentionAllSetting } from "../mentions.js";
import { state, subscribe } from "../store.js";
import { ask, confirmAction } from "./ask.js";
import { chooseAvatar } from "./avatar-picker.js";
import { confirmBlock } from "./settings-blocked.js";
import { reportsSection } from "./group-reports.js";
import { openReport } from "./report-dialog.js";
import { banControl, bannedSection, transferControl } from "./group-bans.js";
import { inviteSection } from "./group-invites.js";
import { change, durationSelect, keyed, section } from "./group-parts.js";
import { attempt } from "./toasts.js";

const RANK = { owner: 3, admin: 2, member: 1 };
const ROLE_LABELS = { owner: () => gettext("Owner"), admin: () => gettext("Admin"), member: () => gettext("Member") };

let openGroupId = null;

function muteControls(group, id, userId, muted) {
  const key = `mute-${userId ?? "all"}`;
  const path = `groups/${id}/bans`;
  const who = userId ? { user_id: userId } : {};
  if (muted) {
    const label = userId ? gettext("Unmute") : gettext("Unmute everyone");
    return keyed(label, `${key}-lift`, () => change(id, () => api.post(path, { ...who, duration: 0 })), { "data-testid": userId ? "unmute" : "unmute-all" });
  }
  return h(
    "span",
    { class: "inline-controls" },
    durationSelect(`${key}-duration`, gettext("Mute for")),
    keyed(userId ? gettext("Mute") : gettext("Mute everyone"), `${key}-set`, () => {
      const duration = Number(byId(`${key}-duration`).value);
      change(id, () => api.post(path, { ...who, duration }));
    }, { "data-testid": userId ? "mute" : "mute-all" }),
  );
}

/** A member's menu closes once one of its actions is chosen (the panel drawn anew keeps it open). */
function closeAfterAction(event) {
  if (event.target.closest(".member-actions-body button")) event.currentTarget.open = false;
}

function memberActions(group, member) {
  const id = group.info.id;
  const myRole = group.info.my_role;
  const self = member.user_id === state.me.id;
  const above = isModerator(myRole) && RANK[myRole] > RANK[member.role];
  const actions = [];
  if (self || above) {
    actions.push(keyed(gettext("Set card"), `card-${member.user_id}`, async () => {
      const card = await ask({ title: gettext("Group card"), label: gettext("Name shown in this group (empty: none)"), value: member.card });
      if (card !== null) change(id, () => api.patch(`groups/${id}/members/${member.user_id}`, { card }));
    }, { "data-testid": "set-card" }));
  }
  if (!self && myRole === "owner" && member.role !== "owner") {
    const promote = member.role === "member";
    actions.push(keyed(promote ? gettext("Make admin") : gettext("Remove admin"), `role-${member.user_id}`,
      () => change(id, () => api.patch(`groups/${id}/members/${member.user_id}`, { role: promote ? "admin" : "member" })),
      { "data-testid": promote ? "promote" : "demote" }));
    actions.push(transferControl(group, member));
  }
  if (!self && above) {
    actions.push(muteControls(group, id, member.user_id, isMuted(member)));
    actions.push(keyed(gettext("Remove from group"), `kick-${member.user_id}`, async () => {
      if (await confirmAction(format(gettext("Remove %(name)s from the group?"), { name: member.title }))) {
        change(id, () => api.delete(`groups/${id}/members/${member.user_id}`));
      }
    }, { class: "danger", "data-testid": "kick" }));
    actions.push(banControl(group, member));
  }
  if (!self && isBlocked(member.user_id)) {
    actions.push(keyed(gettext("Unblock"), `block-${member.user_id}`, () => attempt(() => unblockPerson(member.user_id)), { "data-testid": "unblock-member" }));
  } else if (!self) {
    actions.push(keyed(gettext("Block"), `block-${member.user_id}`, () => confirmBlock(member.user_id, member.user?.nickname || member.title), { class: "danger", "data-testid": "block-member" }));
  }
  if (!self) actions.push(keyed(gettext("Report"), `report-user-${member.user_id}`, () => openReport("user", member.user_id, member.title), { "data-testid": "report-member" }));
  if (!actions.length) return null;
  return h(
    "details",
    { class: "member-actions", "data-key": `actions-${member.user_id}`, onclick: closeAfterAction },
    h("summary", { "aria-label": format(gettext("Actions for %(name)s"), { name: member.title }), "data-testid": "member-actions" }, icon("more")),
    h("div", { class: "member-actions-body" }, actions),
  );
}

function memberRow(group, member) {
  const muted = isMuted(member);
  return h(
    "li",
    { class: "member", "data-testid": "member", "data-user-id": member.user_id, "data-role": member.role, "data-muted": String(muted) },
    avatar(member.title, member.user?.avatar_url),
    h(
      "div",
      { class: "member-text" },
      h("span", { class: "member-title", text: member.title }),
      member.card && h("span", { class: "member-nickname", text: member.user?.nickname }),
      h(
        "span",
        { class: "member-tags" },
        h("span", { class: `role role-${member.role}`, "data-testid": "member-role", text: ROLE_LABELS[member.role]() }),
        muted && h("span", { class: "muted-tag", "data-testid": "member-muted", text: format(gettext("muted until %(until)s"), { until: formatDateTime(member.muted_until) }) }),
      ),
    ),
    memberActions(group, member),
  );
}

/** A one-field form (rename, avatar, notice) that runs `action(value)`. */
function fieldForm({ key, label, value = "", type = "text", multiline = false, submitLabel, action, testid }) {
  const field = multiline
    ? h("textarea", { id: key, "data-key": key, rows: 3, maxlength: 4000, required: true })
    : h("input", { id: key, "data-key": key, type, value, required: type !== "url", maxlength: type === "url" ? 500 : 64 });
  const form = h(
    "form",
    { class: "stack compact", "data-testid": testid },
    h("label", { for: key, text: label }),
    h("div", { class: "inline-form" }, field, h("button", { type: "submit", "data-key": `${key}-submit`, text: submitLabel })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entered = field.value.trim();
    if (multiline) field.value = "";  // before the panel is drawn again, which keeps typed text
    if (!(await action(entered)) && multiline) byId(key).value = entered;
  });
  return form;
}

/** Upload a picture as the group's avatar (the server crops and resizes it), or remove it. */
function avatarUpload(id, avatarUrl) {
  const path = `groups/${id}/avatar`;
  return h(
    "div",
    { class: "inline-controls" },
    keyed(gettext("Upload avatar"), "group-avatar-upload", () => chooseAvatar((form) => change(id, () => api.post(path, form))), { "data-testid": "group-avatar-upload" }),
    avatarUrl && keyed(gettext("Remove avatar"), "group-avatar-remove", () => change(id, () => api.delete(path)), { class: "danger", "data-testid": "group-avatar-remove" }),
  );
}

function addMemberForm(group) {
  const id = group.info.id;
  const inGroup = new Set(group.members.map((m) => m.user_id));
  const candidates = state.friends.filter((friend) => !inGroup.has(friend.id));
  if (!candidates.length) return null;
  const moderator = isModerator(group.info.my_role);
  const select = h("select", { id: "add-member-select", "data-key": "add-member-select" },
    candidates.map((friend) => h("option", { value: friend.id, text: friend.nickname || friend.username })));
  return h(
    "div",
    { class: "stack compact" },
    h("label", { for: "add-member-select", text: moderator ? gettext("Add a friend") : gettext("Invite a friend (an admin approves)") }),
    h("div", { class: "inline-form" }, select,
      keyed(moderator ? gettext("Add") : gettext("Invite"), "add-member", () => change(id, () => api.post(`groups/${id}/members`, { user_id: Number(select.value) })), { "data-testid": "add-member" })),
  );
}

function noticeItem(notice) {
  const image = notice.image && safeUrl(notice.image);
  return h(
    "li",
    { class: "notice", "data-testid": "notice" },
    h("p", { text: notice.content }),
    image && h("img", { src: image, alt: gettext("Notice image"), loading: "lazy" }),
    h("small", { text: formatDateTime(notice.created_at) }),
  );
}

function joinRequestItem(group, request) {
  const id = group.info.id;
  const decide = (verb) => () => change(id, () => api.post(`groups/${id}/join-requests/${request.id}/${verb}`));
  const invited = request.operator_id !== request.user_id;
  return h(
    "li",
    { class: "person", "data-testid": "join-request", "data-user-id": request.user_id },
    avatar(request.user?.nickname, request.user?.avatar_url),
    h(
      "div",
      { class: "person-text" },
      h("span", { class: "person-name", text: request.user?.nickname ?? `#${request.user_id}` }),
      request.comment && h("small", { text: request.comment }),
      invited && h("small", { text: format(gettext("invited by %(name)s"), { name: memberOf(group, request.operator_id)?.title ?? `#${request.operator_id}` }) }),
    ),
    keyed(gettext("Approve"), `approve-${request.id}`, decide("approve"), { class: "primary", "data-testid": "approve" }),
    keyed(gettext("Reject"), `reject-${request.id}`, decide("reject"), { "data-testid": "reject" }),
  );
}

function panelContent(group) {
  const { info } = group;
  const id = info.id;
  const moderator = isModerator(info.my_role) && !info.dissolved_at;
  const allMuted = Boolean(info.muted_until) && Date.parse(info.muted_until) > Date.now();
  const owner = info.my_role === "owner";
  return [
    h(
      "header",
      { class: "panel-head" },
      h("h2", { text: gettext("Group details") }),
      h("button", { type: "button", class: "icon-button", "aria-label": gettext("Close group details"), "data-testid": "group-panel-close", onclick: closeGroupPanel }, icon("close")),
    ),
    h(
      "div",
      { class: "group-summary" },
      avatar(info.name, info.avatar_url, "large"),
      h("strong", { "data-testid": "group-name", text: info.name }),
      h("span", { text: format(ngettext("%(count)s member", "%(count)s members", info.member_count), { count: info.member_count }) }),
      info.dissolved_at && h("span", { class: "muted-tag", text: gettext("Dissolved") }),
      allMuted && h("span", { class: "muted-tag", "data-testid": "group-muted", text: format(gettext("Everyone muted until %(until)s"), { until: formatDateTime(info.muted_until) }) }),
    ),
    moderator && section(gettext("Settings"), "group-settings",
      fieldForm({ key: "group-name-input", label: gettext("Group name"), value: info.name, submitLabel: gettext("Rename"), testid: "rename-form",
        action: (name) => change(id, () => api.patch(`groups/${id}`, { name })) }),
      fieldForm({ key: "group-avatar-input", label: gettext("Avatar URL"), value: info.avatar_url, type: "url", submitLabel: gettext("Save"), testid: "avatar-form",
        action: (avatarUrl) => change(id, () => api.patch(`groups/${id}`, { avatar_url: avatarUrl })) }),
      avatarUpload(id, info.avatar_url),
      mentionAllSetting(info, (value) => change(id, () => api.patch(`groups/${id}`, { members_mention_all: value }))),
      h("div", { class: "stack compact" }, h("span", { class: "label", text: gettext("Mute everyone (owner and admins can still write)") }), muteControls(group, id, null, allMuted))),
    section(format(gettext("Members (%(count)s)"), { count: group.members.length }), "member-list",
      h("ul", { class: "members" }, group.members.map((member) => memberRow(group, member))),
      !info.dissolved_at && addMemberForm(group)),
    moderator && group.joinRequests.length > 0 && section(gettext("Join requests"), "join-requests",
      h("ul", { class: "people" }, group.joinRequests.map((request) => joinRequestItem(group, request)))),
    moderator && reportsSection(group),
    moderator && inviteSection(group),
    moderator && bannedSection(group),
    section(gettext("Notices"), "notices",
      group.notices.length ? h("ul", { class: "notices" }, group.notices.map(noticeItem)) : h("p", { class: "empty", text: gettext("No notices yet.") }),
      moderator && fieldForm({ key: "notice-input", label: gettext("New notice"), multiline: true, submitLabel: gettext("Post"), testid: "notice-form",
        action: (content) => change(id, () => api.post(`groups/${id}/notices`, { content })) })),
    !info.dissolved_at && h(
      "footer",
      { class: "panel-foot" },
      keyed(owner ? gettext("Dissolve group") : gettext("Leave group"), "leave", async () => {
        const question = owner ? gettext("Dissolve this group for everyone?") : gettext("Leave this group?");
        if (await confirmAction(question)) attempt(() => api.post(`groups/${id}/leave`));
      }, { class: "danger", "data-testid": owner ? "dissolve" : "leave" }),
      !owner && keyed(gettext("Report group"), "report-group", () => openReport("group", id, info.name), { "data-testid": "report-group" }),
    ),
  ];
}

function render() {
  const panel = byId("group-panel");
  const group = state.groups.get(openGroupId);
  if (!group) return;
  rerender(panel, () => panel.replaceChildren(...panelContent(group).filter(Boolean)));
}

export function toggleGroupPanel(groupId) {
  if (openGroupId === groupId) closeGroupPanel();
  else openGroupPanel(groupId);
}

function openGroupPanel(groupId) {
  openGroupId = groupId;
  byId("group-panel").hidden = false;
  byId("group-info-button").setAttribute("aria-expanded", "true");
  render();
  attempt(() => loadGroup(groupId));
  byId("group-panel").querySelector("button")?.focus();
}

export function closeGroupPanel() {
  const wasOpen = openGroupId !== null;
  openGroupId = null;
  byId("group-panel").hidden = true;
  byId("group-info-button").setAttribute("aria-expanded", "false");
  if (wasOpen && !byId("chat-view").hidden) byId("group-info-button").focus();
}

export function initGroupPanel() {
  subscribe("group", (groupId) => groupId === openGroupId && render());
  subscribe("contacts", () => openGroupId && render());
  subscribe("blocks", () => openGroupId && render());
  subscribe("chats", () => openGroupId && openGroupId !== state.currentChatId && closeGroupPanel());
}
