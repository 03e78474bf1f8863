/*
 * Usage: <wes-scan-check></wes-scan-check> with `.ctx` set (see app-shell.js); scans arrive via onScan(raw).
 *
 * Sends any scan to /scans/classify and shows what the server made of it.
 */

import { esc, showRaw } from "./dom.js";
import "./scan-field.js";

const FIELDS = ["kind", "symbology", "code", "check_digits", "gtin", "lot", "expiry", "best_before", "serial",
  "quantity", "net_weight_kg", "sscc"];

export class ScanCheckScreen extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `
      <section class="stack">
        <p class="prompt">Scan any barcode to see what it is.</p>
        <wes-scan-field label="Barcode" name="raw"></wes-scan-field>
        <div class="scan-result" aria-live="polite"></div>
      </section>`;
    this.querySelector("wes-scan-field").addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
  }

  async onScan(raw) {
    const { api, session, settings, feedback } = this.ctx;
    const body = { site: session.site, raw };
    if (settings.gsSubstitute) body.gs_substitutes = [settings.gsSubstitute];
    try {
      const result = await api.post("/scans/classify", body);
      this.show(result);
      feedback.ok(`That is a ${result.kind.replace(/_/g, " ")}`);
    } catch (err) {
      this.querySelector(".scan-result").innerHTML = `<div class="card"><code>${esc(showRaw(raw))}</code></div>`;
      feedback.error(err);
    }
  }

  show(result) {
    const rows = FIELDS.filter((f) => result[f] !== null && result[f] !== undefined && result[f] !== "")
      .map((f) => `<tr><th>${esc(f.replace(/_/g, " "))}</th><td data-field="${f}">${esc(result[f])}</td></tr>`);
    for (const ref of ["location", "lpn", "tote", "product"]) {
      if (result[ref]) {
        const text = Object.entries(result[ref]).filter(([, v]) => v !== null && v !== "").map(([k, v]) => `${k}: ${v}`).join(", ");
        rows.push(`<tr><th>${ref}</th><td data-field="${ref}">${esc(text)}</td></tr>`);
      }
    }
    this.querySelector(".scan-result").innerHTML = `
      <div class="card"><div class="caption">raw <code>${esc(showRaw(result.raw))}</code></div>
        <table class="facts">${rows.join("")}</table></div>`;
  }
}

customElements.define("wes-scan-check", ScanCheckScreen);
