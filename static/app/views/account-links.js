// Links mailed by the server open the web client with what they carry in the fragment (never sent
// to a server): #reset-password/<uid>/<token> asks for a new password, #verify-email/<token>
// confirms an address. "Forgot your password?" asks for a reset link.

import { publicPost } from "../api.js";
import { byId } from "../dom.js";
import { gettext } from "../i18n.js";
import { onSubmit } from "./forms.js";
import { toast, toastError } from "./toasts.js";

let resetLink = null;

function showStep(step) {
  byId("reset-request-form").hidden = step !== "request";
  byId("reset-form").hidden = step !== "reset";
  byId("reset-done").hidden = step !== "done";
  const dialog = byId("password-reset-dialog");
  if (!dialog.open) dialog.showModal();
  dialog.querySelector(step === "done" ? "[data-close]" : `#${step === "request" ? "reset-login" : "reset-password"}`).focus();
}

function done(message) {
  byId("reset-done").textContent = message;
  showStep("done");
}

async function verifyEmail(token) {
  try {
    await publicPost("auth/email/verify", { token });
    toast({ message: gettext("Your email address is confirmed."), type: "success" });
  } catch (error) {
    toastError(error);
  }
}

/** Act on a link in the address bar, then take it out (it should not stay in the history). */
function openLink() {
  const [kind, ...parts] = location.hash.slice(1).split("/");
  if (kind !== "reset-password" && kind !== "verify-email") return;
  history.replaceState(null, "", location.pathname + location.search);
  if (kind === "verify-email" && parts.length === 1) verifyEmail(parts[0]);
  if (kind === "reset-password" && parts.length === 2) {
    resetLink = { uid: parts[0], token: parts[1] };
    showStep("reset");
  }
}

export function initAccountLinks() {
  const dialog = byId("password-reset-dialog");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  byId("forgot-password").addEventListener("click", () => showStep("request"));
  onSubmit(
    byId("reset-request-form"),
    ({ login }) => publicPost("auth/password-reset", { login: login.trim() }),
    () => done(gettext("If an account with a confirmed address matches, a link is on its way to that address.")),
  );
  onSubmit(
    byId("reset-form"),
    ({ new_password }) => publicPost("auth/password-reset/confirm", { ...resetLink, new_password }),
    () => done(gettext("Your password is changed and every session is signed out: sign in with the new password.")),
  );
  window.addEventListener("hashchange", openLink);
  openLink();
}
