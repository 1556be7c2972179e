// Opening an invite link (/#/invite/<token>): after signing in if need be, a dialog previews the
// group (name, avatar, size) and offers Join, or Ask to join when the link needs approval.

import { api } from "../api.js";
import { loadChats } from "../chats.js";
import { avatar, button, byId, h } from "../dom.js";
import { errorText } from "../errors.js";
import { format, gettext, ngettext } from "../i18n.js";
import { state } from "../store.js";

const INVITE_HASH = /^#\/invite\/([A-Za-z0-9_-]{1,64})$/;
let openChatAt = () => {};

function body(...children) {
  byId("invite-body").replaceChildren(...children.filter(Boolean));
}

function failed(error) {
  body(h("p", { class: "form-error", role: "alert", "data-testid": "invite-error", text: errorText(error) }));
}

async function join(token, preview, comment) {
  try {
    await api.post(`invites/${token}/join`, comment ? { comment } : {});
    if (preview.needs_approval) {
      body(h("p", { "data-testid": "invite-requested", text: gettext("Your request was sent; an admin of the group decides.") }));
      return;
    }
    await loadChats();
    byId("invite-dialog").close();
    openChatAt(preview.group_id);
  } catch (error) {
    failed(error);
  }
}

function actions(token, preview) {
  if (preview.is_member) {
    return button(gettext("Open the group"), () => {
      byId("invite-dialog").close();
      openChatAt(preview.group_id);
    }, { class: "primary", "data-testid": "invite-open" });
  }
  if (preview.requested) return h("p", { "data-testid": "invite-requested", text: gettext("Your request to join is waiting for an admin.") });
  if (!preview.needs_approval) return button(gettext("Join"), () => join(token, preview, ""), { class: "primary", "data-testid": "invite-join" });
  const comment = h("input", { id: "invite-comment", maxlength: 200, "data-testid": "invite-comment" });
  return h(
    "div",
    { class: "stack compact" },
    h("label", { for: "invite-comment", text: gettext("Message to the admins (optional)") }),
    comment,
    button(gettext("Ask to join"), () => join(token, preview, comment.value.trim()), { class: "primary", "data-testid": "invite-ask" }),
  );
}

/** Show the invitation the address names, if any (the address is cleared so that it shows once). */
export async function showInviteFromLocation() {
  const match = INVITE_HASH.exec(location.hash);
  if (!match || !state.me) return;
  const token = match[1];
  history.replaceState(null, "", location.pathname + location.search);
  body(h("p", { text: gettext("Loading…") }));
  byId("invite-dialog").showModal();
  try {
    const preview = await api.get(`invites/${token}`);
    body(
      h(
        "div",
        { class: "invite-preview" },
        avatar(preview.name, preview.avatar_url, "large"),
        h("strong", { "data-testid": "invite-group-name", text: preview.name }),
        h("span", { text: format(ngettext("%(count)s member", "%(count)s members", preview.member_count), { count: preview.member_count }) }),
        preview.needs_approval && h("small", { text: gettext("An admin approves each person who joins.") }),
      ),
      actions(token, preview),
    );
  } catch (error) {
    failed(error);
  }
}

export function initInvite(openChat) {
  openChatAt = openChat;
  byId("invite-dialog").querySelector("[data-close]").addEventListener("click", () => byId("invite-dialog").close());
  window.addEventListener("hashchange", showInviteFromLocation);
}
