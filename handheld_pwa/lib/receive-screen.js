/*
 * Usage: <wes-receive></wes-receive> with `.ctx` set (see app-shell.js); scans arrive via onScan(raw).
 *
 * Step 1: scan the dock door's label (the server classifies it) or tap a dock.
 * Step 2: scan pallet SSCCs or case GTIN / GS1-128 labels, exactly as the
 * scanner sent them; each scan posts a receipt and answers at once. The ASN
 * being unloaded (the last receipt's, or the one tapped in the list) is sent
 * along: its cases count against it first. Under the
 * scan field: a quantity, "damaged", "blind" (only for the roles the site
 * allows), and "Add to LPN" — which belongs to one ASN: it clears when the ASN
 * changes, and a case of another ASN goes onto a new LPN by itself. Below:
 * the last receipt (its LPN, where its label prints, where it goes next) and
 * what the dock expects: the open ASNs with each line's progress, refreshed
 * after every receipt. An over-receipt is not a failure: it went to a
 * supervisor for approval, and the screen says so.
 */

import { ApiError } from "./api.js";
import { esc, showRaw } from "./dom.js";
import "./scan-field.js";

export class ReceiveScreen extends HTMLElement {
  connectedCallback() {
    this.dock = null;
    this.expected = null; // GET /docks/{dock}/expected
    this.asn = null; // the ASN being unloaded: set by the last receipt, or by tapping it
    this.lastReceipt = null;
    this.busy = false;
    this.renderDockStep();
  }

  onScan(raw) {
    if (this.busy) return;
    if (this.dock) this.receive(raw);
    else this.scanDock(raw);
  }

  withGs(body) {
    const { settings } = this.ctx;
    if (settings && settings.gsSubstitute) body.gs_substitutes = [settings.gsSubstitute];
    return body;
  }

  // --- the dock -----------------------------------------------------------------------------

  async renderDockStep() {
    this.innerHTML = `
      <section class="stack">
        <p class="prompt">Scan the dock door label, or tap your dock.</p>
        <wes-scan-field label="Dock" name="dock"></wes-scan-field>
        <div class="choices dock-list" aria-label="Docks"></div>
      </section>`;
    this.querySelector("wes-scan-field").addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.ctx.feedback.info("Scan the dock");
    const { api, session } = this.ctx;
    try {
      const docks = await api.get("/locations", { site: session.site, kind: "dock", limit: 50 });
      const list = this.querySelector(".dock-list");
      if (!list) return;
      list.innerHTML = docks.data.map((d) =>
        `<button type="button" class="big" data-dock="${esc(d.code)}">${esc(d.code)}</button>`).join("");
      list.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => this.chooseDock(b.dataset.dock)));
    } catch (err) {
      this.ctx.feedback.error(err);
    }
  }

  async scanDock(raw) {
    const { api, session, feedback } = this.ctx;
    this.busy = true;
    try {
      const scanned = await api.post("/scans/classify", this.withGs({ site: session.site, raw }));
      if (scanned.kind !== "location" || !scanned.location) {
        feedback.error(`That is a ${scanned.kind.replace(/_/g, " ")}, not a dock: scan the dock door's label.`);
        return;
      }
      await this.chooseDock(scanned.location.code);
    } catch (err) {
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  async chooseDock(code) {
    const { feedback } = this.ctx;
    if (!code) return;
    this.busy = true;
    try {
      this.expected = await this.loadExpected(code);
      this.dock = this.expected.dock;
      this.asn = null;
      this.lastReceipt = null;
      this.renderReceiveStep();
      const n = this.expected.data.length;
      feedback.ok(`At ${this.dock}: ${n ? `${n} ASN${n === 1 ? "" : "s"} expected` : "no ASN expected"}. ` +
        "Scan a pallet or case label.");
    } catch (err) {
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  loadExpected(dock) {
    const { api, session } = this.ctx;
    return api.get(`/docks/${encodeURIComponent(dock)}/expected`, { site: session.site });
  }

  async refreshExpected() {
    try {
      this.expected = await this.loadExpected(this.dock);
      if (this.isConnected && this.dock) {
        this.renderOptions();
        this.renderExpected();
      }
    } catch { /* the list stays as it was; the next receipt refreshes it again */ }
  }

  // --- receiving ----------------------------------------------------------------------------

  renderReceiveStep() {
    this.innerHTML = `
      <section class="stack receive-step">
        <div class="where"><span class="caption">Dock</span> <b class="dock-code">${esc(this.dock)}</b>
          <button type="button" class="small change-dock">Change</button></div>
        <button type="button" class="current-asn" hidden></button>
        <wes-scan-field label="Scan a pallet or case label" name="receipt-scan"></wes-scan-field>
        <div class="options receive-options">
          <label class="field inline">Qty <input class="quantity" inputmode="numeric" pattern="[0-9]*" maxlength="6"
            autocomplete="off" placeholder="auto"></label>
          <label class="toggle"><input type="checkbox" class="damaged"> Damaged</label>
          <label class="toggle blind-box" hidden><input type="checkbox" class="blind"> Blind (no ASN)</label>
          <label class="toggle keep-lpn-box" hidden><input type="checkbox" class="keep-lpn">
            <span>Add to <b class="keep-lpn-code"></b> <span class="keep-lpn-asn caption"></span></span></label>
        </div>
        <div class="receipt-result" aria-live="polite"></div>
        <section class="expected" aria-label="Expected at this dock"></section>
      </section>`;
    this.querySelector("wes-scan-field").addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".change-dock").addEventListener("click", () => {
      this.dock = null;
      this.renderDockStep();
    });
    // A text field, not type=number: a scan that lands in it while it has focus is taken back out whole
    // (scanner.js), leaving the keyed quantity; Enter on the soft keyboard puts it away.
    const quantity = this.querySelector(".quantity");
    quantity.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); quantity.blur(); } });
    this.renderOptions();
    this.renderExpected();
  }

  /** The blind control only for the roles the site allows; "Add to LPN" only for the last LPN, of the current ASN. */
  renderOptions() {
    const blind = this.querySelector(".blind-box");
    if (!blind) return;
    blind.hidden = !(this.expected && this.expected.blind_receipt_allowed);
    if (blind.hidden) this.querySelector(".blind").checked = false;
    const keep = this.querySelector(".keep-lpn-box");
    const receipt = this.lastReceipt;
    const lpnAsn = receipt ? receiptAsn(receipt) : undefined;
    const usable = receipt && receipt.lpn && !receipt.damaged && lpnAsn === this.asn;
    keep.hidden = !usable;
    if (!usable) this.querySelector(".keep-lpn").checked = false;
    this.querySelector(".keep-lpn-code").textContent = usable ? receipt.lpn : "";
    this.querySelector(".keep-lpn-asn").textContent = usable ? `(${lpnAsn || "blind"})` : "";
  }

  /** The ASN being unloaded changed: "Add to LPN" belonged to the old one. */
  setAsn(reference) {
    if (reference === this.asn) return;
    this.asn = reference;
    const keep = this.querySelector(".keep-lpn");
    if (keep) keep.checked = false;
    this.renderOptions();
    this.renderExpected();
  }

  async receive(raw, { blind = null, withoutLpn = false } = {}) {
    const { api, session, feedback } = this.ctx;
    const body = this.withGs({ site: session.site, dock: this.dock, scan: raw });
    if (this.asn) body.unloading = this.asn; // its cases count against it first (past it: an over-receipt)
    const quantityInput = this.querySelector(".quantity");
    const quantity = parseInt((/^\s*(\d+)/.exec(quantityInput.value) || [])[1], 10);
    if (quantity > 0) body.quantity = quantity;
    quantityInput.value = quantity > 0 ? String(quantity) : ""; // (anything of a scan left in it goes)
    const damaged = this.querySelector(".damaged").checked;
    if (damaged) body.damaged = true;
    if (blind ?? this.querySelector(".blind").checked) body.blind = true;
    const keep = this.querySelector(".keep-lpn");
    const addTo = !withoutLpn && keep.checked && this.lastReceipt && this.lastReceipt.lpn;
    if (addTo) body.lpn = this.lastReceipt.lpn;
    this.busy = true;
    feedback.info(`Receiving ${showRaw(raw)}…`);
    let elsewhere = false;
    try {
      const receipt = await api.post("/receipts", body);
      receipt.damaged = damaged;
      const asn = receiptAsn(receipt);
      const stillAdding = addTo && receipt.lpn === body.lpn;
      this.lastReceipt = receipt;
      if (asn !== this.asn) this.setAsn(asn);
      quantityInput.value = "";
      this.querySelector(".damaged").checked = false;
      this.querySelector(".blind").checked = false;
      this.renderOptions();
      this.querySelector(".keep-lpn").checked = Boolean(stillAdding);
      this.showReceipt(receipt, raw);
      const units = receipt.lines.reduce((sum, ln) => sum + ln.quantity, 0);
      const where = receipt.lpn ? ` on ${receipt.lpn}` : ` into ${receipt.location}`;
      const moved = withoutLpn ? ` (a new LPN: ${asn || "blind"} does not go on the old one)` : "";
      const label = { printing: " · label printing", not_printed: " · label NOT printed" }[receipt.label?.status] || "";
      feedback.ok(`Received ${receipt.lines.length} line${receipt.lines.length === 1 ? "" : "s"}, ${units} units${where}${moved}${label}`);
      this.refreshExpected();
    } catch (err) {
      // "Add to LPN" is for one ASN: a case of another goes onto a new LPN, with no second scan.
      elsewhere = err instanceof ApiError && err.code === "lpn_other_asn" && !withoutLpn;
      if (elsewhere) keep.checked = false;
      else this.refused(err, raw);
    } finally {
      this.busy = false;
    }
    if (elsewhere) await this.receive(raw, { withoutLpn: true });
  }

  refused(err, raw) {
    const { feedback } = this.ctx;
    const code = err instanceof ApiError ? err.code : "";
    const details = (err instanceof ApiError && err.details) || {};
    const result = this.querySelector(".receipt-result");
    if (code === "over_receipt") {
      result.innerHTML = `<div class="card over-receipt" role="status">
        <p class="prompt">Sent to a supervisor for approval</p>
        <p class="caption">${esc(err.message)}</p>
        ${details.exception_id ? `<p class="note">Exception #<b class="exception-id">${esc(details.exception_id)}</b></p>` : ""}
      </div>`;
      feedback.attention(`Sent to a supervisor for approval: ${details.quantity ?? ""} more than ${details.shipment || "the ASN"}` +
        ` line ${details.line_no ?? ""} allows. Keep it aside at the dock.`);
      return;
    }
    if (code === "not_expected" && details.blind_allowed) {
      result.innerHTML = `<div class="card not-expected" role="status">
        <p class="prompt">Not on any open ASN</p>
        <p class="caption">Receive it blind (no ASN), or set it aside for a supervisor.</p>
        <button type="button" class="big primary receive-blind">Receive it blind</button>
      </div>`;
      result.querySelector(".receive-blind").addEventListener("click", () => {
        if (!this.busy) this.receive(raw, { blind: true });
      });
    }
    feedback.error(err);
  }

  showReceipt(receipt, raw) {
    const rows = receipt.lines.map((ln) => `
      <tr><td class="sku">${esc(ln.sku)}</td><td class="num">${esc(ln.quantity)}</td>
          <td>${esc(ln.lot || "")}${ln.expiry ? `<br><small>exp ${esc(ln.expiry)}</small>` : ""}</td>
          <td><small>${esc(ln.shipment || "blind")}${ln.line_no ? ` #${esc(ln.line_no)}` : ""}</small></td></tr>`).join("");
    const label = receipt.label;
    const putaway = (receipt.putaway || []).map((p) => `<li data-task="${esc(p.task_id)}">
        ${esc(p.sku || "all of it")} × ${esc(p.quantity)} → <b>${esc(p.to_location || "?")}</b>
        ${p.to_location ? "" : `<br><small>${esc(p.instruction || "")}</small>`}</li>`).join("");
    this.querySelector(".receipt-result").innerHTML = `
      <div class="card">
        <div class="lpn-line"><span class="caption">LPN</span> <b class="lpn">${esc(receipt.lpn || "—")}</b></div>
        ${label ? `<p class="label-line" data-status="${esc(label.status)}">${label.printed ? "🖨 " : ""}${esc(label.message)}
          ${label.status === "not_printed" && receipt.lpn
            ? `<button type="button" class="small print-label">Print label</button>` : ""}</p>` : ""}
        <div class="caption">at ${esc(receipt.location)} · scan <code>${esc(showRaw(raw))}</code></div>
        <table class="lines"><thead><tr><th>SKU</th><th>Qty</th><th>Lot</th><th>ASN</th></tr></thead>
          <tbody>${rows}</tbody></table>
        ${putaway ? `<p class="note">Putaway${receipt.putaway.length > 1 ? ` in ${receipt.putaway.length} parts (mixed LPN)` : ""}:</p>
          <ul class="putaway-plan">${putaway}</ul>` : ""}
        ${receipt.exception_id ? `<p class="note warn">Exception #${esc(receipt.exception_id)} queued for a supervisor.</p>` : ""}
      </div>`;
    this.querySelector(".print-label")?.addEventListener("click", () => this.printLabel(receipt.lpn));
  }

  async printLabel(lpn) {
    const { api, session, feedback } = this.ctx;
    try {
      const label = await api.post("/receipts/lpn-label", { site: session.site, dock: this.dock, lpn });
      const line = this.querySelector(".label-line");
      if (line) {
        line.dataset.status = label.status;
        line.textContent = `${label.printed ? "🖨 " : ""}${label.message}`;
      }
      if (label.printed) feedback.ok(label.message);
      else feedback.error(label.message);
    } catch (err) {
      feedback.error(err);
    }
  }

  // --- what the dock expects ----------------------------------------------------------------

  renderExpected() {
    const box = this.querySelector(".expected");
    if (!box || !this.expected) return;
    this.renderCurrentAsn();
    const asns = this.expected.data;
    box.innerHTML = `<h2 class="expected-title">Expected at ${esc(this.dock)}
        <span class="caption">${asns.length ? `${this.expected.count} open ASN${this.expected.count === 1 ? "" : "s"}` : "nothing open"}</span></h2>
      ${asns.map((a) => this.asnCard(a)).join("")}`;
    box.querySelectorAll(".asn-card").forEach((b) => b.addEventListener("click", () =>
      this.setAsn(b.dataset.asn === this.asn ? null : b.dataset.asn)));
  }

  /** Where you are, above the fold: the ASN being unloaded and how far it is; a tap shows its lines. */
  renderCurrentAsn() {
    const strip = this.querySelector(".current-asn");
    const a = this.asn && this.expected.data.find((x) => x.reference === this.asn);
    strip.hidden = !a;
    if (!a) return;
    strip.innerHTML = `<span class="asn-ref">${esc(a.reference)}</span>
      <span class="asn-progress"><b>${esc(a.lines_done)}</b>/${esc(a.lines.length)} lines ·
        <b>${esc(a.units_received)}</b>/${esc(a.units_expected)} units</span>
      <progress max="${esc(a.units_expected)}" value="${esc(a.units_received)}"></progress>`;
    strip.onclick = () => this.querySelector(`.asn[data-asn="${CSS.escape(a.reference)}"]`)?.scrollIntoView({ block: "start" });
  }

  asnCard(a) {
    const open = a.reference === this.asn;
    const lines = a.lines.map((ln) => `
      <li class="asn-line ${ln.done ? "done" : ""}" data-line="${esc(ln.line_no)}">
        <span class="asn-line-what"><b>${esc(ln.sku)}</b> <span class="caption">${esc(ln.description)}</span>
          ${ln.sscc ? `<br><small>pallet …${esc(ln.sscc.slice(-6))}</small>` : ""}${ln.lot ? ` <small>lot ${esc(ln.lot)}</small>` : ""}</span>
        <span class="asn-line-qty"><b class="received">${esc(ln.quantity_received)}</b>/<span class="expected-qty">${esc(ln.quantity_expected)}</span></span>
      </li>`).join("");
    return `<div class="asn ${open ? "current" : ""}" data-asn="${esc(a.reference)}">
      <button type="button" class="asn-card" data-asn="${esc(a.reference)}" aria-expanded="${open}">
        <span class="asn-ref">${esc(a.reference)}</span>
        <span class="asn-supplier caption">${esc(a.supplier)}${a.at_this_dock ? " · here" : ""}</span>
        <span class="asn-progress"><b class="lines-done">${esc(a.lines_done)}</b>/${esc(a.lines.length)} lines ·
          <b class="units-received">${esc(a.units_received)}</b>/${esc(a.units_expected)} units</span>
        <progress max="${esc(a.units_expected)}" value="${esc(a.units_received)}"></progress>
      </button>
      ${open ? `<ul class="asn-lines">${lines}</ul>` : ""}
    </div>`;
  }
}

function receiptAsn(receipt) {
  const withAsn = receipt.lines.find((ln) => ln.shipment);
  return withAsn ? withAsn.shipment : null;
}

customElements.define("wes-receive", ReceiveScreen);
