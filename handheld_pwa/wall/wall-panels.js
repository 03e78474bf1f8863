/*
 * Usage:
 *   import { kpiStrip, workTable, workersTable, wavesList, printersStrip, exceptionsList, atRiskList,
 *            fitRows, tickCountdowns } from "./wall-panels.js";
 *   board.innerHTML = workTable(state.work);                       // HTML (everything escaped)
 *   board.innerHTML = workersTable(state.workers, { desk: true }); // rows focusable, draggable onto
 *   fitRows(board);   // a panel longer than its box keeps the rows that fit and says "+ 3 more"
 *   tickCountdowns(board);  // re-says "cut-off in 25 min" from the data-cut-off attributes
 *
 * The panels of a `wall.state` message (see the wall/desk contract), shared by
 * the wall (a TV read from three metres) and the desk (same rows, plus
 * actions). Pure: data in, HTML out; nothing here talks to the server.
 */

import { esc } from "../lib/dom.js";

export const OPEN_STATES = ["pending", "assigned", "in_progress", "suspended", "exception"];
export const STATE_LABEL = { pending: "waiting", assigned: "assigned", in_progress: "working", suspended: "suspended",
  exception: "exception", done: "done", cancelled: "cancelled" };
// The task kinds, in the order the board lists them.
export const TASK_KINDS = ["pick", "replenish", "putaway", "receive", "count", "pack", "move"];
// (A soft hyphen lets the longest break on a narrow desk column; a wall has room for it whole.)
const KIND_PLURAL = { pick: "Picks", replenish: "Replenish\u00adments", putaway: "Putaways", receive: "Receipts",
  count: "Counts", pack: "Packs", move: "Moves" };
export const IDLE_LONG_S = 600; // a worker idle longer than this is highlighted

export function kindPlural(kind) {
  return KIND_PLURAL[kind] || `${kind[0].toUpperCase()}${kind.slice(1)}s`;
}

export function kindLabel(kind) {
  return kind ? `${kind[0].toUpperCase()}${kind.slice(1)}` : "";
}

/** "12 min", "1 h 05", "40 s" */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")}`;
}

/** "1 tour", "3 tours" */
export function count(n, noun) {
  return `${number(n)} ${noun}${n === 1 ? "" : "s"}`;
}

export function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

/** "in 25 min" / "passed 5 min ago", and whether it is close (under an hour) or past. */
export function countdown(iso, now = Date.now()) {
  const left = (new Date(iso).getTime() - now) / 1000;
  if (left < 0) return { text: `passed ${duration(-left)} ago`, level: "bad" };
  return { text: `in ${duration(left)}`, level: left < 3600 ? "hot" : "" };
}

function number(value, digits = 0) {
  const n = Number(value || 0);
  return n.toLocaleString([], { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

const sum = (rows, key) => rows.reduce((n, r) => n + (r[key] || 0), 0);

export function openTasks(work) {
  return OPEN_STATES.reduce((n, s) => n + sum(work || [], s), 0);
}

export function kpiStrip(state) {
  const k = state.kpis || {};
  const exceptions = state.exceptions_open ?? (state.exceptions || []).length;
  const atRisk = (state.at_risk || []).length;
  const tile = (cls, n, label, level = "") =>
    `<div class="kpi ${cls}" data-level="${level}"><span class="n">${n}</span>
      <span class="label">${label}</span></div>`;
  return `
    ${tile("lines-per-hour", number(k.lines_per_hour), "lines / hour")}
    ${tile("units-per-hour", number(k.units_per_hour), "units / hour")}
    ${tile("open-orders", number(k.open_orders), "open orders")}
    ${tile("shipped-today", number(k.orders_shipped_today), "shipped today")}
    ${tile("open-tasks", number(openTasks(state.work)), "open tasks")}
    ${tile("exceptions", exceptions, "exceptions", exceptions ? "bad" : "")}
    ${tile("at-risk", atRisk, "orders at risk", atRisk ? "bad" : "")}`;
}

/** Work by kind × zone × state; a task without a zone is a row "(no zone)" under its kind. */
export function workTable(work, { desk = false } = {}) {
  const rows = [...(work || [])].filter((r) => OPEN_STATES.some((s) => r[s]));
  const rank = (kind) => (TASK_KINDS.includes(kind) ? TASK_KINDS.indexOf(kind) : TASK_KINDS.length);
  rows.sort((a, b) => rank(a.kind) - rank(b.kind) || a.kind.localeCompare(b.kind)
    || (a.zone === null) - (b.zone === null) || String(a.zone).localeCompare(String(b.zone)));
  const head = `<tr><th>work</th><th>zone</th>${OPEN_STATES.map((s) => `<th>${STATE_LABEL[s]}</th>`).join("")}</tr>`;
  if (!rows.length) {
    return `<table class="work"><thead>${head}</thead>
      <tbody><tr><td class="empty" colspan="7">no open tasks</td></tr></tbody></table>`;
  }
  const cell = (row, col) => {
    const n = row[col] || 0;
    const cls = !n ? "zero" : col === "exception" || col === "suspended" ? "bad" : col === "pending" ? "hot" : "";
    return `<td data-col="${col}" class="${cls}">${n}</td>`;
  };
  const body = rows.map((r, i) => {
    const first = i === 0 || rows[i - 1].kind !== r.kind; // the kind is said once, on its first row
    const cls = [first ? "kind-first" : "", desk ? "pickable" : ""].filter(Boolean).join(" ");
    const attrs = `data-kind="${esc(r.kind)}" data-zone="${esc(r.zone ?? "")}" data-row="${esc(`${r.kind}/${r.zone}`)}"
      class="${cls}"`;
    const focus = desk ? ` tabindex="0" title="Show these tasks"` : "";
    const zone = r.zone === null ? `<span class="no-zone">no zone</span>` : esc(r.zone);
    return `<tr ${attrs}${focus}><th scope="row" class="kind">${first ? esc(kindPlural(r.kind)) : ""}</th>
      <th scope="row" class="zone">${zone}</th>${OPEN_STATES.map((s) => cell(r, s)).join("")}</tr>`;
  }).join("");
  return `<table class="work"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function taskText(task) {
  if (!task) return `<span class="muted">no task</span>`;
  // The place first: it is what the floor looks for; the kind is a small word after it.
  const where = task.location ? `<span class="task-where">${esc(task.location)}</span> ` : "";
  return `${where}<span class="task-kind">${esc(task.kind)}</span>`;
}

export function idleText(worker) {
  if (worker.idle_s === null || worker.idle_s === undefined) return "—";
  return duration(worker.idle_s);
}

/** Workers: current task, zone, lines/h, idle time (idle > 10 min highlighted). */
export function workersTable(workers, { desk = false } = {}) {
  const head = `<tr><th>worker</th><th>task</th><th>zone</th><th>lines/h</th><th>idle</th></tr>`;
  if (!(workers || []).length) {
    return `<table class="workers"><thead>${head}</thead>
      <tbody><tr><td class="empty" colspan="5">nobody signed on</td></tr></tbody></table>`;
  }
  const body = workers.map((w) => {
    const idleLong = w.idle_s !== null && w.idle_s !== undefined && w.idle_s > IDLE_LONG_S;
    const cls = [idleLong ? "idle-long" : "", desk ? "pickable drop-target" : ""].filter(Boolean).join(" ");
    const extra = desk ? ` tabindex="0" title="Select ${esc(w.username)}; drop a task here to give it to them"` : "";
    return `<tr data-worker="${esc(w.username)}" class="${cls}"${extra}>
      <th scope="row">${esc(w.username)}</th><td class="task">${taskText(w.task)}</td>
      <td>${esc(w.zone || "—")}</td><td>${number(w.lines_per_hour)}</td>
      <td class="idle">${idleText(w)}</td></tr>`;
  }).join("");
  return `<table class="workers"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function cutOff(iso) {
  if (!iso) return `<span class="muted">no cut-off</span>`;
  const c = countdown(iso);
  return `cut-off ${esc(clock(iso))} <span class="countdown ${c.level}" data-cut-off="${esc(iso)}">${c.text}</span>`;
}

/** Waves with a progress bar (lines picked of lines) and the cut-off countdown. */
export function wavesList(waves) {
  const open = (waves || []).filter((w) => w.status !== "done" || w.progress < 1);
  if (!open.length) return `<p class="empty">no waves out</p>`;
  return `<ul class="waves">${open.map((w) => {
    const pct = Math.round(100 * Math.min(1, Math.max(0, w.progress || 0)));
    return `<li data-wave="${w.id}">
      <div class="wave-line"><strong>Wave ${w.id}</strong><span class="muted">${esc(w.status)}</span>
        <span>${number(w.lines_picked)}/${number(w.lines)} lines · ${number(w.orders)} orders</span></div>
      <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}">
        <svg class="fill" aria-hidden="true"><rect width="${pct}%" height="100%"></rect></svg><b>${pct}%</b></div>
      <div class="wave-cut">${cutOff(w.cut_off)}</div></li>`;
  }).join("")}</ul>`;
}

/** A printer's state in the server's words, and how loud to say it: red when it fails, amber when it may. */
function printerStatus(p) {
  const said = (p.status || "").replace(/_/g, " ");
  if (p.online) return said && said !== "ready" ? { text: said, level: "hot" } : { text: "ready", level: "ok" };
  if (said === "disabled") return { text: said, level: "off" };
  if (said === "not contacted yet") return { text: said, level: "hot" };
  return { text: said || "offline", level: "bad" };
}

/** Printers' health as chips: name, state, queued and failed jobs. */
export function printersStrip(printers) {
  if (!(printers || []).length) return `<span class="muted">no printers</span>`;
  return printers.map((p) => {
    const s = printerStatus(p);
    const jobs = [p.queued ? `${p.queued} queued` : "", p.failed ? `${p.failed} failed` : ""]
      .filter(Boolean).join(", ");
    return `<span class="printer ${s.level}" data-printer="${esc(p.code)}" title="${esc(p.name)}">
      <b>${esc(p.code)}</b> ${esc(s.text)}${jobs ? ` · ${esc(jobs)}` : ""}</span>`;
  }).join("");
}

/** Printers as a table (the desk's board): state, queued and failed jobs. */
export function printersTable(printers) {
  if (!(printers || []).length) return `<p class="empty">no printers</p>`;
  const rows = printers.map((p) => {
    const s = printerStatus(p);
    return `<tr data-printer="${esc(p.code)}">
      <th scope="row">${esc(p.code)} <span class="muted">${esc(p.name)}</span></th>
      <td class="${s.level === "ok" ? "" : s.level}">${esc(s.text)}</td><td>${p.queued}</td>
      <td class="${p.failed ? "bad" : ""}">${p.failed}</td></tr>`;
  }).join("");
  return `<table class="printers-table"><thead><tr><th>printer</th><th>state</th><th>queued</th><th>failed</th></tr>
    </thead><tbody>${rows}</tbody></table>`;
}

function ago(iso) {
  return iso ? `${duration((Date.now() - new Date(iso).getTime()) / 1000)} ago` : "";
}

/** The exception queue: what, who raised it, where, how long ago. */
export function exceptionsList(exceptions, { desk = false } = {}) {
  if (!(exceptions || []).length) return `<p class="empty">no open exceptions</p>`;
  return `<ul class="exceptions">${exceptions.map((e) => {
    const focus = desk ? ` tabindex="0" class="pickable"` : "";
    const who = [e.raised_by, e.location].filter(Boolean).map(esc).join(" · ");
    return `<li data-exception="${e.id}"${focus}><div><strong>${esc(e.kind.replace(/_/g, " "))}</strong>
      <span class="muted">${who}${who ? " · " : ""}${esc(ago(e.created_at))}</span></div>
      <div class="message">${esc(e.message)}</div></li>`;
  }).join("")}</ul>`;
}

/** Orders at risk of missing their cut-off, with the reason and (on the desk) the one-tap action. */
export function atRiskList(orders, { desk = false } = {}) {
  if (!(orders || []).length) return `<p class="empty">no order at risk</p>`;
  return `<ul class="at-risk">${orders.map((o, i) => {
    const c = o.cut_off ? countdown(o.cut_off) : { text: "", level: "" };
    const suggestion = actionHtml(o.action, desk, `data-at-risk="${i}"`);
    return `<li data-order="${esc(o.order)}"><div class="risk-line"><strong>${esc(o.order)}</strong>
      <span class="countdown ${c.level}" ${o.cut_off ? `data-cut-off="${esc(o.cut_off)}"` : ""}>${c.text}</span>
      <span class="muted">${count(o.remaining_lines, "line")} left</span></div>
      <div class="reason">${esc(o.reason)}</div>${suggestion ? `<div class="risk-act">${suggestion}</div>` : ""}</li>`;
  }).join("")}</ul>`;
}

/** Anomalies: what keeps going wrong where, and what to check (on the desk, the one-tap action). */
export function suggestionsList(suggestions, { desk = false } = {}) {
  if (!(suggestions || []).length) return `<p class="empty">Nothing unusual.</p>`;
  return `<ul class="suggestion-list">${suggestions.map((s, i) => {
    const action = actionHtml(s.action, desk, `data-suggestion="${i}"`);
    return `<li data-subject="${esc(s.subject)}"><div><strong>${esc(s.subject)}</strong>
      <span class="muted">${esc(s.kind.replace(/_/g, " "))}</span></div><div class="reason">${esc(s.reason)}</div>
      ${action ? `<div class="risk-act">${action}</div>` : ""}</li>`;
  }).join("")}</ul>`;
}

/** A suggested action: a button on the desk when it is one call (method and path), else its words. */
function actionHtml(action, desk, attrs) {
  if (!action || !action.label || action.kind === "none") return "";
  if (desk && action.method && action.path) {
    return `<button type="button" class="act" ${attrs}>${esc(action.label)}</button>`;
  }
  return `<span class="suggest">→ ${esc(action.label)}</span>`;
}

/** Re-say every countdown below root (cut-offs move on while the state does not). */
export function tickCountdowns(root, now = Date.now()) {
  for (const el of root.querySelectorAll("[data-cut-off]")) {
    const c = countdown(el.dataset.cutOff, now);
    el.textContent = c.text;
    el.className = `countdown ${c.level}`;
  }
}

/**
 * A TV cannot scroll: each `.fit` list or table keeps the rows that fit its box and ends with "+ N more".
 * Rows are `li` or `tbody tr`.
 */
export function fitRows(root) {
  for (const box of root.querySelectorAll(".fit")) {
    const rows = [...box.querySelectorAll(":scope > ul > li, :scope > table > tbody > tr")];
    box.querySelector(":scope > .more")?.remove();
    let hidden = 0;
    for (let i = rows.length - 1; i > 0 && box.scrollHeight > box.clientHeight + 1; i--) {
      rows[i].hidden = true;
      hidden += 1;
    }
    if (hidden) {
      const more = document.createElement("p");
      more.className = "more";
      more.textContent = `+ ${hidden} more`;
      box.append(more);
      // The "+ N more" line takes room too: hide one more row if it pushed the box over.
      const visible = rows.filter((r) => !r.hidden);
      if (box.scrollHeight > box.clientHeight + 1 && visible.length > 1) {
        visible[visible.length - 1].hidden = true;
        more.textContent = `+ ${hidden + 1} more`;
      }
    }
  }
}
