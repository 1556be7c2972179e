// Choosing a picture as an avatar (one's own, a group's): the file chooser, then one multipart
// upload. The server crops, resizes and strips it; the answer carries the new avatar_url.

import { h } from "../dom.js";

const AVATAR_TYPES = "image/jpeg,image/png,image/gif,image/webp";

// One input outside every view that is drawn anew: a chooser left open while a panel is redrawn
// still reaches its upload.
let send = null;
let input = null;

function chooser() {
  if (input) return input;
  input = h("input", { type: "file", accept: AVATAR_TYPES, hidden: true, "data-testid": "avatar-file" });
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";
    if (file && send) {
      const form = new FormData();
      form.append("file", file);
      send(form);
    }
  });
  document.body.append(input);
  return input;
}

/** Open the file chooser; `upload(form)` sends the chosen picture (a FormData with `file`). */
export function chooseAvatar(upload) {
  send = upload;
  chooser().click();
}
