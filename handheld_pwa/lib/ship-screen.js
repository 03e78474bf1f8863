/*
 * Usage: <wes-ship></wes-ship> with `.ctx` set (see app-shell.js; needs ctx.work); scans arrive via onScan(raw).
 *
 * The dock door, where a load is built and shipped:
 *  1. The door: scan its label or tap it (a location of kind "ship" or "dock").
 *  2. Scan each carton's SSCC label: the `load` command (through the outbox) puts it on this door's load
 *     and answers what of its order is loaded and what is still missing. Every order with a carton on
 *     the load is listed (GET /docks/{door}/load): its cartons ticked when loaded, the missing ones named,
 *     and "still being packed" while more cartons may follow.
 *  3. "Ship SO-1" once the order is complete (the `ship` command). The server refuses while a carton of
 *     the order is not on this load, and names it.
 */

import { ApiError } from "./api.js";
import { esc } from "./dom.js";
import { WorkScreen } from "./work-screen.js";
import "./scan-field.js";

const DOOR_KINDS = ["ship", "dock"];

export class ShipScreen extends WorkScreen {
  setUp() {
    this.door = null;
    this.orders = []; // the load: GET /docks/{door}/load's orders, kept up to date by the answers
    this.doors = null;
    this.shipping = new Set(); // orders whose ship is in the outbox
    queueMicrotask(() => this.loadDoors());
  }

  onTasks() {} // (loading is not dispatched as tasks)

  onRevoked() {}

  get site() { return this.ctx.session.site; }

  accept(raw) {
    return this.door ? this.loadCarton(raw) : this.scanDoor(raw);
  }

  // --- the door --------------------------------------------------------------------------------------

  async loadDoors() {
    const { api } = this.ctx;
    try {
      const lists = await Promise.all(DOOR_KINDS.map((kind) => api.get("/locations", { site: this.site, kind, limit: 50 })));
      this.doors = lists.flatMap((l) => l.data.map((d) => d.code));
      if (this.isConnected && !this.door) this.render();
    } catch { /* offline: scan the door */ }
  }

  async scanDoor(raw) {
    const { api, feedback, settings } = this.ctx;
    const body = { site: this.site, raw };
    if (settings.gsSubstitute) body.gs_substitutes = [settings.gsSubstitute];
    try {
      const scanned = await api.post("/scans/classify", body);
      if (scanned.kind !== "location" || !scanned.location) {
        feedback.error(new ApiError(0, "wrong_station", `That is ${kindInWords(scanned.kind)}: scan the dock door's label`));
        return;
      }
      await this.chooseDoor(scanned.location.code);
    } catch (err) {
      feedback.error(err);
    }
  }

  async chooseDoor(code) {
    const { api, feedback } = this.ctx;
    try {
      const location = await api.get(`/locations/${encodeURIComponent(code)}`, { site: this.site });
      if (!DOOR_KINDS.includes(location.kind)) {
        feedback.error(new ApiError(0, "wrong_station", `${location.code} is not a dock door (it is ${location.kind.replace(/_/g, " ")}). Scan the door.`));
        return;
      }
      this.door = location.code;
      const load = await api.get(`/docks/${encodeURIComponent(this.door)}/load`, { site: this.site });
      this.orders = load.orders;
    } catch (err) {
      if (!this.door) {
        feedback.error(err);
        return;
      }
      this.orders = []; // offline: the load shows as cartons are scanned
    }
    this.render();
    const waiting = this.orders.length ? ` — ${this.orders.length} order${this.orders.length === 1 ? "" : "s"} on the load` : "";
    feedback.ok(`At ${this.door}${waiting}: scan each carton`);
  }

  changeDoor() {
    this.door = null;
    this.orders = [];
    this.render();
    this.ctx.feedback.info("Scan the dock door");
  }

  // --- cartons and ship ------------------------------------------------------------------------------

  async loadCarton(raw) {
    const { work, feedback } = this.ctx;
    try {
      await work.command("load", { dock: this.door, carton: raw });
    } catch (err) {
      feedback.error(err);
      return;
    }
    if (work.state !== "online") feedback.attention("Saved offline: the carton is loaded when the connection is back");
  }

  async ship(reference) {
    const { work, feedback } = this.ctx;
    this.shipping.add(reference);
    this.render();
    try {
      await work.command("ship", { order: reference, dock: this.door });
    } catch (err) {
      this.shipping.delete(reference);
      feedback.error(err);
      this.render();
      return;
    }
    if (work.state !== "online") feedback.attention(`Saved offline: ${reference} ships when the connection is back`);
  }

  upsertOrder(order) {
    const i = this.orders.findIndex((o) => o.order === order.order);
    if (i >= 0) this.orders.splice(i, 1, order);
    else this.orders.push(order);
  }

  onAnswer({ entry, message }) {
    if (entry.type !== "load" && entry.type !== "ship") return;
    const { feedback } = this.ctx;
    if (entry.type === "ship") this.shipping.delete(entry.payload.order);
    if (!message.ok) {
      const e = message.error || {};
      feedback.error(new ApiError(409, e.code || "error", e.message || "The server refused it", e.details));
      this.render();
      return;
    }
    const r = message.result;
    if (entry.type === "load") {
      if (r.dock === this.door) this.upsertOrder(r.load);
      const load = r.load;
      const missing = load.missing.map((c) => c.carton_no);
      const rest = load.complete ? `${load.order} is complete: ship it`
        : missing.length ? `${load.order} still needs carton${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`
          : `${load.order} is still being packed`;
      if (r.already_loaded) feedback.attention(`Carton ${r.carton_no} of ${r.order} is already on the load — ${rest}`);
      else feedback.ok(`Carton ${r.carton_no} of ${r.order} loaded${r.moved_from ? ` (moved from ${r.moved_from})` : ""} — ${rest}`);
    } else {
      this.orders = this.orders.filter((o) => o.order !== r.order);
      feedback.ok(`${r.order} shipped from ${r.dock}: ${r.cartons.length} carton${r.cartons.length === 1 ? "" : "s"}, ${r.units} units`);
    }
    this.render();
  }

  // --- drawing ---------------------------------------------------------------------------------------

  render() {
    if (this.showEnrollment()) return;
    if (!this.door) this.renderDoor();
    else this.renderLoad();
    this.querySelector("wes-scan-field")?.addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
  }

  renderDoor() {
    const doors = (this.doors || []).map((code) => `<button type="button" class="big" data-door="${esc(code)}">${esc(code)}</button>`).join("");
    this.innerHTML = `<section class="stack ship-card" data-step="door">
      <p class="prompt">Scan the dock door's label, or tap your door.</p>
      <wes-scan-field label="Dock door" name="door-scan"></wes-scan-field>
      <div class="choices door-list" aria-label="Dock doors">${doors}</div></section>`;
    this.querySelectorAll("[data-door]").forEach((b) => b.addEventListener("click", () => this.chooseDoor(b.dataset.door)));
  }

  orderCard(o) {
    const cartons = o.cartons.filter((c) => c.status !== "shipped").map((c) => {
      const where = c.loaded ? "" : c.status === "open" ? "missing: still open at the pack bench"
        : c.status === "loaded" ? `missing: on the load at ${c.location}` : `missing: ${c.status}${c.location ? ` at ${c.location}` : ""}`;
      return `<li class="ship-carton" data-loaded="${c.loaded}" data-sscc="${esc(c.sscc)}">
        <span class="ship-mark" aria-hidden="true">${c.loaded ? "✔" : "✖"}</span>
        <span class="ship-carton-no">${esc(c.carton_no)}</span>
        <code class="ship-sscc">${esc(c.sscc)}</code>${where ? ` <span class="ship-where">${esc(where)}</span>` : ""}</li>`;
    }).join("");
    const more = o.packing_done ? "" : `<p class="ship-packing caption">Still being packed: more cartons may follow</p>`;
    const count = o.carton_count ?? o.cartons.length;
    const busy = this.shipping.has(o.order);
    return `<div class="card ship-order" data-order="${esc(o.order)}" data-complete="${o.complete}">
      <p class="ship-head"><b class="ship-ref">${esc(o.order)}</b> <span class="caption">${esc(o.carrier || "")}</span>
        <span class="ship-count"><b>${esc(o.loaded)}</b> of ${esc(count)}${o.packing_done ? "" : "+"} loaded</span></p>
      <ul class="ship-cartons">${cartons}</ul>${more}
      <button type="button" class="big ship-it${o.complete ? " primary" : ""}" data-order="${esc(o.order)}" ${busy ? "disabled" : ""}>
        ${busy ? "Shipping…" : `Ship ${esc(o.order)}`}</button></div>`;
  }

  renderLoad() {
    const orders = this.orders.length ? this.orders.map((o) => this.orderCard(o)).join("")
      : `<p class="caption ship-empty">Nothing on the load yet.</p>`;
    // The orders (and their Ship buttons) come first; the field below is for typing a label that will not scan.
    this.innerHTML = `<section class="stack ship-card" data-step="load" data-door="${esc(this.door)}">
      <p class="ship-door-line">Door <b class="ship-door">${esc(this.door)}</b>
        <span class="caption">scan each carton</span>
        <button type="button" class="link change-door">Change</button></p>
      <div class="ship-orders">${orders}</div>
      <wes-scan-field label="Carton SSCC" name="carton-scan"></wes-scan-field></section>`;
    this.querySelector(".change-door").addEventListener("click", () => this.changeDoor());
    this.querySelectorAll(".ship-it").forEach((b) => b.addEventListener("click", () => this.ship(b.dataset.order)));
  }
}

// What a classified scan is, in the floor's words (backend/scanning/result.py ScanKind).
function kindInWords(kind) {
  return { sscc: "a pallet or carton label (SSCC)", lpn: "an LPN", tote: "a tote", product: "a product",
    gs1: "a product label", location: "a location" }[kind] || `a ${String(kind).replace(/_/g, " ")}`;
}

customElements.define("wes-ship", ShipScreen);
