// Sign in and create an account (the forms are in templates/app.html).

import { register, signIn, signInSecondStep } from "../api.js";
import { byId } from "../dom.js";
import { onSubmit } from "./forms.js";

const TABS = [
  ["tab-signin", "signin-form"],
  ["tab-register", "register-form"],
];

function selectTab(selectedId) {
  for (const [tabId, formId] of TABS) {
    const selected = tabId === selectedId;
    byId(tabId).setAttribute("aria-selected", String(selected));
    byId(tabId).tabIndex = selected ? 0 : -1;
    byId(formId).hidden = !selected;
  }
  byId("signin-code-form").hidden = true;
}

export function initAuth(onSignedIn) {
  for (const [tabId] of TABS) byId(tabId).addEventListener("click", () => selectTab(tabId));
  byId("auth-view").querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const next = TABS.find(([tabId]) => tabId !== event.target.id)[0];
    selectTab(next);
    byId(next).focus();
  });
  let challenge = null;
  const signedIn = (result) => result !== false && onSignedIn();
  const showCodeStep = (shown) => {
    byId("signin-form").hidden = shown;
    byId("signin-code-form").hidden = !shown;
    if (shown) byId("signin-code").focus();
  };
  onSubmit(
    byId("signin-form"),
    async ({ username, password }) => {
      try {
        await signIn(username, password);
      } catch (failure) {
        if (failure.details?.reason !== "two_factor_required") throw failure;
        challenge = failure.details.challenge;
        showCodeStep(true);
        return false;
      }
    },
    signedIn,
  );
  onSubmit(
    byId("signin-code-form"),
    async ({ code }) => {
      await signInSecondStep(challenge, code);
      showCodeStep(false);
    },
    signedIn,
  );
  byId("signin-code-back").addEventListener("click", () => showCodeStep(false));
  onSubmit(
    byId("register-form"),
    ({ username, nickname, email, password }) =>
      register({ username, password, ...(nickname.trim() ? { nickname: nickname.trim() } : {}), ...(email.trim() ? { email: email.trim() } : {}) }),
    onSignedIn,
  );
}

/** The sign-in screen, as after a sign-out: the sign-in tab (whichever form was used last) with
 * both forms emptied, the focus on the user name. */
export function showAuth() {
  for (const [, formId] of TABS) byId(formId).reset();
  selectTab("tab-signin");
  byId("auth-view").hidden = false;
  byId("signin-username").focus();
}

/** After signing in the focus would be left on the hidden form: put it on the chat filter. */
export function focusAfterSignIn() {
  byId("chat-filter").focus();
}
