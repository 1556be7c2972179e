// Files on their way into a message: picked with the attach button, dropped on the chat or pasted.
// Each uploads at once and shows in the tray above the composer with a progress bar and a cancel
// button. Sending takes the chat's tray as one batch with the typed text as its caption; the
// message goes once the batch's uploads are done (a voice message is a batch of its own at once).

import { MAX_PER_MESSAGE, UploadCancelled, upload } from "../attachments.js";
import { byId, h } from "../dom.js";
import { errorText } from "../errors.js";
import { formatDuration, formatSize, format, gettext } from "../i18n.js";
import { icon } from "../icons.js";
import { sendMessage } from "../messaging.js";
import { state } from "../store.js";
import { toast } from "./toasts.js";

const items = [];  // {chatId, file, label, status: "uploading" | "ready", attachment, cancel, batch, node, bar}

const itemsOf = (chatId) => items.filter((item) => item.chatId === chatId);

/** Whether the chat has files waiting for the next message. */
export const hasStaged = (chatId) => itemsOf(chatId).some((item) => !item.batch);

function forget(item) {
  items.splice(items.indexOf(item), 1);
  if (item.preview) URL.revokeObjectURL(item.preview);
  renderTray();
}

/** Send what a batch holds once none of its uploads is still running. */
function flush(batch) {
  const members = items.filter((item) => item.batch === batch);
  if (members.some((item) => item.status === "uploading")) return;
  members.forEach(forget);
  const attachments = members.map((item) => item.attachment);
  if (!attachments.length && !batch.caption) return;
  for (let i = 0; i === 0 || i < attachments.length; i += MAX_PER_MESSAGE) {
    const first = i === 0;
    sendMessage(batch.chatId, first ? batch.caption : "", { replyToId: first ? batch.replyToId : null, attachments: attachments.slice(i, i + MAX_PER_MESSAGE) });
  }
}

function itemNode(item) {
  const image = item.file.type.startsWith("image/");
  if (image) item.preview = URL.createObjectURL(item.file);
  item.bar = h("progress", { max: "1", value: "0", "aria-label": format(gettext("Uploading %(name)s"), { name: item.label }), "data-testid": "upload-progress" });
  const cancel = () => (item.status === "uploading" ? item.cancel() : forget(item));
  return h(
    "li",
    { class: "upload", "data-testid": "upload", "data-status": item.status },
    image ? h("img", { class: "upload-preview", src: item.preview, alt: "" }) : h("span", { class: "upload-preview" }, icon(item.fields.kind === "voice" ? "mic" : "file")),
    h("span", { class: "upload-text" }, h("span", { class: "upload-name", text: item.label }), h("small", { text: formatSize(item.file.size) })),
    item.bar,
    h("button", { type: "button", class: "icon-button", "data-testid": "upload-cancel", "aria-label": format(gettext("Cancel %(name)s"), { name: item.label }), title: gettext("Cancel"), onclick: cancel }, icon("close")),
  );
}

function start(chatId, file, { label = file.name, fields = {}, batch = null } = {}) {
  const item = { chatId, file, label, fields, status: "uploading", attachment: null, batch };
  item.node = itemNode(item);
  const task = upload(file, fields, (fraction) => {
    item.bar.value = fraction;
  });
  item.cancel = task.cancel;
  items.push(item);
  renderTray();
  task.promise.then(
    (attachment) => {
      item.status = "ready";
      item.attachment = attachment;
      item.node.dataset.status = "ready";
      if (item.batch) flush(item.batch);
    },
    (error) => {
      if (!(error instanceof UploadCancelled)) toast({ title: item.label, message: errorText(error), type: "error" });
      forget(item);
      if (item.batch) flush(item.batch);
    },
  );
}

/** Files picked, dropped or pasted into a chat: each starts uploading. */
export function addFiles(chatId, files) {
  for (const file of files) start(chatId, file);
}

/** A recorded voice message: uploaded with its duration and waveform, then sent on its own. */
export function addVoice(chatId, file, { duration, waveform }) {
  const fields = { kind: "voice", duration: String(duration) };
  if (waveform) fields.waveform = JSON.stringify(waveform);
  const label = format(gettext("Voice message (%(duration)s)"), { duration: formatDuration(duration) });
  start(chatId, file, { label, fields, batch: { chatId, caption: "", replyToId: null } });
}

/** Send the chat's tray as one message (more when it holds more than a message may carry). */
export function sendStaged(chatId, caption, replyToId) {
  const batch = { chatId, caption, replyToId };
  itemsOf(chatId).filter((item) => !item.batch).forEach((item) => {
    item.batch = batch;
    item.node.classList.add("queued");
  });
  flush(batch);
}

/** The open chat's uploads (the tray of another chat waits for its return). */
export function renderTray() {
  const tray = byId("upload-tray");
  const shown = itemsOf(state.currentChatId);
  tray.replaceChildren(...shown.map((item) => item.node));
  tray.hidden = !shown.length;
}

const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");

/** The attach button, dropping on the open chat and pasting files (none while the composer is closed). */
export function initUploadTray() {
  const input = byId("attach-input");
  const chatView = byId("chat-view");
  const dropZone = byId("drop-zone");
  const closed = () => byId("attach-button").disabled || !state.currentChatId;
  byId("attach-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    addFiles(state.currentChatId, [...input.files]);
    input.value = "";
  });
  chatView.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length || closed()) return;
    event.preventDefault();
    addFiles(state.currentChatId, files);
  });
  chatView.addEventListener("dragover", (event) => {
    if (!hasFiles(event) || closed()) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropZone.hidden = false;
  });
  chatView.addEventListener("dragleave", (event) => {
    if (!chatView.contains(event.relatedTarget)) dropZone.hidden = true;
  });
  // Files let go anywhere else do nothing (the browser would leave the page to show them).
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => hasFiles(event) && event.preventDefault());
  chatView.addEventListener("drop", (event) => {
    dropZone.hidden = true;
    if (!hasFiles(event) || closed()) return;
    event.preventDefault();
    addFiles(state.currentChatId, [...event.dataTransfer.files]);
  });
}

/** Signing out: every upload stops and the trays empty. */
export function cancelUploads() {
  for (const item of [...items]) {
    item.batch = null;
    if (item.status === "uploading") item.cancel();
    else forget(item);
  }
}
