/*
 * Usage: <wes-pick></wes-pick> with `.ctx` set (see app-shell.js; needs ctx.work); scans arrive via onScan(raw).
 *
 * A pick tour with a cart, start to end:
 *  1. "Get a tour" claims the next pick tour (claim_next_task, kinds ["pick"]); the server may also push one.
 *  2. Start: a tote goes in each slot of the cart — scan empty totes (bind_tote, slot by slot), or print
 *     labels for new totes already bound to the slots (POST /tours/{id}/tote-labels), or start at once
 *     and put a tote in each slot at its first pick.
 *  3. Each pick: scan the location, the product, (each unit, or key the quantity), then the tote; each scan
 *     is checked at once (POST /tasks/{id}/check-scan) and a wrong one is refused there, in plain words.
 *     The tote scan confirms the pick (confirm_pick through the outbox: it also works in a dead spot).
 *     "Later" moves a pick to the end of the tour; a pick waiting for its replenishment waits there and
 *     comes back when the replenishment is done (task.updated). "Short" reports what was found; the
 *     missing units come back into this tour if there is stock elsewhere.
 *  4. End: "Take the totes to PACK-01": scanning the pack station leaves them there (drop_totes).
 * The header line says where you are: pick n of m, metres and minutes left, the next location.
 * A location's check digits are never shown; typing them is offered only where the site allows it.
 */

import { ApiError } from "./api.js";
import { esc } from "./dom.js";
import "./scan-field.js";
import { WorkScreen } from "./work-screen.js";

export const SHORT_REASONS = ["empty location", "not enough", "damaged", "wrong product"];
const UNIT_SCANS_UP_TO = 5; // up to this many units, each unit is scanned; more are keyed
const LATER_KEY = "wes.pick.later"; // task ids the picker moved to the end of their tour
const CART_KEY = "wes.pick.cart"; // + worker id: the tour whose totes are on the cart, until they are dropped

export class PickScreen extends WorkScreen {
  static kinds = ["pick"];

  setUp() {
    this.reset(null);
    this.pending = new Map(); // task id → outbox entry id of its confirm/short, not answered yet
    this.tour = null; // GET /tours/{id} of the tour being walked
    this.started = new Set(); // tours whose start (tote binding) the picker is past
    this.ended = null; // { tour, location } once the totes are dropped
    this.siteRules = { allow_typed_check_digits: false };
    this.loadSiteRules();
    this.onTasks();
  }

  reset(taskId) {
    this.scans = { taskId, location: null, product: null, tote: null, units: 0 };
    this.shortAfterTote = null;
    this.step = "location";
    this.shortOpen = false;
    this.typing = false;
  }

  // --- the picks of the tour, in the order to walk them -------------------------------------------

  get picks() {
    return this.ctx.work.tasksOf("pick");
  }

  get later() {
    return new Set(JSON.parse(localStorage.getItem(LATER_KEY) || "[]"));
  }

  set later(ids) {
    localStorage.setItem(LATER_KEY, JSON.stringify([...ids]));
  }

  get cartKey() {
    return `${CART_KEY}.${this.ctx.session.me && this.ctx.session.me.id}`;
  }

  get cart() {
    return Number(localStorage.getItem(this.cartKey)) || null;
  }

  set cart(tourId) {
    if (tourId) localStorage.setItem(this.cartKey, String(tourId));
    else localStorage.removeItem(this.cartKey);
  }

  /** The tour being walked: the one on the cart until its totes are dropped (the server pushes the next tour
   *  as the last pick of one is confirmed, and that must not skip the drop), else the first tour held. */
  get tourId() {
    if (this.cart) return this.cart;
    const picks = this.picks.filter((t) => !this.pending.has(t.id));
    return picks.length ? picks[0].tour_id : null;
  }

  needsDrop(tour) {
    return Boolean(tour && !tour.dropped_at && tour.picks.some((p) => p.state === "done"));
  }

  /** Open picks of the current tour: ready ones in sequence, then those moved later, then those waiting. */
  get walk() {
    const later = this.later;
    const rank = (t) => (t.waits_for_task ? 2 : later.has(t.id) ? 1 : 0);
    const picks = this.picks.filter((t) => !this.pending.has(t.id));
    const tourId = this.tourId;
    return picks.filter((t) => t.tour_id === tourId)
      .sort((a, b) => rank(a) - rank(b) || (a.sequence ?? 0) - (b.sequence ?? 0) || a.id - b.id);
  }

  get current() {
    const first = this.walk[0];
    return first && !first.waits_for_task ? first : null;
  }

  async loadSiteRules() {
    try {
      const sites = await this.ctx.api.get("/sites");
      const mine = sites.data.find((s) => s.code === this.ctx.session.site);
      if (mine) this.siteRules = mine;
    } catch { /* offline: scanning only */ }
  }

  async loadTour(tourId) {
    if (!tourId) return;
    try {
      const tour = await this.ctx.api.get(`/tours/${tourId}`);
      // an answer that comes after the walk moved on to another tour (the totes dropped meanwhile) is dropped
      if (this.isConnected && tour.id === (this.tourId ?? tour.id)) {
        this.tour = tour;
        // the cart's tour, with nothing left to pick or drop here (handed back, dropped elsewhere): the cart is free
        const left = this.needsDrop(tour) || this.picks.some((t) => t.tour_id === tour.id);
        if (tour.id === this.cart && !left) this.cart = null;
        this.render();
      }
    } catch { /* offline: the screen works from the held tasks */ }
  }

  onTasks() {
    const walk = this.walk;
    const tourId = this.tourId ?? (this.tour && this.tour.id);
    if (tourId && (!this.tour || this.tour.id !== tourId || this.tour.open !== walk.length)) this.loadTour(tourId);
    this.render();
  }

  // --- scans ---------------------------------------------------------------------------------------

  async accept(raw) {
    const { feedback } = this.ctx;
    const walk = this.walk;
    if (this.dropPending()) return this.drop(raw);
    if (walk.length && !this.started.has(walk[0].tour_id) && this.unboundSlots().length) return this.bindNext(raw);
    const task = this.current;
    if (!task) {
      feedback.info(walk.length ? "Your last picks wait for a replenishment" : "No pick to scan for: get a tour first");
      return;
    }
    if (this.scans.taskId !== task.id) this.reset(task.id);
    if (this.shortOpen) return;
    if (this.step === "location") {
      if (!(await this.check(task, "location", raw))) return;
      this.scans.location = raw;
      this.step = "product";
      feedback.ok(`${task.from_location} ✓ — scan the ${task.sku}`);
    } else if (this.step === "product" || this.step === "quantity") {
      if (!(await this.check(task, "product", raw))) return;
      const target = this.target(task);
      this.scans.product = this.scans.product || raw;
      this.scans.units += 1;
      if (target > UNIT_SCANS_UP_TO && this.scans.units === 1) {
        this.step = "quantity";
        feedback.ok(`${task.sku} ✓ — key how many you took (${target})`);
      } else if (this.scans.units >= target) {
        this.step = "tote";
        feedback.ok(`${this.scans.units} of ${target} ✓ — ${this.toteHint(task)}`);
      } else {
        this.step = "quantity";
        feedback.ok(`${this.scans.units} of ${target} — scan the next one`);
      }
    } else if (this.step === "tote") {
      const tote = await this.check(task, "tote", raw);
      if (!tote) return;
      this.scans.tote = raw;
      await this.confirmPick(task, this.scans.units);
      return;
    }
    this.render();
  }

  /** The server's answer to a scan for this step: true/the tote code when right; false (and said why) when not. */
  async check(task, step, raw) {
    try {
      const answer = await this.ctx.api.post(`/tasks/${task.id}/check-scan`, { step, scan: raw });
      return answer.tote || true;
    } catch (err) {
      if (err instanceof ApiError && err.code !== "network_error" && err.status !== 0) {
        this.ctx.feedback.error(err);
        this.render();
        return false;
      }
      return true; // offline: the confirm is checked when it is sent
    }
  }

  /** The tote in the pick's slot: from the task's view, or bound since (the tour's slots). */
  toteOf(task) {
    const slot = this.tour && this.tour.slots.find((s) => s.tote_no === task.tote_no && s.tote);
    return task.tote || (slot ? slot.tote : null);
  }

  toteHint(task) {
    const tote = this.toteOf(task);
    return tote ? `scan tote ${tote} (slot ${task.tote_no})` : `scan an empty tote for slot ${task.tote_no}`;
  }

  /** How many units this pick takes: the task's quantity, or what was found when reporting a short pick. */
  target(task) {
    return this.shortAfterTote ? this.shortAfterTote.found : task.quantity;
  }

  keyedQuantity(task, quantity) {
    if (!Number.isInteger(quantity) || quantity < 1) return;
    const target = this.target(task);
    if (quantity !== target) {
      this.ctx.feedback.error(new ApiError(0, "wrong_quantity",
        `Take ${target}. If there are not ${target}, report a short pick.`));
      return;
    }
    this.scans.units = quantity;
    this.step = "tote";
    this.ctx.feedback.ok(`${quantity} ✓ — ${this.toteHint(task)}`);
    this.render();
  }

  async confirmPick(task, quantity) {
    const { location, product, tote } = this.scans;
    await this.sendForTask(task, "confirm_pick", { task_id: task.id, location, product, tote, quantity });
  }

  async shortPick(task, found, reason) {
    const payload = { task_id: task.id, location: this.scans.location, found, reason };
    if (found > 0) {
      if (!this.scans.product || !this.scans.tote) {
        // What was found goes in the tote: scan the product (each one, or key how many) and the tote, then report.
        this.shortOpen = false;
        this.shortAfterTote = { found, reason };
        this.scans.units = Math.min(this.scans.units, found);
        this.step = !this.scans.product ? "product" : this.scans.units < found ? "quantity" : "tote";
        this.ctx.feedback.info(this.step === "tote" ? `Put the ${found} in the tote: ${this.toteHint(task)}`
          : `Scan the ${found} you found`);
        this.render();
        return;
      }
      Object.assign(payload, { product: this.scans.product, tote: this.scans.tote });
    }
    await this.sendForTask(task, "short_pick", payload);
  }

  async sendForTask(task, type, payload) {
    if (type === "confirm_pick" && this.shortAfterTote) {
      const { found, reason } = this.shortAfterTote;
      this.shortAfterTote = null;
      type = "short_pick";
      payload = { task_id: task.id, location: payload.location, found, reason, product: payload.product, tote: payload.tote };
    }
    const entry = await this.ctx.work.command(type, payload);
    this.pending.set(task.id, entry.id);
    this.cart = task.tour_id;
    this.reset(null);
    if (this.ctx.work.state !== "online") this.ctx.feedback.info(`Saved offline: task #${task.id} goes when the connection is back`);
    this.render();
  }

  // --- start and end of the tour -------------------------------------------------------------------

  unboundSlots() {
    if (!this.tour) return [];
    const mine = new Set(this.walk.map((t) => t.tote_no));
    return this.tour.slots.filter((s) => !s.tote && mine.has(s.tote_no));
  }

  async bindNext(raw) {
    const slot = this.unboundSlots()[0];
    const entry = await this.ctx.work.command("bind_tote", { tour_id: this.tour.id, tote_no: slot.tote_no, tote: raw });
    this.binding = { entry: entry.id, slot: slot.tote_no };
    if (this.ctx.work.state !== "online") {
      slot.tote = raw; // offline: the binding goes with the outbox; the first pick checks it again
      this.ctx.feedback.info(`Saved offline: slot ${slot.tote_no} gets this tote when the connection is back`);
      this.render();
    }
  }

  async printToteLabels() {
    try {
      const made = await this.ctx.api.post(`/tours/${this.tour.id}/tote-labels`, {});
      this.ctx.feedback.ok(`${made.totes.length} tote label${made.totes.length === 1 ? "" : "s"} printing: stick one on each tote, slot by slot`);
      await this.loadTour(this.tour.id);
    } catch (err) {
      this.ctx.feedback.error(err);
    }
  }

  /** The picker's part of the tour is done and its totes are still on the cart. */
  dropPending() {
    return Boolean(!this.walk.length && !this.pending.size && this.needsDrop(this.tour));
  }

  async drop(raw) {
    const entry = await this.ctx.work.command("drop_totes", { tour_id: this.tour.id, location: raw });
    this.dropping = entry.id;
    if (this.ctx.work.state !== "online") this.ctx.feedback.info("Saved offline: the drop is sent when the connection is back");
  }

  claimNext() {
    this.ended = null;
    this.tour = null;
    return super.claimNext();
  }

  // --- answers and news from the server --------------------------------------------------------------

  onAnswer({ entry, message }) {
    const { feedback } = this.ctx;
    const taskId = entry.payload && entry.payload.task_id;
    if (taskId) this.pending.delete(taskId);
    if (!message.ok) {
      const e = message.error || {};
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
      if (entry.type === "bind_tote") this.binding = null;
    } else if (entry.type === "confirm_pick") {
      const p = entry.payload;
      feedback.ok(`Picked ${p.quantity} into tote ${message.result.task ? message.result.task.tote : p.tote}`);
      this.forgetLater(taskId);
    } else if (entry.type === "short_pick") {
      const r = message.result;
      const back = (r.reallocated || []).reduce((n, x) => n + x.quantity, 0);
      feedback.ok(`Short pick reported: ${entry.payload.found} found${back ? `; ${back} more to pick later in this tour`
        : r.backordered ? `; ${r.backordered} backordered` : ""}`);
      this.forgetLater(taskId);
    } else if (entry.type === "bind_tote") {
      this.binding = null;
      feedback.ok(`Tote ${message.result.tote} is in slot ${message.result.tote_no}`);
      this.cart = entry.payload.tour_id;
      if (this.tour) {
        const slot = this.tour.slots.find((s) => s.tote_no === message.result.tote_no);
        if (slot) slot.tote = message.result.tote;
      }
    } else if (entry.type === "drop_totes") {
      this.ended = { location: message.result.location, totes: message.result.totes };
      this.tour = null;
      this.cart = null;
      feedback.ok(`Totes left at ${message.result.location}: the cart is free`);
    } else if (entry.type === "claim_next_task" && !(message.result.tasks || []).length) {
      feedback.info("No picking for you right now");
    }
    if (this.tour) this.loadTour(this.tour.id);
    else if (this.tourId) this.loadTour(this.tourId); // the next tour, pushed already: its start
    this.render();
  }

  forgetLater(taskId) {
    const later = this.later;
    if (later.delete(taskId)) this.later = later;
  }

  onRevoked({ task, reason }) {
    this.pending.delete(task.id);
    this.tellRevoked(task, reason, "task");
    this.render();
  }

  // --- drawing -------------------------------------------------------------------------------------

  render() {
    if (this.showEnrollment()) return;
    const walk = this.walk;
    const notice = this.noticeLine();
    if (!walk.length) {
      if (this.dropPending()) return this.renderDrop(notice);
      this.renderIdle(notice);
      return;
    }
    if (!this.started.has(walk[0].tour_id) && this.unboundSlots().length) return this.renderStart(walk, notice);
    const task = this.current;
    if (!task) return this.renderWaiting(walk, notice);
    if (this.scans.taskId !== task.id) this.reset(task.id);
    this.renderPick(task, walk, notice);
  }

  renderIdle(notice) {
    const ended = this.ended ? `<p class="prompt ok-line">Totes left at ${esc(this.ended.location)}. The cart is free.</p>` : "";
    const waiting = this.pending.size ? `<p class="caption">${this.pending.size} pick${this.pending.size === 1 ? "" : "s"} being sent…</p>` : "";
    this.innerHTML = `<section class="stack pick-empty">${notice}${ended}${waiting}
      <p class="prompt">${this.claiming ? "Asking for a tour…" : "No tour on this device."}</p>
      <button type="button" class="big primary get-next" ${this.claiming ? "disabled" : ""}>Get a tour</button>
    </section>`;
    this.querySelector(".get-next").addEventListener("click", () => this.claimNext());
  }

  renderStart(walk, notice) {
    const slots = this.unboundSlots();
    const next = slots[0];
    const all = this.tour.slots.filter((s) => new Set(walk.map((t) => t.tote_no)).has(s.tote_no));
    this.innerHTML = `<section class="stack tour-start" data-tour="${this.tour.id}">${notice}
      <p class="tour-line">Tour ${esc(this.tour.number)} · ${walk.length} picks · ${esc(Math.round(this.tour.distance_m))} m</p>
      <div class="destination"><span class="caption">Put an empty tote in slot</span>
        <b class="slot-now">${esc(next.tote_no)}</b><span class="caption">for order ${esc(next.order)}</span></div>
      <p class="prompt">Scan the tote for slot ${esc(next.tote_no)}</p>
      <ol class="slot-list">${all.map((s) => `<li data-slot="${s.tote_no}" class="${s.tote ? "done" : s === next ? "now" : ""}">
        slot ${esc(s.tote_no)}: ${s.tote ? `<code>${esc(s.tote)}</code>` : "—"}</li>`).join("")}</ol>
      <button type="button" class="big print-totes">Print labels for new totes</button>
      <button type="button" class="big start-now">Start now (totes at the first pick)</button>
    </section>`;
    this.querySelector(".print-totes").addEventListener("click", () => this.printToteLabels());
    this.querySelector(".start-now").addEventListener("click", () => { this.started.add(this.tour.id); this.render(); });
  }

  renderWaiting(walk, notice) {
    const waits = walk.filter((t) => t.waits_for_task);
    this.innerHTML = `<section class="stack pick-waiting">${notice}
      <p class="prompt">${waits.length} pick${waits.length === 1 ? "" : "s"} wait${waits.length === 1 ? "s" : ""} for a replenishment</p>
      <p class="caption">${waits.map((t) => `${esc(t.from_location)} (${esc(t.sku)})`).join(", ")}: they come back here when the pick face is filled.</p>
      <button type="button" class="big hand-back-waiting">Hand them back</button>
    </section>`;
    this.querySelector(".hand-back-waiting").addEventListener("click", () => {
      for (const t of waits) this.handBack(t);
    });
  }

  renderDrop(notice) {
    const where = this.tour.drop_location || "the pack station";
    const totes = this.tour.slots.filter((s) => s.tote).map((s) => s.tote);
    this.innerHTML = `<section class="stack tour-end">${notice}
      <p class="tour-line">Tour ${esc(this.tour.number)} picked</p>
      <div class="destination"><span class="caption">Take the totes to</span><b class="drop-location">${esc(where)}</b></div>
      <p class="prompt">Scan the label of ${esc(where)}</p>
      <p class="caption">${totes.length} tote${totes.length === 1 ? "" : "s"}: ${totes.map(esc).join(", ")}</p>
    </section>`;
  }

  renderPick(task, walk, notice) {
    const n = this.tour ? this.tour.done + 1 : null;
    const total = this.tour ? this.tour.done + walk.length : null;
    const info = this.tour ? this.tour.picks.find((p) => p.task_id === task.id) : null;
    const next = walk[1];
    const left = info && info.metres_left != null
      ? ` · ${Math.round(info.metres_left)} m · ${Math.max(1, Math.round(info.seconds_left / 60))} min left` : "";
    const typing = this.siteRules.allow_typed_check_digits && this.step === "location";
    const quantityEntry = this.step === "quantity" ? `<form class="quantity-form scan-row" autocomplete="off">
        <input class="pick-quantity" type="number" min="1" inputmode="numeric" aria-label="How many you took">
        <button type="submit" class="ok">OK</button></form>` : "";
    this.innerHTML = `
      <section class="stack pick-card" data-task="${task.id}" data-step="${this.step}">
        <p class="tour-line">${n ? `Pick ${n} of ${total}` : `Pick #${esc(task.id)}`}${esc(left)}</p>${notice}
        <div class="destination"><span class="caption">Pick from</span>
          <b class="pick-location">${esc(task.from_location || "?")}</b></div>
        <div class="pick-facts">
          <span class="pick-sku">${esc(task.sku || "?")}</span>
          <span class="pick-qty-line">× <b class="pick-qty">${esc(task.quantity)}</b></span>
          ${info && info.description ? `<span class="pick-description caption">${esc(info.description)}</span>` : ""}
          ${task.lot ? `<span class="caption">lot ${esc(task.lot)}</span>` : ""}
          <span class="pick-slot-line">slot <b class="pick-slot">${esc(task.tote_no ?? "—")}</b>${this.toteOf(task)
            ? ` <span class="caption">tote <b class="pick-tote">${esc(this.toteOf(task))}</b></span>` : ` <span class="caption">(an empty tote)</span>`}</span>
        </div>
        <p class="step-now prompt">${esc(this.stepPrompt(task))}</p>
        ${quantityEntry}
        ${typing ? `<wes-scan-field label="Label won't scan? Type its check digits" name="location-typed"></wes-scan-field>` : ""}
        <div class="short-box stack" ${this.shortOpen ? "" : "hidden"}>
          <p class="prompt">Short pick: how many did you find?</p>
          <label class="field inline">Found <input class="short-found" type="number" min="0" max="${esc(task.quantity - 1)}"
            value="${esc(Math.min(this.scans.units, task.quantity - 1))}" inputmode="numeric"></label>
          <div class="choices">${SHORT_REASONS.map((r) => `<button type="button" class="big short-reason" data-reason="${esc(r)}">${esc(r)}</button>`).join("")}</div>
          <button type="button" class="big cancel-short">Cancel</button>
        </div>
        <div class="pick-actions" ${this.shortOpen ? "hidden" : ""}>
          <button type="button" class="small short" ${this.scans.location ? "" : "disabled"}>Short</button>
          <button type="button" class="small later" ${walk.length > 1 ? "" : "disabled"}>Later</button>
          <button type="button" class="small hand-back">Hand back</button>
        </div>
        ${next ? `<p class="caption next-line">Next: <b>${esc(next.from_location)}</b>${next.waits_for_task ? " (waits for a replenishment)" : ""}</p>` : ""}
      </section>`;
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".quantity-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.keyedQuantity(task, Number(this.querySelector(".pick-quantity").value));
    });
    this.querySelector(".short").addEventListener("click", () => { this.shortOpen = true; this.render(); });
    this.querySelector(".cancel-short").addEventListener("click", () => { this.shortOpen = false; this.render(); });
    this.querySelectorAll(".short-reason").forEach((b) => b.addEventListener("click", () =>
      this.shortPick(task, Number(this.querySelector(".short-found").value || 0), b.dataset.reason)));
    this.querySelector(".later").addEventListener("click", () => {
      const later = this.later;
      later.add(task.id);
      this.later = later;
      this.reset(null);
      this.ctx.feedback.info(`#${task.id} at ${task.from_location} moved to the end of the tour`);
      this.render();
    });
    this.querySelector(".hand-back").addEventListener("click", () => this.handBack(task));
  }

  stepPrompt(task) {
    if (this.step === "location") return `Scan the location ${task.from_location}`;
    if (this.step === "product") return `Scan the product ${task.sku}`;
    if (this.step === "quantity") {
      const target = this.target(task);
      return target > UNIT_SCANS_UP_TO ? `Key how many you took (${target})` : `Scan each one: ${this.scans.units} of ${target}`;
    }
    const tote = this.toteOf(task);
    return tote ? `Scan tote ${tote}` : `Scan an empty tote for slot ${task.tote_no}`;
  }
}

customElements.define("wes-pick", PickScreen);
