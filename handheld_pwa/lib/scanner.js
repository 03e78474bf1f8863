/*
 * Usage:
 *   const scanner = new KeystrokeScanner({ maxGapMs: 50, minLength: 3 });
 *   const stop = scanner.attach(document, (raw) => console.log("scanned", raw));
 *   // or drive it by hand (tests): scanner.feed("A", 0); scanner.feed("Enter", 10) -> "A…" or null
 *
 * Zebra DataWedge (keystroke output) "types" a barcode: a burst of keys a few
 * ms apart, then a suffix key (Enter or Tab). A person types slower than that.
 * So a scan is: at least `minLength` characters, each within `maxGapMs` of the
 * previous one, followed by a suffix key within `maxGapMs`. Nothing depends on
 * which element has focus; the raw characters are kept exactly (GS included).
 */

export const DEFAULT_SCANNER_OPTIONS = Object.freeze({ maxGapMs: 50, minLength: 3, suffixes: ["Enter", "Tab"] });

export class KeystrokeScanner {
  constructor(options = {}) {
    const o = { ...DEFAULT_SCANNER_OPTIONS, ...options };
    this.maxGapMs = o.maxGapMs;
    this.minLength = o.minLength;
    this.suffixes = new Set(o.suffixes);
    this.reset();
  }

  reset() {
    this.buffer = "";
    this.lastKeyAt = -Infinity;
  }

  /** Feed one key (KeyboardEvent.key) at a time in ms; returns the scan when this key completes one, else null. */
  feed(key, time) {
    const fast = time - this.lastKeyAt <= this.maxGapMs;
    if (this.suffixes.has(key)) {
      const scan = fast && this.buffer.length >= this.minLength ? this.buffer : null;
      this.reset();
      return scan;
    }
    if (key.length !== 1) return null; // Shift, Control, Unidentified…: not part of the data
    if (!fast) this.buffer = ""; // a slow key starts a new burst: typed by a person, not a scanner
    this.buffer += key;
    this.lastKeyAt = time;
    return null;
  }

  /** Listen on `target` (capture phase) and call onScan(raw) for every scan; returns a function that stops it. */
  attach(target, onScan) {
    const listener = (event) => {
      if (event.isComposing || event.ctrlKey || event.altKey || event.metaKey) return;
      const scan = this.feed(event.key, event.timeStamp);
      if (scan === null) return;
      // The suffix must not submit a form, click a focused button or move focus.
      event.preventDefault();
      event.stopPropagation();
      removeEchoFromFocusedField(target, scan);
      onScan(scan);
    };
    target.addEventListener("keydown", listener, true);
    return () => target.removeEventListener("keydown", listener, true);
  }
}

// The burst was also typed into whatever field had focus; take it back out.
function removeEchoFromFocusedField(target, scan) {
  const doc = target.ownerDocument || target;
  const field = doc.activeElement;
  if (!field || !("value" in field) || typeof field.value !== "string") return;
  if (field.value.endsWith(scan)) field.value = field.value.slice(0, field.value.length - scan.length);
}
