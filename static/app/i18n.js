// Translations come from Django's JavaScriptCatalog (/jsi18n/, loaded before the modules), in the
// language Django chose for the page; dates and times are formatted in that language too. Read from
// globalThis, so the store's unit tests can import this module in Node with a catalog of their own.

const catalog = globalThis.django;

export const gettext = (msgid) => catalog.gettext(msgid);
export const ngettext = (singular, plural, count) => catalog.ngettext(singular, plural, count);
/** "%(name)s" placeholders filled from an object. */
export const format = (template, values) => catalog.interpolate(template, values, true);

const language = globalThis.document?.documentElement.lang || "en";

const timeFormat = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(language, { year: "numeric", month: "short", day: "numeric" });
const shortDateFormat = new Intl.DateTimeFormat(language, { month: "short", day: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" });
const fullDateFormat = new Intl.DateTimeFormat(language, { dateStyle: "full", timeStyle: "medium" });

/** The local calendar day of an ISO timestamp, as a sortable key. */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export const formatTime = (iso) => timeFormat.format(new Date(iso));
export const formatDateTime = (iso) => dateTimeFormat.format(new Date(iso));
/** The whole date and time, weekday and seconds included: a message time's tooltip. */
export const formatFullDate = (iso) => fullDateFormat.format(new Date(iso));

/** A day separator's label: Today, Yesterday or the date. */
export function formatDay(iso) {
  const key = dayKey(iso);
  const today = new Date();
  if (key === dayKey(today)) return gettext("Today");
  today.setDate(today.getDate() - 1);
  if (key === dayKey(today)) return gettext("Yesterday");
  return dateFormat.format(new Date(iso));
}

/** A chat list time: the time today, else the date. */
export const formatListTime = (iso) =>
  dayKey(iso) === dayKey(new Date()) ? formatTime(iso) : shortDateFormat.format(new Date(iso));

/** Seconds as m:ss (h:mm:ss past an hour). */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

const SIZE_UNITS = ["B", "KB", "MB", "GB"];  // the same symbols in both languages

/** A file size in the largest unit (1024 steps) that keeps it at 1 or more, e.g. 4.7 KB. */
export function formatSize(bytes) {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit && value < 10 ? 1 : 0;
  return `${new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(value)} ${SIZE_UNITS[unit]}`;
}
