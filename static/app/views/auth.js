// Sign in and create an account (the forms are in templates/app.html).

import { register, signIn, signInSecondStep } from "../api.js";
import { byId } from "../dom.js";
import { errorText } from "../errors.js";

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

/** A form whose submit runs `action(fields)` (false from it: not signed in yet); a failure is
 * shown in the form's alert. */
function handle(form, action, onSignedIn) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".form-error");
    const button = form.querySelector("[type=submit]");
    error.textContent = "";
    button.disabled = true;
    try {
      const done = await action(Object.fromEntries(new FormData(form)));
      form.reset();
      if (done !== false) onSignedIn();
    } catch (failure) {
      error.textContent = errorText(failure);
    } finally {
      button.disabled = false;
    }
  });
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
  const showCodeStep = (shown) => {
    byId("signin-form").hidden = shown;
    byId("signin-code-form").hidden = !shown;
    if (shown) byId("signin-code").focus();
  };
  handle(
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
    onSignedIn,
  );
  handle(
    byId("signin-code-form"),
    async ({ code }) => {
      await signInSecondStep(challenge, code);
      showCodeStep(false);
    },
    onSignedIn,
  );
  byId("signin-code-back").addEventListener("click", () => showCodeStep(false));
  handle(
    byId("register-form"),
    ({ username, nickname, password }) => register({ username, password, ...(nickname.trim() ? { nickname: nickname.trim() } : {}) }),
    onSignedIn,
  );
}

export function showAuth() {
  byId("auth-view").hidden = false;
  byId("signin-username").focus();
}
