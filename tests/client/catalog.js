// Django's JavaScript catalog (/jsi18n/) as the page has it, before i18n.js is evaluated: a
// translation of "Deleted account" shows where the store translates it.
globalThis.django = {
  gettext: (msgid) => (msgid === "Deleted account" ? "Konto gelöscht" : msgid),
  ngettext: (singular, plural, count) => (count === 1 ? singular : plural),
  interpolate: (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name])),
};
