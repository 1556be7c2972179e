// The colour theme: the system's (prefers-color-scheme, the default), or light or dark as chosen in
// Settings > Appearance and kept in this browser (localStorage). app.css does the rest through
// light-dark(); this module only sets data-theme on <html>. theme-boot.js, a classic script in the
// page's head, applies the stored choice before the first paint; this module changes it.

export const THEMES = ["system", "light", "dark"];
const KEY = "imsuite.theme";  // also read by theme-boot.js

/** The stored choice; "system" when none, or when storage is unavailable. */
export function currentTheme() {
  try {
    const stored = localStorage.getItem(KEY);
    return THEMES.includes(stored) ? stored : "system";
  } catch {
    return "system";
  }
}

function apply(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/** Choose and keep a theme; it applies at once. */
export function setTheme(theme) {
  if (!THEMES.includes(theme)) return;
  try {
    if (theme === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // Storage refused (private mode): the choice lasts for this page only.
  }
  apply(theme);
}

// Another tab of the same browser changed it: follow.
window.addEventListener("storage", (event) => event.key === KEY && apply(currentTheme()));
