/*
 * Usage: <wes-replenish></wes-replenish> with `.ctx` set (see app-shell.js; needs ctx.work); scans via onScan(raw).
 *
 * Reserve → pick face, every step scanned:
 *  1. "Next replenishment" claims one (claim_next_task, kinds ["replenish"]); the server may also push one.
 *  2. The screen shows from → to, the product (lot, pallet) and the quantity. Scan the reserve location,
 *     then what you take (the pallet's label, or a case's GTIN / GS1 label: a lot-tracked product needs
 *     a scan that carries its lot), confirm or key the quantity, then scan the pick face. Each scan is
 *     checked at once (POST /tasks/{id}/check-scan) and a wrong one is refused there, in plain words;
 *     offline, a scan is taken as it is and the confirm is checked when it is sent.
 *  3. The pick-face scan sends confirm_replenish through the outbox (it also works in a dead spot).
 * "Hand back" returns the task to the pool; a task taken away shows as news, not as an error.
 */

import { ApiError } from "./api.js";
import { esc, keepCodes } from "./dom.js";
import "./scan-field.js";
import { WorkScreen } from "./work-screen.js";

const STEPS = ["from", "product", "quantity", "to"];
const CHECK_STEP = { from: "location", product: "product", to: "to_location" };

export class ReplenishScreen extends WorkScreen {
  static kinds = ["replenish"];
  static noun = "replenishment";
  static handBackTo = "to get a replenishment";

  setUp() {
    this.reset(null);
    this.pending = new Set(); // task ids whose confirm is in the outbox, not answered yet
    this.products = new Map(); // sku → GET /products/{sku} (for the description)
  }

  reset(taskId) {
    this.scans = { taskId };
    this.step = "from";
    this.quantity = null;
    this.typing = false; // the typed entry (a label that won't scan) is open
  }

  get current() {
    return this.ctx.work.tasksOf("replenish").find((t) => !this.pending.has(t.id)) || null;
  }

  async accept(raw) {
    const task = this.current;
    const { feedback } = this.ctx;
    if (!task) {
      feedback.info("No replenishment on this device: tap Next replenishment");
      return;
    }
    if (this.scans.taskId !== task.id) this.reset(task.id);
    if (this.step === "quantity") {
      feedback.error(new ApiError(0, "wrong_step", `Confirm the quantity first (${this.quantityNow(task)}), then scan ${task.to_location}`));
      return;
    }
    const step = this.step;
    if (!(await this.check(task, CHECK_STEP[step], raw))) return;
    if (this.current?.id !== task.id) return; // taken away while the check was on its way
    this.scans[step] = raw;
    if (step === "from") {
      this.step = "product";
      feedback.ok(`${task.from_location} ✓ — now the ${task.lpn ? "pallet" : "product"}`);
    } else if (step === "product") {
      this.step = "quantity";
      feedback.ok(`${task.sku} ✓ — how many?`);
    } else {
      await this.confirm(task);
      return;
    }
    this.render();
  }

  /** The server's answer to a scan for this step: true when right; false (and said why) when not. */
  async check(task, step, raw) {
    try {
      await this.ctx.api.post(`/tasks/${task.id}/check-scan`, { step, scan: raw });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code !== "network_error" && err.status !== 0) {
        this.ctx.feedback.error(err);
        this.render();
        return false;
      }
      return true; // offline: the confirm is checked when it is sent
    }
  }

  quantityNow(task) {
    return this.quantity ?? task.quantity;
  }

  keyedQuantity(task, value) {
    const quantity = Number(value);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > task.quantity) {
      this.ctx.feedback.error(new ApiError(0, "wrong_quantity",
        `Move between 1 and ${task.quantity}: that is what this replenishment takes`));
      return;
    }
    this.quantity = quantity;
    this.step = "to";
    this.ctx.feedback.ok(`${quantity} ✓ — to ${task.to_location}`);
    this.render();
  }

  async confirm(task) {
    const payload = { task_id: task.id, from_location: this.scans.from, product: this.scans.product,
      to_location: this.scans.to, quantity: this.quantityNow(task) };
    try {
      await this.ctx.work.command("confirm_replenish", payload);
    } catch (err) {
      this.ctx.feedback.error(err);
      return;
    }
    this.pending.add(task.id);
    this.notice = null;
    this.reset(null);
    if (this.ctx.work.state === "online") this.ctx.feedback.ok(`${task.to_location} ✓ — booking the move…`);
    else this.ctx.feedback.ok(`${task.to_location} ✓ — saved offline: sent when the connection is back`);
    this.render();
  }

  // --- answers and news from the server --------------------------------------------------------------

  onAnswer({ entry, message }) {
    const { feedback } = this.ctx;
    const taskId = entry.payload && entry.payload.task_id;
    if (entry.type === "confirm_replenish") this.pending.delete(taskId);
    if (!message.ok) {
      if (entry.type !== "confirm_replenish" && entry.type !== "claim_next_task" && entry.type !== "release_task") return;
      const e = message.error || {};
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
    } else if (entry.type === "confirm_replenish") {
      this.lastDone = message.result.message || `Replenishment #${taskId} done`;
      feedback.ok(this.lastDone);
    } else if (entry.type === "claim_next_task" && !(message.result.tasks || []).length) {
      feedback.info("No replenishment for you right now");
    }
    this.render();
  }

  // --- drawing -------------------------------------------------------------------------------------

  render() {
    if (this.showEnrollment()) return;
    const notice = this.noticeLine();
    if (this.renderHeld(notice)) return;
    const done = this.lastDone ? `<p class="repl-done caption">Last: ${esc(this.lastDone)}</p>` : "";
    const sending = this.pending.size ? `<p class="caption">Sending ${this.pending.size} replenishment${this.pending.size === 1 ? "" : "s"}…</p>` : "";
    this.innerHTML = `<section class="stack repl-empty">${notice}${done}${sending}
      <p class="prompt">${this.claiming ? "Asking for work…" : "No replenishment on this device."}</p>
      <button type="button" class="big primary get-next" ${this.claiming ? "disabled" : ""}>Next replenishment</button>
    </section>`;
    this.querySelector(".get-next").addEventListener("click", () => this.claimNext());
  }

  renderTask(task, notice) {
    if (this.scans.taskId !== task.id) this.reset(task.id);
    const now = STEPS.indexOf(this.step);
    const product = this.productInfo(task.sku);
    const quantity = this.quantityNow(task);
    const state = (...steps) => (steps.includes(this.step) ? "now" : STEPS.indexOf(steps[steps.length - 1]) < now ? "done" : "");
    const details = [task.lot ? `lot <b>${esc(task.lot)}</b>` : "",
      task.lpn ? `pallet <b class="repl-lpn">${esc(task.lpn)}</b>` : "",
      product && product.description ? `<span class="repl-description">${esc(product.description)}</span>` : ""].filter(Boolean);
    this.innerHTML = `
      <section class="stack repl-card" data-task="${task.id}" data-step="${this.step}">
        <p class="repl-line">Replenish #${esc(task.id)} · step ${now + 1} of ${STEPS.length}${
          task.reference && task.reference.startsWith("wave") ? ` · <span class="repl-urgent">picks wait</span>` : ""}</p>${notice}
        <div class="repl-route">
          <div class="repl-end repl-from ${state("from")}"><span class="repl-end-label">From</span>
            <b class="repl-from-code">${esc(task.from_location || "?")}</b></div>
          <div class="repl-what ${state("product", "quantity")}">
            <span class="repl-sku">${esc(task.sku || "?")}</span> <span class="repl-times">×</span> <b class="repl-qty">${esc(quantity)}</b>
            ${details.length ? `<span class="repl-details caption">${details.join(" · ")}</span>` : ""}
          </div>
          <div class="repl-end repl-to ${state("to")}"><span class="repl-end-label">To</span>
            <b class="repl-to-code">${esc(task.to_location || "?")}</b></div>
        </div>
        <p class="step-now prompt">${keepCodes(this.stepPrompt(task), [task.from_location, task.to_location, task.lpn, task.sku])}</p>
        ${this.step === "quantity" ? `<form class="quantity-form scan-row" autocomplete="off">
          <input class="repl-quantity" type="number" min="1" max="${esc(task.quantity)}" inputmode="numeric"
            value="${esc(quantity)}" aria-label="How many you take">
          <button type="submit" class="ok confirm-quantity">OK</button></form>`
          : this.typing ? `<wes-scan-field label="Type what the label says" name="${this.step}-typed"></wes-scan-field>` : ""}
        <div class="repl-actions">
          <button type="button" class="small back-step" ${now > 0 ? "" : "disabled"}>◀ Back</button>
          <button type="button" class="small type-it" ${this.step === "quantity" ? "disabled" : ""}
            aria-pressed="${this.typing}">⌨ Type</button>
          <button type="button" class="small hand-back">Hand back</button>
        </div>
      </section>`;
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".quantity-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.keyedQuantity(task, this.querySelector(".repl-quantity").value);
    });
    this.querySelector(".back-step").addEventListener("click", () => {
      this.step = STEPS[Math.max(0, now - 1)];
      this.ctx.feedback.info(this.stepPrompt(task));
      this.render();
    });
    this.querySelector(".type-it").addEventListener("click", () => {
      this.typing = !this.typing;
      this.render();
      this.querySelector("wes-scan-field .keyboard")?.click(); // the soft keyboard comes up
    });
    this.querySelector(".hand-back").addEventListener("click", () => this.handBack(task));
    if (task.sku && !this.products.has(task.sku)) this.loadProduct(task.sku);
  }

  stepPrompt(task) {
    if (this.step === "from") return `Go to ${task.from_location} and scan its label`;
    if (this.step === "product") return this.productHint(task);
    if (this.step === "quantity") return `How many? (${task.quantity})`;
    return `Put them in ${task.to_location} and scan its label`;
  }

  productHint(task) {
    const what = task.lot ? `a case's GS1 label (lot ${task.lot})` : `the ${task.sku}`;
    return task.lpn ? `Scan the pallet ${task.lpn} or ${what}` : `Scan ${what}`;
  }

  productInfo(sku) {
    const info = this.products.get(sku);
    return info && info !== "loading" ? info : null;
  }

  async loadProduct(sku) {
    this.products.set(sku, "loading");
    try {
      this.products.set(sku, await this.ctx.api.get(`/products/${encodeURIComponent(sku)}`));
      const task = this.current;
      if (this.isConnected && task && task.sku === sku) this.render();
    } catch {
      this.products.delete(sku); // offline: shown without its description
    }
  }
}

customElements.define("wes-replenish", ReplenishScreen);
