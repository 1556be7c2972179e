// Settings › Your data: download an archive of your data (built in the background), and delete
// your account (after a grace period; signing in again within it cancels the deletion).

import { api, download, signOut } from "../api.js";
import { byId, button, h } from "../dom.js";
import { errorText } from "../errors.js";
import { formatDateTime, formatSize, gettext } from "../i18n.js";
import { ask } from "./ask.js";
import { registerSettingsPanel } from "./settings.js";

const POLL_MS = 3000; // while an export is being prepared and the panel is open

let poll = null;

const STATUS = {
  pending: () => gettext("Being prepared…"),
  ready: () => gettext("Ready"),
  failed: () => gettext("Failed"),
  expired: () => gettext("Expired"),
};

async function save(item) {
  const blob = await download(item.download_url.replace(/^\/api\//, ""));
  const link = h("a", { href: URL.createObjectURL(blob), download: `imsuite-export-${item.id}.zip` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

function exportRow(item) {
  return h(
    "li",
    { "data-testid": "export-item", "data-status": item.status },
    h("span", { text: `${formatDateTime(item.created_at)} · ${STATUS[item.status]()}` }),
    item.status === "ready" && h("span", { text: ` · ${formatSize(item.size)}` }),
    item.status === "ready" &&
      button(gettext("Download"), () => save(item).catch((failure) => showError(failure)), { "data-testid": "export-download" }),
  );
}

function showError(failure) {
  byId("data-error").textContent = errorText(failure);
}

async function loadExports() {
  clearTimeout(poll);
  const items = await api.get("users/me/exports");
  byId("export-list").replaceChildren(...items.map(exportRow));
  if (items.some((item) => item.status === "pending") && !byId("settings-data").hidden) {
    poll = setTimeout(() => loadExports().catch(showError), POLL_MS);
  }
}

async function requestExport() {
  byId("data-error").textContent = "";
  try {
    await api.post("users/me/exports");
    await loadExports();
  } catch (failure) {
    showError(failure);
  }
}

async function deleteAccount(form) {
  const error = form.querySelector(".form-error");
  error.textContent = "";
  const { password, code } = Object.fromEntries(new FormData(form));
  const sure = await ask({ title: gettext("Delete your account?"), confirmOnly: true });
  if (sure === null) return;
  const entry = code.trim();
  const second = !entry ? {} : /^\d+$/.test(entry) ? { code: entry } : { recovery_code: entry };
  try {
    await api.post("users/me/deletion", { password, ...second });
  } catch (failure) {
    error.textContent = errorText(failure);
    return;
  }
  await signOut();
  location.reload();
}

function build() {
  const panel = byId("settings-data");
  const form = h(
    "form",
    { class: "stack compact", "data-testid": "delete-account-form" },
    h("label", { for: "delete-password", text: gettext("Your password") }),
    h("input", { id: "delete-password", name: "password", type: "password", autocomplete: "current-password", required: true, "data-testid": "delete-password" }),
    h("label", { for: "delete-code", text: gettext("Two-factor code (if it is on)") }),
    h("input", { id: "delete-code", name: "code", autocomplete: "one-time-code", maxlength: 32, "data-testid": "delete-code" }),
    h("p", { class: "form-error", role: "alert", "data-testid": "delete-error" }),
    h("button", { type: "submit", class: "danger", text: gettext("Delete my account"), "data-testid": "delete-account" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    deleteAccount(form);
  });
  panel.append(
    h("h4", { text: gettext("Download your data") }),
    h("p", { text: gettext("An archive of your profile, the messages you sent, your files, friends, groups and sessions.") }),
    button(gettext("Prepare an archive"), requestExport, { class: "primary", "data-testid": "export-request" }),
    h("p", { id: "data-error", class: "form-error", role: "alert", "data-testid": "data-error" }),
    h("ul", { id: "export-list", class: "export-list", "data-testid": "export-list" }),
    h("h4", { text: gettext("Delete your account") }),
    h("p", {
      text: gettext("You are signed out everywhere at once. After the grace period your profile, files and friends are removed; your messages stay in others' chats as “Deleted account”. Signing in again before then cancels the deletion."),
    }),
    form,
  );
}

export function initDataSettings() {
  build();
  registerSettingsPanel("data", () => loadExports().catch(showError));
}
