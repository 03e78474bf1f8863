/*
 * Usage: <wes-count></wes-count> with `.ctx` set (see app-shell.js; needs ctx.work); scans via onScan(raw).
 *
 * Blind counts, one location after another:
 *  1. "Next count" claims one (claim_next_task, kinds ["count"]); the home tile says how many wait.
 *  2. Scan the location's label (checked at once: POST /tasks/{id}/check-scan).
 *  3. Scan each product found there. Every scan goes to the server's classifier (POST /scans/classify),
 *     so a GS1 label brings its lot and expiry and an AIM prefix is no matter; a lot-tracked product
 *     scanned by its bare GTIN asks for its lot. Key how many (each further scan of the same product
 *     adds one), then Add. The list shows what was counted; tap a line to change it, ✕ to remove it.
 *  4. "Done" sends the count (the `count` command, through the outbox); "Location empty" sends a count
 *     of nothing. The answer says what happened: booked within tolerance, sent to a supervisor, or
 *     "Count again" when the site asks for a recount (the recount comes straight back to this device).
 * The system's quantities are never shown. "Hand back" returns the count to the pool.
 */

import { ApiError } from "./api.js";
import { esc, keepCodes, showRaw } from "./dom.js";
import "./scan-field.js";
import { WorkScreen } from "./work-screen.js";

const KIND_NAMES = { location: "a location", lpn: "an LPN", sscc: "a pallet label (SSCC)", tote: "a tote" };

export class CountScreen extends WorkScreen {
  static kinds = ["count"];
  static noun = "count";
  static handBackTo = "to count";

  setUp() {
    this.reset(null);
    this.pending = new Set(); // task ids whose count is in the outbox, not answered yet
    this.waiting = null; // counts waiting for this worker (GET /tasks/waiting)
    this.products = new Map(); // sku → GET /products/{sku} (lot tracking, description)
    this.carried = null; // { taskId, location }: a recount of the location just scanned
    this.refreshWaiting();
  }

  reset(taskId) {
    this.taskId = taskId;
    this.location = null; // the location scan, as scanned
    this.lines = []; // [{ sku, lot, expiry, product (what is sent), quantity, description }]
    this.item = null; // the product being counted: { sku, lot, expiry, product, quantity, needsLot, edit }
    this.recount = false;
    this.typing = false; // the typed entry (a label that won't scan) is open
    if (this.carried && this.carried.taskId === taskId) {
      this.location = this.carried.location;
      this.recount = true;
    }
  }

  get current() {
    return this.ctx.work.tasksOf("count").find((t) => !this.pending.has(t.id)) || null;
  }

  async refreshWaiting() {
    try {
      const work = await this.ctx.api.get("/tasks/waiting", { site: this.ctx.session.site });
      this.waiting = work.waiting.count ?? null;
      if (this.isConnected && !this.current) this.render();
    } catch { /* offline: no count shown */ }
  }

  async accept(raw) {
    const task = this.current;
    const { feedback } = this.ctx;
    if (!task) {
      feedback.info("No count on this device: tap Next count");
      return;
    }
    if (this.taskId !== task.id) this.reset(task.id);
    if (!this.location) {
      if (!(await this.check(task, raw))) return;
      if (this.current?.id !== task.id) return;
      this.location = raw;
      feedback.ok(`${task.from_location} ✓ — scan each product`);
      this.render();
      return;
    }
    const scanned = await this.classify(raw);
    if (!scanned || this.current?.id !== task.id) return;
    if (this.item && this.item.needsLot) {
      this.takeLot(scanned, raw);
      return;
    }
    if (!scanned.product) {
      feedback.error(new ApiError(0, "not_a_product", `That is ${KIND_NAMES[scanned.kind] || "not a product"}: scan a product (GTIN or GS1 label)`));
      return;
    }
    const found = { sku: scanned.product.sku, lot: scanned.lot || "", expiry: scanned.expiry || null };
    if (this.item) {
      if (sameProduct(this.item, found) && this.item.edit == null) {
        const keyed = Number(this.querySelector(".count-quantity")?.value);
        this.item.quantity = (Number.isInteger(keyed) && keyed >= 0 ? keyed : this.item.quantity) + 1;
        feedback.ok(`${found.sku} +1 = ${this.item.quantity}`);
        this.render();
        return;
      }
      feedback.error(new ApiError(0, "finish_first", `Finish ${this.item.sku} first: key how many and press Add`));
      return;
    }
    const info = await this.productInfo(found.sku);
    this.item = { ...found, product: scanned.offline ? raw : found.sku, quantity: 1, description: info ? info.description : "",
      needsLot: Boolean(info && info.lot_tracked && !found.lot) };
    if (this.item.needsLot) feedback.ok(`${found.sku} ✓ — now its lot`);
    else feedback.ok(`${found.sku}${found.lot ? ` lot ${found.lot}` : ""} ✓ — how many?`);
    this.render();
  }

  /** The lot of a lot-tracked product scanned by its bare GTIN: from a GS1 label of it, or a lot barcode/keyed. */
  takeLot(scanned, raw) {
    const item = this.item;
    if (scanned.product && scanned.product.sku !== item.sku) {
      this.ctx.feedback.error(new ApiError(0, "wrong_product", `That is ${scanned.product.sku}: scan the lot of ${item.sku}`));
      return;
    }
    const lot = scanned.lot || (scanned.kind === "unknown_code" ? String(raw).trim() : "");
    if (!lot) {
      this.ctx.feedback.error(new ApiError(0, "lot_required", `No lot in that barcode: scan the GS1 label of ${item.sku} or key its lot`));
      return;
    }
    Object.assign(item, { lot, expiry: scanned.expiry || item.expiry, needsLot: false });
    this.ctx.feedback.ok(`Lot ${lot} ✓ — how many?`);
    this.render();
  }

  /** What the server's classifier says the scan is; a code it does not know is { kind: "unknown_code" }. */
  async classify(raw) {
    try {
      return await this.ctx.api.post("/scans/classify", { site: this.ctx.session.site, raw });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && this.item && this.item.needsLot) return { kind: "unknown_code" };
      if (err instanceof ApiError && (err.code === "network_error" || err.status === 0)) {
        // Offline: the raw scan is counted as it is; the server classifies it when the count is sent.
        return { kind: "product", product: { sku: showRaw(raw).trim() }, raw, offline: true };
      }
      this.ctx.feedback.error(err);
      return null;
    }
  }

  async check(task, raw) {
    try {
      await this.ctx.api.post(`/tasks/${task.id}/check-scan`, { step: "location", scan: raw });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code !== "network_error" && err.status !== 0) {
        this.ctx.feedback.error(err);
        return false;
      }
      return true; // offline: the count is checked when it is sent
    }
  }

  async productInfo(sku) {
    if (this.products.has(sku)) return this.products.get(sku);
    try {
      const info = await this.ctx.api.get(`/products/${encodeURIComponent(sku)}`);
      this.products.set(sku, info);
      return info;
    } catch {
      return null;
    }
  }

  addItem(value) {
    const item = this.item;
    const quantity = String(value).trim() === "" ? NaN : Number(value);
    if (!Number.isInteger(quantity) || quantity < 0) {
      this.ctx.feedback.error(new ApiError(0, "wrong_quantity", "Key how many you counted (0 or more)"));
      return;
    }
    if (item.needsLot) {
      this.ctx.feedback.error(new ApiError(0, "lot_required", `Scan the GS1 label of ${item.sku} or key its lot first`));
      return;
    }
    if (item.edit != null) this.lines.splice(item.edit, 1);
    const same = this.lines.find((l) => sameProduct(l, item));
    if (same) {
      same.quantity += quantity;
      this.ctx.feedback.ok(`${item.sku}${item.lot ? ` lot ${item.lot}` : ""}: ${same.quantity} in all`);
    } else {
      this.lines.push({ sku: item.sku, lot: item.lot, expiry: item.expiry, product: item.product, quantity,
        description: item.description });
      this.ctx.feedback.ok(`${item.sku}${item.lot ? ` lot ${item.lot}` : ""}: ${quantity} counted`);
    }
    this.item = null;
    this.render();
  }

  editLine(index) {
    const line = this.lines[index];
    this.item = { ...line, needsLot: false, edit: index };
    this.render();
  }

  removeLine(index) {
    const [line] = this.lines.splice(index, 1);
    this.ctx.feedback.info(`${line.sku} removed from the count`);
    this.render();
  }

  async send(task, lines) {
    const payload = { task_id: task.id, location: this.location, lines: lines.map((l) => {
      const line = { product: l.product, quantity: l.quantity };
      if (l.lot) line.lot = l.lot;
      if (l.expiry) line.expiry = l.expiry;
      return line;
    }) };
    try {
      await this.ctx.work.command("count", payload);
    } catch (err) {
      this.ctx.feedback.error(err);
      return;
    }
    this.pending.add(task.id);
    this.sent = { taskId: task.id, location: this.location, lines: this.lines };
    this.notice = null;
    this.reset(null);
    if (this.ctx.work.state === "online") this.ctx.feedback.info(`Sending the count of ${task.from_location}…`);
    else this.ctx.feedback.ok(`Count of ${task.from_location} saved offline: sent when the connection is back`);
    this.render();
  }

  // --- answers and news from the server --------------------------------------------------------------

  onAnswer({ entry, message }) {
    const { feedback } = this.ctx;
    const taskId = entry.payload && entry.payload.task_id;
    if (entry.type === "count") this.pending.delete(taskId);
    if (!["count", "claim_next_task", "release_task"].includes(entry.type)) return;
    if (!message.ok) {
      const e = message.error || {};
      if (entry.type === "count" && this.sent && this.sent.taskId === taskId) {
        // Refused (a lot missing, say): the count comes back as it was, to be put right and sent again.
        this.reset(taskId);
        Object.assign(this, { location: this.sent.location, lines: this.sent.lines });
      }
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
    } else if (entry.type === "count") {
      const r = message.result;
      if (r.status === "recount") {
        this.carried = { taskId: r.recount_task_id, location: entry.payload.location };
        if (this.taskId === r.recount_task_id) this.reset(r.recount_task_id);
        feedback.attention(r.message);
      } else if (r.status === "awaiting_approval") {
        this.lastDone = r.message;
        feedback.attention(r.message);
      } else {
        this.lastDone = r.message;
        feedback.ok(r.message);
      }
      this.refreshWaiting();
    } else if (entry.type === "claim_next_task" && !(message.result.tasks || []).length) {
      feedback.info("No count for you right now");
    }
    this.render();
  }

  // --- drawing -------------------------------------------------------------------------------------

  render() {
    if (this.showEnrollment()) return;
    const notice = this.noticeLine();
    if (this.renderHeld(notice)) return;
    const done = this.lastDone ? `<p class="count-done caption">Last: ${esc(this.lastDone)}</p>` : "";
    const sending = this.pending.size ? `<p class="caption">Sending the count…</p>` : "";
    const waiting = this.waiting != null ? `<p class="count-waiting"><b>${esc(this.waiting)}</b> count${this.waiting === 1 ? "" : "s"} waiting</p>` : "";
    this.innerHTML = `<section class="stack count-empty">${notice}${done}${sending}
      <button type="button" class="big primary get-next" ${this.claiming ? "disabled" : ""}>${this.claiming ? "Asking for work…" : "Next count"}</button>
      ${waiting}
    </section>`;
    this.querySelector(".get-next").addEventListener("click", () => this.claimNext());
  }

  renderTask(task, notice) {
    if (this.taskId !== task.id) this.reset(task.id);
    const step = !this.location ? "location" : this.item ? (this.item.needsLot ? "lot" : "quantity") : "products";
    const lines = this.lines.map((l, i) => `<li class="count-line" data-index="${i}">
        <button type="button" class="count-line-edit" data-index="${i}" aria-label="Change ${esc(l.sku)}">
          <span class="count-line-sku">${esc(l.sku)}</span>${l.lot ? ` <span class="caption">lot ${esc(l.lot)}</span>` : ""}
          <b class="count-line-qty">${esc(l.quantity)}</b></button>
        <button type="button" class="count-line-remove" data-index="${i}" aria-label="Remove ${esc(l.sku)}">✕</button></li>`).join("");
    this.innerHTML = `
      <section class="stack count-card" data-task="${task.id}" data-step="${step}">
        <p class="count-head">${this.recount ? `<b class="count-recount">Recount</b> · ` : ""}Count #${esc(task.id)} · blind</p>${notice}
        <div class="count-where ${this.location ? "done" : ""}"><span class="caption">${this.location ? "Counting" : "Go to"}</span>
          <b class="count-location">${esc(task.from_location || "?")}</b></div>
        <p class="step-now prompt">${keepCodes(this.stepPrompt(task, step), [task.from_location, this.item && this.item.sku])}</p>
        ${this.entry(step)}
        ${this.location && !this.item ? `<div class="count-finish">
          ${this.lines.length ? `<button type="button" class="big primary count-done-btn">Done: ${this.lines.length} line${this.lines.length === 1 ? "" : "s"}</button>`
            : `<button type="button" class="big location-empty">Location empty</button>`}</div>` : ""}
        <div class="count-actions">
          <button type="button" class="small type-it" ${step === "quantity" ? "disabled" : ""} aria-pressed="${this.typing}">⌨ Type</button>
          <button type="button" class="small hand-back">Hand back</button></div>
        ${lines ? `<ol class="count-lines" aria-label="Counted">${lines}</ol>` : ""}
      </section>`;
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onTyped(e.detail.raw));
    this.querySelector(".count-qty-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.addItem(this.querySelector(".count-quantity").value);
    });
    this.querySelector(".cancel-item")?.addEventListener("click", () => {
      this.item = null;
      this.ctx.feedback.info("Scan the next product");
      this.render();
    });
    this.querySelector(".count-done-btn")?.addEventListener("click", () => this.send(task, this.lines));
    this.querySelector(".location-empty")?.addEventListener("click", () => this.send(task, []));
    this.querySelectorAll(".count-line-edit").forEach((b) => b.addEventListener("click", () => this.editLine(Number(b.dataset.index))));
    this.querySelectorAll(".count-line-remove").forEach((b) => b.addEventListener("click", () => this.removeLine(Number(b.dataset.index))));
    this.querySelector(".type-it").addEventListener("click", () => {
      this.typing = !this.typing;
      this.render();
      this.querySelector("wes-scan-field .keyboard")?.click(); // the soft keyboard comes up
    });
    this.querySelector(".hand-back").addEventListener("click", () => this.handBack(task));
    const quantity = this.querySelector(".count-quantity");
    if (quantity) {
      quantity.focus();
      quantity.select();
    }
  }

  onTyped(raw) {
    // A lot keyed by hand is taken as the lot; anything else typed goes where a scan would.
    if (this.item && this.item.needsLot) this.takeLot({ kind: "unknown_code" }, raw);
    else this.onScan(raw);
  }

  entry(step) {
    if (step === "quantity") {
      const item = this.item;
      return `<div class="count-item card">
          <p class="count-item-name"><b>${esc(item.sku)}</b>${item.lot ? ` <span class="caption">lot ${esc(item.lot)}</span>` : ""}${item.expiry
            ? ` <span class="caption">exp ${esc(item.expiry)}</span>` : ""}${item.description ? ` <span class="caption">${esc(item.description)}</span>` : ""}</p>
          <form class="count-qty-form scan-row" autocomplete="off">
            <input class="count-quantity" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="7"
              value="${esc(item.quantity)}" aria-label="How many ${esc(item.sku)}">
            <button type="submit" class="ok add-item">${item.edit != null ? "Save" : "Add"}</button>
            <button type="button" class="keyboard cancel-item" aria-label="Cancel this product">✕</button>
          </form></div>`;
    }
    if (step === "lot") return `<wes-scan-field label="…or key the lot" name="count-lot"></wes-scan-field>`;
    return this.typing ? `<wes-scan-field label="Type what the label says" name="count-${step}"></wes-scan-field>` : "";
  }

  stepPrompt(task, step) {
    if (step === "location") return `Scan the label of ${task.from_location}`;
    if (step === "lot") return `${this.item.sku} has a lot: scan its GS1 label or key the lot`;
    if (step === "quantity") return `How many ${this.item.sku}${this.item.lot ? ` (lot ${this.item.lot})` : ""}?`;
    return this.lines.length ? "Scan the next product, or Done" : "Scan each product in it";
  }
}

function sameProduct(a, b) {
  return a.sku === b.sku && (a.lot || "") === (b.lot || "");
}

customElements.define("wes-count", CountScreen);
