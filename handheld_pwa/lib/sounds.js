/*
 * Usage:
 *   import { signal } from "./sounds.js";
 *   signal("ok" | "error" | "attention");   // a sound and a vibration pattern, told apart without looking
 *
 * Three sounds a glove-wearing picker knows from across an aisle: ok is one
 * short high beep, error a long low double buzz, attention three quick mid
 * beeps (a notice: a task taken away, a message from a supervisor). Made with
 * Web Audio, so they work offline and need no sound files; the vibration
 * patterns differ the same way. The audio context starts at the first signal
 * after a tap or a key (browsers keep audio off until a person acts).
 */

const TONES = {
  ok: { wave: "sine", notes: [[1320, 0.09]], gap: 0 },
  error: { wave: "square", notes: [[196, 0.22], [147, 0.3]], gap: 0.06 },
  attention: { wave: "triangle", notes: [[880, 0.07], [880, 0.07], [880, 0.07]], gap: 0.07 },
};
const VIBRATION = { ok: 60, error: [220, 90, 220, 90, 220], attention: [70, 60, 70, 60, 70] };

let audio = null;

function context() {
  if (audio) return audio;
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  try {
    audio = new Context();
  } catch {
    audio = null;
  }
  return audio;
}

function play(kind) {
  const ctx = context();
  if (!ctx) return;
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  const { wave, notes, gap } = TONES[kind];
  let at = ctx.currentTime + 0.01;
  for (const [frequency, seconds] of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = wave;
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.6, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + seconds + 0.02);
    at += seconds + gap;
  }
}

export function signal(kind) {
  if (!TONES[kind]) return;
  play(kind);
  if (typeof navigator.vibrate === "function") navigator.vibrate(VIBRATION[kind]);
  const log = (window.wes = window.wes || {}).signals = window.wes.signals || [];
  log.push(kind); // the browser tests read which signal each scan got
}
