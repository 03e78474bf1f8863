/*
 * Usage:
 *   <wes-feedback></wes-feedback>
 *   banner.ok("Received 2 lines");  banner.error(apiError);  banner.info("Scan the dock");  banner.clear();
 *
 * One big coloured line under the header: green for success, red for errors
 * (with the server's error code), blue for hints. Errors also vibrate twice.
 */

import { ApiError } from "./api.js";
import { buzz, esc } from "./dom.js";

// A short headline a worker can read at arm's length; the server's message follows it.
const HEADLINES = {
  already_received: "Already received",
  over_receipt: "Over receipt",
  unknown_sscc: "Unknown pallet",
  not_expected: "Not expected",
  unknown_location: "Unknown location",
  reason_required: "Reason needed",
  network_error: "No connection",
};

export class FeedbackBanner extends HTMLElement {
  connectedCallback() {
    this.clear();
  }

  ok(text) {
    this.#show("ok", text);
    buzz("ok");
  }

  info(text) {
    this.#show("info", text);
  }

  error(errorOrText) {
    const text = errorOrText instanceof Error ? errorOrText.message : String(errorOrText);
    const code = errorOrText instanceof ApiError ? errorOrText.code : "";
    this.#show("error", text, code, HEADLINES[code]);
    buzz("error");
  }

  clear() {
    this.dataset.kind = "none";
    this.removeAttribute("role");
    this.innerHTML = "";
  }

  #show(kind, text, code = "", headline = "") {
    this.dataset.kind = kind;
    this.setAttribute("role", kind === "error" ? "alert" : "status");
    const icon = { ok: "✔", error: "✖", info: "ℹ" }[kind];
    this.innerHTML = `<span class="icon" aria-hidden="true">${icon}</span>
      <span class="text">${headline ? `<b class="headline">${esc(headline)}</b> ` : ""}${esc(text)}</span>${code ? `<span class="code">${esc(code)}</span>` : ""}`;
  }
}

customElements.define("wes-feedback", FeedbackBanner);
