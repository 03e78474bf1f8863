// Keystroke-wedge scanning (handheld_pwa/lib/scanner.js): a burst of keys ended by a suffix is a scan,
// a person's typing is not, and the burst's echo is taken back out of the focused field.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_SCANNER_OPTIONS, KeystrokeScanner } from "../../handheld_pwa/lib/scanner.js";

/** Keys `text` then `suffix`, `gap` ms apart from `start`; the scans that came out. */
function type(scanner, text, { start = 0, gap = 10, suffix = "Enter", suffixGap = gap } = {}) {
  const keys = [...text].map((key, i) => [key, start + i * gap]);
  keys.push([suffix, start + (text.length - 1) * gap + suffixGap]);
  return keys.map(([key, time]) => scanner.feed(key, time)).filter((scan) => scan !== null);
}

test("a fast burst ended by Enter or Tab is one scan, kept exactly", () => {
  assert.deepEqual(type(new KeystrokeScanner(), "R1-01"), ["R1-01"]);
  assert.deepEqual(type(new KeystrokeScanner(), "00312345", { suffix: "Tab" }), ["00312345"]);
  assert.deepEqual(type(new KeystrokeScanner(), "0104012345678901\x1d10LOT7"), ["0104012345678901\x1d10LOT7"]);
});

test("typing slower than maxGapMs is not a scan", () => {
  assert.deepEqual(type(new KeystrokeScanner(), "R1-01", { gap: 120 }), []);
  assert.deepEqual(type(new KeystrokeScanner({ maxGapMs: 200 }), "R1-01", { gap: 120 }), ["R1-01"]);
});

test("a suffix that comes late is not a scan", () => {
  assert.deepEqual(type(new KeystrokeScanner(), "R1-01", { suffixGap: 51 }), []);
  assert.deepEqual(type(new KeystrokeScanner(), "R1-01", { suffixGap: 50 }), ["R1-01"]);
});

test("a burst shorter than minLength is not a scan", () => {
  assert.deepEqual(type(new KeystrokeScanner(), "AB"), []);
  assert.deepEqual(type(new KeystrokeScanner({ minLength: 2 }), "AB"), ["AB"]);
});

test("a suffix alone, or right after another scan, is not a scan", () => {
  const scanner = new KeystrokeScanner();
  assert.equal(scanner.feed("Enter", 0), null);
  assert.deepEqual(type(scanner, "R1-01", { start: 100 }), ["R1-01"]);
  assert.equal(scanner.feed("Enter", 145), null);
});

test("a slow key starts a new burst: what a person typed before the scan is not part of it", () => {
  const scanner = new KeystrokeScanner();
  assert.equal(scanner.feed("x", 0), null);
  assert.equal(scanner.feed("y", 300), null);
  assert.deepEqual(type(scanner, "R1-01", { start: 600 }), ["R1-01"]);
});

test("keys that are not characters (Shift, Unidentified) are left out and do not break the burst", () => {
  const scanner = new KeystrokeScanner();
  const keys = [["Shift", 0], ["R", 5], ["1", 10], ["Shift", 15], ["-", 20], ["0", 30], ["1", 40], ["Enter", 50]];
  assert.deepEqual(keys.map(([k, t]) => scanner.feed(k, t)).filter((s) => s !== null), ["R1-01"]);
});

test("the suffixes are a setting", () => {
  const scanner = new KeystrokeScanner({ suffixes: ["F8"] });
  assert.deepEqual(type(scanner, "R1-01", { suffix: "Enter" }), []);
  assert.deepEqual(type(scanner, "R1-01", { start: 1000, suffix: "F8" }), ["R1-01"]);
});

test("the defaults are frozen", () => {
  assert.deepEqual({ ...DEFAULT_SCANNER_OPTIONS }, { maxGapMs: 50, minLength: 3, suffixes: ["Enter", "Tab"] });
  assert.ok(Object.isFrozen(DEFAULT_SCANNER_OPTIONS));
});

/** A document-like target: keydown listeners and a focused field. */
function fakeDocument(fieldValue = "") {
  const listeners = [];
  return {
    activeElement: { value: fieldValue },
    addEventListener: (type, listener, capture) => listeners.push({ type, listener, capture }),
    removeEventListener: (type, listener, capture) => {
      const i = listeners.findIndex((l) => l.type === type && l.listener === listener && l.capture === capture);
      if (i >= 0) listeners.splice(i, 1);
    },
    listeners,
    keydown(key, timeStamp, modifiers = {}) {
      const event = { key, timeStamp, isComposing: false, ctrlKey: false, altKey: false, metaKey: false, ...modifiers,
        prevented: false, stopped: false, preventDefault() { this.prevented = true; },
        stopPropagation() { this.stopped = true; } };
      for (const { type, listener } of [...listeners]) if (type === "keydown") listener(event);
      return event;
    },
  };
}

test("attached, it listens in the capture phase, swallows the suffix and removes the echo from the field", () => {
  const doc = fakeDocument("qty 3");
  const scans = [];
  const stop = new KeystrokeScanner().attach(doc, (raw) => scans.push(raw));
  assert.deepEqual(doc.listeners.map((l) => [l.type, l.capture]), [["keydown", true]]);
  const events = [..."R1-01"].map((key, i) => doc.keydown(key, i * 10));
  doc.activeElement.value += "R1-01"; // what the wedge typed into the focused field
  const suffix = doc.keydown("Enter", 50);
  assert.deepEqual(scans, ["R1-01"]);
  assert.ok(events.every((e) => !e.prevented && !e.stopped));
  assert.ok(suffix.prevented && suffix.stopped);
  assert.equal(doc.activeElement.value, "qty 3");
  stop();
  assert.deepEqual(doc.listeners, []);
});

test("attached, keys with Ctrl, Alt or Meta held are not fed to the scanner", () => {
  const doc = fakeDocument();
  const scans = [];
  new KeystrokeScanner().attach(doc, (raw) => scans.push(raw));
  [..."R1-01"].forEach((key, i) => doc.keydown(key, i * 10));
  const suffix = doc.keydown("Enter", 50, { ctrlKey: true });
  assert.deepEqual(scans, []);
  assert.equal(suffix.prevented, false);
});
