// DOM building without HTML parsing: every piece of data goes in through textContent or
// setAttribute, so message content, names, cards and notices can never inject markup.

export const byId = (id) => document.getElementById(id);

/** An element: props are attributes ("class", "data-*", "aria-*", ...), `text` (textContent) or
 * on<event> listeners; children are nodes or strings (strings become text nodes). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return el;
}

export const button = (label, onclick, attrs = {}) => h("button", { type: "button", ...attrs, onclick, text: label });

/** The URL if it is an absolute http(s) URL (or one relative to `base`), else null: the only kind
 * put into src or href. */
export function safeUrl(value, base = undefined) {
  try {
    const url = new URL(value, base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

const URL_PATTERN = /https?:\/\/[^\s<>"]+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;

/** Text with its http(s) URLs as links, as a list of text nodes and <a> elements. */
export function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = match[0].replace(TRAILING_PUNCTUATION, "");
    const href = safeUrl(raw);
    if (!href) continue;
    parts.push(text.slice(last, match.index));
    parts.push(h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: raw }));
    last = match.index + raw.length;
  }
  parts.push(text.slice(last));
  return parts.filter((part) => part !== "");
}

/** An avatar: the picture when its URL is safe, else the name's first letter. An uploaded avatar's
 * URL is relative to this server unless the server has a PUBLIC_BASE_URL. */
export function avatar(name, url, extraClass = "") {
  const src = url && safeUrl(url, location.origin);
  const el = h("span", { class: `avatar ${extraClass}`.trim(), "aria-hidden": "true" });
  if (src) el.append(h("img", { src, alt: "", loading: "lazy" }));
  else el.textContent = (name || "?").trim().charAt(0).toUpperCase() || "?";
  return el;
}

/** Make parent's children exactly `nodes`, in order, touching only what moved: nodes that stay
 * in place keep their focus and scroll state. */
export function reconcile(parent, nodes) {
  nodes.forEach((node, index) => {
    if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

/** Put an existing avatar slot (by id) in line with a name and URL. */
export function fillAvatar(slot, name, url) {
  slot.replaceChildren(...avatar(name, url).childNodes);
}

/** The node for `key`, rebuilt only when its signature changed (the cache is the caller's Map). */
export function cached(cache, key, signature, build) {
  const hit = cache.get(key);
  if (hit && hit.signature === signature) return hit.node;
  const node = build();
  cache.set(key, { signature, node });
  return node;
}

/** Re-render a container without losing what the user was doing in it: typed values, open
 * <details> menus and the focused control are carried over by their data-key attributes (a
 * control inside a menu that is gone hands the focus to its summary). */
export function rerender(container, render) {
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const values = [...container.querySelectorAll("input[data-key], textarea[data-key], select[data-key]")].map((el) => [el.dataset.key, el.value]);
  const open = [...container.querySelectorAll("details[open][data-key]")].map((el) => el.dataset.key);
  render();
  const find = (key) => container.querySelector(`[data-key="${CSS.escape(key)}"]`);
  values.forEach(([key, value]) => {
    const el = find(key);
    if (el && value) el.value = value;
  });
  open.forEach((key) => {
    const el = find(key);
    if (el) el.open = true;
  });
  const target = focused && find(focused);
  if (target) (target.closest("details:not([open])")?.querySelector("summary") ?? target).focus();
}
