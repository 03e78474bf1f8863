/*
 * Usage:
 *   class CountScreen extends WorkScreen {
 *     static kinds = ["count"];                   // what "Next count" claims (claimNext)
 *     static noun = "count";                      // in notices: "count #12 is no longer yours"
 *     static handBackTo = "to count";             // "Do it first, or hand it back to count."
 *     setUp() { … }                               // the screen's own state, before the first render
 *     render() { if (this.showEnrollment()) return; … }
 *     accept(raw) { … }                           // one scan at a time, in the order they came
 *     onTasks() / onRevoked({ task, reason }) / onAnswer({ entry, message })   // the work session's news
 *   }
 *
 * What every screen that does the floor's work shares: it follows the work
 * session's "tasks", "revoked" and "answer" events while it is shown; until
 * the device is enrolled it shows the enrollment card (and scans go to it);
 * scans are handled one after another (`accept`), so a scan checked over the
 * network never overtakes the one before it; "Next …" claims the next task
 * of the screen's kinds through the outbox; "Hand back" returns a task; a
 * task taken away is a neutral notice saying why.
 *
 * A screen that works one task at a time (count, replenish) also keeps
 * `this.pending` (task ids sent, not answered yet), a `current` getter and
 * `renderTask(task, notice)`; `renderHeld(notice)` then draws the task in
 * hand, or the task of another kind the worker holds, and the default
 * `onRevoked` tells a task of this screen's kinds taken away.
 */

import { SCREEN_OF_KIND } from "./app-shell.js";
import { esc } from "./dom.js";
import "./enroll-card.js";

export const REVOKED_TEXT = {
  reassigned: "Reassigned by supervisor",
  unassigned: "Taken back by supervisor",
  suspended: "Suspended by supervisor",
  cancelled: "Cancelled by supervisor",
  completed_by_other: "Done by someone else",
  signed_on_elsewhere: "You signed on at another device",
  signed_off: "Signed off",
  released: "Handed back",
};

export class WorkScreen extends HTMLElement {
  static kinds = [];
  static noun = "task";
  static handBackTo = "";

  connectedCallback() {
    this.claiming = false;
    this.notice = null;
    this.queue = Promise.resolve();
    this.setUp();
    this.listeners = {
      tasks: () => this.onTasks(),
      revoked: (e) => this.onRevoked(e.detail),
      answer: (e) => {
        if (e.detail.entry.type === "claim_next_task") this.claiming = false;
        this.onAnswer(e.detail);
      },
    };
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.addEventListener(type, fn);
    this.render();
  }

  disconnectedCallback() {
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.removeEventListener(type, fn);
  }

  setUp() {}

  onTasks() {
    this.render();
  }

  /** A task taken away: forgotten if it was being sent; told (and the screen drawn again) if it is this screen's kind. */
  onRevoked({ task, reason }) {
    this.pending?.delete(task.id);
    if (task.kind && !this.constructor.kinds.includes(task.kind)) return;
    this.tellRevoked(task, reason, this.constructor.noun);
    this.render();
  }

  onAnswer() {
    this.render();
  }

  onScan(raw) {
    if (!this.ctx.work.enrolled) {
      this.querySelector("wes-enroll")?.onScan(raw);
      return;
    }
    this.queue = this.queue.then(() => this.accept(raw)).catch((err) => this.ctx.feedback.error(err));
  }

  accept() {}

  /** Until the device is enrolled, the enrollment card is the screen: true if it is shown. */
  showEnrollment() {
    if (this.ctx.work.enrolled) return false;
    this.innerHTML = `<wes-enroll></wes-enroll>`;
    const card = this.querySelector("wes-enroll");
    card.ctx = this.ctx;
    card.addEventListener("enrolled", () => this.render());
    return true;
  }

  /** Ask for the next task of this screen's kinds (it arrives as an answer, and as task.assigned). */
  async claimNext() {
    this.claiming = true;
    this.notice = null;
    this.render();
    try {
      await this.ctx.work.command("claim_next_task", { kinds: this.constructor.kinds });
      if (this.ctx.work.state !== "online") this.ctx.feedback.info("Saved offline: asks for work when the connection is back");
    } catch (err) {
      this.claiming = false;
      this.ctx.feedback.error(err);
      this.render();
    }
  }

  handBack(task) {
    return this.ctx.work.command("release_task", { task_id: task.id }).catch((err) => this.ctx.feedback.error(err));
  }

  /** The notice line (why a task was taken away), or "". */
  noticeLine() {
    return this.notice ? `<p class="notice-line caption">${esc(this.notice)}</p>` : "";
  }

  /** Draw the task in hand (renderTask), or the task of another kind the worker holds; false when neither. */
  renderHeld(notice) {
    const task = this.current;
    if (task) {
      this.renderTask(task, notice);
      return true;
    }
    const other = this.ctx.work.heldTasks.find((t) => !this.constructor.kinds.includes(t.kind));
    if (!other || (this.pending && this.pending.size)) return false;
    const screen = SCREEN_OF_KIND[other.kind];
    const where = `${esc(other.from_location || "")}${other.to_location ? ` → ${esc(other.to_location)}` : ""}`;
    this.innerHTML = `<section class="stack ${this.constructor.kinds[0]}-other">${notice}
      <div class="card other-task" data-task="${other.id}">
        <p class="prompt">You hold a ${esc(other.kind)} task</p>
        <p class="caption">#${esc(other.id)} ${where}.
          ${other.kind === "pick" ? "Finish it, or hand it back, on the Pick screen." : `Do it first, or hand it back ${this.constructor.handBackTo}.`}</p></div>
      ${screen ? `<button type="button" class="big primary go-other">Go to ${esc(other.kind)}</button>` : ""}
      ${other.kind === "pick" ? "" : `<button type="button" class="big hand-back">Hand it back</button>`}
    </section>`;
    this.querySelector(".go-other")?.addEventListener("click", () => this.ctx.go(screen));
    this.querySelector(".hand-back")?.addEventListener("click", () => this.handBack(other));
    return true;
  }

  /** A task was taken away: a neutral notice (amber, attention sound) saying why. */
  tellRevoked(task, reason, what) {
    const text = REVOKED_TEXT[reason] || `Taken away (${reason})`;
    this.notice = `${text}: ${what} #${task.id}${task.from_location ? ` at ${task.from_location}` : ""} is no longer yours.`;
    this.ctx.feedback.attention(`${text}: ${what} #${task.id}`);
  }
}
