// ESLint over the web client's ES modules and the store's unit tests: the recommended rules, in a
// browser (the client) or in Node (the tests), and the store's rule below.
import js from "@eslint/js";
import globals from "globals";

// State changes only through the store's actions: outside the store modules, nothing assigns to,
// increments or calls a mutating method on anything reached from `state` in the same expression
// (state.me = …, state.chats.get(id).unread_count = …, state.groups.set(…)). What a module keeps
// in a variable of its own (const chat = state.chats.get(id)) is beyond a syntax rule: review it.
const REACHED_FROM_STATE = "Identifier.object[name='state']";
const MUTATORS = "/^(set|delete|clear|push|pop|shift|unshift|splice|sort|reverse|fill|copyWithin)$/";
const OBJECT_ASSIGN = "CallExpression[callee.object.name='Object'][callee.property.name='assign']";
const message = "Change the state through a store action (store.js, store-chats.js, store-messages.js).";
const storeOnly = [
  { selector: `AssignmentExpression > MemberExpression.left ${REACHED_FROM_STATE}`, message },
  { selector: `UpdateExpression > MemberExpression.argument ${REACHED_FROM_STATE}`, message },
  { selector: `CallExpression > MemberExpression.callee[property.name=${MUTATORS}] > MemberExpression.object ${REACHED_FROM_STATE}`, message },
  { selector: `${OBJECT_ASSIGN} > .arguments:first-child ${REACHED_FROM_STATE}`, message },
  { selector: `${OBJECT_ASSIGN} > Identifier.arguments:first-child[name='state']`, message },
];

export default [
  { ignores: ["node_modules/", "tests/*", "!tests/client/", "var/", ".venv/", "media/", "static/admin/", "static/rest_framework/"] },
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
    files: ["static/app/**/*.js"],
    ignores: ["static/app/store.js", "static/app/store-*.js"],
    rules: { "no-restricted-syntax": ["error", ...storeOnly] },
  },
  {
    files: ["static/app/sw.js", "static/app/theme-boot.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, ...globals.serviceworker } },
  },
  {
    files: ["tests/client/**/*.js"],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
