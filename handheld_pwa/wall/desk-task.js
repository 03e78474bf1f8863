/*
 * Usage: desk.select({ type: "task", id: 12 }) puts a <wes-task-panel> in the desk's
 * detail column (panel.desk = the desk; panel.load() re-reads the task).
 *
 * One task and what a supervisor may do with it in its state: give it to a
 * worker (the candidates the server names, the ineligible greyed with why
 * not), the whole tour too, take it back to the pool, change its priority,
 * suspend or resume, cancel (asked first). Each call sends the version shown.
 */

import { esc } from "../lib/dom.js";
import { count, kindLabel, STATE_LABEL } from "./wall-panels.js";

const HELD = ["assigned", "in_progress"];

class TaskPanel extends HTMLElement {
  connectedCallback() {
    this.task = null;
    this.candidates = null;
    this.wholeTour = false;
    this.addEventListener("click", (e) => this.#click(e));
    this.addEventListener("change", (e) => {
      if (!e.target.matches(".whole-tour")) return;
      this.wholeTour = e.target.checked;
      this.#drawCandidates();
    });
    this.addEventListener("submit", (e) => {
      e.preventDefault();
      const priority = Number(new FormData(e.target).get("priority"));
      this.#priority(priority);
    });
    this.innerHTML = `<p class="hint">Loading task ${this.selection.id}…</p>`;
    this.load();
  }

  async load() {
    try {
      this.task = await this.desk.api.get(`/tasks/${this.selection.id}`);
    } catch (err) {
      this.innerHTML = `<p class="empty">Task ${this.selection.id}: ${esc(err.message)}</p>`;
      return;
    }
    if (this.candidates) await this.loadCandidates();
    this.render();
  }

  get tourId() { return this.task.tour_id; }
  get holder() { return this.task.assigned_username; }

  render() {
    const t = this.task;
    const open = !["done", "cancelled"].includes(t.state);
    const held = HELD.includes(t.state);
    const givable = held || t.state === "pending";
    const where = [t.from_location, t.to_location].filter(Boolean).join(" → ") || "—";
    const what = t.sku ? `${t.sku}${t.quantity ? ` × ${t.quantity}` : ""}${t.lot ? ` (lot ${t.lot})` : ""}`
      : t.lpn || "—";
    const button = (act, label, cls = "") => `<button type="button" data-act="${act}" class="${cls}">${label}</button>`;
    const wholeTour = this.tourId && givable ? `<label class="check"><input type="checkbox" class="whole-tour"
        ${this.wholeTour ? "checked" : ""}>the whole tour ${this.tourId}: every open pick on it, not this one only
        </label>`
      : "";
    this.innerHTML = `
      <h3>${esc(kindLabel(t.kind))} #${t.id}
        <span class="state s-${esc(t.state)}">${esc(STATE_LABEL[t.state] || t.state)}</span></h3>
      <dl class="facts">
        <dt>Where</dt><dd>${esc(where)}</dd><dt>What</dt><dd>${esc(what)}</dd>
        <dt>Order / ref</dt><dd>${esc(t.reference || "—")}</dd>
        <dt>Held by</dt><dd class="holder">${esc(this.holder || "nobody")}</dd>
        <dt>Zone</dt><dd>${esc(t.zone ?? "—")}</dd>
        <dt>Priority</dt><dd>${t.priority} <span class="muted">(lower is sooner) · version ${t.version}</span></dd>
      </dl>
      ${wholeTour}
      ${open ? `<div class="actions">
        ${givable ? button("choose", held ? "Reassign…" : "Assign…", "primary") : ""}
        ${held ? button("unassign", "Unassign") : ""}
        ${givable ? button("suspend", "Suspend") : ""}
        ${["suspended", "exception"].includes(t.state) ? button("resume", "Resume") : ""}
        ${button("cancel", "Cancel task…", "danger")}
        <form class="priority-form"><label>Priority <input name="priority" type="number" min="0" max="1000000"
          value="${t.priority}" required></label><button type="submit">Set priority</button></form>
      </div>`
        : `<p class="hint">This task is ${esc(t.state)}: nothing more to do.</p>`}
      <div class="candidates"></div>`;
    this.#drawCandidates();
  }

  async loadCandidates() {
    try {
      this.candidates = (await this.desk.api.get(`/tasks/${this.task.id}/candidates`)).data;
      this.candidatesError = null;
    } catch (err) {
      this.candidates = [];
      this.candidatesError = err.message;
    }
  }

  #drawCandidates() {
    const box = this.querySelector(".candidates");
    if (!box || !this.candidates) return;
    const tour = this.tourId;
    const list = this.candidates.map((c) => {
      const note = c.eligible ? `holds ${c.held}${c.zone ? ` · in ${esc(c.zone)}` : ""}`
        : esc(c.why_not || "cannot do it");
      const current = c.username === this.holder;
      return `<li><button type="button" class="candidate${c.eligible ? "" : " ineligible"}"
        data-username="${esc(c.username)}" ${c.eligible && !current ? "" : "disabled"}><b>${esc(c.username)}</b>
        <span class="why">${current ? "has it now" : note}</span></button></li>`;
    }).join("");
    box.innerHTML = `<h4>Give ${this.wholeTour && tour ? `tour ${tour}` : "it"} to</h4>
      ${this.candidatesError ? `<p class="empty">${esc(this.candidatesError)}</p>` : ""}
      <ul class="candidate-list">${list || `<li class="empty">nobody at this site can do it</li>`}</ul>`;
  }

  async #click(e) {
    const button = e.target.closest("button");
    if (!button || button.type === "submit") return;
    const t = this.task;
    const version = { expected_version: t.version };
    const desk = this.desk;
    if (button.dataset.act === "choose") {
      await this.loadCandidates();
      this.#drawCandidates();
      // The first who can take it, in view, with as much of the task above it as fits.
      const first = this.querySelector(".candidate:not([disabled])") || this.querySelector(".candidates h4");
      first.scrollIntoView({ block: "nearest" });
      first.focus({ preventScroll: true });
    } else if (button.dataset.username) {
      const username = button.dataset.username;
      this.candidates = null;
      if (this.wholeTour && this.tourId) {
        const tour = this.tourId;
        await desk.act(`Give tour ${tour} to ${username}`,
          () => desk.api.post(`/tours/${tour}/reassign`, { username }),
          { done: (r) => `Tour ${tour} is now ${username}'s: ${count(r.moved.length, "open pick")} went to their `
            + "handheld." });
      } else {
        await desk.reassign(t, username);
      }
    } else if (button.dataset.act === "unassign" && this.wholeTour && this.tourId) {
      const tour = this.tourId;
      await desk.act(`Take tour ${tour} back`, () => desk.api.post(`/tours/${tour}/reassign`, { username: null }),
        { done: (r) => `Tour ${tour} is back in the pool: ${count(r.moved.length, "open pick")} left `
          + `${this.holder || "its holder"}'s handheld.` });
    } else if (button.dataset.act === "unassign") {
      await desk.act(`Unassign task ${t.id}`, () => desk.api.post(`/tasks/${t.id}/unassign`, version),
        { done: `Task ${t.id} is back in the pool; ${this.holder || "its holder"}'s handheld no longer shows it.` });
    } else if (button.dataset.act === "suspend") {
      await desk.act(`Suspend task ${t.id}`, () => desk.api.post(`/tasks/${t.id}/suspend`,
        { ...version, reason: "suspended at the desk" }), { done: `Task ${t.id} is suspended.` });
    } else if (button.dataset.act === "resume") {
      await desk.act(`Resume task ${t.id}`, () => desk.api.post(`/tasks/${t.id}/resume`, version),
        { done: `Task ${t.id} is back in the pool.` });
    } else if (button.dataset.act === "cancel") {
      const question = `Cancel ${t.kind} task #${t.id}${t.reference ? ` (${t.reference})` : ""}? It cannot be undone.`;
      if (!(await desk.confirm(question, "Yes, cancel the task"))) return;
      await desk.act(`Cancel task ${t.id}`, () => desk.api.post(`/tasks/${t.id}/cancel`,
        { ...version, reason: "cancelled at the desk" }), { done: `Task ${t.id} is cancelled.` });
    }
  }

  #priority(priority) {
    const t = this.task;
    return this.desk.act(`Set task ${t.id}'s priority`,
      () => this.desk.api.post(`/tasks/${t.id}/reprioritise`, { priority, expected_version: t.version }),
      { done: `Task ${t.id} now has priority ${priority}.` });
  }
}

customElements.define("wes-task-panel", TaskPanel);
