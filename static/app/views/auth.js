// Sign in and create an account (the forms are in templates/app.html).

import { register, signIn } from "../api.js";
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
}

export function initAuth(onSignedIn) {
  for (const [tabId] of TABS) byId(tabId).addEventListener("click", () => selectTab(tabId));
  byId("auth-view").querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const next = TABS.find(([tabId]) => tabId !== event.target.id)[0];
    selectTab(next);
    byId(next).focus();
  });
  onSubmit(byId("signin-form"), ({ username, password }) => signIn(username, password), onSignedIn);
  onSubmit(
    byId("register-form"),
    ({ username, nickname, email, password }) =>
      register({ username, password, ...(nickname.trim() ? { nickname: nickname.trim() } : {}), ...(email.trim() ? { email: email.trim() } : {}) }),
    onSignedIn,
  );
}

export function showAuth() {
  byId("auth-view").hidden = false;
  byId("signin-username").focus();
}
