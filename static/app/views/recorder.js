// The voice recorder in the composer. Hold the mic button and let go to send, or click it (or
// press Enter/Space on it) to record and then send or cancel; Escape cancels. While it records the
// composer shows the elapsed time instead of the text box.

import { byId } from "../dom.js";
import { formatDuration, gettext } from "../i18n.js";
import { analyse, canRecord, startRecording } from "../voice.js";
import { toastError } from "./toasts.js";
import { addVoice } from "./upload-tray.js";

const HOLD_MS = 400;  // held at least this long, letting go sends
const TICK_MS = 250;

let session = null;  // {chatId, pressedAt, recording, sendWhenStarted, timer}

function showRecording(on) {
  byId("composer").classList.toggle("recording", on);
  byId("recorder").hidden = !on;
  byId("recorder-time").textContent = formatDuration(0);
}

function end() {
  clearInterval(session?.timer);
  session = null;
  showRecording(false);
}

function begin(chatId, pressedAt = null) {
  if (session) return;
  const current = { chatId, pressedAt, recording: null, sendWhenStarted: false, timer: null };
  session = current;
  showRecording(true);
  startRecording().then(
    (recording) => {
      if (session !== current) {
        recording.cancel();
        return;
      }
      current.recording = recording;
      current.timer = setInterval(() => {
        byId("recorder-time").textContent = formatDuration((Date.now() - recording.startedAt) / 1000);
      }, TICK_MS);
      if (current.sendWhenStarted) send();
    },
    () => {
      if (session === current) end();
      toastError({ code: "MICROPHONE", details: {}, message: gettext("The microphone is not available.") });
    },
  );
  if (pressedAt === null) byId("recorder-send").focus();
}

/** Stop, measure (duration and waveform from the decoded audio) and hand it to the uploads. */
async function send() {
  const current = session;
  if (!current) return;
  if (!current.recording) {
    current.sendWhenStarted = true;
    return;
  }
  end();
  const file = await current.recording.finish();
  const elapsed = (Date.now() - current.recording.startedAt) / 1000;
  const meta = await analyse(file).catch(() => ({ duration: Math.round(elapsed * 100) / 100, waveform: null }));
  addVoice(current.chatId, file, meta);
  byId("composer-input").focus();
}

/** Throw the recording away (also when the chat changes or the user signs out). */
export function cancelRecording() {
  if (!session) return;
  session.recording?.cancel();
  end();
}

/** The mic button shows only where the browser can record Opus. */
export function initRecorder(currentChatId) {
  const mic = byId("mic-button");
  mic.hidden = !canRecord();
  mic.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || mic.disabled) return;
    event.preventDefault();
    begin(currentChatId(), Date.now());
    window.addEventListener("pointerup", () => {
      const started = session?.recording?.startedAt;
      if (started && Date.now() - Math.max(started, session.pressedAt) >= HOLD_MS) send();
      else if (session) byId("recorder-send").focus();
    }, { once: true });
  });
  mic.addEventListener("click", (event) => event.detail === 0 && begin(currentChatId()));
  mic.addEventListener("contextmenu", (event) => event.preventDefault());
  byId("recorder-send").addEventListener("click", send);
  byId("recorder-cancel").addEventListener("click", cancelRecording);
  byId("composer").addEventListener("keydown", (event) => event.key === "Escape" && session && cancelRecording());
}
