/*
 * Usage:
 *   class CountScreen extends WorkScreen {
 *     static kinds = ["count"];                   // what "Next count" claims (claimNext)
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
 */

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

  onRevoked() {
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

  /** A task was taken away: a neutral notice (amber, attention sound) saying why. */
  tellRevoked(task, reason, what) {
    const text = REVOKED_TEXT[reason] || `Taken away (${reason})`;
    this.notice = `${text}: ${what} #${task.id}${task.from_location ? ` at ${task.from_location}` : ""} is no longer yours.`;
    this.ctx.feedback.attention(`${text}: ${what} #${task.id}`);
  }
}
