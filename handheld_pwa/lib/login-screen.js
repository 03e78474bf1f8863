/*
 * Usage: <wes-login></wes-login> with `.ctx` set (see app-shell.js).
 *
 * Username + password → token (kept in sessionStorage) → /auth/me. A user with
 * one site goes straight home; a user with several picks the site first.
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
      <div class="site-choice stack" hidden></div>`;
    this.form = this.querySelector("form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn();
    });
    this.querySelector("input[name=username]").focus();
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
