// ESLint over the web client's ES modules: the recommended rules in a browser, nothing else.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "tests/", "var/", ".venv/", "media/", "static/admin/", "static/rest_framework/"] },
  {
    files: ["static/app/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    files: ["static/app/sw.js", "static/app/theme-boot.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, ...globals.serviceworker } },
  },
];
