/*
 * Usage: desk.select({ type: "exception", id }) / ({ type: "worker", username }) /
 * ({ type: "location", codes: ["A03-017-1", …] }) puts one of these panels in the
 * desk's detail column (panel.desk = the desk; panel.load() re-reads it).
 *
 * <wes-exception-panel>: who raised it, where, what was scanned, the stock
 *   before and after; approve or reject with a note.
 * <wes-worker-panel>: a worker's current work and pace; their zones and skills
 *   (what dispatch gives them), saved with PUT /workers/{username}.
 * <wes-location-panel>: a spot on the floor map: each location there with its
 *   stock, open tasks and last count.
 */

import { esc } from "../lib/dom.js";
import { clock, duration, idleText, kindLabel, STATE_LABEL, TASK_KINDS } from "./wall-panels.js";

function quantity(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return value.map(quantity).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ");
  }
  return String(value);
}

class ExceptionPanel extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `<p class="hint">Loading exception ${this.selection.id}…</p>`;
    this.addEventListener("click", (e) => this.#click(e));
    this.load();
  }

  async load() {
    try {
      this.exception = await this.desk.api.get(`/exceptions/${this.selection.id}/detail`);
    } catch (err) {
      this.innerHTML = `<p class="empty">Exception ${this.selection.id}: ${esc(err.message)}</p>`;
      return;
    }
    this.render();
  }

  render() {
    const e = this.exception;
    const note = this.querySelector("textarea")?.value || "";
    const open = e.state === "open";
    this.innerHTML = `
      <h3>${esc(e.kind.replace(/_/g, " "))} <span class="muted">#${e.id}</span>
        <span class="state s-${esc(e.state)}">${esc(e.state)}</span></h3>
      <p class="message">${esc(e.message)}</p>
      <dl class="facts">
        <dt>Who</dt><dd>${esc(e.who || "—")}</dd>
        <dt>Where</dt><dd>${esc(e.where || "—")}</dd>
        <dt>Scanned</dt><dd>${esc(quantity(e.scanned))}</dd>
        <dt>Stock ${open ? "now" : "before"}</dt><dd class="stock-before">${esc(quantity(e.stock_before))}</dd>
        <dt>${open ? "If approved" : "Stock after"}</dt><dd class="stock-after">${esc(quantity(e.stock_after))}</dd>
        <dt>Raised</dt><dd>${esc(clock(e.created_at))}${e.task_id ? ` · task
          <button type="button" class="link" data-task-link="${e.task_id}">#${e.task_id}</button>` : ""}</dd>
        ${e.resolution_note ? `<dt>Note</dt><dd>${esc(e.resolution_note)}</dd>` : ""}
        ${e.resolved_by_name ? `<dt>${esc(e.state)} by</dt><dd>${esc(e.resolved_by_name)}</dd>` : ""}
      </dl>
      ${(e.stock_lines || []).length > 1 ? `<table class="stock-lines"><thead><tr><th>product</th><th>lot</th>
        <th>at</th><th>before</th><th>after</th></tr></thead><tbody>${e.stock_lines.map((l) => `<tr>
        <th scope="row">${esc(l.sku)}</th><td>${esc(l.lot || "—")}</td><td>${esc(l.location)}</td>
        <td>${l.before}</td><td>${l.after}</td></tr>`).join("")}</tbody></table>` : ""}
      ${open && e.effect ? `<p class="effect">${esc(e.effect)}</p>` : ""}
      ${open ? `<label class="note">Note <textarea rows="2" maxlength="500"
          placeholder="why (kept in the audit trail)">${esc(note)}</textarea></label>
        <div class="actions"><button type="button" class="primary" data-act="approve">Approve</button>
          <button type="button" data-act="reject">Reject</button></div>` : ""}`;
  }

  async #click(event) {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.taskLink) {
      this.desk.select({ type: "task", id: Number(button.dataset.taskLink) });
      return;
    }
    const act = button.dataset.act;
    if (act !== "approve" && act !== "reject") return;
    const e = this.exception;
    const note = this.querySelector("textarea").value.trim();
    const approve = act === "approve";
    await this.desk.act(`${approve ? "Approve" : "Reject"} exception ${e.id}`,
      () => this.desk.api.post(`/exceptions/${e.id}/${act}`, { note }),
      { done: approve ? `Exception ${e.id} approved${e.kind === "over_receipt" ? ": the extra stock is received" : ""}.`
        : `Exception ${e.id} rejected.` });
  }
}

class WorkerPanel extends HTMLElement {
  connectedCallback() {
    this.innerHTML = `<p class="hint">Loading ${esc(this.selection.username)}…</p>`;
    this.addEventListener("click", (e) => {
      const link = e.target.closest("[data-task-link]");
      if (link) this.desk.select({ type: "task", id: Number(link.dataset.taskLink) });
    });
    this.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save(new FormData(e.target));
    });
    this.load();
  }

  async load() {
    try {
      const [workers] = await Promise.all([this.desk.api.get("/workers", { site: this.desk.site }).then((p) => p.data),
        this.desk.zonesReady]);
      this.worker = workers.find((w) => w.username === this.selection.username) || null;
    } catch (err) {
      this.innerHTML = `<p class="empty">${esc(err.message)}</p>`;
      return;
    }
    this.render();
  }

  render() {
    const name = this.selection.username;
    const live = (this.desk.state.workers || []).find((w) => w.username === name) || {};
    const w = this.worker;
    const zones = [...new Set([...this.desk.zones, ...((w && w.zones) || [])])].sort();
    const task = live.task;
    this.innerHTML = `
      <h3>${esc(name)} <span class="muted">${esc(((w && w.roles) || live.roles || []).join(", "))}</span></h3>
      <dl class="facts">
        <dt>Doing</dt><dd>${task ? `<button type="button" class="link" data-task-link="${task.id}">
          ${esc(kindLabel(task.kind))} #${task.id}${task.location ? ` at ${esc(task.location)}` : ""}</button>
          ${task.tour_id ? ` · tour ${task.tour_id}` : ""}` : "nothing"}</dd>
        <dt>Zone</dt><dd>${esc(live.zone || "—")}</dd>
        <dt>Pace</dt><dd>${Math.round(live.lines_per_hour || 0)} lines/h · ${live.done_today || 0} done today ·
          holds ${live.held || 0}</dd>
        <dt>Idle</dt><dd>${idleText(live)}</dd>
        <dt>Last scan</dt>
        <dd>${live.last_scan ? `${esc(live.last_scan.location)} · ${esc(clock(live.last_scan.at))}` : "—"}</dd>
      </dl>
      ${w ? `<form class="worker-settings">
        <fieldset><legend>Zones <span class="muted">(none ticked: any zone)</span></legend>
          ${zones.map((z) => `<label class="check"><input type="checkbox" name="zones" value="${esc(z)}"
            ${w.zones.includes(z) ? "checked" : ""}>${esc(z)}</label>`).join("")
            || `<span class="muted">no zones</span>`}</fieldset>
        <fieldset><legend>Skills <span class="muted">(none ticked: all their roles do)</span></legend>
          ${TASK_KINDS.map((k) => `<label class="check"><input type="checkbox" name="skills" value="${k}"
            ${w.skills.includes(k) ? "checked" : ""}>${esc(kindLabel(k))}</label>`).join("")}</fieldset>
        <label>Equipment
          <input name="equipment" value="${esc(w.equipment.join(", "))}" placeholder="e.g. forklift"></label>
        <p class="hint">Dispatch gives ${esc(name)}: ${esc(w.may_do.join(", ") || "nothing")}.</p>
        <button type="submit" class="primary">Save ${esc(name)}'s settings</button></form>`
        : `<p class="hint">${esc(name)} does not work at this site.</p>`}`;
  }

  save(form) {
    const name = this.selection.username;
    const body = {
      site: this.desk.site,
      zones: form.getAll("zones").map(String),
      skills: form.getAll("skills").map(String),
      equipment: String(form.get("equipment") || "").split(/[\s,]+/).filter(Boolean),
    };
    return this.desk.act(`Save ${name}'s settings`,
      () => this.desk.api.request("PUT", `/workers/${encodeURIComponent(name)}`,
        { body: JSON.stringify(body), contentType: "application/json" }),
      { done: (w) => `${name} now gets ${w.may_do.join(", ") || "no work"}`
        + `${w.zones.length ? ` in ${w.zones.join(", ")}` : " in any zone"}.` });
  }
}

class LocationPanel extends HTMLElement {
  connectedCallback() {
    this.code = this.selection.codes[0];
    this.addEventListener("click", (e) => {
      const other = e.target.closest("[data-code]");
      if (other) {
        this.code = other.dataset.code;
        this.desk.floorMap.selected = this.code;
        this.load();
      }
      const task = e.target.closest("[data-task-link]");
      if (task) this.desk.select({ type: "task", id: Number(task.dataset.taskLink) });
    });
    this.innerHTML = `<p class="hint">Loading ${esc(this.code)}…</p>`;
    this.load();
  }

  async load() {
    try {
      this.location = await this.desk.api.get(`/locations/${encodeURIComponent(this.code)}/detail`,
        { site: this.desk.site });
    } catch (err) {
      this.innerHTML = `<p class="empty">${esc(this.code)}: ${esc(err.message)}</p>`;
      return;
    }
    this.render();
  }

  render() {
    const l = this.location;
    const codes = this.selection.codes;
    this.innerHTML = `
      <h3>${esc(l.code)}
        <span class="muted">${esc(l.kind.replace(/_/g, " "))}${l.zone ? ` · zone ${esc(l.zone)}` : ""}</span></h3>
      ${codes.length > 1 ? `<div class="codes">${codes.map((c) => `<button type="button" data-code="${esc(c)}"
        class="${c === l.code ? "selected" : ""}">${esc(c)}</button>`).join("")}</div>` : ""}
      <h4>Stock</h4>
      ${l.stock.length ? `<table class="stock"><thead><tr><th>product</th><th>lot</th><th>on hand</th><th>reserved</th>
        </tr></thead><tbody>${l.stock.map((q) => `<tr>
          <th scope="row">${esc(q.sku)}${q.lpn ? ` <span class="muted">${esc(q.lpn)}</span>` : ""}</th>
          <td>${esc(q.lot || "—")}</td>
          <td>${q.quantity}</td><td>${q.reserved}</td></tr>`).join("")}</tbody></table>` : `<p class="empty">empty</p>`}
      <h4>Open tasks</h4>
      ${l.open_tasks.length ? `<ul class="open-tasks">${l.open_tasks.map((t) => `<li><button type="button" class="link"
        data-task-link="${t.id}">${esc(kindLabel(t.kind))} #${t.id}</button> ${esc(STATE_LABEL[t.state] || t.state)}
        ${t.assigned_to ? `· ${esc(t.assigned_to)}` : ""}</li>`).join("")}</ul>` : `<p class="empty">none</p>`}
      <h4>Last count</h4>
      <p>${lastCount(l.last_count)}</p>`;
  }
}

/** "14:05 (3 h 10 ago) by picker1 · variance −2 · posted", as HTML. */
function lastCount(count) {
  if (!count) return `<span class="empty">never counted</span>`;
  const when = count.at ? `${esc(clock(count.at))} (${duration((Date.now() - new Date(count.at)) / 1000)} ago)` : "";
  const variance = count.variance === null ? "being recounted"
    : `variance ${count.variance > 0 ? "+" : ""}${count.variance}`;
  return `${when} by ${esc(count.by || "—")} · ${variance} · ${esc(count.status.replace(/_/g, " "))}`;
}

customElements.define("wes-exception-panel", ExceptionPanel);
customElements.define("wes-worker-panel", WorkerPanel);
customElements.define("wes-location-panel", LocationPanel);
