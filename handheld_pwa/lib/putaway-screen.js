/*
 * Usage: <wes-putaway></wes-putaway> with `.ctx` set (see app-shell.js); scans arrive via onScan(raw).
 *
 * Lists open putaway tasks; tap one or scan its LPN. Then the destination is
 * shown big: scan the location label, or type the two check digits printed on
 * it. Putting away somewhere else needs a reason (asked when the server says
 * reason_required) and the confirmation is sent again with it.
 */

import { ApiError } from "./api.js";
import { esc } from "./dom.js";
import "./scan-field.js";

const OPEN_STATES = "pending,assigned,in_progress";
export const DEVIATION_REASONS = ["location blocked", "location full", "damaged location", "other"];

export class PutawayScreen extends HTMLElement {
  connectedCallback() {
    this.task = null;
    this.pendingScan = null;
    this.busy = false;
    this.showList();
  }

  onScan(raw) {
    if (this.busy) return;
    if (this.task && !this.pendingScan) this.confirm(raw);
    else if (!this.task) this.pickByLpn(raw.trim());
  }

  async loadTasks(query = {}) {
    const { api, session } = this.ctx;
    const page = await api.get("/tasks", { site: session.site, kind: "putaway", state: OPEN_STATES, ...query });
    return page.data;
  }

  async showList() {
    this.task = null;
    this.pendingScan = null;
    this.innerHTML = `
      <section class="stack">
        <p class="prompt">Scan an LPN, or tap a task.</p>
        <div class="choices task-list" aria-label="Putaway tasks"><p class="caption">Loading…</p></div>
        <button type="button" class="big refresh">Refresh</button>
      </section>`;
    this.querySelector(".refresh").addEventListener("click", () => this.showList());
    try {
      this.tasks = await this.loadTasks();
      const list = this.querySelector(".task-list");
      if (!list) return;
      list.innerHTML = this.tasks.length === 0 ? `<p class="caption">No open putaway tasks.</p>` :
        this.tasks.map((t) => `
          <button type="button" class="task-card" data-task="${t.id}">
            <span class="task-lpn">${esc(t.lpn || t.sku || `task ${t.id}`)}</span>
            <span class="task-what">${esc(t.sku || "mixed")} × ${esc(t.quantity ?? "")}</span>
            <span class="task-to">→ ${esc(t.to_location || "?")}</span>
          </button>`).join("");
      list.querySelectorAll("button").forEach((b) => b.addEventListener("click", () =>
        this.showTask(this.tasks.find((t) => String(t.id) === b.dataset.task))));
    } catch (err) {
      this.ctx.feedback.error(err);
    }
  }

  async pickByLpn(lpn) {
    if (!lpn) return;
    this.busy = true;
    try {
      const tasks = await this.loadTasks({ lpn });
      if (tasks.length === 0) this.ctx.feedback.error(`No open putaway task for ${lpn}`);
      else this.showTask(tasks[0]);
    } catch (err) {
      this.ctx.feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  showTask(task) {
    this.task = task;
    this.pendingScan = null;
    this.innerHTML = `
      <section class="stack">
        <div class="caption">Task #${esc(task.id)} · LPN <b>${esc(task.lpn || "—")}</b> · ${esc(task.sku || "mixed")} × ${esc(task.quantity ?? "")}</div>
        <div class="destination"><span class="caption">Put away to</span><b class="to-location">${esc(task.to_location || "?")}</b></div>
        <div class="reason-box stack" hidden></div>
        <wes-scan-field label="Scan the location" name="location-scan"></wes-scan-field>
        <form class="check-digits-form" autocomplete="off">
          <label class="field">…or type its check digits
            <span class="scan-row">
              <input class="check-digits" name="check_digits" inputmode="numeric" maxlength="4" pattern="[0-9]*">
              <button type="submit" class="ok">Confirm</button>
            </span>
          </label>
        </form>
        <button type="button" class="big back-to-list">Other task</button>
      </section>`;
    this.querySelector("wes-scan-field").addEventListener("scan-entered", (e) => this.onScan(e.detail.raw));
    this.querySelector(".check-digits-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = this.querySelector(".check-digits");
      const digits = input.value.trim();
      input.value = "";
      if (digits) this.confirm(digits);
    });
    this.querySelector(".back-to-list").addEventListener("click", () => this.showList());
    this.ctx.feedback.info(`Go to ${task.to_location} and scan its label`);
  }

  async confirm(scan, reason = null) {
    const { api, feedback } = this.ctx;
    const body = { scan };
    if (reason) body.reason = reason;
    this.busy = true;
    try {
      const done = await api.post(`/tasks/${this.task.id}/confirm-putaway`, body);
      this.showDone(done);
    } catch (err) {
      if (err instanceof ApiError && err.code === "reason_required") this.askReason(scan, err);
      else feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  askReason(scan, err) {
    this.pendingScan = scan;
    const box = this.querySelector(".reason-box");
    const entry = this.querySelectorAll("wes-scan-field, .check-digits-form");
    const closeBox = () => {
      box.hidden = true;
      this.pendingScan = null;
      entry.forEach((el) => { el.hidden = false; });
    };
    entry.forEach((el) => { el.hidden = true; }); // one question at a time: the reason buttons sit under the destination
    box.hidden = false;
    box.innerHTML = `<p class="prompt">Not the suggested location. Why?</p>` +
      DEVIATION_REASONS.map((r) => `<button type="button" class="big reason" data-reason="${esc(r)}">${esc(r)}</button>`).join("") +
      `<button type="button" class="big cancel-reason">Cancel</button>`;
    box.querySelectorAll(".reason").forEach((b) => b.addEventListener("click", () => {
      closeBox();
      this.confirm(scan, b.dataset.reason);
    }));
    box.querySelector(".cancel-reason").addEventListener("click", () => {
      closeBox();
      this.ctx.feedback.info(`Go to ${this.task.to_location} and scan its label`);
    });
    this.ctx.feedback.error(err);
    box.scrollIntoView({ block: "nearest" });
  }

  showDone(task) {
    this.task = null;
    this.innerHTML = `
      <section class="stack">
        <div class="destination done"><span class="caption">Put away at</span><b class="to-location">${esc(task.to_location)}</b></div>
        <p class="task-state">Task #${esc(task.id)} <b class="state">${esc(task.state)}</b></p>
        <button type="button" class="big primary next-task">Next task</button>
      </section>`;
    this.querySelector(".next-task").addEventListener("click", () => this.showList());
    this.ctx.feedback.ok(`Done: LPN ${task.lpn || ""} is at ${task.to_location}`);
  }
}

customElements.define("wes-putaway", PutawayScreen);
