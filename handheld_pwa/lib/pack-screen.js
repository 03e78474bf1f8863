/*
 * Usage: <wes-pack></wes-pack> with `.ctx` set (see app-shell.js; needs ctx.work); scans arrive via onScan(raw).
 *
 * The pack bench, one carton at a time:
 *  1. The bench: scan its label or tap it (a location of kind "pack"; this device keeps it for next
 *     time). The printer its shipping labels go to is shown (GET /printer-routes/resolve).
 *  2. Scan a tote: GET /totes/{scan}/packing lists, per order in the tote, what is to be packed. A tote
 *     holding several orders is packed one order at a time: tap the order, or scan an item only one of
 *     them holds.
 *  3. Scan each item into the carton. Each scan is checked at once by the server
 *     (POST /totes/{tote}/packing/check): a wrong or surplus item is refused there, in red. For
 *     multiples, key how many ("×") before scanning one of them.
 *  4. Choose the carton size, key the weight, "Close carton": the `pack` command (through the outbox)
 *     puts the scanned items in a new carton, closes it and queues its GS1 shipping label at the bench's
 *     printer. The screen follows each label (GET /print-jobs/{id}) until it printed — or says why not,
 *     with a Reprint button. What is left
 *     in the tote goes into the next carton.
 * "Item missing" reports units not in the tote (report_pack_short; a supervisor is told). "Packing slip"
 * opens the order's packing slip (PDF).
 */

import { API_ROOT, ApiError } from "./api.js";
import { esc } from "./dom.js";
import { WorkScreen } from "./work-screen.js";
import "./scan-field.js";

const BENCH_KEY = "wes.pack.bench";
const SIZE_KEY = "wes.pack.carton";
const POLL_MS = 400;
const FINAL_JOB_STATES = new Set(["sent", "failed", "cancelled"]);

export class PackScreen extends WorkScreen {
  setUp() {
    this.bench = null; // { code, printer, printerProblem }
    this.view = null; // GET /totes/{tote}/packing: the tote being packed
    this.order = null; // the order being packed from it
    this.carton = new Map(); // sku (or raw scan, offline) → { sku, product, quantity }
    this.size = localStorage.getItem(SIZE_KEY) || "M";
    this.closing = new Map(); // outbox entry id → the items of a carton being closed (back in the carton if refused)
    this.answers = new Map(); // outbox entry id → ok, for pack answers (one may come before command() returns)
    this.weight = ""; // what is keyed in the weight field, kept across redraws
    this.prints = []; // the labels of the last close: { jobId, what, state, printer, error, attempts }
    this.missing = null; // the "item missing" panel: { sku } once a line is chosen
    this.lastOrder = null; // the order of the last carton closed (its packing slip)
    const bench = localStorage.getItem(BENCH_KEY);
    if (bench) queueMicrotask(() => this.setBench(bench, { quiet: true }));
    else queueMicrotask(() => this.loadBenches());
  }

  onTasks() {} // (packing is not dispatched as tasks: a redraw would only lose what is being keyed)

  onRevoked() {}

  async accept(raw) {
    if (!this.bench) await this.scanBench(raw);
    else if (!this.view) await this.loadTote(raw);
    else await this.scanItem(raw);
  }

  get site() { return this.ctx.session.site; }

  // --- the bench -------------------------------------------------------------------------------------

  async loadBenches() {
    try {
      const benches = await this.ctx.api.get("/locations", { site: this.site, kind: "pack", limit: 50 });
      this.benches = benches.data.map((b) => b.code);
      if (this.isConnected && !this.bench) this.render();
    } catch { /* offline: scan the bench */ }
  }

  async scanBench(raw) {
    const { api, feedback, settings } = this.ctx;
    const body = { site: this.site, raw };
    if (settings.gsSubstitute) body.gs_substitutes = [settings.gsSubstitute];
    let scanned;
    try {
      scanned = await api.post("/scans/classify", body);
    } catch (err) {
      feedback.error(err);
      return;
    }
    if (scanned.kind !== "location" || !scanned.location) {
      feedback.error(new ApiError(0, "wrong_station", `That is ${kindInWords(scanned.kind)}: scan the pack bench's label`));
      return;
    }
    await this.setBench(scanned.location.code);
  }

  /** The bench by its code; `quiet`: the one this device kept from last time (offline, it is trusted). */
  async setBench(code, { quiet = false } = {}) {
    const { api, feedback } = this.ctx;
    let location;
    try {
      location = await api.get(`/locations/${encodeURIComponent(code)}`, { site: this.site });
    } catch (err) {
      if (quiet && err.code === "network_error") location = { code, kind: "pack" };
      else {
        if (quiet) this.forgetBench();
        else feedback.error(err);
        return;
      }
    }
    if (location.kind !== "pack") {
      if (quiet) this.forgetBench();
      else feedback.error(new ApiError(0, "wrong_station", `${location.code} is not a pack bench (it is ${location.kind.replace(/_/g, " ")}). Scan your bench.`));
      return;
    }
    this.bench = { code: location.code, printer: null, printerProblem: null };
    localStorage.setItem(BENCH_KEY, this.bench.code);
    this.render();
    if (quiet) feedback.info(`At ${this.bench.code}: scan a tote`);
    else feedback.ok(`At ${this.bench.code}: scan a tote`);
    this.findPrinter();
  }

  forgetBench() {
    localStorage.removeItem(BENCH_KEY);
    this.loadBenches();
  }

  async findPrinter() {
    const bench = this.bench;
    try {
      const found = await this.ctx.api.get("/printer-routes/resolve", { site: this.site, label_type: "shipping", station: bench.code });
      bench.printer = found.printer;
    } catch (err) {
      if (err.code !== "network_error") bench.printerProblem = err.message;
    }
    if (this.isConnected && this.bench === bench) this.render();
  }

  changeBench() {
    localStorage.removeItem(BENCH_KEY);
    this.bench = null;
    this.view = null;
    this.carton.clear();
    this.render();
    this.ctx.feedback.info("Scan your pack bench");
    this.loadBenches();
  }

  // --- the tote --------------------------------------------------------------------------------------

  async fetchTote(raw) {
    return this.ctx.api.get(`/totes/${encodeURIComponent(raw.trim())}/packing`, { site: this.site });
  }

  async loadTote(raw, { quietIfNotATote = false } = {}) {
    const { feedback } = this.ctx;
    let view;
    try {
      view = await this.fetchTote(raw);
    } catch (err) {
      if (quietIfNotATote && err.code === "not_a_tote") return false;
      feedback.error(err);
      return true;
    }
    if (!view.orders.length) {
      const what = view.unassigned.length ? "holds only stock no order's pick put there: give it to a supervisor"
        : "is empty: nothing to pack";
      feedback.error(new ApiError(0, "tote_empty", `Tote ${view.tote} ${what}`));
      return true;
    }
    this.showTote(view);
    const units = view.orders.reduce((n, o) => n + o.units, 0);
    feedback.ok(view.orders.length === 1
      ? `Tote ${view.tote}: ${view.orders[0].order}, ${units} item${units === 1 ? "" : "s"} — scan each item`
      : `Tote ${view.tote} holds ${view.orders.length} orders: tap one, or scan an item`);
    return true;
  }

  clearWeight() {
    this.weight = "";
    const weight = this.querySelector(".pack-weight");
    if (weight) weight.value = ""; // (so the redraw does not keep it)
  }

  showTote(view) {
    this.view = view;
    this.carton.clear();
    this.clearWeight();
    this.missing = null;
    if (!view.orders.some((o) => o.order === this.order)) this.order = view.orders.length === 1 ? view.orders[0].order : null;
    this.render();
  }

  async refreshTote() {
    const tote = this.view && this.view.tote;
    if (!tote) return;
    try {
      const view = await this.fetchTote(tote);
      if (!this.view || this.view.tote !== tote) return;
      if (!view.orders.length) {
        this.view = null;
        this.order = null;
      } else {
        this.view = view;
        if (!view.orders.some((o) => o.order === this.order)) this.order = view.orders.length === 1 ? view.orders[0].order : null;
      }
      this.render();
    } catch { /* offline: the screen keeps what it had */ }
  }

  nextTote() {
    this.view = null;
    this.order = null;
    this.carton.clear();
    this.missing = null;
    this.render();
    this.ctx.feedback.info("Scan the next tote");
  }

  get orderView() {
    return this.view && this.order ? this.view.orders.find((o) => o.order === this.order) || null : null;
  }

  chooseOrder(reference) {
    if (this.carton.size && reference !== this.order) {
      this.ctx.feedback.error(new ApiError(0, "finish_first", `Close this carton of ${this.order} first`));
      return;
    }
    this.order = reference;
    this.missing = null;
    this.render();
    this.ctx.feedback.info(`Packing ${reference}: scan each item`);
  }

  // --- items -----------------------------------------------------------------------------------------

  get multiple() {
    const n = Number(this.querySelector(".pack-multiple")?.value || 1);
    return Number.isInteger(n) && n > 0 ? n : 1;
  }

  inCarton() {
    const counts = {};
    for (const item of this.carton.values()) if (item.sku) counts[item.sku] = item.quantity;
    return counts;
  }

  async scanItem(raw) {
    const { api, feedback } = this.ctx;
    const quantity = this.multiple;
    let checked;
    try {
      checked = await api.post(`/totes/${encodeURIComponent(this.view.tote)}/packing/check`, {
        site: this.site, scan: raw, quantity, order: this.order, in_carton: this.inCarton() });
    } catch (err) {
      if (err.code === "network_error") {
        // Offline: the scan goes into the carton as it is; the server checks it when the carton is sent.
        const key = `raw:${raw}`;
        const item = this.carton.get(key) || { sku: null, product: raw, quantity: 0 };
        item.quantity += quantity;
        this.carton.set(key, item);
        feedback.attention(`Offline: ${quantity} item${quantity === 1 ? "" : "s"} taken unchecked — the server checks them when the carton closes`);
        this.render();
        return;
      }
      // A tote scanned while the carton is empty: the packer moved on to that tote.
      if (err.code === "not_a_product" && !this.carton.size && (await this.loadTote(raw, { quietIfNotATote: true }))) return;
      feedback.error(err);
      return;
    }
    if (!this.order) this.order = checked.order;
    const item = this.carton.get(checked.sku) || { sku: checked.sku, product: checked.sku, quantity: 0 };
    item.quantity += quantity;
    this.carton.set(checked.sku, item);
    feedback.ok(`${checked.sku} ✓ ${item.quantity} of ${checked.in_tote}`);
    this.render();
  }

  removeFromCarton(key) {
    const item = this.carton.get(key);
    this.carton.delete(key);
    this.ctx.feedback.info(`${item.sku || "That scan"} taken out of the carton`);
    this.render();
  }

  // --- close -----------------------------------------------------------------------------------------

  async closeCarton() {
    const { feedback, work } = this.ctx;
    const weight = Number(String(this.querySelector(".pack-weight")?.value || "").replace(",", "."));
    if (!this.carton.size) {
      feedback.error(new ApiError(0, "carton_empty", "Scan the items into the carton first"));
      return;
    }
    if (!(weight > 0)) {
      feedback.error(new ApiError(0, "invalid_weight", "Weigh the carton and key its weight in kg"));
      this.querySelector(".pack-weight")?.focus();
      return;
    }
    const items = [...this.carton.values()].map((i) => ({ product: i.product, quantity: i.quantity }));
    const payload = { tote: this.view.tote, station: this.bench.code, items, carton_type: this.size, weight_kg: weight };
    if (this.order) payload.order = this.order;
    // The carton is on its way: the next one can be packed meanwhile (offline too); refused, it comes back.
    const closing = new Map(this.carton);
    this.carton.clear();
    this.clearWeight();
    this.render();
    let entry;
    try {
      entry = await work.command("pack", payload);
    } catch (err) {
      this.putBack(closing);
      feedback.error(err);
      return;
    }
    if (this.answers.has(entry.id)) {
      if (!this.answers.get(entry.id)) this.putBack(closing); // answered already, before command() came back
      return;
    }
    this.closing.set(entry.id, closing);
    if (work.state === "online") feedback.info("Closing the carton…");
    else feedback.attention("Saved offline: the carton is closed and its label printed when the connection is back");
  }

  putBack(items) {
    for (const [key, item] of items) {
      const there = this.carton.get(key);
      if (there) there.quantity += item.quantity;
      else this.carton.set(key, { ...item });
    }
    this.render();
  }

  // --- item missing ----------------------------------------------------------------------------------

  openMissing() {
    const order = this.orderView;
    if (!order) {
      this.ctx.feedback.error(new ApiError(0, "order_required", "Choose the order first"));
      return;
    }
    this.missing = { sku: order.lines.length === 1 ? order.lines[0].sku : null };
    this.render();
  }

  async reportMissing() {
    const { feedback, work } = this.ctx;
    const quantity = Number(this.querySelector(".missing-quantity")?.value);
    if (!this.missing || !this.missing.sku) {
      feedback.error(new ApiError(0, "product_required", "Tap the item that is missing"));
      return;
    }
    if (!Number.isInteger(quantity) || quantity < 1) {
      feedback.error(new ApiError(0, "invalid_quantity", "Key how many are missing"));
      return;
    }
    try {
      await work.command("report_pack_short", { tote: this.view.tote, station: this.bench.code, order: this.order,
        product: this.missing.sku, quantity });
    } catch (err) {
      feedback.error(err);
      return;
    }
    this.missing = null;
    if (work.state !== "online") feedback.attention("Saved offline: reported when the connection is back");
    this.render();
  }

  // --- packing slip ----------------------------------------------------------------------------------

  async packingSlip(reference) {
    const { session, feedback } = this.ctx;
    try {
      const url = new URL(`${API_ROOT}/orders/${encodeURIComponent(reference)}/packing-slip.pdf`, location.origin);
      url.searchParams.set("site", this.site);
      const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
      if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, `The packing slip of ${reference} did not come`);
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.target = "_blank";
      link.rel = "noopener";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      feedback.info(`Packing slip of ${reference} opened`);
    } catch (err) {
      feedback.error(err instanceof ApiError ? err : new ApiError(0, "network_error", "No connection to the server. Check Wi-Fi and try again."));
    }
  }

  // --- answers and labels ----------------------------------------------------------------------------

  onAnswer({ entry, message }) {
    if (entry.type !== "pack" && entry.type !== "report_pack_short") return;
    const { feedback } = this.ctx;
    if (entry.type === "pack") {
      this.answers.set(entry.id, message.ok);
      const closing = this.closing.get(entry.id);
      this.closing.delete(entry.id);
      if (closing && !message.ok) this.putBack(closing);
    }
    if (!message.ok) {
      const e = message.error || {};
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
      this.render();
      return;
    }
    const r = message.result;
    if (entry.type === "pack") {
      this.lastOrder = r.order;
      this.prints = [{ jobId: r.print_job_id, carton: r.carton_no, what: `Carton ${r.carton_no}${r.carton_count ? ` of ${r.carton_count}` : ""}` }];
      feedback.ok(`Carton ${r.carton_no}${r.carton_count ? ` of ${r.carton_count}` : ""} of ${r.order} closed`);
      this.pollPrints();
    } else {
      feedback.ok(`Reported: ${r.quantity} × ${r.sku} missing from tote ${r.tote}. A supervisor has been told.`);
    }
    this.render();
    this.refreshTote();
  }

  /** Follow the labels until each is sent or failed: every POLL_MS for a while, then every few seconds. */
  async pollPrints() {
    if (this.polling) return;
    this.polling = true;
    const started = performance.now();
    try {
      while (this.isConnected && this.prints.some((p) => !FINAL_JOB_STATES.has(p.state))) {
        await Promise.all(this.prints.filter((p) => !FINAL_JOB_STATES.has(p.state)).map(async (p) => {
          try {
            const job = await this.ctx.api.get(`/print-jobs/${p.jobId}`);
            const was = p.state;
            Object.assign(p, { state: job.state, printer: job.printer, attempts: job.attempts,
              errorCode: job.error_code || "", error: job.last_error || "" });
            if (job.state === "failed" && was !== "failed") {
              this.ctx.feedback.error(new ApiError(0, job.error_code || "print_failed",
                `${p.what}: label not printed. Check the printer, then press Reprint.`));
            }
          } catch { /* offline: asked again on the next round */ }
        }));
        this.renderPrints();
        const pause = performance.now() - started < 20000 ? POLL_MS : 3000;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    } finally {
      this.polling = false;
    }
  }

  async reprint(jobId) {
    const { api, feedback } = this.ctx;
    const p = this.prints.find((x) => x.jobId === jobId);
    try {
      const job = await api.post(`/print-jobs/${jobId}/reprint`, {});
      Object.assign(p, { jobId: job.id, state: job.state, printer: job.printer, error: "", errorCode: "", attempts: 0 });
      feedback.info(`Reprinting the label of ${p.what.toLowerCase()} on ${job.printer}…`);
      this.renderPrints();
      this.pollPrints();
    } catch (err) {
      feedback.error(err);
    }
  }

  printLine(p) {
    const state = p.state || "queued";
    const label = esc(`${p.what}: label`);
    const printer = p.printer ? ` (<span class="nowrap">${esc(p.printer)}</span>)` : "";
    let html;
    if (state === "sent") html = `✔ ${label} printed${printer}`;
    else if (state === "failed" || state === "cancelled") html = `✖ ${label} not printed${printer} — ${esc(whyNot(p))}`;
    else html = `… ${label} printing${printer}${p.attempts && p.errorCode ? ` — waiting: ${esc(whyNot(p))}` : ""}`;
    const reprint = state === "failed" || state === "cancelled"
      ? `<button type="button" class="small reprint" data-job="${esc(p.jobId)}">Reprint</button>` : "";
    return `<li class="print-status" data-state="${esc(state)}" data-carton="${esc(p.carton)}" data-job="${esc(p.jobId)}">
      <span class="print-text">${html}</span>${reprint}</li>`;
  }

  renderPrints() {
    const list = this.querySelector(".print-list");
    if (!list) return;
    list.innerHTML = this.prints.map((p) => this.printLine(p)).join("");
    list.hidden = !this.prints.length;
    list.querySelectorAll(".reprint").forEach((b) => b.addEventListener("click", () => this.reprint(Number(b.dataset.job))));
  }

  // --- drawing ---------------------------------------------------------------------------------------

  render() {
    const weight = this.querySelector(".pack-weight");
    if (weight) this.weight = weight.value; // (a redraw keeps what was keyed)
    if (this.showEnrollment()) return;
    if (!this.bench) this.renderBench();
    else if (!this.view) this.renderTote();
    else this.renderItems();
    this.renderPrints();
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
  }

  benchLine() {
    const b = this.bench;
    const printer = b.printer ? `labels on <b class="pack-printer">${esc(b.printer)}</b>`
      : b.printerProblem ? `<span class="warn">${esc(b.printerProblem)}</span>` : "";
    return `<p class="pack-bench-line caption">Bench <b class="pack-bench">${esc(b.code)}</b>${printer ? ` · ${printer}` : ""}
      <button type="button" class="link change-bench">Change</button></p>`;
  }

  renderBench() {
    const benches = (this.benches || []).map((code) =>
      `<button type="button" class="big" data-bench="${esc(code)}">${esc(code)}</button>`).join("");
    this.innerHTML = `<section class="stack pack-card" data-step="bench">
      <p class="prompt">Scan your pack bench's label, or tap it.</p>
      <wes-scan-field label="Pack bench" name="bench-scan"></wes-scan-field>
      <div class="choices bench-list" aria-label="Pack benches">${benches}</div></section>`;
    this.querySelectorAll("[data-bench]").forEach((b) => b.addEventListener("click", () => this.setBench(b.dataset.bench)));
  }

  renderTote() {
    const slip = this.lastOrder ? `<button type="button" class="small packing-slip" data-order="${esc(this.lastOrder)}">Packing slip ${esc(this.lastOrder)}</button>` : "";
    this.innerHTML = `<section class="stack pack-card" data-step="tote">
      <ul class="print-list" hidden></ul>
      <p class="prompt pack-now">Scan a tote</p>
      <wes-scan-field label="Tote" name="tote-scan"></wes-scan-field>
      <div class="pack-actions">${slip}</div>
      ${this.benchLine()}</section>`;
    this.wireCommon();
  }

  renderItems() {
    const view = this.view;
    const order = this.orderView;
    const counts = this.inCarton();
    let body;
    if (!order) {
      body = `<p class="prompt pack-now">This tote holds ${view.orders.length} orders: tap one, or scan an item</p>
        <div class="pack-orders">${view.orders.map((o) => `<button type="button" class="big pack-order-choice" data-order="${esc(o.order)}">
          <b>${esc(o.order)}</b> <span class="caption">${esc(o.units)} item${o.units === 1 ? "" : "s"}${o.carrier ? ` · ${esc(o.carrier)}` : ""}</span></button>`).join("")}</div>`;
    } else {
      const lines = order.lines.map((ln) => {
        const n = counts[ln.sku] || 0;
        const state = n >= ln.quantity ? "full" : n ? "some" : "none";
        return `<li class="pack-line" data-sku="${esc(ln.sku)}" data-state="${state}">
          <span class="pack-line-what"><b class="pack-line-sku">${esc(ln.sku)}</b> <span class="caption">${esc(ln.description || "")}</span></span>
          <span class="pack-line-count"><b class="pack-line-scanned">${esc(n)}</b>/<span class="pack-line-quantity">${esc(ln.quantity)}</span></span>
          ${n ? `<button type="button" class="pack-line-remove" data-key="${esc(ln.sku)}" aria-label="Take ${esc(ln.sku)} out of the carton">✕</button>` : ""}</li>`;
      }).join("");
      const unchecked = [...this.carton.entries()].filter(([, i]) => !i.sku).map(([key, i]) => `<li class="pack-line" data-state="unchecked">
          <span class="pack-line-what"><b>${esc(i.product)}</b> <span class="caption">not checked (offline)</span></span>
          <span class="pack-line-count"><b>${esc(i.quantity)}</b></span>
          <button type="button" class="pack-line-remove" data-key="${esc(key)}" aria-label="Take it out of the carton">✕</button></li>`).join("");
      body = `<ul class="pack-lines" aria-label="To pack from this tote">${lines}${unchecked}</ul>`;
    }
    const sizes = view.carton_types.map((t) => `<button type="button" class="size${t.code === this.size ? " chosen" : ""}" data-size="${esc(t.code)}"
      aria-pressed="${t.code === this.size}" title="${esc(t.name)} ${esc(t.inner_mm.join("×"))} mm, up to ${esc(t.max_kg)} kg">${esc(t.code)}</button>`).join("");
    const missing = this.missing && order ? this.missingPanel(order, counts) : "";
    this.innerHTML = `<section class="stack pack-card" data-step="items" data-tote="${esc(view.tote)}">
      <p class="pack-head">${order ? `<b class="pack-order">${esc(order.order)}</b>
          <span class="caption">${esc(order.carrier || "")} · carton ${esc(order.cartons.length + 1)}</span>` : ""}
          <span class="pack-tote-line caption">tote <b class="pack-tote">${esc(view.tote)}</b></span></p>
      <ul class="print-list" hidden></ul>
      ${body}
      ${missing}
      <wes-scan-field label="Scan each item" name="item-scan"></wes-scan-field>
      <div class="pack-row">
        <label class="pack-times">× <input class="pack-multiple" type="text" inputmode="numeric" pattern="[0-9]*" value="1"
          aria-label="How many of the next item scanned"></label>
        <div class="pack-sizes" role="group" aria-label="Carton size">${sizes}</div>
      </div>
      <form class="pack-close scan-row" autocomplete="off">
        <input class="pack-weight" type="text" inputmode="decimal" placeholder="kg" aria-label="Carton weight in kg"
          value="${esc(this.weight)}"><span class="pack-kg" aria-hidden="true">kg</span>
        <button type="submit" class="ok close-carton">Close carton</button>
      </form>
      <div class="pack-actions">
        <button type="button" class="small next-tote">Next tote</button>
        <button type="button" class="small item-missing" ${order ? "" : "disabled"}>Item missing</button>
        ${order || this.lastOrder ? `<button type="button" class="small packing-slip" data-order="${esc(order ? order.order : this.lastOrder)}">Packing slip</button>` : ""}
      </div>
      ${this.benchLine()}</section>`;
    this.wireCommon();
    this.querySelector(".next-tote").addEventListener("click", () => this.nextTote());
    this.querySelectorAll(".pack-order-choice").forEach((b) => b.addEventListener("click", () => this.chooseOrder(b.dataset.order)));
    this.querySelectorAll(".pack-line-remove").forEach((b) => b.addEventListener("click", () => this.removeFromCarton(b.dataset.key)));
    this.querySelectorAll(".size").forEach((b) => b.addEventListener("click", () => {
      this.size = b.dataset.size;
      localStorage.setItem(SIZE_KEY, this.size);
      this.querySelectorAll(".size").forEach((x) => {
        x.classList.toggle("chosen", x === b);
        x.setAttribute("aria-pressed", String(x === b));
      });
    }));
    this.querySelector(".pack-close").addEventListener("submit", (event) => {
      event.preventDefault();
      this.closeCarton();
    });
    this.querySelector(".item-missing").addEventListener("click", () => this.openMissing());
    this.querySelectorAll(".missing-sku").forEach((b) => b.addEventListener("click", () => {
      this.missing = { sku: b.dataset.sku };
      this.render();
    }));
    this.querySelector(".missing-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.reportMissing();
    });
    this.querySelector(".missing-cancel")?.addEventListener("click", () => { this.missing = null; this.render(); });
  }

  missingPanel(order, counts) {
    const chosen = this.missing.sku ? order.lines.find((ln) => ln.sku === this.missing.sku) : null;
    const left = chosen ? Math.max(1, chosen.quantity - (counts[chosen.sku] || 0)) : 1;
    return `<div class="missing-box stack" role="group" aria-label="Item missing">
      <p class="prompt">What is not in the tote?</p>
      <div class="choices missing-skus">${order.lines.map((ln) => `<button type="button" class="small missing-sku${ln.sku === this.missing.sku ? " chosen" : ""}"
        data-sku="${esc(ln.sku)}" aria-pressed="${ln.sku === this.missing.sku}">${esc(ln.sku)}</button>`).join("")}</div>
      <form class="missing-form scan-row" autocomplete="off">
        <input class="missing-quantity" type="text" inputmode="numeric" pattern="[0-9]*" value="${esc(left)}" aria-label="How many are missing">
        <button type="submit" class="ok report-missing" ${chosen ? "" : "disabled"}>Report missing</button>
        <button type="button" class="keyboard missing-cancel" aria-label="Cancel">✕</button>
      </form></div>`;
  }

  wireCommon() {
    this.querySelector(".change-bench")?.addEventListener("click", () => this.changeBench());
    this.querySelectorAll(".packing-slip").forEach((b) => b.addEventListener("click", () => this.packingSlip(b.dataset.order)));
  }
}

/** Why a label has not printed, in the packer's words (the spool's error code and message: backend/printing/spool.py). */
export function whyNot({ state, errorCode, error }) {
  if (errorCode === "uncertain_delivery") return "the connection broke while sending — did it come out?";
  if (errorCode === "printer_not_ready") {
    const reasons = String(error).split("not ready: ")[1];
    return `printer not ready${reasons ? ` (${reasons.replace(/_/g, " ")})` : ""}`;
  }
  if (errorCode === "printer_offline") return "the printer does not answer — is it on?";
  if (state === "cancelled") return "the print was cancelled";
  return error || errorCode || "unknown";
}

// What a classified scan is, in the floor's words (backend/scanning/result.py ScanKind).
function kindInWords(kind) {
  return { sscc: "a pallet or carton label (SSCC)", lpn: "an LPN", tote: "a tote", product: "a product",
    gs1: "a product label", location: "a location" }[kind] || `a ${String(kind).replace(/_/g, " ")}`;
}

customElements.define("wes-pack", PackScreen);
