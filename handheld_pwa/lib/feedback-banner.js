/*
 * Usage:
 *   <wes-feedback></wes-feedback>
 *   banner.ok("Received 2 lines");        // green, ok sound
 *   banner.error(apiError);               // red, error sound: what to do in plain words, the code small
 *   banner.attention("Reassigned …");     // amber, attention sound: routine news, not a failure
 *   banner.info("Scan the dock");         // blue, silent: the next step
 *   banner.clear();
 *
 * One big line under the header, never scrolled away (the header and the
 * banner stay at the top). The server's message is written for the floor
 * ("Wrong product: you scanned SKU-00004 — take SKU-00002"); the error code
 * goes in a small detail line for the support desk.
 *
 * Each ok/error/attention after a scan logs the milliseconds from that
 * scan's last key (window.wes.lastScanAt, set by the scanner) to the answer
 * on screen in window.wes.scanToFeedbackMs: the browser tests report them.
 */

import { ApiError } from "./api.js";
import { esc } from "./dom.js";
import { signal } from "./sounds.js";

// A short headline a worker can read at arm's length; the server's message follows it.
const HEADLINES = {
  already_received: "Already received",
  over_receipt: "Over receipt",
  unknown_sscc: "Unknown pallet",
  unknown_code: "Unknown barcode",
  not_expected: "Not expected",
  unknown_location: "Unknown location",
  wrong_location: "Wrong location",
  wrong_product: "Wrong product",
  wrong_lot: "Wrong lot",
  wrong_tote: "Wrong tote",
  tote_in_use: "Tote in use",
  unknown_tote: "Not a tote",
  wrong_quantity: "Wrong quantity",
  reason_required: "Reason needed",
  network_error: "No connection",
};

export class FeedbackBanner extends HTMLElement {
  connectedCallback() {
    this.clear();
  }

  ok(text) {
    this.#show("ok", text);
  }

  info(text) {
    this.#show("info", text);
  }

  attention(text) {
    this.#show("attention", text);
  }

  error(errorOrText) {
    const text = errorOrText instanceof Error ? errorOrText.message : String(errorOrText);
    const code = errorOrText instanceof ApiError ? errorOrText.code : "";
    this.#show("error", text, code, HEADLINES[code]);
  }

  clear() {
    this.dataset.kind = "none";
    this.removeAttribute("role");
    this.innerHTML = "";
  }

  #show(kind, text, code = "", headline = "") {
    this.dataset.kind = kind;
    this.setAttribute("role", kind === "error" ? "alert" : "status");
    const icon = { ok: "✔", error: "✖", info: "ℹ", attention: "!" }[kind];
    // The headline repeats what the message starts with ("Wrong product: …"): only shown when it adds to it.
    const lead = headline && !String(text).startsWith(headline) ? `<b class="headline">${esc(headline)}</b> ` : "";
    this.innerHTML = `<span class="icon" aria-hidden="true">${icon}</span>
      <span class="text">${lead}${esc(text)}${code ? `<small class="code">${esc(code)}</small>` : ""}</span>`;
    if (kind !== "info") {
      signal(kind);
      const wes = (window.wes = window.wes || {});
      if (wes.lastScanAt != null) {
        (wes.scanToFeedbackMs = wes.scanToFeedbackMs || []).push(performance.now() - wes.lastScanAt);
        wes.lastScanAt = null;
      }
    }
  }
}

customElements.define("wes-feedback", FeedbackBanner);
