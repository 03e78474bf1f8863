/*
 * Usage: open /app/wall/ on the TV's browser; a supervisor signs in once (the
 * token stays in sessionStorage for that tab).
 *
 * The supervisor wall: signs in, connects to /ws/wall for the site and draws
 * each `wall.counts` message (open tasks by zone and state, each worker's
 * held and done-today tasks, open exceptions by kind) as a big high-contrast
 * board. Reconnects with backoff when the socket drops; the server sends the
 * counts again as soon as it is back.
 */

import { WesApi } from "../lib/api.js";
import { esc } from "../lib/dom.js";
import { Session } from "../lib/session.js";

const ZONE_COLUMNS = ["pending", "assigned", "in_progress", "suspended", "exception"];
const WORKER_COLUMNS = ["assigned", "in_progress", "done_today"];
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

class WallBoard extends HTMLElement {
  connectedCallback() {
    this.session = new Session(sessionStorage);
    this.api = new WesApi(this.session, { onUnauthorized: () => this.signOut("Signed out: sign in again") });
    this.attempt = 0;
    this.innerHTML = `
      <header class="wall-header"><h1>WES wall <span class="site"></span></h1>
        <span class="updated"></span><span class="wall-link" data-state="offline">offline</span></header>
      <form class="wall-login" autocomplete="off" hidden>
        <label>User name <input name="username" autocapitalize="none" required></label>
        <label>Password <input name="password" type="password" required></label>
        <label class="site-field" hidden>Site <input name="site" autocapitalize="characters"></label>
        <button type="submit">Show the wall</button>
        <p class="wall-error" role="alert"></p>
      </form>
      <main class="board" hidden></main>`;
    this.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.signIn();
    });
    if (this.session.token && this.session.site) this.connect();
    else this.querySelector("form").hidden = false;
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
      this.connect();
    } catch (err) {
      this.session.token = null;
      error.textContent = err.message;
    }
  }

  signOut(message) {
    this.wanted = false;
    if (this.socket) this.socket.close();
    this.session.clear();
    this.querySelector(".board").hidden = true;
    this.querySelector("form").hidden = false;
    this.querySelector(".wall-error").textContent = message;
  }

  connect() {
    this.wanted = true;
    this.querySelector(".site").textContent = `· ${this.session.site}`;
    this.setState("connecting");
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/wall`);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ id: "auth", type: "auth", access_token: this.session.token,
      site: this.session.site }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ping") socket.send(JSON.stringify({ id: message.id, type: "pong" }));
      else if (message.type === "auth_ok") { this.attempt = 0; this.setState("online"); }
      else if (message.type === "wall.counts") this.draw(message.data, message.at);
      else if (message.type === "error" && message.id === "auth") this.refusal = message.error.message;
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState("offline");
      if (event.code === 4401) {
        this.signOut(this.refusal || "Sign in again");
        return;
      }
      if (!this.wanted) return;
      const wait = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
      setTimeout(() => this.wanted && this.connect(), wait);
    };
  }

  setState(state) {
    const el = this.querySelector(".wall-link");
    el.dataset.state = state;
    el.textContent = state;
  }

  draw(counts, at) {
    const board = this.querySelector(".board");
    board.hidden = false;
    const sum = (rows, col) => rows.reduce((n, r) => n + (r[col] || 0), 0);
    const open = ZONE_COLUMNS.reduce((n, c) => n + sum(counts.zones, c), 0);
    const total = (cls, n, label) => `<div class="total ${cls}" data-n="${n}"><span class="n">${n}</span><span class="label">${label}</span></div>`;
    const cell = (row, col) => {
      const n = row[col] || 0;
      const cls = n && (col === "exception" || col === "suspended") ? "bad" : n && col === "pending" ? "hot" : "";
      return `<td data-col="${col}" class="${cls}">${n}</td>`;
    };
    board.innerHTML = `
      <section class="totals">
        ${total("open", open, "open tasks")}
        ${total("pending", sum(counts.zones, "pending"), "waiting")}
        ${total("in-progress", sum(counts.zones, "assigned") + sum(counts.zones, "in_progress"), "being worked")}
        ${total("done-today", sum(counts.workers, "done_today"), "done today")}
        ${total("exceptions", counts.exceptions.open, "exceptions")}
      </section>
      <section class="boards">
        <div><h2>By zone</h2><table class="zones"><thead><tr><th>zone</th>${ZONE_COLUMNS.map((c) => `<th>${c.replace("_", " ")}</th>`).join("")}</tr></thead>
          <tbody>${counts.zones.map((z) => `<tr data-zone="${esc(z.zone)}"><td>${esc(z.zone)}</td>${ZONE_COLUMNS.map((c) => cell(z, c)).join("")}</tr>`).join("")
            || `<tr><td class="empty" colspan="6">no open tasks</td></tr>`}</tbody></table></div>
        <div><h2>By worker</h2><table class="workers"><thead><tr><th>worker</th>${WORKER_COLUMNS.map((c) => `<th>${c.replace("_", " ")}</th>`).join("")}</tr></thead>
          <tbody>${counts.workers.map((w) => `<tr data-worker="${esc(w.username)}"><td>${esc(w.username)}</td>${WORKER_COLUMNS.map((c) => cell(w, c)).join("")}</tr>`).join("")
            || `<tr><td class="empty" colspan="4">nobody holds work</td></tr>`}</tbody></table></div>
        <div><h2>Exceptions</h2><table class="exceptions"><tbody>${Object.entries(counts.exceptions.by_kind).map(([k, n]) =>
          `<tr data-kind="${esc(k)}"><td>${esc(k)}</td><td class="bad">${n}</td></tr>`).join("") || `<tr><td class="empty">none open</td></tr>`}</tbody></table></div>
      </section>`;
    this.querySelector(".updated").textContent = at ? `updated ${new Date(at).toLocaleTimeString()}` : "";
  }
}

customElements.define("wes-wall", WallBoard);
document.body.append(document.createElement("wes-wall"));
