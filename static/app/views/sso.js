// Single sign-on's return to the page: the server's callback ends on "/#oidc-code=…" (or
// "#oidc-error=<reason>"). The fragment is removed at once (it is never sent to a server nor in a
// Referer, and must not stay in the history), and the code is traded for this browser's session.

import { exchangeSignInCode, signOut } from "../api.js";
import { byId } from "../dom.js";
import { errorText } from "../errors.js";
import { gettext } from "../i18n.js";

const REASONS = {
  email_in_use: () => gettext("An account with this email address exists already. Sign in with its password."),
  user_inactive: () => gettext("This account has been deactivated."),
  provider_refused: () => gettext("The sign-in was cancelled at the provider."),
  provider_unavailable: () => gettext("The sign-in provider cannot be reached. Try again later."),
  code_invalid: () => gettext("This sign-in has expired. Please try again."),
};

const reasonText = (reason) => (REASONS[reason] || (() => gettext("Single sign-on failed. Please try again.")))();

function showError(text) {
  byId("signin-form").querySelector(".form-error").textContent = text;
}

/** Runs before the page decides between sign-in and chat: a returning sign-in replaces any stored session. */
export function initSso(onSignedIn) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get("oidc-code");
  const error = fragment.get("oidc-error");
  if (!code && !error) return;
  history.replaceState(null, "", location.pathname + location.search);
  if (error) {
    showError(reasonText(error));
    return;
  }
  signOut();
  exchangeSignInCode(code).then(onSignedIn, (failure) =>
    showError(failure.details?.reason ? reasonText(failure.details.reason) : errorText(failure)),
  );
}
