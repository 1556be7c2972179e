// What to tell the user about a failed request or frame: the server's stable error_code and
// details.reason, in the user's language. Works for ApiError and for WebSocket `error` payloads.

import { formatDateTime, format, gettext } from "./i18n.js";

const BY_REASON = {
  muted: () => gettext("You are muted in this group."),
  dissolved: () => gettext("This group has been dissolved."),
  not_friends: () => gettext("You can only do this with friends."),
  blocked: () => gettext("You cannot reach this person: one of you has blocked the other."),
  no_active_account: () => gettext("Wrong username or password."),
  taken: () => gettext("That username is taken."),
  weak: () => gettext("That password is too weak: use 8 or more characters, not a common word, not only digits."),
  already_friends: () => gettext("You are already friends."),
  already_requested: () => gettext("A friend request is already waiting."),
  edit_window: () => gettext("This message is too old to edit."),
  too_many_reactions: () => gettext("This message has as many different reactions as it can take."),
  not_moderator: () => gettext("Only the group's owner and admins can do this."),
  in_call: () => gettext("You are already in a call."),
  too_large: () => gettext("That file is too large."),
  quota: () => gettext("Your storage is full: no more uploads fit in your quota."),
  type: () => gettext("That kind of file cannot be sent this way."),
  corrupt: () => gettext("That image cannot be read."),
  image_too_large: () => gettext("That image has too many pixels."),
  empty: () => gettext("That file is empty."),
  used: () => gettext("That file was already sent."),
  too_many: () => gettext("Too many files for one message."),
  wrong_password: () => gettext("This password is wrong."),
  code_invalid: () => gettext("This code is not valid."),
  code_used: () => gettext("This code was used already: wait for the next one."),
  challenge_invalid: () => gettext("This sign-in has expired: sign in with your password again."),
  export_pending: () => gettext("An archive is already being prepared."),
  link_invalid: () => gettext("This link is not valid any more: ask for a new one."),
  email_taken: () => gettext("Another account has confirmed this address."),
  email: () => gettext("That is not an email address."),
  banned: () => gettext("You are banned from this group."),
  expired: () => gettext("This invite link has expired."),
  used_up: () => gettext("This invite link has been used up."),
  revoked: () => gettext("This invite link has been revoked."),
  already_member: () => gettext("Already a member."),
  bot: () => gettext("A bot cannot do this."),
  too_many_pins: () => gettext("This chat has as many pins as it can hold: unpin one first."),
};

const BY_CODE = {
  NETWORK_ERROR: () => gettext("Cannot reach the server."),
  AUTHENTICATION_FAILED: () => gettext("Please sign in again."),
  PERMISSION_DENIED: () => gettext("You are not allowed to do this."),
  NOT_FOUND: () => gettext("That no longer exists."),
  CONFLICT: () => gettext("That is not possible right now."),
  VALIDATION_ERROR: () => gettext("Please check what you entered."),
  INTERNAL_ERROR: () => gettext("Something went wrong on the server."),
};

export function errorText(error) {
  const code = error.code ?? error.error_code;
  const details = error.details || {};
  if (code === "RATE_LIMITED") return format(gettext("Too fast: try again in %(seconds)s s."), { seconds: details.retry_after ?? 1 });
  if (details.reason === "muted" && details.until) {
    return format(gettext("You are muted in this group until %(until)s."), { until: formatDateTime(details.until) });
  }
  const known = BY_REASON[details.reason] || BY_CODE[code];
  return known ? known() : error.message || gettext("Something went wrong.");
}
