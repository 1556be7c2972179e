// Line icons drawn as inline SVG (no icon font, no emoji font needed). Buttons in the template
// carry <span data-icon="name"></span>; code asks for icon("name").

const PATHS = {
  phone: "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z",
  video: "M3 8a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2zM15 10.5l6-3.5v10l-6-3.5",
  info: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 11v6M12 7.5v.5",
  image: "M5 5h14a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2zM8.5 9a1.5 1.5 0 1 0 0 3a1.5 1.5 0 1 0 0-3zM21 16l-5-5-9 8",
  signout: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9",
  close: "M6 6l12 12M18 6L6 18",
  back: "M15 5l-7 7 7 7",
  reply: "M9 7l-5 5 5 5M4 12h11a5 5 0 0 1 5 5v2",
  edit: "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
  delete: "M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  attach: "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l8-8",
  mic: "M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM5 11a7 7 0 0 0 14 0M12 18v3",
  send: "M4 12l16-8-6 16-2.5-6.5zM11.5 13.5L20 4",
  play: "M7 4l13 8-13 8z",
  pause: "M7 4h3v16H7zM14 4h3v16h-3z",
  file: "M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM14 3v6h6",
  bell: "M6 17v-6a6 6 0 0 1 12 0v6l2 1H4zM10 21h4",
  report: "M5 21V4M5 4h11l-2 4 2 4H5",
  "seen-by": "M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
  forward: "M15 7l5 5-5 5M20 12H9a5 5 0 0 0-5 5v2",
  pin: "M9 3h6l-1 6 4 4H6l4-4zM12 13v8",
  unpin: "M9 3h6l-1 6 4 4H6l4-4zM12 13v8M3 3l18 18",
  bellOff: "M6 17v-6a6 6 0 0 1 12 0v6l2 1H4zM10 21h4M3 3l18 18",
};

const SVG = "http://www.w3.org/2000/svg";

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}

/** Replace every <span data-icon> placeholder under root with its icon. */
export function fillIcons(root) {
  root.querySelectorAll("[data-icon]").forEach((slot) => slot.replaceWith(icon(slot.dataset.icon)));
}
