// Voice messages: recording from the microphone with MediaRecorder (Opus, in WebM or Ogg, whichever
// the browser records), and what the server stores beside the bytes: the duration and a 64-bar
// waveform (0-255), both read from the decoded audio because a recorded WebM states no duration.

const TYPES = [
  { mime: "audio/webm;codecs=opus", extension: "webm" },
  { mime: "audio/ogg;codecs=opus", extension: "ogg" },
];
const WAVEFORM_BARS = 64;
const DECODE_SAMPLE_RATE = 48_000;

const recordingType = () => window.MediaRecorder && TYPES.find(({ mime }) => MediaRecorder.isTypeSupported(mime));

/** Whether this browser can record a voice message (MediaRecorder with Opus, and a microphone API). */
export const canRecord = () => Boolean(navigator.mediaDevices?.getUserMedia && recordingType());

/** Start recording. Resolves (once the microphone is granted) to {startedAt, finish, cancel}:
 * finish() resolves to the recording as a File, cancel() throws it away. */
export async function startRecording() {
  const type = recordingType();
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const release = () => stream.getTracks().forEach((track) => track.stop());
  let recorder;
  try {
    recorder = new MediaRecorder(stream, { mimeType: type.mime });
    recorder.start();
  } catch (error) {
    release();
    throw error;
  }
  const chunks = [];
  recorder.addEventListener("dataavailable", (event) => event.data.size && chunks.push(event.data));
  const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve, { once: true }));
  const stop = async () => {
    if (recorder.state !== "inactive") recorder.stop();
    await stopped;
    release();
  };
  return {
    startedAt: Date.now(),
    async finish() {
      await stop();
      const mime = type.mime.split(";")[0];
      return new File(chunks, `voice-${new Date().toISOString().replace(/[:.]/g, "-")}.${type.extension}`, { type: mime });
    },
    cancel: () => stop().catch(() => null),
  };
}

/** Peaks of `samples` in `bars` equal slices, scaled so the loudest is 255 (silence stays 0). */
function waveformOf(samples, bars) {
  const size = Math.max(1, Math.floor(samples.length / bars));
  const peaks = Array.from({ length: bars }, (_, bar) => {
    let peak = 0;
    for (let i = bar * size; i < Math.min(samples.length, (bar + 1) * size); i++) peak = Math.max(peak, Math.abs(samples[i]));
    return peak;
  });
  const loudest = Math.max(...peaks);
  return peaks.map((peak) => (loudest ? Math.round((peak / loudest) * 255) : 0));
}

/** {duration (seconds), waveform (64 ints 0-255)} of a recording, from its decoded samples. */
export async function analyse(file) {
  const context = new OfflineAudioContext(1, 1, DECODE_SAMPLE_RATE);
  const audio = await context.decodeAudioData(await file.arrayBuffer());
  return {
    duration: Math.round(audio.duration * 100) / 100,
    waveform: waveformOf(audio.getChannelData(0), WAVEFORM_BARS),
  };
}
