// The device's scanner settings (handheld_pwa/lib/settings.js), kept in localStorage under "wes.scanner".
import assert from "node:assert/strict";
import { test } from "node:test";

import { loadScannerSettings, saveScannerSettings, SCANNER_SETTINGS_KEY } from "../../handheld_pwa/lib/settings.js";
import { memoryStorage } from "./fakes.mjs";

test("a device with nothing saved gets the scanner's defaults and no GS substitute", () => {
  assert.deepEqual(loadScannerSettings(memoryStorage()), { gsSubstitute: null, maxGapMs: 50, minLength: 3 });
});

test("saved settings override the defaults they name and keep the rest", () => {
  const storage = memoryStorage();
  saveScannerSettings(storage, { gsSubstitute: "~", maxGapMs: 80 });
  assert.equal(SCANNER_SETTINGS_KEY, "wes.scanner");
  assert.deepEqual(JSON.parse(storage.getItem("wes.scanner")), { gsSubstitute: "~", maxGapMs: 80 });
  assert.deepEqual(loadScannerSettings(storage), { gsSubstitute: "~", maxGapMs: 80, minLength: 3 });
});

test("settings that are not JSON are ignored: the defaults apply", () => {
  const storage = memoryStorage();
  storage.setItem("wes.scanner", "{not json");
  assert.deepEqual(loadScannerSettings(storage), { gsSubstitute: null, maxGapMs: 50, minLength: 3 });
});
