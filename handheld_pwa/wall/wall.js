/*
 * Usage: open /app/wall/ on the TV's browser (the wall), or /app/wall/#desk on a
 * supervisor's desktop or tablet (the desk: the same board plus actions). A
 * supervisor signs in once; the token stays in sessionStorage for that tab.
 *
 * The entry module: signs in, keeps one WallLink to /ws/wall for the site, and
 * shows the wall or the desk by the address's hash (#desk, #desk/waves …).
 * The wall is a TV read from three metres: KPIs, work by kind × zone × state,
 * workers, orders at risk, waves, exceptions, printers and the live floor map,
 * on one 1920×1080 screen that never scrolls. Every `wall.state` redraws it.
 */

import { WesApi } from "../lib/api.js";
import { esc } from "../lib/dom.js";
import { Session } from "../lib/session.js";
import "./floor-map.js";
import "./desk.js";
import { WallLink } from "./wall-link.js";
import {
  atRiskList, exceptionsList, fitRows, kpiStrip, printersStrip, tickCountdowns, wavesList, workTable, workersTable,
} from "./wall-panels.js";

const HEAT_REFRESH_MS = 5 * 60 * 1000;
const ALERT_SHOWN_MS = 30 * 1000;

class WallApp extends HTMLElement {
  connectedCallback() {
    this.session = new Session(sessionStorage);
    this.api = new WesApi(this.session, { onUnauthorized: () => this.signOut("Signed out: sign in again") });
    this.state = null;
    this.floorMap = null;
    this.innerHTML = `
      <header class="wall-header"><h1>WES <span class="mode">wall</span> <span class="site"></span></h1>
        <span class="printers"></span><span class="updated"></span>
        <a class="mode-switch" href="#desk" hidden>Desk</a>
        <span class="wall-link" data-state="offline">offline</span></header>
      <form class="wall-login" autocomplete="off" hidden>
        <label>User name <input name="username" autocapitalize="none" required></label>
        <label>Password <input name="password" type="password" required></label>
        <label class="site-field" hidden>Site <input name="site" autocapitalize="characters"></label>
        <button type="submit">Show the wall</button>
        <p class="wall-error" role="alert"></p>
      </form>
      <div class="screen"></div>
      <div class="alert-bar" role="status" hidden></div>`;
    this.querySelector(".alert-bar").addEventListener("click", (e) => { e.currentTarget.hidden = true; });
    this.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.signIn();
    });
    window.addEventListener("hashchange", () => this.show());
    window.addEventListener("resize", () => { if (this.state && !this.desk) this.draw(); });
    this.ticker = setInterval(() => tickCountdowns(this), 15000);
    if (this.session.token && this.session.site) this.start();
    else this.querySelector("form").hidden = false;
    window.wes = Object.assign(window.wes || {}, { wall: this });
  }

  get desk() {
    return location.hash.startsWith("#desk");
  }

  async signIn() {
    const form = new FormData(this.querySelector("form"));
    const error = this.querySelector(".wall-error");
    error.textContent = "";
    try {
      await this.api.login(String(form.get("username")).trim(), String(form.get("password")));
      const me = await this.api.get("/auth/me");
      if (!me.roles.some((r) => r === "supervisor" || r === "admin")) throw new Error("The wall is for supervisors");
      const wanted = String(form.get("site") || "").trim();
      const site = wanted || (me.sites.length === 1 ? me.sites[0] : "");
      if (!site) {
        this.querySelector(".site-field").hidden = false;
        throw new Error(`Which site? ${me.sites.join(", ")}`);
      }
      this.session.me = me;
      this.session.site = site;
      this.querySelector("form").hidden = true;
      this.start();
    } catch (err) {
      this.session.token = null;
      error.textContent = err.message;
    }
  }

  /** The wall socket was refused or closed for good: an expired token is renewed, anything else signs out. */
  async onRefused({ code, error, message }) {
    if (code === 4401 && error && error.details && error.details.reason === "invalid_credentials") {
      try {
        await this.api.renew();
        this.link.start(); // (the refusal stopped it) again, with the new token
        return;
      } catch {
        // fall through: sign in again
      }
    }
    this.signOut(code === 4410 ? "Signed out: sign in again" : message);
  }

  signOut(message) {
    this.link?.stop();
    this.link = null;
    clearInterval(this.heatTimer);
    this.querySelector(".mode-switch").hidden = true;
    this.querySelector(".site").textContent = "";
    this.session.clear();
    this.state = null;
    this.querySelector(".screen").innerHTML = "";
    this.querySelector("form").hidden = false;
    this.querySelector(".wall-error").textContent = message;
  }

  start() {
    this.querySelector(".site").textContent = `· ${this.session.site}`;
    this.querySelector(".mode-switch").hidden = false;
    this.link = new WallLink(sessionStorage, { accessToken: () => this.api.freshToken(), site: () => this.session.site });
    this.link.addEventListener("status", (e) => this.setLink(e.detail.state));
    this.link.addEventListener("state", (e) => this.onState(e.detail));
    this.link.addEventListener("alert", (e) => this.onAlert(e.detail));
    this.link.addEventListener("refused", (e) => this.onRefused(e.detail));
    this.show();
    this.link.start();
    this.loadFloorMap();
    this.heatTimer = setInterval(() => this.loadHeat(), HEAT_REFRESH_MS);
  }

  setLink(state) {
    const el = this.querySelector(".wall-link");
    el.dataset.state = state;
    el.textContent = state;
  }

  /** The wall or the desk, by the hash; both draw from the same link and the same state. */
  show() {
    if (!this.link) return;
    const screen = this.querySelector(".screen");
    const switcher = this.querySelector(".mode-switch");
    this.querySelector(".mode").textContent = this.desk ? "desk" : "wall";
    switcher.href = this.desk ? "#" : "#desk";
    switcher.textContent = this.desk ? "Wall view" : "Desk";
    document.documentElement.dataset.mode = this.desk ? "desk" : "wall";
    if (this.desk) {
      let desk = screen.querySelector("wes-desk");
      if (!desk) {
        screen.innerHTML = "";
        desk = document.createElement("wes-desk");
        desk.ctx = this;
        screen.append(desk);
      }
      desk.route(location.hash);
      this.floorMap = desk.floorMap;
    } else {
      screen.innerHTML = `
        <section class="kpis"></section>
        <main class="wall-grid">
          <section class="panel p-work"><h2>Work by kind and zone</h2><div class="fit work-box"></div></section>
          <section class="panel p-workers"><h2>Workers</h2><div class="fit workers-box"></div></section>
          <section class="panel p-exceptions"><h2>Exceptions</h2><div class="fit exceptions-box"></div></section>
          <section class="panel p-map">
            <h2>Floor <span class="muted map-note">last scans · picks per aisle today</span></h2>
            <wes-floor-map></wes-floor-map></section>
          <section class="panel p-risk"><h2>Orders at risk</h2><div class="fit risk-box"></div></section>
          <section class="panel p-waves"><h2>Waves</h2><div class="fit waves-box"></div></section>
        </main>`;
      this.floorMap = screen.querySelector("wes-floor-map");
      if (this.layout && !this.heat) this.loadHeat();
    }
    this.applyMapData();
    if (this.state) this.draw();
  }

  async loadFloorMap() {
    try {
      this.layout = await this.api.get(`/sites/${encodeURIComponent(this.session.site)}/floor-map`);
    } catch (err) {
      this.layout = null;
      this.layoutError = err.message;
    }
    await this.loadHeat();
    this.applyMapData();
  }

  /** Picks per aisle since midnight (the wall's heat); the desk chooses its own period. */
  async loadHeat() {
    if (this.desk) return;
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    try {
      const heat = await this.api.get(`/sites/${encodeURIComponent(this.session.site)}/floor-map/heat`,
        { from: midnight.toISOString(), to: new Date().toISOString() });
      this.heat = { aisles: heat.aisles, label: "picks per aisle today" };
    } catch {
      this.heat = null;
    }
    if (!this.desk && this.floorMap) this.floorMap.heat = this.heat;
  }

  applyMapData() {
    const map = this.floorMap;
    if (!map) return;
    if (this.layout) {
      map.layout = this.layout;
      if (!this.desk) map.heat = this.heat;
    } else if (this.layoutError) {
      map.unavailable = this.layoutError;
    }
    if (this.state) map.workers = this.state.workers;
  }

  onState(message) {
    this.state = message.data;
    this.stateAt = message.data.at || message.at;
    this.draw();
    this.dispatchEvent(new CustomEvent("wall-state", { detail: this.state }));
  }

  onAlert(message) {
    const data = message.data || {};
    const bar = this.querySelector(".alert-bar");
    bar.dataset.kind = data.kind || "";
    const detail = data.detail || {};
    const title = data.kind === "at_risk" ? `At risk ${detail.order || ""}` : data.kind === "anomaly"
      ? `Check ${detail.subject || ""}` : "Alert";
    bar.innerHTML = `<b>${esc(title.trim())}:</b> ${esc(data.message || "")}`;
    bar.hidden = false;
    clearTimeout(this.alertTimer);
    this.alertTimer = setTimeout(() => { bar.hidden = true; }, ALERT_SHOWN_MS);
  }

  draw() {
    const state = this.state;
    this.querySelector(".printers").innerHTML = printersStrip(state.printers);
    const updated = this.stateAt ? `updated ${new Date(this.stateAt).toLocaleTimeString()}` : "";
    this.querySelector(".updated").textContent = updated;
    if (this.floorMap && this.layout) this.floorMap.workers = state.workers;
    if (this.desk) return; // the desk draws itself on "wall-state"
    const put = (selector, html) => { this.querySelector(selector).innerHTML = html; };
    put(".kpis", kpiStrip(state));
    put(".work-box", workTable(state.work));
    put(".workers-box", workersTable(state.workers));
    put(".risk-box", atRiskList(state.at_risk));
    put(".waves-box", wavesList(state.waves));
    put(".exceptions-box", exceptionsList(state.exceptions));
    fitRows(this.querySelector(".screen"));
  }
}

customElements.define("wes-wall", WallApp);
document.body.append(document.createElement("wes-wall"));
