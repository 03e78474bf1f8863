/*
 * Usage: <wes-home></wes-home> with `.ctx` set (see app-shell.js).
 *
 * "Next task" first (the most urgent work of any kind this worker may do,
 * on its own screen), then one tile per job: the task kinds the server says
 * this worker may do at this device (GET /tasks/waiting) with how many wait
 * and how many they hold, and the jobs their roles bring that are not tasks
 * (receiving at a dock, packing at a bench, loading a truck). Above them,
 * the enrollment card while this device has no device token (scans go to it).
 */

import "./enroll-card.js";
import { SCREEN_OF_KIND } from "./app-shell.js";
import { esc } from "./dom.js";

const TILES = [
  { route: "pick", kind: "pick", label: "Pick", hint: "Tours with a cart" },
  { route: "receive", label: "Receive", hint: "Dock: pallets and cases", roles: ["receiver", "supervisor", "admin"] },
  { route: "putaway", kind: "putaway", label: "Putaway", hint: "Move LPNs to their bins" },
  { route: "replenish", kind: "replenish", label: "Replenish", hint: "Reserve → pick face" },
  { route: "count", kind: "count", label: "Count", hint: "Blind counts" },
  { route: "pack", label: "Pack", hint: "Totes into cartons", roles: ["packer", "supervisor", "admin"] },
  { route: "ship", label: "Ship", hint: "Load cartons at a dock", roles: ["packer", "supervisor", "admin"] },
  { route: "scan", label: "Scan check", hint: "What is this barcode?", roles: null },
];

export class HomeScreen extends HTMLElement {
  connectedCallback() {
    this.work = null; // GET /tasks/waiting, once it answers
    this.claiming = false;
    this.onAnswer = (e) => this.#answered(e.detail);
    this.ctx.work.addEventListener("answer", this.onAnswer);
    this.render();
    this.refresh();
  }

  disconnectedCallback() {
    this.ctx.work.removeEventListener("answer", this.onAnswer);
  }

  async refresh() {
    const { api, session, work } = this.ctx;
    if (!work.enrolled) return;
    try {
      this.work = await api.get("/tasks/waiting", { site: session.site });
      if (this.isConnected) this.render();
    } catch { /* offline: the tiles by role still work */ }
  }

  tiles() {
    const { session } = this.ctx;
    const held = heldByKind(this.ctx.work.heldTasks);
    return TILES.filter((t) => {
      if (t.kind) return this.work ? this.work.may_do.includes(t.kind) || held[t.kind] : session.hasRole(...kindRoles(t.kind));
      return t.roles === null || session.hasRole(...t.roles);
    }).map((t) => ({ ...t, waiting: t.kind && this.work ? this.work.waiting[t.kind] ?? 0 : null,
      held: t.kind ? held[t.kind] || 0 : 0 }));
  }

  render() {
    const enrolled = this.ctx.work.enrolled;
    const held = this.ctx.work.heldTasks;
    const next = enrolled ? `<button type="button" class="big primary next-task" ${this.claiming ? "disabled" : ""}>
        ${held.length ? `Continue: ${esc(held[0].kind)} task` : this.claiming ? "Asking for work…" : "Next task"}</button>` : "";
    this.innerHTML = `${enrolled ? "" : "<wes-enroll></wes-enroll>"}${next}<nav class="tiles">${this.tiles().map((t) => `
      <a class="tile" href="#/${t.route}" data-route="${t.route}">
        <span class="tile-label">${esc(t.label)}</span>${t.waiting != null || t.held
          ? `<span class="tile-count" data-waiting="${t.waiting ?? ""}">${t.held ? `${t.held} yours · ` : ""}${t.waiting ?? "?"} waiting</span>` : ""}
        <span class="tile-hint">${esc(t.hint)}</span>
      </a>`).join("")}</nav>`;
    const card = this.querySelector("wes-enroll");
    if (card) {
      card.ctx = this.ctx;
      card.addEventListener("enrolled", () => { this.render(); this.refresh(); });
    }
    this.querySelector(".next-task")?.addEventListener("click", () => this.next());
  }

  async next() {
    const held = this.ctx.work.heldTasks;
    if (held.length) {
      this.ctx.go(SCREEN_OF_KIND[held[0].kind] || "home");
      return;
    }
    this.claiming = true;
    this.render();
    try {
      await this.ctx.work.command("claim_next_task", {});
      if (this.ctx.work.state !== "online") this.ctx.feedback.info("Saved offline: asks for work when the connection is back");
    } catch (err) {
      this.claiming = false;
      this.ctx.feedback.error(err);
      this.render();
    }
  }

  #answered({ entry, message }) {
    if (entry.type !== "claim_next_task" || !this.claiming) return;
    this.claiming = false;
    const tasks = (message.ok && message.result && message.result.tasks) || [];
    if (tasks.length) {
      this.ctx.go(SCREEN_OF_KIND[tasks[0].kind] || "home");
      return;
    }
    if (!message.ok) this.ctx.feedback.error(message.error ? message.error.message : "The server refused it");
    else this.ctx.feedback.info("No work for you right now");
    this.render();
    this.refresh();
  }

  onScan(raw) {
    const card = this.querySelector("wes-enroll");
    if (card) card.onScan(raw);
    else this.ctx.feedback.info("Choose a job first");
  }
}

function heldByKind(tasks) {
  const held = {};
  for (const t of tasks) held[t.kind] = (held[t.kind] || 0) + 1;
  return held;
}

// Before the server has answered (or offline): the roles that bring each kind (backend/tasks/eligibility.py).
function kindRoles(kind) {
  return { pick: ["picker"], replenish: ["picker"], count: ["picker", "receiver"], putaway: ["picker", "receiver"] }[kind]
    .concat(["supervisor", "admin"]);
}

customElements.define("wes-home", HomeScreen);
