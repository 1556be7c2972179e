// Group data for the conversation and the group panel: details, members, notices and (for the
// owner and admins) join requests, bans, invite links and open reports, reloaded whenever a group.* event concerns the group.

import { api } from "./api.js";
import { putGroup, state } from "./store.js";

export const isModerator = (role) => role === "owner" || role === "admin";

export async function loadGroup(groupId) {
  const [info, members, notices] = await Promise.all([
    api.get(`groups/${groupId}`),
    api.get(`groups/${groupId}/members`),
    api.get(`groups/${groupId}/notices`),
  ]);
  // Members first (the composer's mentions need them), then what only managers see (until it
  // comes, a manager keeps seeing what was loaded before).
  const manages = isModerator(info.my_role) && !info.dissolved_at;
  const before = (manages && state.groups.get(groupId)) || {};
  const { joinRequests: requested = [], banned: kept = [], invites: links = [], reports: reported = [] } = before;
  putGroup(groupId, { info, members, notices, joinRequests: requested, banned: kept, invites: links, reports: reported });
  if (!manages) return;
  const parts = ["join-requests", "banned", "invites", "reports"];
  const [joinRequests, banned, invites, reports] = await Promise.all(parts.map((part) => api.get(`groups/${groupId}/${part}`)));
  putGroup(groupId, { info, members, notices, joinRequests, banned, invites, reports });
}

export const memberOf = (group, userId) => group?.members.find((member) => member.user_id === userId);

const inFuture = (iso) => Boolean(iso) && Date.parse(iso) > Date.now();

/** Why the signed-in user cannot write in this group now: {reason: "dissolved"|"muted"|"all_muted", until}, or null. */
export function speakingBlock(group) {
  if (!group) return null;
  if (group.info.dissolved_at) return { reason: "dissolved" };
  const own = memberOf(group, state.me.id)?.muted_until;
  const everyone = isModerator(group.info.my_role) ? null : group.info.muted_until;
  if (inFuture(everyone) && !(inFuture(own) && Date.parse(own) > Date.parse(everyone))) return { reason: "all_muted", until: everyone };
  if (inFuture(own)) return { reason: "muted", until: own };
  return null;
}

export const isMuted = (member) => inFuture(member.muted_until);
