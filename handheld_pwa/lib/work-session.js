/*
 * Usage:
 *   const work = new WorkSession({ api, session, storage: localStorage });
 *   await work.start();                   // signed in and enrolled: websocket + outbox
 *   work.heldTasks                        // the tasks the server gave this worker, in walking order
 *   work.tasksOf("pick")                  // … of one kind
 *   await work.command("confirm_pick", {…})   // → the outbox entry (answered later: "answer" event)
 *   work.addEventListener("tasks" | "revoked" | "answer" | "status" | "outbox" | "message", …)
 *   await work.enroll(token); work.stop();
 *
 * Ties the device link (websocket, events), the offline outbox and the
 * worker's held tasks together. The held tasks are kept in localStorage so a
 * reload shows them again (the server only re-sends events after last_seq).
 * Only tasks assigned to this worker and still open are kept; a task revoked
 * (handed back, reassigned, cancelled…) leaves at once and for good: a view of
 * it no newer than the revocation, arriving late (a command's answer, a
 * replayed event), never brings it back.
 */

import { DeviceLink } from "./device-link.js";
import { IdbCommandStore, MemoryCommandStore, Outbox, OutboxUnreachable } from "./outbox.js";

const TASKS_KEY = "wes.device.tasks";
const REVOKED_KEY = "wes.device.revoked"; // task id → the version it was revoked at
const HELD = new Set(["assigned", "in_progress"]);

export class WorkSession extends EventTarget {
  constructor({ api, session, storage }) {
    super();
    this.api = api;
    this.session = session;
    this.storage = storage;
    this.link = new DeviceLink(storage, { accessToken: () => api.freshToken() });
    this.outbox = null;
    this.opening = null;
    this.link.addEventListener("status", (e) => {
      if (e.detail.state !== "online" && this.outbox) this.outbox.liveLost();
      if (e.detail.state === "online" && this.outbox) this.outbox.replay();
      this.#emit("status", e.detail);
    });
    this.link.addEventListener("result", (e) => this.outbox && this.outbox.answered(e.detail));
    this.link.addEventListener("server-event", (e) => this.#onServerEvent(e.detail));
    this.link.addEventListener("refused", (e) => this.#emit("refused", e.detail));
    this.onOnline = () => this.outbox && this.outbox.replay();
  }

  get enrolled() { return this.link.enrolled; }
  get state() { return this.link.state; }
  get queued() { return this.outbox ? this.outbox.size : 0; }

  get heldTasks() {
    const user = this.session.me && this.session.me.id;
    return this.#all().filter((t) => t.assigned_to === user)
      .sort((a, b) => (a.tour_id ?? 0) - (b.tour_id ?? 0) || (a.sequence ?? 0) - (b.sequence ?? 0) || a.id - b.id);
  }

  tasksOf(kind) {
    return this.heldTasks.filter((t) => t.kind === kind);
  }

  async enroll(enrollmentToken) {
    const enrolled = await this.api.post("/devices/enroll", { enrollment_token: enrollmentToken });
    this.link.saveEnrollment(enrolled);
    this.storage.removeItem(TASKS_KEY);
    this.storage.removeItem(REVOKED_KEY);
    await this.start();
    return enrolled;
  }

  /** Idempotent: opens the outbox and the websocket when signed in and enrolled. */
  start() {
    if (!this.session.loggedIn || !this.enrolled) return Promise.resolve();
    if (!this.opening) this.opening = this.#openOutbox();
    return this.opening.then(() => {
      window.addEventListener("online", this.onOnline);
      this.link.start();
      this.outbox.replay();
    });
  }

  stop() {
    window.removeEventListener("online", this.onOnline);
    this.link.stop();
  }

  /**
   * The worker logs out of this handheld: tell the server (live only, never through the outbox, whose replay
   * would run under the next worker's sign-in) so that dispatch stops sending work here, then close the link.
   */
  signOff() {
    const id = globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `sign-off-${Date.now()}`;
    this.link.send({ id, type: "sign_off", payload: {} }); // (sent before the close frame; offline: nothing to tell)
    this.stop();
  }

  async command(type, payload) {
    await this.start();
    if (!this.outbox) throw new Error("this device is not enrolled");
    return this.outbox.submit(type, payload);
  }

  async #openOutbox() {
    let store;
    try {
      store = await IdbCommandStore.open();
    } catch {
      store = new MemoryCommandStore(); // private mode without IndexedDB: still works while the tab lives
    }
    this.outbox = new Outbox(store, {
      sendLive: (command) => this.link.send(command),
      postCommands: (commands) => this.#post(commands),
    });
    this.outbox.addEventListener("change", (e) => this.#emit("outbox", e.detail));
    this.outbox.addEventListener("stalled", (e) => this.#emit("outbox", { ...e.detail, stalled: true }));
    this.outbox.addEventListener("answer", (e) => this.#onAnswer(e.detail));
    await this.outbox.refreshSize();
  }

  async #post(commands) {
    const device = this.link.device;
    if (!device || !this.session.token) throw new OutboxUnreachable("not signed in", { code: "signed_out" });
    if (navigator.onLine === false) throw new OutboxUnreachable("offline");
    try {
      const body = JSON.stringify({ commands });
      const answer = await this.api.request("POST", "/device-commands", { body, contentType: "application/json",
        headers: { "X-Device-Token": device.token } });
      return answer.results;
    } catch (err) {
      throw new OutboxUnreachable(err.message, { status: err.status ?? 0, code: err.code ?? "network_error" });
    }
  }

  #onAnswer({ entry, message }) {
    if (message.ok && message.result) {
      for (const task of message.result.tasks || []) this.#upsert(task);
      if (message.result.task) this.#upsert(message.result.task);
    }
    this.#emit("answer", { entry, message });
  }

  #onServerEvent(event) {
    const data = event.data || {};
    if (event.type === "task.assigned" || event.type === "task.updated") {
      this.#upsert(data.task);
    } else if (event.type === "task.revoked") {
      const task = this.heldTasks.find((t) => t.id === data.task_id) || { id: data.task_id };
      this.#remove(data.task_id, data.version);
      this.#emit("revoked", { task, reason: data.reason });
    } else if (event.type === "message") {
      this.#emit("message", data);
    }
  }

  #upsert(task) {
    if (!task) return;
    const revoked = this.#revoked();
    if (revoked[task.id] != null && task.version <= revoked[task.id]) return; // a view from before it was taken away
    const tasks = this.#all();
    const i = tasks.findIndex((t) => t.id === task.id);
    if (i >= 0 && tasks[i].version > task.version) return; // an older view arriving late
    const user = this.session.me && this.session.me.id;
    const mine = HELD.has(task.state) && task.assigned_to === user;
    if (i >= 0) tasks.splice(i, 1);
    if (mine) tasks.push(task);
    this.storage.setItem(TASKS_KEY, JSON.stringify(tasks));
    this.#emit("tasks", { tasks: this.heldTasks });
  }

  #remove(taskId, version) {
    const revoked = this.#revoked();
    revoked[taskId] = Math.max(version ?? 0, revoked[taskId] ?? 0);
    const ids = Object.keys(revoked);
    for (const id of ids.slice(0, Math.max(0, ids.length - 500))) delete revoked[id]; // keep the newest 500
    this.storage.setItem(REVOKED_KEY, JSON.stringify(revoked));
    this.storage.setItem(TASKS_KEY, JSON.stringify(this.#all().filter((t) => t.id !== taskId)));
    this.#emit("tasks", { tasks: this.heldTasks });
  }

  #revoked() {
    const raw = this.storage.getItem(REVOKED_KEY);
    return raw ? JSON.parse(raw) : {};
  }

  #all() {
    const raw = this.storage.getItem(TASKS_KEY);
    return raw ? JSON.parse(raw) : [];
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
