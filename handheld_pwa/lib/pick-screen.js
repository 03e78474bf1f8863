/*
 * Usage: <wes-pick></wes-pick> with `.ctx` set (see app-shell.js; needs ctx.work); scans arrive via onScan(raw).
 *
 * The picker's screen. "Get next task" sends claim_next_task; tasks pushed by
 * the server (task.assigned) show at once, in walking order. A pick is
 * confirmed step by step — scan the location (or type its check digits),
 * scan the product, scan the tote, confirm the quantity — and goes out as
 * confirm_pick through the outbox, so it also works in a Wi-Fi dead spot: the
 * screen moves on to the next task while the command waits to be sent.
 * "Short" reports what was found, with a reason (short_pick). A task the
 * supervisor takes away (task.revoked) disappears with a message saying so.
 */

import { ApiError } from "./api.js";
import { esc } from "./dom.js";
import "./enroll-card.js";
import "./scan-field.js";

export const SHORT_REASONS = ["empty location", "not enough", "damaged", "wrong product"];
const STEPS = ["location", "product", "tote", "quantity"];
const STEP_LABELS = { location: "Scan the location", product: "Scan the product", tote: "Scan the tote",
  quantity: "Confirm the quantity" };
export const REVOKED_TEXT = {
  reassigned: "Reassigned by supervisor",
  unassigned: "Taken back by supervisor",
  suspended: "Suspended by supervisor",
  cancelled: "Cancelled by supervisor",
  completed_by_other: "Done by someone else",
  signed_on_elsewhere: "You signed on at another device",
  signed_off: "Signed off",
  released: "Released",
};

export class PickScreen extends HTMLElement {
  connectedCallback() {
    this.scans = { taskId: null };
    this.step = "location";
    this.shortOpen = false;
    this.pending = new Map(); // task id → outbox entry id of its confirm/short, not answered yet
    this.claiming = false;
    this.checkDigits = new Map();
    this.listeners = {
      tasks: () => this.render(),
      revoked: (e) => this.onRevoked(e.detail),
      answer: (e) => this.onAnswer(e.detail),
    };
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.addEventListener(type, fn);
    this.render();
  }

  disconnectedCallback() {
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.removeEventListener(type, fn);
  }

  get current() {
    return this.ctx.work.tasksOf("pick").find((t) => !this.pending.has(t.id)) || null;
  }

  onScan(raw) {
    if (!this.ctx.work.enrolled) {
      this.querySelector("wes-enroll")?.onScan(raw);
      return;
    }
    const task = this.current;
    if (!task || task.kind !== "pick" || this.shortOpen) return;
    this.accept(task, raw.trim());
  }

  render() {
    const { work } = this.ctx;
    if (!work.enrolled) {
      this.innerHTML = `<wes-enroll></wes-enroll>`;
      const card = this.querySelector("wes-enroll");
      card.ctx = this.ctx;
      card.addEventListener("enrolled", () => this.render());
      return;
    }
    const task = this.current;
    if (task && this.scans.taskId !== task.id) {
      this.scans = { taskId: task.id };
      this.step = "location";
      this.shortOpen = false;
    }
    const notice = this.notice ? `<div class="revoked-notice card" role="alert"><b>${esc(this.notice.text)}</b>
      <span class="caption">${esc(this.notice.detail)}</span></div>` : "";
    const done = this.lastDone ? `<p class="pick-done caption">${esc(this.lastDone)}</p>` : "";
    if (!task) {
      this.innerHTML = `<section class="stack pick-empty">${notice}${done}
        <p class="prompt">${this.claiming ? "Asking for work…" : "No task on this device."}</p>
        <button type="button" class="big primary get-next" ${this.claiming ? "disabled" : ""}>Get next task</button>
      </section>`;
      this.querySelector(".get-next").addEventListener("click", () => this.claimNext());
      return;
    }
    if (task.kind !== "pick") {
      this.innerHTML = `<section class="stack">${notice}
        <div class="card other-task" data-task="${task.id}"><p class="prompt">Task #${esc(task.id)} is a ${esc(task.kind)} task</p>
        <p class="caption">${esc(task.sku || "")} × ${esc(task.quantity ?? "")} · ${esc(task.from_location || "")} → ${esc(task.to_location || "")}.
        This screen does picks only: hand it back or do it on its own screen.</p></div>
        <button type="button" class="big release">Hand back</button></section>`;
      this.querySelector(".release").addEventListener("click", () => this.send("release_task", { task_id: task.id }));
      return;
    }
    this.renderPick(task, notice, done);
  }

  renderPick(task, notice, done) {
    const digits = this.checkDigits.get(task.from_location);
    const stepsDone = STEPS.indexOf(this.step);
    this.innerHTML = `
      <section class="stack pick-card" data-task="${task.id}" data-step="${this.step}">${notice}${done}
        <div class="destination"><span class="caption">Pick from</span>
          <b class="pick-location">${esc(task.from_location || "?")}</b>
          ${digits ? `<span class="check-digits caption">check digits <b>${esc(digits)}</b></span>` : ""}</div>
        <div class="pick-facts">
          <span class="pick-sku">${esc(task.sku || "?")}</span>${task.lot ? ` <span class="caption">lot ${esc(task.lot)}</span>` : ""}
          <span class="pick-qty-line">× <b class="pick-qty">${esc(task.quantity)}</b></span>
          <span class="pick-slot-line">tote slot <b class="pick-slot">${esc(task.tote_no ?? "—")}</b>${task.tote
            ? ` <span class="caption">tote <b class="pick-tote">${esc(task.tote)}</b></span>` : ` <span class="caption">(an empty tote)</span>`}</span>
        </div>
        <ol class="pick-steps">${STEPS.map((s, i) => `<li data-step="${s}" class="${i < stepsDone ? "done" : i === stepsDone ? "now" : ""}">
          ${esc(s)}${this.scans[s] ? `: <code>${esc(this.scans[s])}</code>` : ""}</li>`).join("")}</ol>
        <div class="step-entry stack" ${this.shortOpen ? "hidden" : ""}>${this.stepEntry(task)}</div>
        <div class="short-box stack" ${this.shortOpen ? "" : "hidden"}>
          <p class="prompt">Short pick: how many did you find?</p>
          <label class="field inline">Found <input class="short-found" type="number" min="0" max="${esc(task.quantity - 1)}" value="0" inputmode="numeric"></label>
          ${SHORT_REASONS.map((r) => `<button type="button" class="big short-reason" data-reason="${esc(r)}">${esc(r)}</button>`).join("")}
          <button type="button" class="big cancel-short">Cancel</button>
        </div>
        <button type="button" class="big short" ${this.scans.location && !this.shortOpen ? "" : "hidden"}>Short</button>
      </section>`;
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".check-digits-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = this.querySelector(".pick-check-digits");
      if (input.value.trim()) this.accept(task, input.value.trim());
    });
    this.querySelector(".quantity-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.confirmPick(task, Number(this.querySelector(".pick-quantity").value));
    });
    this.querySelector(".short").addEventListener("click", () => { this.shortOpen = true; this.render(); });
    this.querySelector(".cancel-short").addEventListener("click", () => { this.shortOpen = false; this.render(); });
    this.querySelectorAll(".short-reason").forEach((b) => b.addEventListener("click", () =>
      this.shortPick(task, Number(this.querySelector(".short-found").value || 0), b.dataset.reason)));
    if (!digits && task.from_location) this.loadCheckDigits(task.from_location);
  }

  stepEntry(task) {
    if (this.step === "quantity") {
      return `<form class="quantity-form" autocomplete="off"><label class="field">How many are in the tote?
        <span class="scan-row"><input class="pick-quantity" type="number" min="1" inputmode="numeric" value="${esc(task.quantity)}">
        <button type="submit" class="ok confirm-pick">Confirm pick</button></span></label></form>`;
    }
    const field = `<wes-scan-field label="${esc(STEP_LABELS[this.step])}" name="${this.step}-scan"></wes-scan-field>`;
    if (this.step !== "location") return field;
    return `${field}<form class="check-digits-form" autocomplete="off"><label class="field">…or type its check digits
      <span class="scan-row"><input class="pick-check-digits" inputmode="numeric" maxlength="4" pattern="[0-9]*">
      <button type="submit" class="ok">OK</button></span></label></form>`;
  }

  async loadCheckDigits(code) {
    try {
      const location = await this.ctx.api.get(`/locations/${encodeURIComponent(code)}`, { site: this.ctx.session.site });
      this.checkDigits.set(code, location.check_digits);
      const task = this.current;
      if (this.isConnected && task && task.from_location === code && !this.querySelector(".check-digits")) this.render();
    } catch { /* offline: the server still checks the location when the pick is sent */ }
  }

  accept(task, value) {
    const { feedback } = this.ctx;
    if (!value) return;
    if (this.step === "location") {
      const digits = this.checkDigits.get(task.from_location);
      const code = String(task.from_location || "").toUpperCase();
      const v = value.toUpperCase();
      const matches = v === code || (digits && (v === digits || v === code + digits));
      if (digits && !matches) {
        feedback.error(new ApiError(0, "wrong_location", `That is not ${task.from_location}. Go to ${task.from_location}.`));
        return;
      }
      this.scans.location = value;
      this.step = "product";
      feedback.info(`Scan the ${task.sku}`);
    } else if (this.step === "product") {
      this.scans.product = value;
      this.step = "tote";
      feedback.info(task.tote ? `Scan tote ${task.tote} (slot ${task.tote_no ?? "?"})`
        : `Scan an empty tote for slot ${task.tote_no ?? "?"}`);
    } else if (this.step === "tote") {
      this.scans.tote = value;
      this.step = "quantity";
      feedback.info(`Put ${task.quantity} in the tote and confirm`);
    } else {
      return;
    }
    this.render();
  }

  async confirmPick(task, quantity) {
    if (quantity !== task.quantity) {
      this.ctx.feedback.error(new ApiError(0, "wrong_quantity", `Pick ${task.quantity}, or report a short pick.`));
      return;
    }
    const { location, product, tote } = this.scans;
    await this.sendForTask(task, "confirm_pick", { task_id: task.id, location, product, tote, quantity });
  }

  async shortPick(task, found, reason) {
    const payload = { task_id: task.id, location: this.scans.location, found, reason };
    if (found > 0) {
      if (!this.scans.product || !this.scans.tote) {
        this.ctx.feedback.error(new ApiError(0, "scan_required", "Scan the product and the tote for what you found."));
        this.shortOpen = false;
        this.render();
        return;
      }
      Object.assign(payload, { product: this.scans.product, tote: this.scans.tote });
    }
    await this.sendForTask(task, "short_pick", payload);
  }

  async sendForTask(task, type, payload) {
    const entry = await this.ctx.work.command(type, payload);
    this.pending.set(task.id, entry.id);
    this.notice = null;
    this.lastDone = null;
    if (this.ctx.work.state === "online") this.ctx.feedback.info(`Sending task #${task.id}…`);
    else this.ctx.feedback.info(`Saved offline: task #${task.id} is sent when the connection is back`);
    if (this.pending.has(task.id)) this.render();
  }

  async claimNext() {
    this.claiming = true;
    this.notice = null;
    this.render();
    await this.send("claim_next_task", { kinds: ["pick"] });
    if (this.ctx.work.state !== "online") this.ctx.feedback.info("Saved offline: asks for work when the connection is back");
  }

  send(type, payload) {
    return this.ctx.work.command(type, payload).catch((err) => this.ctx.feedback.error(err));
  }

  onAnswer({ entry, message }) {
    const { feedback } = this.ctx;
    const taskId = entry.payload && entry.payload.task_id;
    if (taskId) this.pending.delete(taskId);
    if (entry.type === "claim_next_task") this.claiming = false;
    if (!message.ok) {
      const e = message.error || {};
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
    } else if (entry.type === "confirm_pick") {
      const p = entry.payload;
      this.lastDone = `Task #${taskId} done: ${p.quantity} into tote ${p.tote}`;
      feedback.ok(`Picked ${p.quantity} into tote ${p.tote}`);
    } else if (entry.type === "short_pick") {
      this.lastDone = `Task #${taskId} reported short (${entry.payload.found} found)`;
      feedback.ok(`Short pick reported: ${entry.payload.found} found`);
    } else if (entry.type === "claim_next_task" && !(message.result.tasks || []).length) {
      feedback.info("No work for you right now");
    }
    this.render();
  }

  onRevoked({ task, reason }) {
    this.pending.delete(task.id);
    const text = REVOKED_TEXT[reason] || `Taken away (${reason})`;
    this.notice = { text, detail: `Task #${task.id}${task.from_location ? ` at ${task.from_location}` : ""} is no longer yours.` };
    this.ctx.feedback.attention(`${text}: task #${task.id}`);
    this.render();
  }
}

customElements.define("wes-pick", PickScreen);
