/*
 * Usage: <wes-putaway></wes-putaway> with `.ctx` set (see app-shell.js); scans arrive via onScan(raw).
 *
 * Scan an LPN label (sent as scanned: the server's classifier reads the AIM
 * prefix and the SSCC with or without its "00"), tap a task, or "Next task".
 * Then the destination is shown big: scan the location's label, or type the
 * two check digits printed on it. Putting away somewhere else needs a reason
 * (asked when the server says reason_required) and the confirmation is sent
 * again with it. A mixed LPN no location takes whole is put away one product
 * at a time: the screen says which part this is and what to take off the LPN.
 * A task with no suggested location says what to do instead. After each
 * putaway "Next task" goes straight to the next one: the LPN's next part, a
 * putaway this worker holds, or a new one claimed for them (putaway only);
 * another kind of task already pushed to them opens its own screen.
 * Offline, a confirmation waits in the outbox and work goes on.
 */

import { ApiError } from "./api.js";
import { SCREEN_OF_KIND } from "./app-shell.js";
import { esc } from "./dom.js";
import "./scan-field.js";

const OPEN_STATES = "pending,assigned,in_progress";
export const DEVIATION_REASONS = ["location blocked", "location full", "damaged location", "other"];

export class PutawayScreen extends HTMLElement {
  connectedCallback() {
    this.task = null;
    this.pendingScan = null;
    this.busy = false;
    this.claiming = false;
    this.finished = new Set(); // tasks done here (the server may still list them until it answers)
    this.listeners = {
      answer: (e) => this.onAnswer(e.detail),
      revoked: (e) => this.onRevoked(e.detail),
    };
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.addEventListener(type, fn);
    const held = this.heldPutaways()[0];
    if (held) this.openTask(held.id);
    else this.showList();
  }

  disconnectedCallback() {
    for (const [type, fn] of Object.entries(this.listeners)) this.ctx.work.removeEventListener(type, fn);
  }

  heldPutaways() {
    return this.ctx.work.tasksOf("putaway").filter((t) => !this.finished.has(t.id));
  }

  onScan(raw) {
    if (this.busy || this.pendingScan) return;
    if (this.task) this.confirm(raw);
    else this.findByScan(raw);
  }

  async loadTasks(query = {}) {
    const { api, session } = this.ctx;
    const page = await api.get("/tasks", { site: session.site, kind: "putaway", state: OPEN_STATES, ...query });
    return page.data.filter((t) => !this.finished.has(t.id));
  }

  // --- the list ---------------------------------------------------------------------------------

  async showList(message = null) {
    this.task = null;
    this.pendingScan = null;
    this.innerHTML = `
      <section class="stack putaway-list">
        <p class="prompt">Scan an LPN label, or tap a task.</p>
        <button type="button" class="big primary next-task">Next task</button>
        <div class="choices task-list" aria-label="Putaway tasks"><p class="caption">Loading…</p></div>
        <button type="button" class="big refresh">Refresh</button>
      </section>`;
    this.querySelector(".refresh").addEventListener("click", () => this.showList());
    this.querySelector(".next-task").addEventListener("click", () => this.next());
    if (message) this.ctx.feedback.info(message);
    try {
      const me = this.ctx.session.me && this.ctx.session.me.id;
      const tasks = (await this.loadTasks()).filter((t) => t.assigned_to == null || t.assigned_to === me);
      // Yours first, then the pool in the server's order (most urgent first).
      this.tasks = [...tasks.filter((t) => t.assigned_to === me), ...tasks.filter((t) => t.assigned_to !== me)];
      const list = this.querySelector(".task-list");
      if (!list) return;
      list.innerHTML = this.tasks.length === 0 ? `<p class="caption">No open putaway tasks.</p>` :
        this.tasks.map((t) => `
          <button type="button" class="task-card" data-task="${t.id}">
            <span class="task-lpn">${esc(t.lpn || t.sku || `task ${t.id}`)}${t.assigned_to === me ? " · yours" : ""}</span>
            <span class="task-what">${esc(whatOf(t))}${partOf(t) ? ` · part ${esc(partOf(t))}` : ""}</span>
            <span class="task-to">→ ${esc(t.to_location || "?")}</span>
          </button>`).join("");
      list.querySelectorAll("button").forEach((b) => b.addEventListener("click", () =>
        this.showTask(this.tasks.find((t) => String(t.id) === b.dataset.task))));
    } catch (err) {
      this.ctx.feedback.error(err);
    }
  }

  async findByScan(raw) {
    const { feedback } = this.ctx;
    this.busy = true;
    try {
      const tasks = await this.loadTasks({ scan: raw });
      if (tasks.length) {
        this.showTask(firstPart(tasks), { scanned: true });
        return;
      }
      // Nothing open for it: say what became of it, if anything did.
      const all = await this.loadTasks({ scan: raw, state: "done,cancelled" });
      const done = all.find((t) => t.state === "done");
      feedback.error(done ? `LPN ${done.lpn} was put away already, at ${done.to_location}.`
        : "No putaway waits for this LPN. Ask a supervisor if it should go somewhere.");
    } catch (err) {
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  // --- one task -----------------------------------------------------------------------------------

  async openTask(taskId) {
    try {
      this.showTask(await this.ctx.api.get(`/tasks/${taskId}`));
    } catch (err) {
      this.ctx.feedback.error(err);
      this.showList();
    }
  }

  showTask(task, { scanned = false } = {}) {
    this.task = task;
    this.pendingScan = null;
    const part = partOf(task);
    // A part's whole story is in the banner; the box keeps one line of why. No destination: the server's words.
    const instruction = part ? "Mixed LPN, nothing takes it whole: one product at a time."
      : (!task.to_location && task.details && task.details.instruction) || "";
    const held = task.assigned_to != null && task.assigned_to === (this.ctx.session.me && this.ctx.session.me.id);
    this.innerHTML = `
      <section class="stack putaway-task" data-task="${esc(task.id)}">
        <div class="putaway-what"><span class="caption">LPN</span> <b class="task-lpn-code">${esc(task.lpn || "—")}</b>
          <span class="putaway-qty">${esc(whatOf(task))}</span>${part ? ` <span class="putaway-part">part ${esc(part)}</span>` : ""}</div>
        ${instruction ? `<p class="putaway-instruction">${esc(instruction)}</p>` : ""}
        <div class="destination"><span class="caption">${task.to_location ? "Put away to" : "No suggested location"}</span>
          <b class="to-location">${esc(task.to_location || "?")}</b></div>
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
        <div class="putaway-actions">
          <button type="button" class="big back-to-list">Other task</button>
          ${held ? `<button type="button" class="big hand-back">Hand back</button>` : ""}
        </div>
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
    this.querySelector(".hand-back")?.addEventListener("click", () => this.handBack(task));
    const go = this.goText(task);
    if (scanned) this.ctx.feedback.ok(go);
    else this.ctx.feedback.info(go);
  }

  goText(task) {
    if (!task.to_location) return "No suggested location: put it where it fits and scan that location";
    const part = partOf(task);
    return part ? `Take the ${whatOf(task)} off the LPN to ${task.to_location} and scan its label`
      : `Go to ${task.to_location} and scan its label`;
  }

  async confirm(scan, reason = null) {
    const { api, feedback, work } = this.ctx;
    const task = this.task;
    const body = { scan };
    if (reason) body.reason = reason;
    this.busy = true;
    let otherLpn = false;
    try {
      const done = await api.post(`/tasks/${task.id}/confirm-putaway`, body);
      this.finished.add(done.id);
      this.showDone(done);
    } catch (err) {
      if (err instanceof ApiError && err.code === "reason_required") this.askReason(scan, err);
      else if (err instanceof ApiError && err.code === "not_a_location" && err.details
               && ["lpn", "sscc"].includes(err.details.kind)) {
        otherLpn = true; // another LPN's label: switch to its putaway
      } else if (err instanceof ApiError && err.code === "network_error" && work.enrolled) {
        // A dead spot: the outbox sends it when the link is back (the server applies it once).
        await work.command("confirm_putaway", { task_id: task.id, scan, ...(reason ? { reason } : {}) });
        this.finished.add(task.id);
        this.showDone({ ...task, state: "waiting to sync" }, { offline: true });
      } else {
        feedback.error(err);
      }
    } finally {
      this.busy = false;
    }
    if (otherLpn) await this.findByScan(scan);
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
      this.ctx.feedback.info(this.goText(this.task));
    });
    this.ctx.feedback.error(err);
    box.scrollIntoView({ block: "nearest" });
  }

  async handBack(task) {
    try {
      await this.ctx.work.command("release_task", { task_id: task.id });
      this.finished.add(task.id);
      this.showList();
      this.ctx.feedback.attention(`Handed back: the putaway of ${task.lpn || `task ${task.id}`} goes back to the pool`);
    } catch (err) {
      this.ctx.feedback.error(err);
    }
  }

  showDone(task, { offline = false } = {}) {
    this.task = null;
    this.lastDone = task;
    this.innerHTML = `
      <section class="stack putaway-done">
        <div class="destination done"><span class="caption">Put away at</span><b class="to-location">${esc(task.to_location || "")}</b></div>
        <p class="task-state">Task #${esc(task.id)} <b class="state">${esc(task.state)}</b></p>
        <button type="button" class="big primary next-task">Next task</button>
        <button type="button" class="big to-list">All putaway tasks</button>
      </section>`;
    this.querySelector(".next-task").addEventListener("click", () => this.next());
    this.querySelector(".to-list").addEventListener("click", () => this.showList());
    if (offline) this.ctx.feedback.attention(`Saved offline: the putaway of ${task.lpn || ""} is sent when the connection is back`);
    else this.ctx.feedback.ok(`Done: ${task.sku && partOf(this.lastDone) ? `${task.sku} of ` : ""}LPN ${task.lpn || ""} is at ${task.to_location}`);
  }

  // --- the next task ------------------------------------------------------------------------------

  async next() {
    const { work, api, session, feedback } = this.ctx;
    if (this.busy || this.claiming) return;
    this.busy = true;
    try {
      // The rest of a broken-down LPN first: it is here, at the dock.
      const last = this.lastDone;
      if (last && last.lpn && partOf(last)) {
        const parts = await this.loadTasks({ lpn: last.lpn });
        if (parts.length) {
          this.showTask(firstPart(parts));
          return;
        }
      }
      const held = this.heldPutaways()[0];
      if (held) {
        await this.openTask(held.id);
        return;
      }
      if (work.enrolled) {
        this.claiming = true;
        this.querySelector(".next-task")?.setAttribute("disabled", "");
        feedback.info("Asking for the next putaway…");
        await work.command("claim_next_task", { kinds: ["putaway"] });
        if (work.state !== "online") {
          this.claiming = false;
          this.showList("Saved offline: asks for work when the connection is back");
        }
        return; // the answer arrives as an "answer" event
      }
      const me = session.me && session.me.id;
      const page = await api.get("/tasks", { site: session.site, kind: "putaway", state: "pending", limit: 20 });
      const free = page.data.find((t) => !this.finished.has(t.id) && (t.assigned_to == null || t.assigned_to === me));
      if (free) this.showTask(free);
      else this.showList("No putaway waiting");
    } catch (err) {
      this.claiming = false;
      feedback.error(err);
    } finally {
      this.busy = false;
    }
  }

  onAnswer({ entry, message }) {
    if (entry.type !== "claim_next_task" || !this.claiming) return;
    this.claiming = false;
    if (!message.ok) {
      this.ctx.feedback.error(message.error ? message.error.message : "The server refused it");
      this.showList();
      return;
    }
    const tasks = (message.result && message.result.tasks) || [];
    const putaway = tasks.find((t) => t.kind === "putaway" && !this.finished.has(t.id));
    if (putaway) {
      this.openTask(putaway.id);
    } else if (tasks.length && SCREEN_OF_KIND[tasks[0].kind] && SCREEN_OF_KIND[tasks[0].kind] !== "putaway") {
      this.ctx.go(SCREEN_OF_KIND[tasks[0].kind]); // already given another kind of work: do it on its screen
    } else {
      this.showList("No putaway waiting");
    }
  }

  onRevoked({ task, reason }) {
    if (!this.task || task.id !== this.task.id) return;
    const lpn = this.task.lpn || task.lpn || `task ${task.id}`;
    this.finished.add(task.id);
    this.showList();
    this.ctx.feedback.attention(`The putaway of ${lpn} was taken off you (${(reason || "").replace(/_/g, " ")})`);
  }
}

function whatOf(task) {
  return task.sku ? `${task.sku} × ${task.quantity ?? ""}` : `mixed × ${task.quantity ?? ""}`;
}

function partOf(task) {
  const b = task.details && task.details.breakdown;
  return b ? `${b.part} of ${b.of}` : "";
}

function firstPart(tasks) {
  const part = (t) => (t.details && t.details.breakdown ? t.details.breakdown.part : 0);
  return [...tasks].sort((a, b) => part(a) - part(b) || a.id - b.id)[0];
}

customElements.define("wes-putaway", PutawayScreen);
