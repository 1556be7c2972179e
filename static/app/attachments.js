// Attachments: uploading a file (POST /api/uploads, one XMLHttpRequest each because fetch cannot
// report upload progress), the message type a set of attachments makes, and fresh signed links
// for an attachment whose links expired (GET /api/attachments/<id>).

import { ApiError, api } from "./api.js";
import { freshAccess, refreshAccess } from "./session.js";

/** How many attachments one message may carry (the server's MESSAGE_MAX_ATTACHMENTS default). */
export const MAX_PER_MESSAGE = 10;

export class UploadCancelled extends Error {}

/** The server's answer, or one made up when something in between (a proxy) refused without JSON. */
function refusal(xhr) {
  if (xhr.response && typeof xhr.response === "object") return new ApiError(xhr.status, xhr.response);
  if (xhr.status === 413) return new ApiError(413, { error_code: "VALIDATION_ERROR", details: { reason: "too_large" } });
  return new ApiError(xhr.status, null);
}

/** Upload `file` with the extra form fields (kind, duration, waveform); onProgress gets 0..1.
 * Returns {promise: the attachment object, cancel}; a cancelled upload rejects with UploadCancelled. */
export function upload(file, fields = {}, onProgress = () => {}) {
  let xhr = null;
  let cancelled = false;
  const form = new FormData();  // the fields before the file: a streaming reader has them first
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append("file", file, file.name || "file");

  const once = (token) =>
    new Promise((resolve, reject) => {
      if (cancelled) throw new UploadCancelled();
      xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/uploads");
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new ApiError(0, null));
      xhr.onabort = () => reject(new UploadCancelled());
      xhr.send(form);
    });

  const promise = (async () => {
    const token = await freshAccess();
    let done = await once(token);
    if (done.status === 401) done = await once(await refreshAccess(token));
    if (done.status !== 201) throw refusal(done);
    onProgress(1);
    return done.response;
  })();
  return {
    promise,
    cancel: () => {
      cancelled = true;
      xhr?.abort();
    },
  };
}

/** The message_type the server derives: all images -> image, one voice -> voice, all video ->
 * video, anything else -> file (the client shows a pending message with it). */
export function messageTypeOf(attachments) {
  const kinds = attachments.map((a) => a.kind);
  if (kinds.every((kind) => kind === "image")) return "image";
  if (kinds.length === 1 && kinds[0] === "voice") return "voice";
  if (kinds.every((kind) => kind === "video")) return "video";
  return "file";
}

const fresh = new Map();  // attachment id -> the newest copy fetched for fresh links

/** The attachment with the freshest links this client has. */
export const latest = (attachment) => fresh.get(attachment.id) ?? attachment;

/** Fetch the attachment again (its links are signed and expire). */
export async function refreshLinks(attachment) {
  const next = await api.get(`attachments/${attachment.id}`);
  fresh.set(attachment.id, next);
  return next;
}

/** Whether a signed link's `exp` has passed (a link without one never expires). */
export function linkExpired(url) {
  const exp = Number(new URL(url, location.href).searchParams.get("exp"));
  return Boolean(exp) && exp * 1000 <= Date.now();
}
