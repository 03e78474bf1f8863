/*
 * Usage: <script type="module" src="lib/main.js"></script> in index.html; nothing else.
 *
 * Builds the app's objects (session, API client, scanner settings, work
 * session with its websocket and outbox, keystroke scanner), mounts <wes-app>, and registers the service worker.
 */

import { WesApi } from "./api.js";
import { KeystrokeScanner } from "./scanner.js";
import { Session } from "./session.js";
import { loadScannerSettings } from "./settings.js";
import { WorkSession } from "./work-session.js";
import "./feedback-banner.js";
import "./app-shell.js"; // (it loads each screen's module when the screen is first shown)

function start() {
  const session = new Session(sessionStorage);
  const settings = loadScannerSettings(localStorage);
  const app = document.createElement("wes-app");
  const api = new WesApi(session, {
    onUnauthorized: () => app.logout("Your session has ended. Please sign in again."),
  });
  const work = new WorkSession({ api, session, storage: localStorage });
  app.context = { api, session, settings, work };
  window.wes = { work }; // for the support desk and the browser tests: inspect the link and the outbox
  document.body.append(app);

  const scanner = new KeystrokeScanner({ maxGapMs: settings.maxGapMs, minLength: settings.minLength });
  scanner.attach(document, (raw) => {
    window.wes.lastScanAt = performance.now(); // scan-to-feedback time, see feedback-banner.js
    app.handleScan(raw);
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((err) => console.warn("service worker not registered", err));
  }
}

start();
