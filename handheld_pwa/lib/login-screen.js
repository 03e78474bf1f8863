/*
 * Usage: <wes-login></wes-login> with `.ctx` set (see app-shell.js).
 *
 * Username + password → token (kept in sessionStorage) → /auth/me. A user with
 * one site goes straight home; a user with several picks the site first.
 * A scanned badge (a user name barcode) fills in the user name. On the demo
 * (the server's GET /demo answers) a link opens the demo's scan sheet.
 */

import { esc } from "./dom.js";

export class LoginScreen extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `
      <form class="stack login-form" autocomplete="off">
        <label class="field">User name
          <input name="username" autocapitalize="none" autocomplete="username" required>
        </label>
        <label class="field">Password
          <input name="password" type="password" autocomplete="current-password" required>
        </label>
        <button type="submit" class="big primary">Sign in</button>
      </form>
      <p class="caption demo-link" hidden><a target="_blank" rel="noopener">Demo scan sheet (PDF): barcodes to scan</a></p>
      <div class="site-choice stack" hidden></div>`;
    this.form = this.querySelector("form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn();
    });
    this.querySelector("input[name=username]").focus();
    this.showDemoLink();
  }

  async showDemoLink() {
    try {
      const response = await fetch("/demo", { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const demo = await response.json();
      const box = this.querySelector(".demo-link");
      box.querySelector("a").href = demo.scan_sheet;
      box.hidden = false;
    } catch { /* not a demo server (404), or offline: no link */ }
  }

  onScan(raw) {
    // a badge: its Code 128 is the user name (without the scanner's AIM id, e.g. "]C0"); the password is typed
    if (!this.form || this.form.hidden) return;
    this.form.querySelector("input[name=username]").value = String(raw).trim().replace(/^\][A-Za-z][0-9A-Za-z]/, "");
    this.form.querySelector("input[name=password]").focus();
  }

  async signIn() {
    const { api, session, feedback } = this.ctx;
    const data = new FormData(this.form);
    const button = this.form.querySelector("button");
    button.disabled = true;
    feedback.info("Signing in…");
    try {
      await api.login(String(data.get("username")).trim(), String(data.get("password")));
      const me = await api.get("/auth/me");
      session.me = me;
      if (me.sites.length === 0) {
        session.clear();
        feedback.error("This user has no site. Ask a supervisor.");
      } else if (me.sites.length === 1) {
        this.chooseSite(me.sites[0]);
      } else {
        this.showSites(me.sites);
      }
    } catch (err) {
      feedback.error(err);
    } finally {
      button.disabled = false;
    }
  }

  showSites(sites) {
    this.form.hidden = true;
    const box = this.querySelector(".site-choice");
    box.hidden = false;
    box.innerHTML = `<p class="prompt">Choose your site</p>` +
      sites.map((s) => `<button type="button" class="big" data-site="${esc(s)}">${esc(s)}</button>`).join("");
    box.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => this.chooseSite(b.dataset.site)));
    this.ctx.feedback.info("Signed in. Which site are you working at?");
  }

  chooseSite(site) {
    this.ctx.session.site = site;
    this.ctx.go("home");
  }
}

customElements.define("wes-login", LoginScreen);
