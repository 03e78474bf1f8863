/*
 * Usage:
 *   <wes-floor-map></wes-floor-map>
 *   map.layout = await api.get(`/sites/${site}/floor-map`);   // {bounds, locations, aisles}
 *   map.workers = state.workers;              // each worker's last scan: a dot and their name
 *   map.heat = { aisles: [{aisle, picks}], label: "picks today" };   // aisles filled by picks
 *   map.paths = [{ number, metres, minutes, path: [[x, y], …] }];    // wave preview: one colour per tour
 *   map.selected = "A03-017-1";
 *   map.addEventListener("location-pick", (e) => e.detail.codes);    // the codes at the clicked spot, pick face first
 *
 * The site's floor plan as SVG, drawn from the locations' x/y in metres: aisles
 * as bands (their heat as the fill), pick faces, reserve, docks, pack and ship
 * stations by colour; the front (y = 0) at the bottom. Locations on the same
 * spot (the levels of one bay) are one mark. Sizes of marks, lines and text are
 * in screen pixels, so the plan reads the same on a TV and a laptop.
 */

import { esc } from "../lib/dom.js";
import { IDLE_LONG_S } from "./wall-panels.js";

// Tours' colours: none is a location kind's colour (pick faces are light blue), each clear on black.
const TOUR_COLOURS = ["#ffbf00", "#ff4081", "#b2ff59", "#ea80fc", "#ffffff", "#ff6e40", "#18ffff", "#ffd180",
  "#8c9eff", "#a7ffeb"];
const KIND_RANK = ["pick_face", "pack", "ship", "dock", "staging", "quarantine", "reserve"];
const KIND_NAME = { pick_face: "pick face", reserve: "reserve", dock: "dock", pack: "pack", ship: "ship",
  staging: "staging", quarantine: "quarantine" };
const NS = "http://www.w3.org/2000/svg";

export function tourColour(index) {
  return TOUR_COLOURS[index % TOUR_COLOURS.length];
}

class FloorMap extends HTMLElement {
  connectedCallback() {
    this._workers = this._workers || [];
    this._paths = this._paths || [];
    this.innerHTML = `<svg class="floor-svg" xmlns="${NS}" role="img" aria-label="Floor map"></svg>
      <div class="map-legend"></div>`;
    this.svg = this.querySelector("svg");
    this.svg.addEventListener("click", (e) => this.#pick(e.target));
    this.svg.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.#pick(e.target);
      }
    });
    if (this._unavailable) this.unavailable = this._unavailable;
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this);
  }

  disconnectedCallback() {
    this.resize?.disconnect();
  }

  set layout(value) { this._layout = value; this._unavailable = null; this.draw(); }
  get layout() { return this._layout; }
  set workers(value) { this._workers = value || []; this.draw(); }
  set heat(value) { this._heat = value; this.draw(); }
  set paths(value) { this._paths = value || []; this.draw(); }
  set selected(code) { this._selected = code; this.draw(); }
  /** No plan to draw: say why instead. */
  set unavailable(message) {
    this._unavailable = message;
    if (!this.svg) return;
    this.svg.innerHTML = "";
    this.querySelector(".map-legend").innerHTML = `<span class="empty">No floor map: ${esc(message)}</span>`;
  }

  #pick(target) {
    const mark = target.closest("[data-codes]");
    if (!mark) return;
    const codes = mark.dataset.codes.split(" ");
    this._selected = codes[0];
    this.draw();
    this.dispatchEvent(new CustomEvent("location-pick", { detail: { codes } }));
  }

  /** The plan's transform: metres → SVG units (the viewBox is in pixels of the box); labels get room above/below. */
  #frame() {
    const b = this._layout.bounds;
    const box = this.svg.getBoundingClientRect();
    const width = Math.max(box.width, 200);
    const height = Math.max(box.height, 120);
    const padX = 24;
    const padTop = 48;
    const padBottom = 34;
    const spanX = Math.max(b.max_x - b.min_x, 1);
    const spanY = Math.max(b.max_y - b.min_y, 1);
    const scale = Math.min((width - 2 * padX) / spanX, (height - padTop - padBottom) / spanY);
    const offX = (width - scale * spanX) / 2;
    const bottom = height - padBottom - ((height - padTop - padBottom) - scale * spanY) / 2;
    return {
      width, height, scale, labels: new LabelPlacer(width, height),
      x: (x) => offX + (x - b.min_x) * scale,
      y: (y) => bottom - (y - b.min_y) * scale,
    };
  }

  draw() {
    if (!this.svg || !this._layout || this._unavailable) return;
    const f = this.#frame();
    this.svg.setAttribute("viewBox", `0 0 ${f.width} ${f.height}`);
    // Workers first: their names win the label space over the aisles'.
    const workers = this.#workers(f);
    const parts = [this.#aisles(f), this.#locations(f), this.#paths(f), workers];
    this.svg.innerHTML = parts.join("");
    this.svg.classList.toggle("previewing", this._paths.length > 0); // the walks stand out, the racks step back
    this.#legend();
  }

  #aisles(f) {
    const heat = new Map(((this._heat && this._heat.aisles) || []).map((a) => [a.aisle, a.picks]));
    const most = Math.max(1, ...heat.values());
    const half = Math.max(6, 0.8 * f.scale); // a band at least 12 px wide, its faces' depth on a big plan
    const end = Math.min(half, 10); // and only a little past its first and last bay
    return (this._layout.aisles || []).map((a) => {
      const across = Math.abs(a.x1 - a.x0) < Math.abs(a.y1 - a.y0); // the usual: an aisle runs along y
      const x0 = f.x(Math.min(a.x0, a.x1)) - (across ? half : end);
      const x1 = f.x(Math.max(a.x0, a.x1)) + (across ? half : end);
      const y0 = f.y(Math.max(a.y0, a.y1)) - (across ? end : half);
      const y1 = f.y(Math.min(a.y0, a.y1)) + (across ? end : half);
      const picks = heat.get(a.aisle);
      const level = picks ? picks / most : 0;
      const fill = this._heat ? `rgba(255, ${Math.round(190 - 150 * level)}, 0, ${0.15 + 0.75 * level})` : "#1d2733";
      const cx = (x0 + x1) / 2;
      const count = picks ? f.labels.place(String(picks), 15, [[cx, y0 - 8]], "middle") : null;
      const name = f.labels.place(a.aisle, 15, this._heat ? [[cx, y0 - 26]] : [[cx, y0 - 8], [cx, y0 - 26]], "middle");
      return `<g class="aisle" data-aisle="${esc(a.aisle)}"${this._heat ? ` data-picks="${picks || 0}"` : ""}>
        <title>${esc(a.aisle)}${this._heat ? `: ${picks || 0} picks` : ""}</title>
        <rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" rx="4" fill="${fill}"></rect>
        ${name ? `<text class="aisle-label" x="${name.x}" y="${name.y}" text-anchor="middle">${esc(a.aisle)}</text>`
          : ""}
        ${count ? `<text class="aisle-label heat-count" x="${count.x}" y="${count.y}"
          text-anchor="middle">${picks}</text>`
          : ""}</g>`;
    }).join("");
  }

  #locations(f) {
    const spots = new Map();
    for (const loc of this._layout.locations || []) {
      if (loc.x === null || loc.y === null || loc.x === undefined || loc.y === undefined) continue;
      const key = `${loc.x.toFixed(2)},${loc.y.toFixed(2)}`;
      if (!spots.has(key)) spots.set(key, { x: loc.x, y: loc.y, locs: [] });
      spots.get(key).locs.push(loc);
    }
    const size = Math.max(7, Math.min(16, 0.9 * f.scale));
    const rank = (k) => (KIND_RANK.includes(k) ? KIND_RANK.indexOf(k) : KIND_RANK.length);
    return [...spots.values()].map((spot) => {
      spot.locs.sort((a, b) => rank(a.kind) - rank(b.kind) || a.code.localeCompare(b.code));
      const top = spot.locs[0];
      const codes = spot.locs.map((l) => l.code);
      const big = !["pick_face", "reserve"].includes(top.kind);
      const s = big ? size * 1.5 : size;
      const selected = codes.includes(this._selected) ? " selected" : "";
      const more = codes.length > 4 ? ` +${codes.length - 4}` : "";
      const title = `${codes.slice(0, 4).join(", ")}${more} (${KIND_NAME[top.kind] || top.kind})`;
      return `<rect class="loc k-${esc(top.kind)}${selected}" data-codes="${esc(codes.join(" "))}" tabindex="0"
        x="${f.x(spot.x) - s / 2}" y="${f.y(spot.y) - s / 2}" width="${s}" height="${s}" rx="2">
        <title>${esc(title)}</title></rect>`;
    }).join("");
  }

  #paths(f) {
    return this._paths.map((tour, i) => {
      const points = (tour.path || []).map(([x, y]) => `${f.x(x)},${f.y(y)}`);
      if (!points.length) return "";
      const colour = tour.colour || tourColour(i);
      const [sx, sy] = points[0].split(",").map(Number);
      return `<g class="tour-path" data-tour="${esc(tour.number)}">
        <polyline points="${points.join(" ")}" fill="none" stroke="${colour}" stroke-width="5"
          stroke-linejoin="round" stroke-linecap="round" opacity="0.9"></polyline>
        <circle cx="${sx}" cy="${sy}" r="9" fill="${colour}"></circle>
        <text class="tour-no" x="${sx}" y="${sy + 5}" text-anchor="middle">${esc(tour.number)}</text></g>`;
    }).join("");
  }

  #workers(f) {
    return this._workers.filter((w) => w.last_scan && w.last_scan.x !== null && w.last_scan.x !== undefined)
      .map((w) => {
        const x = f.x(w.last_scan.x);
        const y = f.y(w.last_scan.y);
        f.labels.block(x - 10, y - 10, 20, 20);
        const spots = [[x + 14, y + 7], [x - 14, y + 7, "end"], [x + 14, y - 16], [x + 14, y + 30],
          [x - 14, y - 16, "end"], [x - 14, y + 30, "end"], [x + 14, y - 40], [x + 14, y + 54]];
        const spot = f.labels.place(w.username, 20, spots, "start", true);
        const idle = w.idle_s !== null && w.idle_s !== undefined && w.idle_s > IDLE_LONG_S ? " idle-long" : "";
        return `<g class="worker-dot${idle}" data-worker="${esc(w.username)}">
          <circle cx="${x}" cy="${y}" r="10"></circle>
          <text x="${spot.x}" y="${spot.y}" text-anchor="${spot.anchor}">${esc(w.username)}</text></g>`;
      }).join("");
  }

  #legend() {
    const kinds = new Set((this._layout.locations || []).map((l) => l.kind));
    const items = KIND_RANK.filter((k) => kinds.has(k))
      .map((k) => `<span class="key"><i class="swatch k-${k}"></i>${KIND_NAME[k]}</span>`);
    if (this._workers.some((w) => w.last_scan)) {
      items.push(`<span class="key"><i class="swatch worker"></i>last scan</span>`);
    }
    if (this._heat) {
      const none = !(this._heat.aisles || []).some((a) => a.picks);
      const label = `${this._heat.label || "picks per aisle"}${none ? ": none yet" : ""}`;
      items.push(`<span class="key"><i class="swatch heat"></i>${esc(label)}</span>`);
    }
    this.querySelector(".map-legend").innerHTML = items.join("");
  }
}

/** Labels that do not overlap: each takes the first of its candidate spots that is still free. */
class LabelPlacer {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.boxes = [];
  }

  block(x, y, w, h) {
    this.boxes.push({ x, y, w, h });
  }

  /** spots: [x, baseline y, anchor?]; null if none is free (unless `always`: then the first). */
  place(text, size, spots, anchor = "start", always = false) {
    const w = text.length * size * 0.62 + 4; // 2 px clear on each side
    const boxOf = ([x, y, a = anchor]) => ({
      x: a === "middle" ? x - w / 2 : a === "end" ? x - w : x, y: y - size, w, h: size * 1.2 });
    for (const spot of spots) {
      const b = boxOf(spot);
      const inside = b.x >= 0 && b.y >= 0 && b.x + b.w <= this.width && b.y + b.h <= this.height;
      if (inside && !this.boxes.some((o) => b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h)) {
        this.boxes.push(b);
        return { x: spot[0], y: spot[1], anchor: spot[2] || anchor };
      }
    }
    if (!always) return null;
    this.boxes.push(boxOf(spots[0]));
    return { x: spots[0][0], y: spots[0][1], anchor: spots[0][2] || anchor };
  }
}

customElements.define("wes-floor-map", FloorMap);
