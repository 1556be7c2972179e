// The signed-in session: the JWT pair lives in localStorage, so it survives a reload and is shared
// by the tabs of this browser; the access token is refreshed (and the refresh token rotated) on
// demand, one refresh at a time across tabs.

const KEY = "imsuite.session";
const EXPIRY_MARGIN_MS = 20_000;
const endedListeners = new Set();

export function currentTokens() {
  try {
    return JSON.parse(localStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export const storeTokens = ({ access, refresh }) => localStorage.setItem(KEY, JSON.stringify({ access, refresh }));
export const forgetTokens = () => localStorage.removeItem(KEY);
export const onSessionEnded = (listener) => endedListeners.add(listener);

/** The session is over (refused refresh, signed out elsewhere, deactivated): back to sign-in. */
export function endSession() {
  forgetTokens();
  endedListeners.forEach((listener) => listener());
}

window.addEventListener("storage", (event) => {
  if (event.key === KEY && event.newValue === null) endedListeners.forEach((listener) => listener());
});

function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.exp * 1000;
  } catch {
    return 0;
  }
}

/** Web Locks where the page is a secure context; a plain call elsewhere (one tab then may lose a race). */
const oneAtATime = (task) => (navigator.locks ? navigator.locks.request("imsuite-token-refresh", task) : task());

export class SessionEnded extends Error {}

/** A new access token in place of `staleAccess`; another tab's fresh pair is used when there is one. */
export function refreshAccess(staleAccess) {
  return oneAtATime(async () => {
    const tokens = currentTokens();
    if (!tokens) throw new SessionEnded();
    if (tokens.access !== staleAccess && expiresAt(tokens.access) > Date.now() + EXPIRY_MARGIN_MS) {
      return tokens.access;
    }
    const response = await fetch("/api/auth/token/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh: tokens.refresh }),
    });
    if (response.status === 401 || response.status === 400) {
      endSession();
      throw new SessionEnded();
    }
    if (!response.ok) throw new Error(`refresh failed: HTTP ${response.status}`);
    const pair = await response.json();
    storeTokens(pair);
    return pair.access;
  });
}

/** An access token good for a while yet, refreshed first when it is about to expire. */
export async function freshAccess() {
  const tokens = currentTokens();
  if (!tokens) throw new SessionEnded();
  if (expiresAt(tokens.access) > Date.now() + EXPIRY_MARGIN_MS) return tokens.access;
  return refreshAccess(tokens.access);
}
