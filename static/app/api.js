// REST: JSON in and out, the Bearer access token on every call, one refresh-and-retry when the
// server refuses a token, and the server's {error_code, message, details} as ApiError.

import { currentTokens, forgetTokens, freshAccess, refreshAccess, storeTokens } from "./session.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error_code || (status === 0 ? "NETWORK_ERROR" : "INTERNAL_ERROR");
    this.details = body?.details || {};
  }
}

/** A body: FormData goes as multipart (the browser sets its boundary), anything else as JSON. */
async function call(method, path, body, token) {
  const headers = { Accept: "application/json" };
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(`/api/${path}`, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null);
  }
}

async function result(response) {
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function authorized(method, path, body) {
  const token = await freshAccess();
  const response = await call(method, path, body, token);
  return response.status === 401 ? call(method, path, body, await refreshAccess(token)) : response;
}

async function request(method, path, body) {
  return result(await authorized(method, path, body));
}

/** A file the API serves to its signed-in owner only (a data export), as a Blob. */
export async function download(path) {
  const response = await authorized("GET", path);
  if (!response.ok) return result(response);
  return response.blob();
}

/** A path with its query string; undefined and null values are left out. */
export function withQuery(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== undefined && value !== null));
  return query.size ? `${path}?${query}` : path;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  patch: (path, body) => request("PATCH", path, body),
  put: (path, body) => request("PUT", path, body),
  delete: (path) => request("DELETE", path),
};

/** A call that needs no session (password reset, email verification). */
export const publicPost = async (path, body) => result(await call("POST", path, body));

/** With two-factor sign-in on, this throws ApiError with details.reason "two_factor_required"
 * and details.challenge, for signInSecondStep. */
export async function signIn(username, password) {
  storeTokens(await result(await call("POST", "auth/token", { username, password })));
}

/** Single sign-on: the one-time code from the provider's callback, traded for this browser's session. */
export async function exchangeSignInCode(code) {
  storeTokens(await result(await call("POST", "auth/oidc/exchange", { code })));
}

/** The second step: the challenge with a code (6 digits) or else a recovery code. */
export async function signInSecondStep(challenge, entry) {
  const code = entry.replace(/\s/g, "");
  const body = /^\d+$/.test(code) ? { challenge, code } : { challenge, recovery_code: code };
  storeTokens(await result(await call("POST", "auth/token/two-factor", body)));
}

export async function register(fields) {
  await result(await call("POST", "auth/register", fields));
  await signIn(fields.username, fields.password);
}

/** Revokes this device's refresh token (the server then closes this session's WebSocket). */
export async function signOut() {
  const tokens = currentTokens();
  forgetTokens();
  if (tokens) await call("POST", "auth/logout", { refresh: tokens.refresh }).catch(() => null);
}
