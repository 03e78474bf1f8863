/*
 * Usage:
 *   const app = document.createElement("wes-app");
 *   app.context = { api, session, settings, work };   // before it is connected (work: WorkSession)
 *   document.body.append(app);
 *   app.handleScan(raw);                        // the scanner calls this
 *
 * The frame around every screen: header (user @ site, back, log out), the
 * device bar (online/offline, queued commands) once the device is enrolled, the
 * feedback banner, and one screen chosen by the location hash (#/receive …).
 * Each screen's module is loaded when it is first shown (a screen that fails
 * to load says so and leaves the others working). Screens get `ctx` =
 * { api, session, settings, work, feedback, go(route) } and may implement onScan(raw).
 *
 * Adding a screen: a module under lib/ defining a custom element, a line in
 * ROUTES, its file in sw.js's SHELL_FILES, and (for a job) a tile in home-screen.js.
 */

import { esc } from "./dom.js";

export const ROUTES = {
  login: { tag: "wes-login", title: "Sign in", module: "./login-screen.js", public: true },
  home: { tag: "wes-home", title: "Home", module: "./home-screen.js" },
  receive: { tag: "wes-receive", title: "Receive", module: "./receive-screen.js" },
  pick: { tag: "wes-pick", title: "Pick", module: "./pick-screen.js" },
  putaway: { tag: "wes-putaway", title: "Putaway", module: "./putaway-screen.js" },
  replenish: { tag: "wes-replenish", title: "Replenish", module: "./replenish-screen.js" },
  count: { tag: "wes-count", title: "Count", module: "./count-screen.js" },
  pack: { tag: "wes-pack", title: "Pack", module: "./pack-screen.js" },
  ship: { tag: "wes-ship", title: "Ship", module: "./ship-screen.js" },
  scan: { tag: "wes-scan-check", title: "Scan check", module: "./scan-check-screen.js" },
};
// The screen that does each kind of task (home's "Next task" goes where the claimed task belongs).
export const SCREEN_OF_KIND = { pick: "pick", replenish: "replenish", count: "count", putaway: "putaway",
  receive: "receive", pack: "pack", move: "putaway" };

export class AppShell extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `
      <header class="app-header">
        <button type="button" class="header-btn back" hidden aria-label="Back to home">◀</button>
        <h1 class="title">WES</h1>
        <button type="button" class="header-btn logout" hidden>Log out</button>
      </header>
      <div class="device-bar" hidden>
        <span class="link-state" data-state="offline" role="status">offline</span>
        <span class="outbox-count" data-count="0">0 queued</span>
        <span class="who"></span>
      </div>
      <wes-feedback></wes-feedback>
      <main class="screen"></main>`;
    this.feedback = this.querySelector("wes-feedback");
    this.querySelector(".back").addEventListener("click", () => this.go("home"));
    this.querySelector(".logout").addEventListener("click", () => {
      this.context.work.signOff();
      this.logout();
    });
    this.onHashChange = () => this.render();
    window.addEventListener("hashchange", this.onHashChange);
    const { work } = this.context;
    work.addEventListener("status", () => this.showDevice());
    work.addEventListener("outbox", () => this.showDevice());
    work.addEventListener("message", (e) => this.feedback.info(`${e.detail.from}: ${e.detail.text}`));
    work.addEventListener("refused", (e) => this.onRefused(e.detail));
    this.render();
  }

  /** The device socket was refused or closed for good: sign-in problems send the worker to sign in again. */
  async onRefused({ code, error, reason }) {
    const { api, work } = this.context;
    if (code === 4410) {
      this.logout("You were signed off this device. Please sign in again.");
      return;
    }
    if (code === 4401 && error && error.details && error.details.reason === "invalid_credentials") {
      try { // the access token ran out or was replaced: renew it and connect again
        await api.renew();
        work.stop();
        await work.start();
        return;
      } catch {
        this.logout("Your session has ended. Please sign in again.");
        return;
      }
    }
    this.feedback.error(`The server refused this device (${(error && error.message) || reason}). Ask a supervisor.`);
  }

  showDevice() {
    const { work, session } = this.context;
    const bar = this.querySelector(".device-bar");
    bar.hidden = !session.loggedIn;
    const state = bar.querySelector(".link-state");
    state.hidden = !work.enrolled;
    state.dataset.state = work.state;
    state.textContent = work.state;
    const count = bar.querySelector(".outbox-count");
    count.dataset.count = String(work.queued);
    count.textContent = `${work.queued} queued`;
    count.hidden = !work.enrolled;
    const who = bar.querySelector(".who");
    who.innerHTML = session.loggedIn ? `${esc(session.me.username)} @ <b>${esc(session.site)}</b>` : "";
    who.title = work.enrolled ? `device ${work.link.device.name}` : "";
  }

  disconnectedCallback() {
    window.removeEventListener("hashchange", this.onHashChange);
  }

  get ctx() {
    return { ...this.context, feedback: this.feedback, go: (route) => this.go(route) };
  }

  go(route) {
    if (location.hash === `#/${route}`) this.render();
    else location.hash = `#/${route}`;
  }

  logout(message) {
    this.context.work.stop();
    this.context.session.clear();
    this.farewell = message || null; // shown by the sign-in screen's render (which clears the banner first)
    this.go("login");
  }

  async render() {
    const { session } = this.context;
    let name = location.hash.replace(/^#\/?/, "") || "home";
    if (!ROUTES[name]) name = "home";
    if (!ROUTES[name].public && !session.loggedIn) name = "login";
    if (name === "login" && session.loggedIn) name = "home";
    const route = ROUTES[name];
    this.feedback.clear();
    if (name === "login" && this.farewell) this.feedback.error(this.farewell);
    this.farewell = null;
    this.querySelector(".title").textContent = route.title;
    this.querySelector(".back").hidden = name === "home" || name === "login";
    this.querySelector(".logout").hidden = !session.loggedIn;
    if (session.loggedIn) this.context.work.start().catch((err) => this.feedback.error(err));
    this.showDevice();
    const rendering = (this.rendering = Symbol(name));
    if (!customElements.get(route.tag)) {
      try {
        await import(route.module);
      } catch (err) {
        console.error(err);
        this.feedback.error(`The ${route.title} screen did not load. Reload the app, or ask a supervisor.`);
        return;
      }
    }
    if (this.rendering !== rendering) return; // another screen was asked for meanwhile
    const screen = document.createElement(route.tag);
    screen.ctx = this.ctx;
    this.screen = screen;
    this.querySelector("main").replaceChildren(screen);
  }

  handleScan(raw) {
    if (this.screen && typeof this.screen.onScan === "function") this.screen.onScan(raw);
    else this.feedback.info("Scans are not used on this screen");
  }
}

customElements.define("wes-app", AppShell);
