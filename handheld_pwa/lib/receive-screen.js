/*
 * Usage: <wes-receive></wes-receive> with `.ctx` set (see app-shell.js); scans arrive via onScan(raw).
 *
 * Step 1: choose or scan the dock (must be a location of kind "dock").
 * Step 2: scan pallet SSCCs or case GTIN / GS1-128 labels; each scan posts a
 * receipt and shows the LPN and the received lines. Optional: a quantity, the
 * "damaged" flag, and "keep building" the last LPN (for cases).
 */

import { esc, showRaw } from "./dom.js";
import "./scan-field.js";

export class ReceiveScreen extends HTMLElement {
  connectedCallback() {
    this.dock = null;
    this.lastReceipt = null;
    this.busy = false;
    this.renderDockStep();
  }

  onScan(raw) {
    if (this.busy) return;
    if (this.dock) this.receive(raw);
    else this.chooseDock(raw.trim());
  }

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

  async chooseDock(code) {
    const { api, session, feedback } = this.ctx;
    if (!code) return;
    this.busy = true;
    try {
      const location = await api.get(`/locations/${encodeURIComponent(code)}`, { site: session.site });
      if (location.kind !== "dock") {
        feedback.error(`${location.code} is not a dock (it is ${location.kind.replace(/_/g, " ")}). Scan a dock.`);
        return;
      }
      this.dock = location.code;
      this.renderReceiveStep();
      feedback.info(`At ${this.dock}. Scan a pallet or case label.`);
    } catch (err) {
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  renderReceiveStep() {
    this.innerHTML = `
      <section class="stack">
        <div class="where"><span class="caption">Dock</span> <b class="dock-code">${esc(this.dock)}</b>
          <button type="button" class="small change-dock">Change</button></div>
        <wes-scan-field label="Pallet SSCC or case label" name="receipt-scan"></wes-scan-field>
        <div class="options">
          <label class="field inline">Qty <input class="quantity" type="number" min="1" inputmode="numeric" placeholder="auto"></label>
          <label class="toggle"><input type="checkbox" class="damaged"> Damaged</label>
          <label class="toggle keep-lpn-box" hidden><input type="checkbox" class="keep-lpn"> Add to <span class="keep-lpn-code"></span></label>
        </div>
        <div class="receipt-result" aria-live="polite"></div>
      </section>`;
    this.querySelector("wes-scan-field").addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".change-dock").addEventListener("click", () => {
      this.dock = null;
      this.renderDockStep();
    });
  }

  async receive(raw) {
    const { api, session, feedback } = this.ctx;
    const body = { site: session.site, dock: this.dock, scan: raw };
    const quantity = parseInt(this.querySelector(".quantity").value, 10);
    if (quantity > 0) body.quantity = quantity;
    if (this.querySelector(".damaged").checked) body.damaged = true;
    if (this.lastReceipt && this.lastReceipt.lpn && this.querySelector(".keep-lpn").checked) body.lpn = this.lastReceipt.lpn;
    this.busy = true;
    feedback.info(`Receiving ${showRaw(raw)}…`);
    try {
      const receipt = await api.post("/receipts", body);
      this.lastReceipt = receipt;
      this.showReceipt(receipt, raw);
      this.querySelector(".quantity").value = "";
      this.querySelector(".damaged").checked = false;
      const units = receipt.lines.reduce((sum, ln) => sum + ln.quantity, 0);
      feedback.ok(`Received ${receipt.lines.length} line${receipt.lines.length === 1 ? "" : "s"}, ${units} units` +
        (receipt.lpn ? ` on ${receipt.lpn}` : ""));
    } catch (err) {
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  showReceipt(receipt, raw) {
    const keep = this.querySelector(".keep-lpn-box");
    keep.hidden = !receipt.lpn;
    this.querySelector(".keep-lpn-code").textContent = receipt.lpn || "";
    const rows = receipt.lines.map((ln) => `
      <tr><td class="sku">${esc(ln.sku)}</td><td class="num">${esc(ln.quantity)}</td>
          <td>${esc(ln.lot || "")}${ln.expiry ? `<br><small>exp ${esc(ln.expiry)}</small>` : ""}</td>
          <td><small>${esc(ln.shipment || "blind")}${ln.line_no ? ` #${esc(ln.line_no)}` : ""}</small></td></tr>`).join("");
    this.querySelector(".receipt-result").innerHTML = `
      <div class="card">
        <div class="lpn-line"><span class="caption">LPN</span> <b class="lpn">${esc(receipt.lpn || "—")}</b></div>
        <div class="caption">at ${esc(receipt.location)} · scan <code>${esc(showRaw(raw))}</code></div>
        <table class="lines"><thead><tr><th>SKU</th><th>Qty</th><th>Lot</th><th>ASN</th></tr></thead>
          <tbody>${rows}</tbody></table>
        ${receipt.putaway_task_id ? `<p class="note">Putaway task #${esc(receipt.putaway_task_id)} created.</p>` : ""}
        ${receipt.exception_id ? `<p class="note warn">Exception #${esc(receipt.exception_id)} queued for a supervisor.</p>` : ""}
      </div>`;
  }
}

customElements.define("wes-receive", ReceiveScreen);
