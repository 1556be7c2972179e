// The previews of the pages a message links to (message.preview, link_previews): a card each with
// the site, title, description and thumbnail, opening the link in a new tab without telling the
// site where it came from. Pictures are only ever loaded from this server (it fetched and shrank
// them): a linked site never learns a reader's address from a preview.

import { h, safeUrl } from "../dom.js";
import { gettext } from "../i18n.js";

/** The thumbnail's address if it is on this server's origin, else null. */
function ownImage(value) {
  const url = value && safeUrl(value, location.href);
  return url && new URL(url).origin === location.origin ? url : null;
}

function card(preview) {
  const href = safeUrl(preview.url);
  if (!href) return null;
  const image = ownImage(preview.image_url);
  const site = preview.site_name || new URL(href).hostname;
  return h(
    "a",
    { class: "link-preview", href, target: "_blank", rel: "noopener noreferrer", "data-testid": "link-preview" },
    image && h("img", { class: "link-preview-image", src: image, alt: "", loading: "lazy", "data-testid": "link-preview-image" }),
    h(
      "span",
      { class: "link-preview-text" },
      h("span", { class: "link-preview-site", "data-testid": "link-preview-site", text: site }),
      preview.title && h("strong", { class: "link-preview-title", "data-testid": "link-preview-title", text: preview.title }),
      preview.description && h("span", { class: "link-preview-description", "data-testid": "link-preview-description", text: preview.description }),
    ),
  );
}

/** The message's preview cards, or null when it has none. */
export function linkPreviewsNode(message) {
  if (message.is_deleted || !message.link_previews?.length) return null;
  return h("div", { class: "link-previews", role: "group", "aria-label": gettext("Link previews") }, message.link_previews.map(card));
}
