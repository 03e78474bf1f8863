/*
 * Usage: <wes-wave-planner> in the desk's Waves tab (planner.desk = the desk);
 * planner.loadPlanned() re-reads the waves planned and not yet released.
 *
 * Plan a wave from criteria (POST /waves: the most orders and lines, carriers,
 * a cut-off window, zones, totes a cart), see its preview (orders, tours with
 * metres and minutes, each tour's walking path on the floor map in its own
 * colour), then release it (its tasks are created and offered) or discard it.
 */

import { esc } from "../lib/dom.js";
import { tourColour } from "./floor-map.js";
import { clock, count, duration } from "./wall-panels.js";

const LEFT_OUT = { no_lines: "nothing left to pick", unit_exceeds_tote: "an item does not fit a tote",
  order_exceeds_cart: "too big for one cart" };

/** A datetime-local value (the supervisor's local time) as an ISO instant, or null. */
function instant(value) {
  return value ? new Date(value).toISOString() : null;
}

class WavePlanner extends HTMLElement {
  connectedCallback() {
    this.wave = null;
    this.preview = null;
    this.planned = [];
    this.innerHTML = `
      <form class="wave-form">
        <div class="row">
          <label>Most orders <input name="max_orders" type="number" min="1" placeholder="any"></label>
          <label>Most lines <input name="max_lines" type="number" min="1" placeholder="any"></label>
          <label>Totes a cart <input name="totes" type="number" min="1" max="64" value="12" required></label>
          <label>Carriers
            <input name="carriers" placeholder="any, or e.g. DHL, UPS" autocapitalize="characters"></label>
        </div>
        <div class="row">
          <label>Cut-off from <input name="cut_off_from" type="datetime-local"></label>
          <label>Cut-off to <input name="cut_off_to" type="datetime-local"></label>
        </div>
        <fieldset class="zones"><legend>Zones <span class="muted">(none ticked: any zone)</span></legend>
          <span class="zone-boxes"></span></fieldset>
        <button type="submit" class="primary">Plan wave</button>
      </form>
      <div class="wave-preview"></div>
      <h3>Planned, not released</h3><div class="planned-waves"></div>`;
    this.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.plan(new FormData(e.target));
    });
    this.addEventListener("click", (e) => this.#click(e));
    this.desk.zonesReady.then((zones) => {
      this.querySelector(".zone-boxes").innerHTML = zones.map((z) => `<label class="check"><input type="checkbox"
        name="zones" value="${esc(z)}">${esc(z)}</label>`).join("")
        || `<span class="muted">the site has no zones</span>`;
    });
    this.loadPlanned();
  }

  disconnectedCallback() {
    this.desk.floorMap.paths = [];
  }

  async plan(form) {
    const number = (name) => (form.get(name) ? Number(form.get(name)) : null);
    const body = {
      site: this.desk.site,
      max_orders: number("max_orders"),
      max_lines: number("max_lines"),
      carriers: String(form.get("carriers") || "").split(/[\s,]+/).filter(Boolean),
      zones: form.getAll("zones").map(String),
      cut_off_from: instant(form.get("cut_off_from")),
      cut_off_to: instant(form.get("cut_off_to")),
      cart: { totes: number("totes") || 12 },
    };
    const wave = await this.desk.act("Plan a wave", () => this.desk.api.post("/waves", body),
      { done: (w) => `Wave ${w.id} planned: ${count(w.orders, "order")}, ${count(w.lines, "line")} in `
        + `${count(w.tours, "tour")}. Release it or discard it.` });
    if (wave) await this.show(wave);
  }

  async show(wave) {
    this.wave = wave;
    try {
      this.preview = await this.desk.api.get(`/waves/${wave.id}/preview`);
    } catch (err) {
      this.preview = { tours: [], error: err.message };
    }
    this.desk.floorMap.paths = this.preview.tours.map((t, i) => ({ ...t, colour: tourColour(i) }));
    this.render();
  }

  render() {
    const box = this.querySelector(".wave-preview");
    const w = this.wave;
    if (!w) {
      box.innerHTML = "";
      return;
    }
    const tours = this.preview.tours.length ? this.preview.tours
      : (w.tour_plan || []).map((t) => ({ number: t.number, metres: t.distance_m, minutes: t.seconds / 60 }));
    const plans = new Map((w.tour_plan || []).map((t) => [t.number, t]));
    box.innerHTML = `
      <div class="wave-summary" data-wave="${w.id}"><h3>Wave ${w.id} <span class="state">${esc(w.status)}</span></h3>
        <p>${count(w.orders, "order")} · ${count(w.lines, "line")} · ${count(w.tours, "tour")} ·
          ${Math.round(w.distance_m)} m walking · about ${duration(w.seconds)}</p>
        ${this.preview.error ? `<p class="empty">No walking paths: ${esc(this.preview.error)}</p>` : ""}
        ${(w.unplanned || []).length ? `<p class="bad">${w.unplanned.length} orders left out:
          ${w.unplanned.slice(0, 5).map((u) => `order ${u.order_id} (${esc(LEFT_OUT[u.reason] || u.reason)})`)
            .join("; ")}</p>` : ""}
        <table class="tours"><thead><tr><th>tour</th><th>orders</th><th>picks</th><th>metres</th><th>minutes</th></tr>
          </thead>
          <tbody>${tours.map((t, i) => {
            const plan = plans.get(t.number) || {};
            const minutes = t.minutes < 10 ? t.minutes.toFixed(1) : Math.round(t.minutes);
            return `<tr data-tour="${t.number}">
              <th scope="row"><svg class="swatch" aria-hidden="true"><rect width="100%" height="100%" rx="3" fill="${tourColour(i)}"></rect></svg>Tour ${t.number}</th>
              <td>${(plan.orders || []).length}</td><td>${plan.picks ?? "—"}</td>
              <td>${Math.round(t.metres)}</td><td>${minutes}</td></tr>`;
          }).join("") || `<tr><td class="empty" colspan="5">no tours: no order matched</td></tr>`}</tbody></table>
        ${w.status === "planned" ? `<div class="actions">
          <button type="button" class="primary" data-act="release">Release wave ${w.id}</button>
          <button type="button" data-act="discard">Discard</button></div>` : ""}
      </div>`;
  }

  async loadPlanned() {
    const box = this.querySelector(".planned-waves");
    try {
      this.planned = (await this.desk.api.get("/waves", { site: this.desk.site, status: "planned" })).data;
    } catch (err) {
      box.innerHTML = `<p class="empty">${esc(err.message)}</p>`;
      return;
    }
    box.innerHTML = this.planned.length ? `<ul class="planned">${this.planned.map((w) => `
      <li><button type="button" data-show="${w.id}">
        Wave ${w.id}: ${count(w.orders, "order")}, ${count(w.lines, "line")},
        ${count(w.tours, "tour")}
        <span class="muted">planned ${esc(clock(w.created_at))}</span></button></li>`).join("")}</ul>`
      : `<p class="empty">none</p>`;
  }

  async #click(e) {
    const button = e.target.closest("button");
    if (!button) return;
    const desk = this.desk;
    if (button.dataset.show) {
      try {
        await this.show(await desk.api.get(`/waves/${button.dataset.show}`));
      } catch (err) {
        desk.say(`Wave ${button.dataset.show}: ${err.message}`, "error");
      }
    } else if (button.dataset.act === "release") {
      const id = this.wave.id;
      const wave = await desk.act(`Release wave ${id}`, () => desk.api.post(`/waves/${id}/release`),
        { done: (w) => `Wave ${w.id} released: ${count(w.lines, "line")} in ${count(w.tours, "tour")} on the floor.` });
      if (wave) this.#clear();
    } else if (button.dataset.act === "discard") {
      const id = this.wave.id;
      const wave = await desk.act(`Discard wave ${id}`, () => desk.api.post(`/waves/${id}/discard`),
        { done: `Wave ${id} discarded: its orders wait for another wave.` });
      if (wave) this.#clear();
    }
  }

  #clear() {
    this.wave = null;
    this.preview = null;
    this.desk.floorMap.paths = [];
    this.render();
    this.loadPlanned();
  }
}

customElements.define("wes-wave-planner", WavePlanner);
