// Settings › Two-factor sign-in: turn it on (QR code, then a first code, then the recovery codes,
// shown once), get new recovery codes, or turn it off (a code or the password).

import { api } from "../api.js";
import { byId, button, h } from "../dom.js";
import { errorText } from "../errors.js";
import { format, gettext } from "../i18n.js";
import { openSettings, registerSettingsPanel } from "./settings.js";

const panel = () => byId("settings-two-factor");

/** The panel's content below its heading. */
function show(...nodes) {
  const root = panel();
  root.replaceChildren(root.querySelector("h3"), ...nodes);
}

/** A one-field form: label, input, submit; `action(value)` runs on submit, its failure shown. */
function codeForm({ id, label, submit, action, type = "text", autocomplete = "one-time-code" }) {
  const error = h("p", { class: "form-error", role: "alert", "data-testid": `${id}-error` });
  const input = h("input", { id, name: "value", type, autocomplete, required: true, maxlength: 128, "data-testid": id });
  const form = h(
    "form",
    { class: "stack compact", "data-testid": `${id}-form` },
    h("label", { for: id, text: label }),
    input,
    error,
    h("button", { type: "submit", class: "primary", text: submit, "data-testid": `${id}-submit` }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await action(input.value.trim());
    } catch (failure) {
      error.textContent = errorText(failure);
    }
  });
  return form;
}

function showRecoveryCodes(codes) {
  show(
    h("p", { text: gettext("Your recovery codes. Keep them somewhere safe: each one signs you in once if you lose your phone. They are shown only now.") }),
    h("ul", { class: "recovery-codes", "data-testid": "recovery-codes" }, codes.map((code) => h("li", {}, h("code", { text: code })))),
    button(gettext("I have saved them"), () => load(), { class: "primary", "data-testid": "recovery-codes-done" }),
  );
}

async function startEnrolment() {
  const enrolment = await api.post("users/me/two-factor/enrol");
  const picture = URL.createObjectURL(new Blob([enrolment.qr_svg], { type: "image/svg+xml" }));
  const secret = new URL(enrolment.otpauth_uri).searchParams.get("secret");
  show(
    h("p", { text: gettext("Scan this code with an authenticator app, then enter the 6-digit code it shows.") }),
    h("img", { class: "qr-code", src: picture, alt: gettext("QR code for your authenticator app"), "data-testid": "two-factor-qr" }),
    h("p", {}, gettext("Or enter this key by hand:"), " ", h("code", { text: secret, "data-testid": "two-factor-secret" })),
    codeForm({
      id: "two-factor-confirm",
      label: gettext("Code from your authenticator app"),
      submit: gettext("Turn on"),
      action: async (code) => showRecoveryCodes((await api.post("users/me/two-factor/confirm", { code })).recovery_codes),
    }),
  );
}

function renderOn(status) {
  show(
    h("p", { "data-testid": "two-factor-state", text: gettext("Two-factor sign-in is on.") }),
    h("p", { text: format(gettext("Recovery codes left: %(count)s"), { count: status.recovery_codes_left }) }),
    codeForm({
      id: "two-factor-regenerate",
      label: gettext("Code from your authenticator app"),
      submit: gettext("New recovery codes"),
      action: async (code) => showRecoveryCodes((await api.post("users/me/two-factor/recovery-codes", { code })).recovery_codes),
    }),
    codeForm({
      id: "two-factor-disable",
      label: gettext("Your password"),
      submit: gettext("Turn off"),
      type: "password",
      autocomplete: "current-password",
      action: async (password) => {
        await api.post("users/me/two-factor/disable", { password });
        await load();
      },
    }),
  );
}

function renderOff(status) {
  show(
    h("p", { "data-testid": "two-factor-state", text: gettext("Two-factor sign-in is off.") }),
    status.required && h("p", { class: "form-error", "data-testid": "two-factor-required", text: gettext("Staff accounts must turn on two-factor sign-in.") }),
    h("p", { text: gettext("With it on, signing in asks for a code from an app on your phone as well as your password.") }),
    button(gettext("Turn on two-factor sign-in"), () => startEnrolment().catch((failure) => show(h("p", { class: "form-error", role: "alert", text: errorText(failure) }))), {
      class: "primary",
      "data-testid": "two-factor-enrol",
    }),
  );
}

async function load() {
  try {
    const status = await api.get("users/me/two-factor");
    (status.enabled ? renderOn : renderOff)(status);
  } catch (failure) {
    show(h("p", { class: "form-error", role: "alert", text: errorText(failure) }));
  }
}

export function initTwoFactorSettings() {
  registerSettingsPanel("two-factor", load);
}

/** Staff who must have a second factor (TWO_FACTOR_REQUIRED_FOR_STAFF) and have none are taken
 * to this panel after signing in. */
export async function openTwoFactorIfRequired() {
  const status = await api.get("users/me/two-factor");
  if (status.required && !status.enabled) openSettings("two-factor");
}
