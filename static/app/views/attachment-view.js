// Attachments in a bubble: images as thumbnails (their size reserved before they load, a click
// opens the full image in the viewer), videos inline, voice messages with their player, other
// files as a card (name, size, download). Links are signed and expire: an element whose link
// fails asks the server once for fresh links and tries again.

import { latest, linkExpired, refreshLinks } from "../attachments.js";
import { byId, h } from "../dom.js";
import { formatDuration, formatSize, format, gettext } from "../i18n.js";
import { icon } from "../icons.js";
import { voicePlayer } from "./voice-player.js";

const THUMB_BOX_PX = 280;  // a thumbnail is shown at most this wide and this high

/** Set the src of `el` to the link `pick` chooses; on a load error, once, to a fresh one. */
function linked(el, attachment, pick) {
  el.src = pick(latest(attachment));
  el.addEventListener("error", async () => {
    if (el.dataset.refreshed) return;
    el.dataset.refreshed = "true";
    try {
      el.src = pick(await refreshLinks(attachment));
    } catch {
      el.dataset.broken = "true";
    }
  });
  return el;
}

const thumbOf = (attachment) => attachment.thumbnail || attachment.url;
const urlOf = (attachment) => attachment.url;

/** The displayed size of an image or video: its own, scaled down into the thumbnail box. */
function displaySize({ width, height }) {
  if (!width || !height) return {};
  const scale = Math.min(1, THUMB_BOX_PX / width, THUMB_BOX_PX / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function imageNode(attachment) {
  const img = h("img", { alt: attachment.name, ...displaySize(attachment), "data-testid": "attachment-thumbnail", "data-attachment-id": attachment.id });
  return h(
    "button",
    { type: "button", class: "attachment-image", "aria-label": format(gettext("Open image %(name)s"), { name: attachment.name }), onclick: () => openViewer(attachment) },
    linked(img, attachment, thumbOf),
  );
}

function videoNode(attachment) {
  const video = h("video", { class: "attachment-video", controls: true, preload: "metadata", playsinline: true, ...displaySize(attachment), "data-testid": "attachment-video", "aria-label": attachment.name });
  if (attachment.thumbnail) video.poster = latest(attachment).thumbnail;
  return linked(video, attachment, urlOf);
}

function voiceNode(attachment) {
  const audio = h("audio", { class: "voice-audio", preload: "metadata", "data-testid": "voice-audio", "data-attachment-id": attachment.id });
  return voicePlayer(attachment, linked(audio, attachment, urlOf));
}

function fileNode(attachment) {
  const link = h(
    "a",
    { class: "file-card", download: attachment.name, "data-testid": "file-card", "aria-label": format(gettext("Download %(name)s"), { name: attachment.name }) },
    icon("file"),
    h("span", { class: "file-card-text" }, h("span", { class: "file-card-name", text: attachment.name }), h("small", { class: "file-card-size", text: formatSize(attachment.size) })),
  );
  link.href = latest(attachment).url;
  link.addEventListener("click", async (event) => {
    if (!linkExpired(link.href)) return;
    event.preventDefault();
    link.href = (await refreshLinks(attachment)).url;
    link.click();
  });
  return link;
}

const NODES = { image: imageNode, video: videoNode, voice: voiceNode, file: fileNode };

/** The attachments of a message, in order. */
export function attachmentsNode(message) {
  return h(
    "div",
    { class: `attachments kinds-${message.message_type}`, "data-testid": "attachments" },
    message.attachments.map((attachment) => h("div", { class: `attachment attachment-${attachment.kind}`, "data-kind": attachment.kind }, (NODES[attachment.kind] || fileNode)(attachment))),
  );
}

/** A one-line stand-in for a message with attachments (chat list, reply quotes); null for others. */
export function mediaLabel(message) {
  const attachments = message.attachments || [];
  if (!attachments.length) return null;
  let label = gettext("File");
  if (message.message_type === "image") label = gettext("Image");
  else if (message.message_type === "video") label = gettext("Video");
  else if (message.message_type === "voice") label = format(gettext("Voice message (%(duration)s)"), { duration: formatDuration(attachments[0].duration ?? 0) });
  else if (attachments.length === 1) label = attachments[0].name;
  return message.content ? `${label}: ${message.content}` : label;
}

// ---- the full-size viewer -------------------------------------------------------------------

function openViewer(attachment) {
  const viewer = byId("media-viewer");
  const img = h("img", { class: "viewer-image", alt: attachment.name, width: attachment.width, height: attachment.height, "data-testid": "media-viewer-image" });
  byId("media-viewer-frame").replaceChildren(linked(img, attachment, urlOf));
  byId("media-viewer-title").textContent = attachment.name;
  viewer.showModal();
  viewer.querySelector(".viewer-close").focus();
}

/** The viewer closes on Escape (the dialog's own), its close button, or a click anywhere. */
export function initViewer() {
  const viewer = byId("media-viewer");
  viewer.addEventListener("click", () => viewer.close());
  viewer.addEventListener("close", () => byId("media-viewer-frame").replaceChildren());
}
