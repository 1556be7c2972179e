// The chosen colour theme on <html> before the page is first painted: a classic script in the
// head, which blocks rendering as an ES module cannot (CSP allows no inline script). theme.js
// (the module, same key) changes the choice later.
(function applyStoredTheme() {
  try {
    const theme = localStorage.getItem("imsuite.theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch {
    // Storage unavailable: the system's theme.
  }
})();
