// Invite links in the group panel (owner and admins): create one with options (approval, expiry,
// maximum uses), copy it, revoke it; the list shows each link's uses and expiry.

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { format, formatDateTime, gettext, ngettext } from "../i18n.js";
import { confirmAction } from "./ask.js";
import { change, durationSelect, keyed, section } from "./group-parts.js";
import { toast } from "./toasts.js";

/** The address that opens the invitation in the web client. */
export const inviteUrl = (token) => `${location.origin}/#/invite/${token}`;

function createForm(id) {
  const approval = h("input", { type: "checkbox", id: "invite-approval", "data-key": "invite-approval", "data-testid": "invite-approval" });
  const uses = h("input", { type: "number", id: "invite-max-uses", "data-key": "invite-max-uses", min: 1, max: 100000, placeholder: gettext("No limit"), "data-testid": "invite-max-uses" });
  const form = h(
    "form",
    { class: "stack compact", "data-testid": "invite-form" },
    h("label", {}, approval, ` ${gettext("Approve each person who joins")}`),
    h("div", { class: "inline-form" },
      h("span", { class: "label", text: gettext("Expires") }),
      durationSelect("invite-expires", gettext("Expires after"), [["", gettext("Never")]])),
    h("label", { for: "invite-max-uses", text: gettext("Maximum uses") }),
    uses,
    h("button", { type: "submit", "data-key": "invite-create", "data-testid": "invite-create", text: gettext("Create invite link") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { needs_approval: approval.checked };
    if (byId("invite-expires").value) body.expires_in = Number(byId("invite-expires").value);
    if (uses.value) body.max_uses = Number(uses.value);
    change(id, () => api.post(`groups/${id}/invites`, body));
  });
  return form;
}

async function copy(url) {
  try {
    await navigator.clipboard.writeText(url);
    toast({ message: gettext("Link copied."), type: "success" });
  } catch {
    toast({ message: gettext("Copy the link from its field."), type: "warning" });
  }
}

function inviteItem(id, link) {
  const url = inviteUrl(link.token);
  const field = `invite-url-${link.id}`;
  const uses = link.max_uses
    ? format(ngettext("%(uses)s of %(max)s use", "%(uses)s of %(max)s uses", link.max_uses), { uses: link.uses, max: link.max_uses })
    : format(ngettext("%(uses)s use", "%(uses)s uses", link.uses), { uses: link.uses });
  const expiry = link.expires_at ? format(gettext("expires %(when)s"), { when: formatDateTime(link.expires_at) }) : gettext("never expires");
  return h(
    "li",
    { class: "invite-link stack compact", "data-testid": "invite-link", "data-invite-id": link.id },
    h("label", { for: field, class: "visually-hidden", text: gettext("Invite link") }),
    h("input", { id: field, "data-key": field, readonly: true, value: url, "data-testid": "invite-url" }),
    h("small", { "data-testid": "invite-uses", text: `${uses} · ${expiry}${link.needs_approval ? ` · ${gettext("needs approval")}` : ""}` }),
    h("span", { class: "inline-controls" },
      keyed(gettext("Copy"), `invite-copy-${link.id}`, () => copy(url), { "data-testid": "invite-copy" }),
      keyed(gettext("Revoke"), `invite-revoke-${link.id}`, async () => {
        if (await confirmAction(gettext("Revoke this invite link? It stops working at once."))) change(id, () => api.delete(`groups/${id}/invites/${link.id}`));
      }, { class: "danger", "data-testid": "invite-revoke" })),
  );
}

export function inviteSection(group) {
  const id = group.info.id;
  return section(gettext("Invite links"), "invite-links",
    group.invites.length ? h("ul", { class: "people" }, group.invites.map((link) => inviteItem(id, link))) : h("p", { class: "empty", text: gettext("No invite links.") }),
    createForm(id));
}
