// A voice message in its bubble: play/pause, the stored waveform as bars (the played part
// coloured), and the time: the duration, or the position while playing. The stored duration is
// the one used, since a browser's recording (WebM) tells the <audio> element none.

import { h } from "../dom.js";
import { formatDuration, gettext } from "../i18n.js";
import { icon } from "../icons.js";

const FLAT_BARS = 32;  // a recording stored without a waveform shows even bars

// One voice message plays at a time.
document.addEventListener("play", (event) => {
  if (!event.target.matches?.("audio.voice-audio")) return;
  document.querySelectorAll("audio.voice-audio").forEach((audio) => audio !== event.target && audio.pause());
}, true);

/** `audio` is the <audio class="voice-audio"> (its source and link refreshing are the caller's). */
export function voicePlayer(attachment, audio) {
  const levels = attachment.waveform?.length ? attachment.waveform : Array(FLAT_BARS).fill(96);
  const bars = levels.map((level) => {
    const bar = h("span", { class: "voice-bar" });
    bar.style.height = `${Math.max(10, Math.round((level / 255) * 100))}%`;  // CSSOM: the CSP refuses style attributes
    return bar;
  });
  // A recording uploaded without its duration falls back on what the element finds, if anything.
  const total = () => attachment.duration || (Number.isFinite(audio.duration) ? audio.duration : 0);
  const time = h("span", { class: "voice-time", "data-testid": "voice-time", text: formatDuration(total()) });
  const label = () => (audio.paused ? gettext("Play voice message") : gettext("Pause voice message"));
  const toggle = h("button", { type: "button", class: "icon-button voice-toggle", "data-testid": "voice-play", "aria-label": label(), title: label() }, icon("play"));

  const show = () => {
    const playing = !audio.paused;
    toggle.replaceChildren(icon(playing ? "pause" : "play"));
    toggle.setAttribute("aria-label", label());
    toggle.title = label();
    toggle.setAttribute("aria-pressed", String(playing));
    const position = audio.ended ? 0 : audio.currentTime;
    const played = total() ? Math.min(1, position / total()) : 0;
    bars.forEach((bar, index) => bar.classList.toggle("played", (index + 0.5) / bars.length <= played));
    time.textContent = formatDuration(playing || position ? position : total());
  };
  toggle.addEventListener("click", () => (audio.paused ? audio.play().catch(() => null) : audio.pause()));
  for (const name of ["loadedmetadata", "play", "pause", "timeupdate", "ended"]) audio.addEventListener(name, show);

  return h(
    "div",
    { class: "voice", "data-testid": "voice-message" },
    toggle,
    h("span", { class: "voice-wave", "aria-hidden": "true" }, bars),
    time,
    audio,
  );
}
