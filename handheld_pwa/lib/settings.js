/*
 * Usage:
 *   const settings = loadScannerSettings(localStorage);
 *   settings.gsSubstitute  // null, or the character the scanner sends instead of GS (\x1d)
 *
 * Device-level scanner settings kept in localStorage under "wes.scanner".
 * The raw scan is always sent as received; the substitute is only passed to the
 * server (which does the translating) where the API accepts it.
 */

import { DEFAULT_SCANNER_OPTIONS } from "./scanner.js";

export const SCANNER_SETTINGS_KEY = "wes.scanner";

export function loadScannerSettings(storage) {
  const defaults = { gsSubstitute: null, maxGapMs: DEFAULT_SCANNER_OPTIONS.maxGapMs,
    minLength: DEFAULT_SCANNER_OPTIONS.minLength };
  try {
    const stored = JSON.parse(storage.getItem(SCANNER_SETTINGS_KEY) || "{}");
    return { ...defaults, ...stored };
  } catch {
    return defaults;
  }
}

export function saveScannerSettings(storage, settings) {
  storage.setItem(SCANNER_SETTINGS_KEY, JSON.stringify(settings));
}
