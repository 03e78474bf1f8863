/*
 * Usage: `<wes-desk>` is created by wall.js for /app/wall/#desk; `desk.ctx` is the
 * wall app (api, session, state, "wall-state" events); `desk.route("#desk/waves")`
 * opens a tab (tasks, waves, exceptions, at-risk, suggestions, printers).
 *
 * The supervisor's desk: the wall's board with actions, for a desktop or a
 * tablet. Workers on the left (drop a task on one to give it to them), the
 * tabs in the middle, the floor map and whatever is selected on the right.
 * Every action is one HTTP call (`act`): it sends the version it was shown,
 * says what happened in plain words (a refusal in the server's own message),
 * and refreshes what is on screen either way.
 */

import { esc } from "../lib/dom.js";
import "./desk-details.js";
import "./desk-task.js";
import "./desk-waves.js";
import {
  atRiskList, exceptionsList, kindLabel, kpiStrip, OPEN_STATES, printersTable, STATE_LABEL, suggestionsList, TASK_KINDS,
  tickCountdowns, wavesList, workTable, workersTable,
} from "./wall-panels.js";

const TABS = [
  ["tasks", "Tasks"], ["waves", "Waves"], ["exceptions", "Exceptions"], ["at-risk", "At risk"],
  ["suggestions", "Suggestions"], ["printers", "Printers"],
];
const HEAT_PERIODS = { none: ["no heat", 0], hour: ["last hour", 3600], today: ["today", null],
  week: ["last 7 days", 7 * 86400] };
const TASKS_REFRESH_MS = 2000; // at most this often when the wall state says work moved
const NOTICE_SHOWN_MS = 10000;
const NOTHING_SELECTED = `<p class="hint">Select a task, a worker, an exception or a spot on the map.</p>`;

/** A path the server gave as /api/v1/…, as WesApi wants it (relative to /api/v1). */
export function apiPath(path) {
  return path.replace(/^\/api\/v1(?=\/)/, "");
}

class Desk extends HTMLElement {
  connectedCallback() {
    this.tab = "tasks";
    this.selection = null;
    this.filters = { zone: "", kind: "", state: OPEN_STATES.join(","), holder: "" };
    this.tasks = [];
    this.tasksCount = 0;
    this.zones = [];
    this.innerHTML = `
      <section class="kpis compact"></section>
      <div class="desk-notice" role="alert" data-kind="none"><span class="text"></span>
        <button type="button" class="dismiss" aria-label="Dismiss">✕</button></div>
      <div class="desk-grid">
        <div class="d-left">
          <section class="panel d-workers"><h2>Workers</h2>
            <p class="hint">Click a worker for their work and settings; drop a task on a worker to give it to them.</p>
            <div class="workers-box scroll"></div></section>
          <section class="panel d-work"><h2>Work by kind and zone</h2>
            <p class="hint">Click a row for its tasks.</p><div class="work-box scroll"></div></section>
        </div>
        <section class="panel d-main">
          <nav class="tabs" role="tablist">${TABS.map(([id, label]) =>
            `<a role="tab" href="#desk/${id}" data-tab="${id}">${label}<span class="count"></span></a>`).join("")}</nav>
          <div class="tab-body scroll"></div></section>
        <section class="panel d-side">
          <div class="map-head"><h2>Floor</h2>
            <label>Heat <select class="heat-period">${Object.entries(HEAT_PERIODS).map(([k, [label]]) =>
              `<option value="${k}">${label}</option>`).join("")}</select></label></div>
          <wes-floor-map></wes-floor-map>
          <div class="detail scroll">${NOTHING_SELECTED}</div>
        </section>
      </div>
      <dialog class="confirm"><form method="dialog"><p class="question"></p>
        <div class="buttons"><button value="no" class="secondary">Keep it</button>
        <button value="yes" class="danger">Yes</button></div></form></dialog>`;
    this.querySelector(".desk-notice .dismiss").addEventListener("click", () => {
      this.querySelector(".desk-notice").dataset.kind = "none";
    });
    this.floorMap = this.querySelector("wes-floor-map");
    this.floorMap.addEventListener("location-pick", (e) => this.select({ type: "location", codes: e.detail.codes }));
    this.querySelector(".heat-period").addEventListener("change", (e) => this.loadHeat(e.target.value));
    this.onWallState = () => this.drawState();
    this.ctx.addEventListener("wall-state", this.onWallState);
    this.#wireWorkers();
    this.#wireTabBody();
    this.zonesReady = this.loadZones();
    if (this.ctx.state) this.drawState();
  }

  disconnectedCallback() {
    this.ctx.removeEventListener("wall-state", this.onWallState);
    clearTimeout(this.tasksTimer);
  }

  get api() { return this.ctx.api; }
  get site() { return this.ctx.session.site; }
  get state() { return this.ctx.state || {}; }

  route(hash) {
    const tab = hash.split("/")[1];
    this.tab = TABS.some(([id]) => id === tab) ? tab : "tasks";
    this.dataset.tab = this.tab; // (the Waves tab gives the floor map more room for the tours' walks)
    for (const a of this.querySelectorAll(".tabs a")) {
      a.setAttribute("aria-selected", String(a.dataset.tab === this.tab));
    }
    this.drawTab();
  }

  // --- saying what happened ------------------------------------------------------------------------

  /** A notice over the KPI strip: news goes after a while, a refusal stays until dismissed or the next notice. */
  say(text, kind = "info") {
    const el = this.querySelector(".desk-notice");
    el.querySelector(".text").textContent = text;
    el.dataset.kind = kind;
    clearTimeout(this.noticeTimer);
    if (kind !== "error") this.noticeTimer = setTimeout(() => { el.dataset.kind = "none"; }, NOTICE_SHOWN_MS);
  }

  /**
   * One supervisor action: `call` is the HTTP request. Success says `done` (or what done() returns); a refusal
   * says the server's message, in its words. The view is refreshed either way.
   */
  async act(what, call, { done = null } = {}) {
    try {
      const result = await call();
      this.say(typeof done === "function" ? done(result) : done || `${what}: done.`, "ok");
      return result;
    } catch (err) {
      this.say(`${what} — not done: ${err.message}. The view now shows it as it is.`, "error");
      return null;
    } finally {
      await this.refresh();
    }
  }

  /** Ask before a destructive action (a modal: Escape or "Keep it" says no). */
  confirm(question, yes = "Yes") {
    const dialog = this.querySelector("dialog.confirm");
    dialog.querySelector(".question").textContent = question;
    dialog.querySelector("button.danger").textContent = yes;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.showModal();
      dialog.querySelector("button.secondary").focus();
    });
  }

  async refresh() {
    const detail = this.querySelector(".detail > *");
    await Promise.all([
      this.tab === "tasks" ? this.loadTasks() : null,
      this.tab === "suggestions" ? this.loadSuggestions() : null,
      this.tab === "waves" ? this.querySelector("wes-wave-planner")?.loadPlanned() : null,
      detail && typeof detail.load === "function" ? detail.load() : null,
    ]);
  }

  // --- selection: the right-hand panel --------------------------------------------------------------

  select(selection) {
    this.selection = selection;
    const detail = this.querySelector(".detail");
    const tag = { task: "wes-task-panel", worker: "wes-worker-panel", exception: "wes-exception-panel",
      location: "wes-location-panel" }[selection.type];
    const panel = document.createElement(tag);
    panel.desk = this;
    panel.selection = selection;
    detail.replaceChildren(panel);
    if (selection.type !== "location") this.floorMap.selected = null;
    this.#markSelected();
  }

  #markSelected() {
    const s = this.selection || {};
    for (const el of this.querySelectorAll("[data-task].selected, [data-worker].selected, [data-exception].selected")) {
      el.classList.remove("selected");
    }
    const key = { task: () => `[data-task="${s.id}"]`, worker: () => `[data-worker="${CSS.escape(s.username)}"]`,
      exception: () => `[data-exception="${s.id}"]` }[s.type]?.();
    if (key) for (const el of this.querySelectorAll(`tr${key}, li${key}`)) el.classList.add("selected");
  }

  // --- the wall state: KPIs, workers, counts on the tabs --------------------------------------------

  drawState() {
    const state = this.state;
    this.querySelector(".kpis").innerHTML = kpiStrip(state);
    const box = this.querySelector(".workers-box");
    keepFocus(box, () => { box.innerHTML = workersTable(state.workers, { desk: true }); });
    const counts = { exceptions: state.exceptions_open ?? (state.exceptions || []).length,
      "at-risk": (state.at_risk || []).length, suggestions: (state.suggestions || []).length };
    for (const a of this.querySelectorAll(".tabs a")) {
      const n = counts[a.dataset.tab];
      a.querySelector(".count").textContent = n ? String(n) : "";
    }
    const work = this.querySelector(".work-box");
    keepFocus(work, () => { work.innerHTML = workTable(state.work, { desk: true }); });
    if (["exceptions", "at-risk", "printers"].includes(this.tab)) keepFocus(this, () => this.drawTab());
    if (this.tab === "suggestions" && state.suggestions) {
      this.suggestions = state.suggestions;
      this.suggestionsError = null;
      this.#drawSuggestions();
    }
    if (this.tab === "tasks") {
      this.#fillFilters();
      this.#scheduleTasks();
    }
    const released = this.querySelector(".released-waves");
    if (released) released.innerHTML = wavesList(state.waves);
    this.#markSelected();
    tickCountdowns(this);
  }

  #scheduleTasks() {
    if (this.tasksTimer) return;
    this.tasksTimer = setTimeout(() => {
      this.tasksTimer = null;
      if (this.tab === "tasks") this.loadTasks();
    }, TASKS_REFRESH_MS);
  }

  /** The tasks of one row of the work table: the Tasks tab filtered to that kind and zone. */
  showWork(kind, zone) {
    this.filters = { ...this.filters, kind, zone: zone || "none", state: OPEN_STATES.join(","), holder: "" };
    this.querySelector(".tab-body").innerHTML = "";
    if (this.tab === "tasks") this.drawTab();
    else location.hash = "#desk/tasks";
  }

  #wireWorkers() {
    const work = this.querySelector(".work-box");
    const show = (row) => row && this.showWork(row.dataset.kind, row.dataset.zone);
    work.addEventListener("click", (e) => show(e.target.closest("tr[data-kind]")));
    work.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        show(e.target.closest("tr[data-kind]"));
      }
    });
    const box = this.querySelector(".workers-box");
    const open = (row) => row && this.select({ type: "worker", username: row.dataset.worker });
    box.addEventListener("click", (e) => open(e.target.closest("tr[data-worker]")));
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        open(e.target.closest("tr[data-worker]"));
      }
    });
    box.addEventListener("dragover", (e) => {
      const row = e.target.closest("tr[data-worker]");
      if (!row || !e.dataTransfer.types.includes("application/x-wes-task")) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      for (const r of box.querySelectorAll(".drop-here")) if (r !== row) r.classList.remove("drop-here");
      row.classList.add("drop-here");
    });
    box.addEventListener("dragleave", (e) => e.target.closest("tr[data-worker]")?.classList.remove("drop-here"));
    box.addEventListener("drop", (e) => {
      const row = e.target.closest("tr[data-worker]");
      const raw = e.dataTransfer.getData("application/x-wes-task");
      if (!row || !raw) return;
      e.preventDefault();
      row.classList.remove("drop-here");
      const task = JSON.parse(raw);
      this.reassign(task, row.dataset.worker);
    });
  }

  /** Give a task to a worker (the dragged row's version is the one the supervisor saw). */
  reassign(task, username) {
    return this.act(`Give task ${task.id} to ${username}`,
      () => this.api.post(`/tasks/${task.id}/reassign`, { username, expected_version: task.version }),
      { done: `Task ${task.id} is now ${username}'s: their handheld has it.` });
  }

  // --- tabs -----------------------------------------------------------------------------------------

  drawTab() {
    const body = this.querySelector(".tab-body");
    const state = this.state;
    if (this.tab === "tasks") {
      if (!body.querySelector(".task-filters")) this.#drawTaskTab(body);
      this.loadTasks();
    } else if (this.tab === "waves") {
      if (!body.querySelector("wes-wave-planner")) {
        const planner = document.createElement("wes-wave-planner");
        planner.desk = this;
        body.innerHTML = `<h3>Released waves</h3><div class="released-waves"></div>`;
        body.prepend(planner);
      }
      body.querySelector(".released-waves").innerHTML = wavesList(state.waves);
    } else if (this.tab === "exceptions") {
      body.innerHTML = `<p class="hint">Open exceptions. Select one for who, where, what was scanned and the stock
        before and after; approve or reject it with a note.</p>
        ${exceptionsList(state.exceptions, { desk: true })}`;
    } else if (this.tab === "at-risk") {
      body.innerHTML = `<p class="hint">Open orders that will miss their carrier cut-off at today's pace, and what
        would help. A button does that one thing.</p>${atRiskList(state.at_risk, { desk: true })}`;
    } else if (this.tab === "suggestions") {
      if (!body.querySelector(".suggestions")) {
        body.innerHTML = `<div class="suggestions"><p class="hint">Loading…</p></div>`;
      }
      this.loadSuggestions();
    } else if (this.tab === "printers") {
      body.innerHTML = `<p class="hint">Each label printer: whether it answers, what it last said, and its jobs.</p>
        ${printersTable(state.printers)}`;
    }
    this.#markSelected();
    tickCountdowns(this);
  }

  #wireTabBody() {
    const body = this.querySelector(".tab-body");
    const activate = (target) => {
      const task = target.closest("tr[data-task]");
      if (task) return this.select({ type: "task", id: Number(task.dataset.task) });
      const exc = target.closest("li[data-exception]");
      if (exc) return this.select({ type: "exception", id: Number(exc.dataset.exception) });
      const act = target.closest("button[data-at-risk]");
      if (act) return this.runAction((this.state.at_risk || [])[Number(act.dataset.atRisk)]?.action);
      const suggestion = target.closest("button[data-suggestion]");
      if (suggestion) return this.runAction((this.suggestions || [])[Number(suggestion.dataset.suggestion)]?.action);
      return null;
    };
    body.addEventListener("click", (e) => activate(e.target));
    body.addEventListener("keydown", (e) => {
      if ((e.key === "Enter" || e.key === " ") && e.target.matches("tr, li")) {
        e.preventDefault();
        activate(e.target);
      }
    });
    body.addEventListener("dragstart", (e) => {
      const row = e.target.closest("tr[data-task]");
      if (!row) return;
      const task = { id: Number(row.dataset.task), version: Number(row.dataset.version) };
      e.dataTransfer.setData("application/x-wes-task", JSON.stringify(task));
      e.dataTransfer.effectAllowed = "move";
    });
  }

  /** An at-risk order's or a suggestion's one-tap action: exactly the call it names. */
  runAction(action) {
    if (!action || !action.method || !action.path) return null;
    return this.act(action.label, () => this.api.request(action.method, apiPath(action.path), action.body
      ? { body: JSON.stringify(action.body), contentType: "application/json" } : {}),
    { done: `${action.label}: done.` });
  }

  // --- the tasks tab ------------------------------------------------------------------------------------

  #drawTaskTab(body) {
    const f = this.filters;
    body.innerHTML = `
      <form class="task-filters">
        <label>Zone <select name="zone"></select></label>
        <label>Kind <select name="kind">${option("", "any kind", f.kind)}
          ${TASK_KINDS.map((k) => option(k, kindLabel(k), f.kind)).join("")}</select></label>
        <label>State <select name="state">${option(OPEN_STATES.join(","), "open", f.state)}
          ${[...OPEN_STATES, "done", "cancelled"].map((s) => option(s, STATE_LABEL[s], f.state)).join("")}
        </select></label>
        <label>Held by <select name="holder"></select></label>
      </form>
      <p class="task-count hint"></p>
      <table class="tasks"><thead><tr><th>task</th><th>state</th><th>zone</th><th>where</th>
        <th>what</th><th>order / ref</th><th>held by</th><th>prio</th></tr></thead><tbody></tbody></table>`;
    this.#fillFilters();
    this.zonesReady.then(() => this.#fillFilters());
    body.querySelector(".task-filters").addEventListener("change", (e) => {
      this.filters = { ...this.filters, [e.target.name]: e.target.value };
      this.loadTasks();
    });
  }

  /** The zone and holder choices: the site's zones and the workers on the wall, as they become known. */
  #fillFilters() {
    const form = this.querySelector(".task-filters");
    if (!form) return;
    const f = this.filters;
    const zones = [...new Set([...this.zones, ...(f.zone && f.zone !== "none" ? [f.zone] : [])])].sort();
    const names = (this.state.workers || []).map((w) => w.username);
    const workers = [...new Set([...names, ...(f.holder ? [f.holder] : [])])];
    const fill = (select, html) => { if (select.innerHTML !== html) select.innerHTML = html; };
    fill(form.elements.zone, [option("", "any zone", f.zone), option("none", "no zone", f.zone),
      ...zones.map((z) => option(z, z, f.zone))].join(""));
    fill(form.elements.holder, [option("", "anyone", f.holder),
      ...workers.map((w) => option(w, w, f.holder))].join(""));
  }

  /** The site's zone codes (for the filters, the wave form and worker settings). */
  async loadZones() {
    try {
      this.zones = (await this.api.get("/zones", { site: this.site })).data.map((z) => z.code).sort();
    } catch {
      this.zones = [];
    }
    return this.zones;
  }

  async loadTasks() {
    const f = this.filters;
    let page;
    try {
      page = await this.api.get("/tasks", { site: this.site, state: f.state, kind: f.kind || null,
        zone: f.zone || null, assigned_to: f.holder || null, limit: 300 });
    } catch (err) {
      this.say(`Could not load the tasks: ${err.message}`, "error");
      return;
    }
    this.tasks = page.data;
    this.tasksCount = page.count;
    this.#drawTasks();
  }

  #drawTasks() {
    const tbody = this.querySelector("table.tasks tbody");
    if (!tbody) return;
    const shown = this.tasks.length;
    this.querySelector(".task-count").textContent = shown === this.tasksCount ? `${shown} tasks`
      : `${shown} of ${this.tasksCount} tasks shown`;
    keepFocus(tbody, () => { tbody.innerHTML = this.#taskRows(); });
    this.#markSelected();
  }

  #taskRows() {
    return this.tasks.map((t) => {
      const where = [t.from_location, t.to_location].filter(Boolean).map((c) => `<span class="nowrap">${esc(c)}</span>`)
        .join(" → ") || "—";
      const what = t.sku ? `${t.sku}${t.quantity ? ` × ${t.quantity}` : ""}` : t.lpn || "";
      return `<tr data-task="${t.id}" data-version="${t.version}" tabindex="0" draggable="true" class="pickable"
        title="Select; or drag onto a worker">
        <th scope="row">#${t.id} <span class="task-kind">${esc(t.kind)}</span></th>
        <td><span class="state s-${esc(t.state)}">${esc(STATE_LABEL[t.state] || t.state)}</span></td>
        <td>${esc(t.zone ?? "—")}</td><td class="where">${where}</td><td>${esc(what)}</td>
        <td>${esc(t.reference || "")}</td>
        <td class="holder">${esc(t.assigned_username || "—")}</td><td>${t.priority}</td></tr>`;
    }).join("") || `<tr><td class="empty" colspan="8">no task matches</td></tr>`;
  }

  // --- suggestions ---------------------------------------------------------------------------------

  async loadSuggestions() {
    try {
      this.suggestions = (await this.api.get("/anomalies", { site: this.site })).data;
      this.suggestionsError = null;
    } catch (err) {
      this.suggestionsError = err.message;
    }
    this.#drawSuggestions();
  }

  #drawSuggestions() {
    const box = this.querySelector(".suggestions");
    if (!box) return;
    if (this.suggestionsError) {
      box.innerHTML = `<p class="empty">No suggestions: ${esc(this.suggestionsError)}</p>`;
      return;
    }
    keepFocus(box, () => {
      box.innerHTML = `<p class="hint">Locations that keep shorting and products whose counts keep differing, and
        what to check. A button does that one thing.</p>${suggestionsList(this.suggestions, { desk: true })}`;
    });
  }

  // --- heat ----------------------------------------------------------------------------------------

  async loadHeat(period) {
    const [label, seconds] = HEAT_PERIODS[period];
    if (period === "none") {
      this.floorMap.heat = null;
      return;
    }
    const to = new Date();
    const from = seconds === null ? new Date(new Date().setHours(0, 0, 0, 0)) : new Date(to.getTime() - seconds * 1000);
    try {
      const heat = await this.api.get(`/sites/${encodeURIComponent(this.site)}/floor-map/heat`,
        { from: from.toISOString(), to: to.toISOString() });
      this.floorMap.heat = { aisles: heat.aisles, label: `picks per aisle, ${label}` };
    } catch (err) {
      this.say(`No heat map: ${err.message}`, "error");
    }
  }
}

function option(value, label, current) {
  return `<option value="${esc(value)}"${value === current ? " selected" : ""}>${esc(label)}</option>`;
}

const FOCUS_KEYS = ["task", "worker", "exception", "order", "subject", "row"];

/** Redraw inside root and put the keyboard focus back on the same row (by its data-* key). */
export function keepFocus(root, redraw) {
  const active = document.activeElement;
  const row = root.contains(active) ? active.closest(FOCUS_KEYS.map((k) => `[data-${k}]`).join(", ")) : null;
  redraw();
  if (!row) return;
  const key = FOCUS_KEYS.find((k) => row.dataset[k] !== undefined);
  root.querySelector(`${row.tagName}[data-${key}="${CSS.escape(row.dataset[key])}"]`)?.focus();
}

customElements.define("wes-desk", Desk);
