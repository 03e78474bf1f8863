"""The supervisor wall (/ws/wall): one live picture of a site's shift, computed once per change for all its walls.

Protocol. The client sends ``{"id": 1, "type": "auth", "access_token": T, "site": "DEMO", "after_seq": N}``
(``after_seq`` optional; a user name and password instead of the token work too). The server answers
``auth_ok`` (with the site's current ``seq``), then the alerts kept since ``after_seq`` (when given), then the
current ``wall.state``; then a new ``wall.state`` whenever the picture changes and a ``wall.alert`` when
something needs a supervisor's eye. Only supervisors and admins of the site are let in.

    {"id": "w17", "type": "wall.state", "seq": 17, "at": iso, "data": {site, at, work, workers, waves, printers,
                                                                       exceptions, exceptions_open, at_risk,
                                                                       suggestions, kpis}}
    {"id": "w18", "type": "wall.alert", "seq": 18, "at": iso, "data": {"kind": "at_risk" | "anomaly" | …,
                                                                       "message": str, "detail": {…}}}

``seq`` is per site and increases with every wall.state and wall.alert; it never falls below the server's
clock in milliseconds, so it keeps increasing across restarts. Every other server message carries the
current ``seq`` too. A client keeps the highest seq it saw and sends it as ``after_seq`` when it reconnects.

Cost. A site's state is read by one `SiteWall` (backend.realtime.hub wakes it when the site's work changes)
and the same serialized message goes to every wall of the site: twenty walls cost one read, not twenty. The
read runs in a child process (`StateReader`: its Python work must not hold the server's GIL, which the
handhelds' commands wait for) on a read-only engine, at most every `MIN_INTERVAL` seconds (on a site so busy
that a read takes long, reading takes at most a `READ_SHARE`-th of the time, but the reads are never more
than `MAX_INTERVAL` apart while the site changes), and at least every `REFRESH` seconds anyway (idle times
and the last hour's rates move on their own); a message goes out only when the state differs from the last
one sent. The waves' progress and the at-risk orders, suggestions and KPIs (backend.insights) are read at
most every `SLOW_EVERY` seconds.

Alerts. An order that newly appears among the orders at risk, or a suggestion that newly appears, is sent as
a wall.alert (not for what is already there when the server starts: the state shows it). Other code raises
alerts with `alert(session_or_runtime, site_id, kind, data)`; given a session, the alert goes out once the
session commits (and never if it rolls back). The last `ALERTS_KEPT` alerts of a site are kept in memory for
walls resuming with ``after_seq``: alerts are not durable across restarts, and an alert raised by `alert()`
reaches the walls connected to this process only (those detected from the state are detected by every
replica that has walls).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, time as day_start, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, case, cast, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from backend.auth.principal import load_principal
from backend.devices.tokens import authenticate_worker
from backend.errors import DomainError
from backend.config import Settings
from backend.db import make_read_engine
from backend.insights.anomalies import suggestions
from backend.insights.at_risk import orders_at_risk
from backend.insights.desk import exception_location
from backend.insights.kpis import wall_kpis
from backend.models import (
    TASK_KINDS, Device, Location, Order, Printer, PrintJob, Site, Task, Tour, User, UserSite, WarehouseException, Wave,
    WorkerProfile, Zone,
)
from backend.realtime.connection import Connection
from backend.realtime.errors import CLOSE_SIGNED_OFF, ProtocolError
from backend.realtime.messages import dumps
from backend.roles import FLOOR, WALL_SOCKET
from backend.runtime import Runtime
from backend.tasks.states import HELD_STATES, OPEN_STATES


log = logging.getLogger("wes.realtime.wall")

FLOOR_ROLES = FLOOR
MIN_INTERVAL = 0.25
MAX_INTERVAL = 0.6
READ_SHARE = 10
REFRESH = 5.0
SLOW_EVERY = 5.0
EXCEPTIONS_SHOWN = 50
ALERTS_KEPT = 200
WALLS = "wes_walls"  # session.info key (set by the realtime component): the app's Walls
_PENDING_ALERTS = "wes_wall_alerts"
_LISTENING = "wes_wall_alerts_hooked"
_WAVE_STATES = ("planned", "released", "picking")


# --- the state ----------------------------------------------------------------------------------------


def site_midnight(site_timezone: str, now: datetime) -> datetime:
    """The start of today at the site, as an aware UTC datetime."""
    try:
        zone = ZoneInfo(site_timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    return datetime.combine(local.date(), day_start.min, tzinfo=zone).astimezone(timezone.utc)


def wall_state(session: Session, site_id: int, now: datetime, *, slow: dict | None = None) -> dict[str, Any]:
    """The wall's picture of a site at `now`: the `data` of a wall.state message (see the module docstring).

    `slow`: the waves, at-risk orders, suggestions and KPIs to show (read with `slow_parts`, less often: None
    reads them now).
    """
    site = session.get(Site, site_id)
    midnight = site_midnight(site.timezone, now)
    zones = dict(session.exec(select(Zone.id, Zone.code).where(Zone.site_id == site_id)).all())
    exceptions, exceptions_open = _exceptions(session, site_id)
    slow = slow if slow is not None else slow_parts(session, site_id, now)
    return {
        "site": site.code, "at": now.isoformat(),
        "work": _work(session, site_id, zones),
        "workers": _workers(session, site_id, zones, now, midnight),
        "waves": slow["waves"],
        "printers": _printers(session, site_id, midnight),
        "exceptions": exceptions, "exceptions_open": exceptions_open,
        "at_risk": slow["at_risk"], "suggestions": slow["suggestions"], "kpis": slow["kpis"],
    }


def slow_parts(session: Session, site_id: int, now: datetime, settings: Settings | None = None,
               cut_offs: dict[int, datetime | None] | None = None) -> dict[str, Any]:
    """The part read less often: the waves' progress (it scans every pick of every open wave), the orders at
    risk, suggestions and KPIs (backend.insights). `cut_offs`: the caller's cache of planned waves' earliest
    cut-off (a plan does not change)."""
    return {
        "waves": _waves(session, site_id, cut_offs if cut_offs is not None else {}),
        "at_risk": list(orders_at_risk(session, site_id, now, settings)),
        "suggestions": list(suggestions(session, site_id, now, settings)),
        "kpis": dict(wall_kpis(session, site_id, now)),
    }


def _work(session: Session, site_id: int, zones: dict[int, str]) -> list[dict]:
    """Open tasks by zone × kind × state; a task without a zone is counted under its kind (zone null)."""
    rows: dict[tuple[str, str | None], dict[str, Any]] = {}
    for zone_id, kind, state, count in session.exec(
        select(Task.zone_id, Task.kind, Task.state, func.count()).where(
            Task.site_id == site_id, Task.state.in_(OPEN_STATES)).group_by(Task.zone_id, Task.kind, Task.state)
    ).all():
        zone = zones.get(zone_id) if zone_id is not None else None
        row = rows.setdefault((kind, zone), {"zone": zone, "kind": kind, **dict.fromkeys(OPEN_STATES, 0)})
        row[state] += count
    return [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[1] is not None, k[1] or ""))]


def _workers(session: Session, site_id: int, zones: dict[int, str], now: datetime, midnight: datetime) -> list[dict]:
    """The people on the floor: the site's floor workers, and anyone who holds work, did work today or is signed on."""
    hour_ago = now - timedelta(hours=1)
    # Each holder's current task (in progress first, then the most urgent, in walking order): their smallest
    # rank, then the task with it, by two plain reads (a self-join or a window over every held task costs more,
    # and a join is planned badly from statistics taken before the shift began).
    rank = (cast(case((Task.state == "in_progress", 0), else_=1), BigInteger) * 10 ** 13
            + cast(Task.priority, BigInteger) * 10 ** 6 + func.coalesce(Task.sequence, 0))
    held_here = (Task.site_id == site_id, Task.state.in_(HELD_STATES), Task.assigned_to.is_not(None))
    firsts = {holder: (held, first) for holder, held, first in session.execute(
        select(Task.assigned_to, func.count(), func.min(rank)).where(*held_here).group_by(Task.assigned_to)).all()}
    chosen: dict[int, int] = {}
    if firsts:
        for holder, task_rank, task_id in session.execute(
            select(Task.assigned_to, rank, Task.id).where(*held_here, Task.assigned_to.in_(list(firsts)),
                                                          rank.in_({first for _, first in firsts.values()}))
        ).all():
            if task_rank == firsts[holder][1] and task_id < chosen.get(holder, task_id + 1):
                chosen[holder] = task_id
    held_by = {task_id: firsts[holder][0] for holder, task_id in chosen.items()}
    current = {row[0]: (*row, held_by[row[1]]) for row in session.execute(
        select(Task.assigned_to, Task.id, Task.kind, Task.state, Task.version, Task.from_location_id,
               Task.to_location_id, Task.reference, Task.tour_id, Task.zone_id)
        .where(Task.id.in_(list(held_by) or [-1]))).all()}
    done = {user_id: (n, hour_picks or 0, last) for user_id, n, hour_picks, last in session.exec(
        select(Task.assigned_to, func.count(),
               func.sum(case(((Task.kind == "pick") & (Task.done_at >= hour_ago), 1), else_=0)), func.max(Task.done_at))
        # (kind IN every kind: the (site, kind, done_at) index reads today's tasks only, not every task ever done)
        .where(Task.site_id == site_id, Task.kind.in_(TASK_KINDS), Task.done_at >= midnight, Task.state == "done",
               Task.assigned_to.is_not(None))
        .group_by(Task.assigned_to)
    ).all()}
    signed_on = set(session.exec(select(Device.current_user_id).where(
        Device.site_id == site_id, Device.current_user_id.is_not(None), Device.revoked_at.is_(None))).all())
    members = set(session.exec(select(UserSite.user_id).where(UserSite.site_id == site_id)).all())
    wanted = members | set(current) | set(done) | signed_on
    people = session.exec(
        select(User.id, User.username, User.roles, WorkerProfile.zone_ids, WorkerProfile.skills,
               WorkerProfile.last_location_id, WorkerProfile.updated_at)
        .outerjoin(WorkerProfile, (WorkerProfile.user_id == User.id) & (WorkerProfile.site_id == site_id))
        .where(User.id.in_(list(wanted) or [-1]), User.active)
    ).all()
    people = [p for p in people if p[0] in current or p[0] in done or p[0] in signed_on
              or set(p[2] or ()).intersection(FLOOR_ROLES)]
    location_ids = {p[5] for p in people if p[5]} | {
        (row[5] or row[6]) for row in current.values() if (row[5] or row[6])}
    places = {lid: (code, x, y, zone_id) for lid, code, x, y, zone_id in session.exec(
        select(Location.id, Location.code, Location.x, Location.y, Location.zone_id)
        .where(Location.id.in_(list(location_ids) or [-1]))).all()}
    out = []
    for user_id, username, roles, zone_ids, skills, last_location_id, position_at in sorted(people, key=lambda p: p[1]):
        row = current.get(user_id)
        task = None
        zone_id = None
        if row is not None:
            where = places.get(row[5] or row[6])
            task = {"id": row[1], "kind": row[2], "state": row[3], "version": row[4],
                    "location": where[0] if where else None, "reference": row[7], "tour_id": row[8]}
            zone_id = row[9] if row[9] is not None else (where[3] if where else None)
        last_scan = None
        place = places.get(last_location_id) if last_location_id else None
        if place is not None:
            last_scan = {"location": place[0], "x": place[1], "y": place[2], "at": _iso(position_at)}
            if row is None:
                zone_id = place[3]
        n_done, hour_picks, last_done = done.get(user_id, (0, 0, None))
        moments = [_aware(t) for t in (last_done, position_at if place is not None else None) if t is not None]
        out.append({
            "username": username, "roles": sorted(roles or []),
            "zones": [zones[z] for z in (zone_ids or []) if z in zones], "skills": list(skills or []),
            "task": task, "zone": zones.get(zone_id) if zone_id is not None else None,
            "lines_per_hour": float(hour_picks), "idle_s": max(0, int((now - max(moments)).total_seconds()))
            if moments else None, "held": row[10] if row is not None else 0, "done_today": n_done,
            "last_scan": last_scan,
        })
    return out


def _waves(session: Session, site_id: int, cut_offs: dict[int, datetime | None]) -> list[dict]:
    waves = session.exec(select(Wave.id, Wave.status, Wave.orders, Wave.lines, Wave.released_at).where(
        Wave.site_id == site_id, Wave.status.in_(_WAVE_STATES)).order_by(Wave.id)).all()
    ids = [w[0] for w in waves] or [-1]
    picks = {wave_id: (done or 0, total) for wave_id, done, total in session.exec(
        select(Task.wave_id, func.sum(case((Task.state == "done", 1), else_=0)), func.count())
        .where(Task.wave_id.in_(ids), Task.kind == "pick", Task.state != "cancelled").group_by(Task.wave_id)).all()}
    tour_cut_offs = dict(session.exec(select(Tour.wave_id, func.min(Tour.cut_off)).where(
        Tour.wave_id.in_(ids)).group_by(Tour.wave_id)).all())
    out = []
    for wave_id, status, orders, lines, released_at in waves:
        if status == "planned":
            if wave_id not in cut_offs:
                cut_offs[wave_id] = _planned_cut_off(session, wave_id)
            cut_off = cut_offs[wave_id]
        else:
            cut_off = tour_cut_offs.get(wave_id)
        done, total = picks.get(wave_id, (0, 0))
        out.append({"id": wave_id, "status": status, "orders": orders, "lines": lines, "lines_picked": int(done),
                    "progress": round(done / total, 4) if total else 0.0, "cut_off": _iso(cut_off),
                    "released_at": _iso(released_at)})
    return out


def _planned_cut_off(session: Session, wave_id: int) -> datetime | None:
    """A planned wave's earliest order cut-off (its plan names the orders)."""
    wave = session.get(Wave, wave_id)
    order_ids = (wave.plan or {}).get("orders", []) if wave is not None else []
    if not order_ids:
        return None
    return session.exec(select(func.min(Order.cut_off)).where(Order.id.in_(order_ids))).one()


def _printers(session: Session, site_id: int, midnight: datetime) -> list[dict]:
    """Each printer's health as the spool last saw it; queued (and sending) jobs, and jobs failed today."""
    jobs: dict[int, dict[str, int]] = {}
    for printer_id, state, count in session.exec(
        select(PrintJob.printer_id, PrintJob.state, func.count()).where(
            PrintJob.site_id == site_id, PrintJob.state.in_(("queued", "sending", "failed")),
            (PrintJob.state != "failed") | (PrintJob.updated_at >= midnight))
        .group_by(PrintJob.printer_id, PrintJob.state)
    ).all():
        counts = jobs.setdefault(printer_id, {"queued": 0, "failed": 0})
        counts["failed" if state == "failed" else "queued"] += count
    out = []
    for printer in session.exec(select(Printer).where(Printer.site_id == site_id).order_by(Printer.code)).all():
        counts = jobs.get(printer.id, {"queued": 0, "failed": 0})
        out.append({"code": printer.code, "name": printer.name or printer.code,
                    "online": printer.enabled and printer.status in ("ready", "not_ready"),
                    "status": _printer_status(printer), **counts})
    return out


def _printer_status(printer: Printer) -> str:
    if not printer.enabled:
        return "disabled"
    if printer.status == "not_ready":
        return printer.status_detail.replace("_", " ") or "not ready"
    return {"ready": "ready", "offline": "offline", "unknown": "not contacted yet"}.get(printer.status,
                                                                                      printer.status)


def _exceptions(session: Session, site_id: int) -> tuple[list[dict], int]:
    """The newest open exceptions (at most EXCEPTIONS_SHOWN) with who raised them and where, and how many are open."""
    where_open = (WarehouseException.site_id == site_id, WarehouseException.state == "open")
    total = session.exec(select(func.count()).select_from(WarehouseException).where(*where_open)).one()
    rows = session.exec(
        select(WarehouseException.id, WarehouseException.kind, WarehouseException.message,
               WarehouseException.task_id, WarehouseException.details, WarehouseException.created_at, User.username)
        .outerjoin(User, User.id == WarehouseException.raised_by)
        .where(*where_open).order_by(WarehouseException.id.desc()).limit(EXCEPTIONS_SHOWN)
    ).all()
    task_ids = [r[3] for r in rows if r[3] is not None]
    task_places = dict(session.exec(
        select(Task.id, Location.code).join(Location, Location.id == func.coalesce(Task.from_location_id,
                                                                                   Task.to_location_id))
        .where(Task.id.in_(task_ids or [-1]))).all())
    return [{"id": id_, "kind": kind, "message": message, "task_id": task_id,
             "raised_by": username or (details or {}).get("reported_by_name"),
             "location": exception_location(details or {}, task_places.get(task_id)),
             "created_at": _iso(created_at)}
            for id_, kind, message, task_id, details, created_at, username in rows], total


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat() if moment is not None else None


# --- alerts -------------------------------------------------------------------------------------------


def alert(target: Session | Runtime, site_id: int, kind: str, data: dict[str, Any], *,
          message: str | None = None) -> None:
    """Put an alert out to the site's walls: at once given the runtime, after the commit given a session.

    `kind` says what it is about ("at_risk", "anomaly", …), `data` the details (JSON-able); `message` is the
    plain-words line a wall shows (default: data's "reason" or "message"). Not durable: see the module docstring.
    """
    text = message or str(data.get("reason") or data.get("message") or kind)
    if isinstance(target, Runtime):
        if target.walls is not None:
            target.walls.raise_alert(site_id, kind, text, data)
        return
    walls = target.info.get(WALLS)
    if walls is None:
        log.debug("alert %s for site %s dropped: this session is not the app's (no walls)", kind, site_id)
        return
    if not target.info.get(_LISTENING):
        target.info[_LISTENING] = True

        def after_commit(session: Session) -> None:
            for alert_args in session.info.pop(_PENDING_ALERTS, []):
                walls.raise_alert(*alert_args)

        def after_transaction_end(session: Session, transaction) -> None:  # noqa: ANN001
            if transaction.parent is None:  # committed (already sent) or rolled back (never happened)
                session.info.pop(_PENDING_ALERTS, None)

        event.listen(target, "after_commit", after_commit)
        event.listen(target, "after_transaction_end", after_transaction_end)
    target.info.setdefault(_PENDING_ALERTS, []).append((site_id, kind, text, data))


# --- reading, in a process of its own -----------------------------------------------------------------


@dataclass(frozen=True)
class StateRead:
    """A site's state as read: its JSON (`data`), a digest of it without the time (`key`: unchanged or not), and the
    slow parts when they were read afresh (for the alerts)."""

    data: str
    key: str
    slow: dict | None


class SiteReading:
    """Reads sites' states on its own engine, keeping each site's slow parts and planned waves' cut-offs."""

    def __init__(self, settings: Settings, sessions: Callable[[], Session] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or sessionmaker(bind=make_read_engine(settings.database_url, pool_size=1),
                                                 class_=Session, expire_on_commit=False, autoflush=False)
        self.slow: dict[int, dict] = {}
        self.cut_offs: dict[int, dict[int, datetime | None]] = {}

    def read(self, site_id: int, now: datetime, slow_due: bool) -> StateRead:
        fresh = slow_due or site_id not in self.slow
        with self.sessions() as session:
            if fresh:
                self.slow[site_id] = slow_parts(session, site_id, now, self.settings,
                                                self.cut_offs.setdefault(site_id, {}))
            state = wall_state(session, site_id, now, slow=self.slow[site_id])
        key = hashlib.sha256(dumps({k: v for k, v in state.items() if k != "at"}).encode()).hexdigest()
        return StateRead(dumps(state), key, self.slow[site_id] if fresh else None)


_reading: SiteReading | None = None  # the reading process's own (set there by _start_reading; never in the server)


def _start_reading(settings: Settings) -> None:
    global _reading
    _reading = SiteReading(settings)


def _read_site(site_id: int, now: datetime, slow_due: bool) -> StateRead:
    return _reading.read(site_id, now, slow_due)


class StateReader:
    """Reads the walls' states in a child process, so that their Python work never holds the server's GIL.

    A site's state is a dozen queries' rows made into a few hundred dicts; read in a thread of the server, every
    read held the GIL in stretches the handhelds' commands waited behind (300 busy handhelds, 20 walls, a read
    every half second: their p99 went from ~40 to ~60–75 ms). The child starts with the first wall (``spawn``:
    nothing of the server's threads is copied) and reads on an engine of its own. An in-memory SQLite
    database can't be shared with another process: it is read in a thread instead.
    """

    def __init__(self, settings: Settings, read_sessions: Callable[[], Session]) -> None:
        self.settings = settings
        self._in_thread = SiteReading(settings, read_sessions) if _in_memory(settings.database_url) else None
        self._pool: ProcessPoolExecutor | None = None

    async def read(self, site_id: int, now: datetime, slow_due: bool) -> StateRead:
        if self._in_thread is not None:
            return await asyncio.to_thread(self._in_thread.read, site_id, now, slow_due)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_reading, initargs=(self.settings,))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _read_site, site_id, now, slow_due)
        except BrokenProcessPool:
            self._pool = None  # (the child died: the next read starts another)
            raise

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _in_memory(database_url: str) -> bool:
    url = make_url(database_url)
    return url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:")


# --- the shared state of a site's walls ---------------------------------------------------------------


class SiteWall:
    """One site's walls: their shared state, its reader task, the seq, and the alerts kept for resuming."""

    def __init__(self, walls: "Walls", site_id: int) -> None:
        self.walls = walls
        self.site_id = site_id
        self.connections: set[WallConnection] = set()
        self.seq = 0
        self.alerts: deque[tuple[int, str]] = deque(maxlen=ALERTS_KEPT)
        self.state_text: str | None = None
        self._state_key: str | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._slow_at = 0.0
        self._risky: set[str] | None = None  # orders at risk when last read (None: not read yet)
        self._suggested: set[tuple] | None = None
        self.reads = 0  # states read (for the curious and the tests: one per change, whatever the number of walls)

    def next_seq(self) -> int:
        self.seq = max(self.seq + 1, int(time.time() * 1000))
        return self.seq

    # -- walls coming and going (event loop) --

    def join(self, connection: "WallConnection", after_seq: int | None) -> None:
        self.connections.add(connection)
        if after_seq is not None:
            for seq, text in list(self.alerts):
                if seq > after_seq:
                    connection.send(text)
        if self.state_text is not None and self._task is not None:
            connection.send(self.state_text)
        if self._task is None or self._task.done():
            self.state_text = None  # stale while nobody watched: the first read goes to everyone
            self._changed.clear()
            self._task = asyncio.create_task(self._run(), name=f"wall site {self.site_id}")

    def leave(self, connection: "WallConnection") -> None:
        self.connections.discard(connection)
        if not self.connections:
            self.stop()

    def stop(self) -> None:
        """No wall watches any more: stop reading (the seq and the kept alerts stay for the next wall)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def site_changed(self) -> None:
        self._changed.set()

    # -- reading and publishing --

    async def _run(self) -> None:
        unsubscribe = self.walls.hub.subscribe_site(self.site_id, self)
        try:
            while self.connections:
                started = time.monotonic()
                self._changed.clear()
                try:
                    await self._read_and_publish()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database restarted, say: keep the walls and read again later
                    log.exception("reading the wall state of site %s failed", self.site_id)
                took = time.monotonic() - started
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=REFRESH)
                except TimeoutError:
                    pass
                # A busy site changes all the time: reading it takes at most 1/READ_SHARE of the time, unless the
                # walls would then lag more than MAX_INTERVAL.
                wait = min(max(MIN_INTERVAL, READ_SHARE * took), MAX_INTERVAL) - (time.monotonic() - started)
                if wait > 0:
                    await asyncio.sleep(wait)
        finally:
            unsubscribe()

    async def _read_and_publish(self) -> None:
        now = datetime.now(timezone.utc)
        slow_due = self._slow_at == 0.0 or time.monotonic() - self._slow_at >= SLOW_EVERY
        read = await self.walls.reader.read(self.site_id, now, slow_due)
        self.reads += 1
        if read.slow is not None:
            self._slow_at = time.monotonic()
            self._alert_news(read.slow)
        if read.key == self._state_key and self.state_text is not None:
            return
        self._state_key = read.key
        seq = self.next_seq()
        # (The state comes serialized: the message is put together around it, not parsed and written again.)
        self.state_text = (f'{{"id":"w{seq}","type":"wall.state","seq":{seq},"at":{json.dumps(now.isoformat())},'
                           f'"data":{read.data}}}')
        self._fan_out(self.state_text)

    def _alert_news(self, slow: dict) -> None:
        """Alerts for orders newly at risk and suggestions newly made (not for those there at the first read)."""
        risky = {str(item.get("order")): item for item in slow["at_risk"]}
        suggested = {(item.get("kind"), item.get("subject")): item for item in slow["suggestions"]}
        if self._risky is not None:
            for order in sorted(set(risky) - self._risky):
                item = risky[order]
                self.raise_alert("at_risk", str(item.get("reason") or f"order {order} may miss its cut-off"), item)
        if self._suggested is not None:
            for key in sorted(set(suggested) - self._suggested, key=str):
                item = suggested[key]
                self.raise_alert("anomaly", str(item.get("reason") or key), item)
        self._risky, self._suggested = set(risky), set(suggested)

    def raise_alert(self, kind: str, message: str, detail: dict) -> None:
        seq = self.next_seq()
        now = datetime.now(timezone.utc).isoformat()
        text = dumps({"id": f"w{seq}", "type": "wall.alert", "seq": seq, "at": now,
                      "data": {"kind": kind, "message": message, "detail": detail}})
        self.alerts.append((seq, text))
        self._fan_out(text)

    def _fan_out(self, text: str) -> None:
        for connection in tuple(self.connections):
            connection.send(text)


class Walls:
    """Every site's walls in this process (built by the realtime component, kept in runtime.walls)."""

    def __init__(self, hub, read_sessions: Callable[[], Session],  # noqa: ANN001
                 settings: Settings | None = None) -> None:
        self.hub = hub
        self.reader = StateReader(settings or Settings(), read_sessions)
        self.sites: dict[int, SiteWall] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        for site in self.sites.values():
            for connection in tuple(site.connections):
                connection.close(1001, "server stopping")
            site.stop()
        self.reader.stop()
        self._loop = None

    def site(self, site_id: int) -> SiteWall:
        wall = self.sites.get(site_id)
        if wall is None:
            wall = self.sites[site_id] = SiteWall(self, site_id)
        return wall

    def raise_alert(self, site_id: int, kind: str, message: str, detail: dict) -> None:
        """From any thread: an alert to the site's walls (kept for resuming)."""
        loop = self._loop
        if loop is None:
            return
        try:
            if asyncio.get_running_loop() is loop:
                self.site(site_id).raise_alert(kind, message, detail)
                return
        except RuntimeError:
            pass  # not on an event loop thread
        try:
            loop.call_soon_threadsafe(lambda: self.site(site_id).raise_alert(kind, message, detail))
        except RuntimeError:
            pass  # the loop is closing: the app is stopping


# --- one wall's connection ----------------------------------------------------------------------------


class WallConnection(Connection):
    kind = "wall"

    def __init__(self, websocket, runtime) -> None:  # noqa: ANN001
        super().__init__(websocket, runtime)
        self.site_id: int | None = None
        self.board: SiteWall | None = None
        self._unsubscribe_user: Callable[[], None] | None = None

    def send(self, message: dict[str, Any] | str) -> bool:
        # Every server message carries the site's seq (state and alerts are sent ready-made with theirs).
        if isinstance(message, dict) and "seq" not in message and self.board is not None:
            message = {**message, "seq": self.board.seq}
        return super().send(message)

    def check_auth(self, message: dict[str, Any]) -> tuple[int, str, str]:
        with self.runtime.sessions() as session:
            user = authenticate_worker(session, self.runtime, access_token=message.get("access_token"),
                                       username=message.get("username"), password=message.get("password"),
                                       client=self.client)
            principal = load_principal(session, user)
            if not principal.has_any(WALL_SOCKET):
                raise DomainError("the wall screen is for supervisors", code="role_forbidden")
            code = message.get("site")
            site = None
            if isinstance(code, str):
                site = session.exec(select(Site).where(Site.code == code)).first()
            elif not principal.all_sites and len(principal.site_ids) == 1:
                site = session.get(Site, next(iter(principal.site_ids)))
            if site is None or not principal.may_access(site.id):
                raise ProtocolError("site_not_found", "name a site you may see with 'site'")
            return site.id, site.code, user.username, user.id

    def authenticated(self, message: dict[str, Any], reply: tuple[int, str, str, int]) -> None:
        self.site_id, site_code, username, user_id = reply
        self.rename(f"wall {site_code} ({username})")
        self._unsubscribe_user = self.runtime.hub.subscribe_user(user_id, self)
        self.board = self.runtime.walls.site(self.site_id)
        after_seq = message.get("after_seq")
        if after_seq is not None and (not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0):
            self.send_error(message.get("id"), "invalid_after_seq", "after_seq must be a whole number ≥ 0 (the "
                            "highest seq seen); sending the current state only", {"after_seq": after_seq})
            after_seq = None
        self.send({"id": message.get("id"), "type": "auth_ok", "site": site_code})
        self.board.join(self, after_seq)

    def user_revoked(self) -> None:
        """The user was disabled, signed out or changed their password (on any replica): close at once."""
        self.send_error(None, "signed_off", "your session was ended: sign in again")
        self.close(CLOSE_SIGNED_OFF, "signed off")

    def stopped(self) -> None:
        if self._unsubscribe_user is not None:
            self._unsubscribe_user()
        if self.board is not None:
            self.board.leave(self)
