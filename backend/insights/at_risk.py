"""Orders at risk of missing their carrier cut-off: the prediction, its one-tap remedy, and how well it predicts.

The prediction
--------------
Every open order with a cut-off in the next `at_risk_horizon_hours` (not shipped, cancelled or packed) is given
the time it needs to be picked, packed and shipped, from the floor as it is now:

* its **lines**: its open pick tasks (released), its reservations not in a released wave yet (allocated), its
  order lines not allocated yet (new orders); each at the zone of its pick location. A line is one pick: one
  visit to one location, what "lines picked per hour" counts.
* the **queue ahead** of it in each of those zones: the same lines of every open order that comes first in the
  order waves take orders (earlier cut-off, then more urgent priority, then arrival: `release_order_key`),
  orders late already included, held orders not.
* the **pickers** in each zone and their **rate**. A worker who may pick is in the zone of the pick they hold,
  else of their latest pick or scan within `at_risk_active_minutes`. A worker given one zone only (a supervisor
  sent them there) who is elsewhere, or signed on and idle, counts in that zone. Each worker is in one zone, and
  picks at the zone's rate: picks done there in the last hour ÷ the workers who did them, or
  `at_risk_default_lines_per_hour` when fewer than `at_risk_min_picks_for_rate` picks were done there in the
  last hour (the reason says so).
* then `at_risk_pack_ship_minutes` to pack, load and ship.

Zones are picked side by side, each zone's queue in turn, so the order is picked once its slowest zone has
picked what is ahead of it and its own lines: (lines ahead + its lines) ÷ (pickers × rate). Lines outside the
zones (not allocated yet, or at a location in no zone) are picked by all the site's active pickers at the site's
rate, after every line ahead anywhere.
`slack` = minutes to the cut-off − picking − packing and shipping; the order is **at risk** when slack <
`at_risk_margin_minutes` (negative: predicted to miss it). A held order (nothing is picked while held) and a
backordered one (nothing to pick) are at risk whatever the floor does. The reason is the slowest zone in plain
words: "14 lines in zone C, 2 pickers at 70 lines/h, cut-off in 25 min: misses it by 4 min".

The suggested action (each in the shape {kind, label, method, path, body}: one tap where one call does it)
----------------------------------------------------------------------------------------------------------
* `release_now`: the order is in no released wave (new or allocated): `POST /api/v1/at-risk/{reference}/release`
  plans a wave of this order alone and releases it, in one transaction.
* `move_picker`: one more picker in the slowest zone gets it out in time, and a worker who may pick is idle
  (signed on, holding nothing) or works in a zone with slack (every order there still on time, margin kept,
  with one picker fewer): `PUT /api/v1/workers/{username}` with that zone (their skills and equipment as they are).
* `split_order`: some of its lines are in zones that finish in time and the order may ship partly: those lines
  can make the truck. Nothing here splits an order, so there is no call (`method` null) and the label says so.
* `none`: nothing on the floor helps ("will miss it by 40 min whatever is done: tell the carrier"), or only
  packing is left, or the order is held or backordered.

Scoring
-------
Predictions are recorded by the sweep (`sweep`, every `at_risk_sweep_seconds`; on PostgreSQL one replica a site
at a time, under an advisory lock), not each time someone looks: an order gets a row in `order_risk_prediction`
when it first becomes at risk, and another whenever its prediction changes (at risk or not, the action's kind,
the slowest zone). An order whose prediction never flagged it has no row: it was predicted to make its cut-off.
The sweep answers the orders newly at risk by that record (and logs them); the wall screens raise their
`wall.alert` for an order newly among `orders_at_risk` themselves (backend.realtime.wall), on every replica
that has walls.

An order is scored once, on its **last prediction before its outcome**: the outcome is "made" when it ships at or
before its cut-off, "missed" when it ships later or its cut-off passes unshipped (cancelled orders are not
scored). `score_shipped` scores at the ship (backend.execution.packing.ship_order), the sweep scores the orders
whose cut-off has passed. A prediction is a **hit** when it flagged an order that missed, or did not flag (or
never flagged) an order that made it; `prediction_hit_rate` = hits ÷ scored orders, for the orders whose
cut-off lies in the period. An order flagged within the margin that makes it counts as a wrong prediction, and so
does one flagged whose remedy worked but whose flag was not lifted by a sweep before it shipped.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import case, func, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from backend import audit
from backend.config import Settings
from backend.db import is_postgres, unit_of_work
from backend.errors import Conflict, NotFound
from backend.masterdata import among
from backend.models import (
    AuditEntry, Device, Location, Order, OrderLine, Reservation, Site, Task, User, UserSite, Wave, WorkerProfile,
    Zone, utcnow,
)
from backend.models.insights import OrderRiskPrediction
from backend.periodic import every
from backend.runtime import Runtime
from backend.tasks.dispatch import offer_idle_workers
from backend.tasks.eligibility import allowed_kinds
from backend.tasks.states import HELD_STATES, OPEN_STATES
from backend.waves.service import WAVE_ORDER_STATES, WaveCriteria, create_wave, release_order_key, release_wave

log = logging.getLogger("wes.at_risk")

NOT_PREDICTED = ("shipped", "cancelled", "packed")
# PostgreSQL advisory lock (this namespace, the site's id), held by the transaction recording a site's predictions.
RISK_LOCK_NAMESPACE = 727276
# The sweep scores orders whose cut-off passed up to this long ago (a replica down for a while catches up).
SCORE_LOOKBACK = timedelta(days=7)
RATE_WINDOW = timedelta(hours=1)
# Where an order's lines are picked: a zone's id; None for locations in no zone; UNALLOCATED when not known yet.
UNALLOCATED = "unallocated"
ZoneKey = int | str | None


# --- the floor as it is now ------------------------------------------------------------------------


@dataclass
class Crew:
    """The pickers working a zone and the lines each picks an hour."""

    pickers: int
    rate: float
    default_rate: bool  # too few picks there in the last hour to measure a rate

    def minutes(self, lines: int, extra_pickers: int = 0) -> float:
        pickers = self.pickers + extra_pickers
        if lines <= 0:
            return 0.0
        # (to the microminute: 6 lines at 36 lines/h is 10 min, not 10.000000000000002)
        return math.inf if pickers <= 0 else round(lines / (pickers * self.rate) * 60.0, 6)


@dataclass
class Worker:
    id: int
    username: str
    skills: list[str]
    equipment: list[str]
    active: bool  # holds a pick, or picked or scanned lately
    zone_id: int | None  # the zone they pick in (None: in no zone)
    idle: bool  # signed on at a device and holding nothing


@dataclass
class OpenOrder:
    id: int
    reference: str
    cut_off: datetime
    priority: int
    status: str
    wave_id: int | None
    backorder_policy: str
    lines: dict[ZoneKey, int] = field(default_factory=dict)  # where (ZoneKey) → its lines

    @property
    def unreleased(self) -> bool:
        return self.status in WAVE_ORDER_STATES and self.wave_id is None


@dataclass
class Floor:
    site_code: str
    zone_codes: dict[int, str]
    orders: list[OpenOrder]  # in release order
    ahead: dict[int, dict[ZoneKey, int]]  # order id → where → lines of the orders before it
    crews: dict[int, Crew]
    site_crew: Crew  # every picker on the floor, at the site's rate: for lines in no zone, or not allocated
    workers: list[Worker]
    default_rate: float

    def crew(self, zone_id: ZoneKey) -> Crew:
        if not isinstance(zone_id, int):
            return self.site_crew
        return self.crews.get(zone_id) or Crew(0, self.default_rate, True)

    def lines_through(self, order: OpenOrder, zone_id: ZoneKey) -> int:
        """The lines picked in this zone before the order's own there are done: ahead + its own (outside the
        zones: every line ahead)."""
        ahead = self.ahead[order.id]
        queued = ahead.get(zone_id, 0) if isinstance(zone_id, int) else sum(ahead.values())
        return queued + order.lines.get(zone_id, 0)


def _load_orders(session: Session, site_id: int, until: datetime) -> list[OpenOrder]:
    rows = session.exec(
        select(Order.id, Order.reference, Order.cut_off, Order.priority, Order.status, Order.wave_id,
               Order.backorder_policy)
        .where(Order.site_id == site_id, Order.cut_off.is_not(None), Order.cut_off <= until,
               Order.status.not_in(NOT_PREDICTED))
    ).all()
    orders = {r.id: OpenOrder(r.id, r.reference, r.cut_off, r.priority, r.status, r.wave_id, r.backorder_policy)
              for r in rows}
    if not orders:
        return []

    def add(order_id: int, zone_id: ZoneKey, lines: int) -> None:
        order = orders.get(order_id)
        if order is not None:
            order.lines[zone_id] = order.lines.get(zone_id, 0) + lines

    # Released: open pick tasks.
    for order_id, zone_id, lines in session.exec(
        select(OrderLine.order_id, Task.zone_id, func.count()).select_from(Task)
        .join(OrderLine, OrderLine.id == Task.order_line_id)
        .where(Task.site_id == site_id, Task.kind == "pick", Task.state.in_(OPEN_STATES))
        .group_by(OrderLine.order_id, Task.zone_id)
    ).all():
        add(order_id, zone_id, lines)
    # Allocated, in no released wave: one pick a reservation, at its pick location.
    for order_id, zone_id, lines in session.exec(
        select(OrderLine.order_id, Location.zone_id, func.count()).select_from(Reservation)
        .join(OrderLine, OrderLine.id == Reservation.order_line_id)
        .join(Location, Location.id == Reservation.pick_location_id)
        .where(Reservation.site_id == site_id, Reservation.wave_id.is_(None), Reservation.quantity > 0)
        .group_by(OrderLine.order_id, Location.zone_id)
    ).all():
        add(order_id, zone_id, lines)
    # Not allocated yet (new, or held before allocation): where it will be picked is not known.
    for order_id, lines in session.exec(
        select(OrderLine.order_id, func.count()).join(Order, Order.id == OrderLine.order_id)
        .where(Order.site_id == site_id, Order.status.in_(("new", "held")), Order.cut_off.is_not(None),
               Order.cut_off <= until, OrderLine.quantity_allocated == 0, OrderLine.quantity_picked == 0)
        .group_by(OrderLine.order_id)
    ).all():
        add(order_id, UNALLOCATED, lines)
    return sorted(orders.values(), key=release_order_key)


def _queues(orders: list[OpenOrder], now: datetime) -> dict[int, dict[ZoneKey, int]]:
    """For each order still before its cut-off: the lines of the orders before it, by zone."""
    running: dict[ZoneKey, int] = defaultdict(int)
    ahead: dict[int, dict[ZoneKey, int]] = {}
    for order in orders:
        if order.cut_off > now:
            ahead[order.id] = dict(running)
        if order.status != "held":
            for zone_id, lines in order.lines.items():
                running[zone_id] += lines
    return ahead


def _latest(pairs: Iterable[tuple[int, int | None, datetime]]) -> dict[int, tuple[int | None, datetime]]:
    """worker → (zone, when) of their most recent row."""
    latest: dict[int, tuple[int | None, datetime]] = {}
    for user_id, zone_id, at in pairs:
        if at is not None and (user_id not in latest or at > latest[user_id][1]):
            latest[user_id] = (zone_id, at)
    return latest


def _workers(session: Session, site_id: int, now: datetime, rs: Settings) -> list[Worker]:
    users = session.exec(
        select(User.id, User.username, User.roles, WorkerProfile.zone_ids, WorkerProfile.skills,
               WorkerProfile.equipment)
        .join(UserSite, UserSite.user_id == User.id).outerjoin(WorkerProfile, (WorkerProfile.user_id == User.id)
                                                              & (WorkerProfile.site_id == site_id))
        .where(UserSite.site_id == site_id, User.active)
    ).all()
    pickers = {u.id: u for u in users if "pick" in allowed_kinds(u.roles, u.skills or [], None)}
    if not pickers:
        return []
    since = now - timedelta(minutes=rs.at_risk_active_minutes)
    held = _latest(session.exec(
        select(Task.assigned_to, Task.zone_id, Task.updated_at)
        .where(Task.site_id == site_id, Task.kind == "pick", Task.state.in_(HELD_STATES), Task.assigned_to.is_not(None))
    ).all())
    holding = set(session.exec(select(Task.assigned_to).where(
        Task.site_id == site_id, Task.state.in_(HELD_STATES), Task.assigned_to.is_not(None)).distinct()).all())
    recent = list(session.exec(
        select(Task.assigned_to, Task.zone_id, func.max(Task.done_at))
        .where(Task.site_id == site_id, Task.kind == "pick", Task.state == "done", Task.assigned_to.is_not(None),
               Task.done_at >= since, Task.done_at <= now)
        .group_by(Task.assigned_to, Task.zone_id)
    ).all())
    recent += session.exec(
        select(WorkerProfile.user_id, Location.zone_id, WorkerProfile.updated_at)
        .join(Location, Location.id == WorkerProfile.last_location_id)
        .where(WorkerProfile.site_id == site_id, Location.site_id == site_id, WorkerProfile.updated_at >= since, WorkerProfile.updated_at <= now)
    ).all()
    lately = _latest(recent)
    signed_on = set(session.exec(select(Device.current_user_id).where(
        Device.site_id == site_id, Device.current_user_id.is_not(None), Device.revoked_at.is_(None))).all())
    workers = []
    for user_id, user in sorted(pickers.items(), key=lambda kv: kv[1].username):
        idle = user_id in signed_on and user_id not in holding
        zone_id = held[user_id][0] if user_id in held else lately[user_id][0] if user_id in lately else None
        allowed = user.zone_ids or []
        sent = len(allowed) == 1 and zone_id not in allowed  # given one zone elsewhere: they pick there next
        active = user_id in held or user_id in lately or (idle and sent)
        if active and sent:
            zone_id = allowed[0]
        workers.append(Worker(user_id, user.username, list(user.skills or []), list(user.equipment or []), active,
                              zone_id, idle))
    return workers


def _crews(session: Session, site_id: int, now: datetime, workers: list[Worker],
           rs: Settings) -> tuple[dict[int, Crew], Crew]:
    picked: dict[int | None, int] = defaultdict(int)
    by_whom: dict[int | None, set[int]] = defaultdict(set)
    for zone_id, user_id, lines in session.exec(
        select(Task.zone_id, Task.assigned_to, func.count())
        .where(Task.site_id == site_id, Task.kind == "pick", Task.state == "done", Task.assigned_to.is_not(None),
               Task.done_at > now - RATE_WINDOW, Task.done_at <= now)
        .group_by(Task.zone_id, Task.assigned_to)
    ).all():
        picked[zone_id] += lines
        by_whom[zone_id].add(user_id)
    headcount: dict[int, int] = defaultdict(int)
    for worker in workers:
        if worker.active and worker.zone_id is not None:
            headcount[worker.zone_id] += 1

    def crew(pickers: int, lines: int, people: int) -> Crew:
        if lines >= rs.at_risk_min_picks_for_rate:
            return Crew(pickers, lines / people, False)
        return Crew(pickers, rs.at_risk_default_lines_per_hour, True)

    zones = set(headcount) | {z for z in picked if z is not None}
    crews = {z: crew(headcount.get(z, 0), picked.get(z, 0), len(by_whom.get(z, ()))) for z in zones}
    everyone = set().union(*by_whom.values()) if by_whom else set()
    site_crew = crew(sum(1 for w in workers if w.active), sum(picked.values()), len(everyone))
    return crews, site_crew


def load_floor(session: Session, site_id: int, now: datetime, rs: Settings) -> Floor:
    site = session.get(Site, site_id)
    zone_codes = dict(session.exec(select(Zone.id, Zone.code).where(Zone.site_id == site_id)).all())
    orders = _load_orders(session, site_id, now + timedelta(hours=rs.at_risk_horizon_hours))
    workers = _workers(session, site_id, now, rs)
    crews, site_crew = _crews(session, site_id, now, workers, rs)
    return Floor(site.code, zone_codes, orders, _queues(orders, now), crews, site_crew, workers,
                 rs.at_risk_default_lines_per_hour)


# --- predicting ----------------------------------------------------------------------------------


@dataclass
class Prediction:
    order: OpenOrder
    minutes_left: float
    slack: float | None  # None: held or backordered, when the floor's pace does not matter
    at_risk: bool
    zone_id: ZoneKey  # the slowest zone
    zone: str | None
    reason: str
    action: dict[str, Any]
    zones: list[str]

    def public(self) -> dict[str, Any]:
        """The AtRisk shape the wall and the desk show."""
        return {"order": self.order.reference, "cut_off": self.order.cut_off.isoformat(),
                "minutes_left": round(self.minutes_left, 1), "remaining_lines": sum(self.order.lines.values()),
                "zones": self.zones, "reason": self.reason, "action": self.action}


def _action(kind: str, label: str, method: str | None = None, path: str | None = None,
            body: dict | None = None) -> dict[str, Any]:
    return {"kind": kind, "label": label, "method": method, "path": path, "body": body}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _by(slack: float) -> str:
    """How late, in words: " by 4 min" (nothing when nobody is there to pick it)."""
    return "" if math.isinf(slack) else f" by {math.ceil(round(-slack, 6))} min"


def _picking(floor: Floor, order: OpenOrder, extra_zone: int | None = None) -> tuple[float, ZoneKey, bool]:
    """Minutes until the order's lines are picked, its slowest zone, and whether it has lines left at all."""
    worst, slowest, any_lines = 0.0, None, False
    for zone_id in sorted(order.lines, key=lambda z: (not isinstance(z, int), floor.zone_codes.get(z, str(z)))):
        if not order.lines[zone_id]:
            continue
        extra = 1 if extra_zone is not None and zone_id == extra_zone else 0
        minutes = floor.crew(zone_id).minutes(floor.lines_through(order, zone_id), extra)
        if not any_lines or minutes > worst:
            worst, slowest, any_lines = minutes, zone_id, True
    return worst, slowest, any_lines


def _crew_words(crew: Crew, zone_id: ZoneKey) -> str:
    in_zone = isinstance(zone_id, int)
    if crew.pickers == 0:
        return "no picker there" if in_zone else "no picker on the floor"
    words = f"{_plural(crew.pickers, 'picker')} at {crew.rate:.0f} lines/h"
    if crew.default_rate:
        words += f" (site default: too few picks {'there ' if in_zone else ''}in the last hour to go by)"
    return words


def _predict(floor: Floor, order: OpenOrder, now: datetime, rs: Settings) -> Prediction:
    minutes_left = (order.cut_off - now).total_seconds() / 60.0
    cut_off = f"cut-off in {int(minutes_left)} min"
    zones = sorted(floor.zone_codes[z] for z, n in order.lines.items() if n and z in floor.zone_codes)
    if order.status == "held":
        return Prediction(order, minutes_left, None, True, None, None,
                          f"on hold, {cut_off}: nothing is picked while it is held",
                          _action("none", "Release the hold if it must ship today"), zones)
    minutes, zone_id, any_lines = _picking(floor, order)
    if order.status == "backordered" and not any_lines:
        return Prediction(order, minutes_left, None, True, None, None, f"nothing in stock to pick, {cut_off}",
                          _action("none", "Nothing is in stock for it: tell the customer and the carrier"), zones)
    slack = minutes_left - minutes - rs.at_risk_pack_ship_minutes
    at_risk = slack < rs.at_risk_margin_minutes
    if not any_lines:
        said = f"picked, {rs.at_risk_pack_ship_minutes:g} min to pack and ship, {cut_off}"
    else:
        lines = floor.lines_through(order, zone_id)
        where = (f"in zone {floor.zone_codes.get(zone_id, '?')}" if isinstance(zone_id, int)
                 else "not allocated yet" if zone_id == UNALLOCATED else "in no zone")
        said = f"{_plural(lines, 'line')} {where}, {_crew_words(floor.crew(zone_id), zone_id)}, {cut_off}"
    if slack < 0:
        said += f": misses it{_by(slack)}"
    else:
        said += f": {'only ' if at_risk else ''}{int(round(slack, 6))} min to spare"
    if order.unreleased:
        said = "not released: " + said
    action = _action("none", "")
    if at_risk and order.unreleased:
        action = _action("release_now", f"Release {order.reference} now, in a wave of its own", "POST",
                         f"/api/v1/at-risk/{quote(order.reference, safe='')}/release", {"site": floor.site_code})
    elif at_risk and not any_lines:
        action = _action("none", "Only packing and shipping are left: pack and ship it first")
    return Prediction(order, minutes_left, slack, at_risk, zone_id, floor.zone_codes.get(zone_id), said, action,
                      zones)


def _spare_zones(floor: Floor, predictions: list[Prediction], rs: Settings) -> set[int]:
    """Zones whose orders all stay on time, margin kept, with one picker fewer."""
    tight: set[int] = set()
    for p in predictions:
        if p.order.status == "held":
            continue
        for zone_id, lines in p.order.lines.items():
            if not isinstance(zone_id, int) or not lines or zone_id in tight:
                continue
            minutes = floor.crew(zone_id).minutes(floor.lines_through(p.order, zone_id), -1)
            if minutes + rs.at_risk_pack_ship_minutes > p.minutes_left - rs.at_risk_margin_minutes:
                tight.add(zone_id)
    return {zone_id for zone_id, crew in floor.crews.items() if crew.pickers > 0 and zone_id not in tight}


def _mover(floor: Floor, zone_id: int, spare: set[int]) -> tuple[Worker, str] | None:
    """Who could go to the zone: an idle worker first, else one from a zone with slack; with why they can."""
    for worker in floor.workers:
        if worker.idle and worker.zone_id != zone_id:
            return worker, "idle"
    for worker in floor.workers:
        if worker.zone_id is not None and worker.zone_id != zone_id and worker.zone_id in spare:
            code = floor.zone_codes.get(worker.zone_id, "?")
            return worker, f"zone {code} keeps its orders on time without them"
    return None


def _open_pick_lines(session: Session, order_ids: list[int]) -> dict[int, dict[int, set[int | None]]]:
    """order → line number → the zones of its open picks."""
    lines: dict[int, dict[int, set[int | None]]] = defaultdict(lambda: defaultdict(set))
    for condition in among(session, OrderLine.order_id, order_ids):
        for order_id, line_no, zone_id in session.exec(
            select(OrderLine.order_id, OrderLine.line_no, Task.zone_id).select_from(Task)
            .join(OrderLine, OrderLine.id == Task.order_line_id)
            .where(condition, Task.kind == "pick", Task.state.in_(OPEN_STATES))
        ).all():
            lines[order_id][line_no].add(zone_id)
    return lines


def _numbers(line_nos: list[int]) -> str:
    return f"line{'s' if len(line_nos) > 1 else ''} {', '.join(str(n) for n in line_nos)}"


def _fits(floor: Floor, order: OpenOrder, zone_id: ZoneKey, minutes_left: float, rs: Settings) -> bool:
    """Whether what the order has in this zone is picked, packed and shipped by its cut-off."""
    picked = floor.crew(zone_id).minutes(floor.lines_through(order, zone_id))
    return picked + rs.at_risk_pack_ship_minutes <= minutes_left


def _nothing_helps(p: Prediction, zone: str, slack_moved: float) -> dict[str, Any]:
    if p.slack is not None and p.slack >= 0:
        return _action("none", f"On time only if zone {zone} keeps its pace: no picker is idle or can be spared")
    if isinstance(p.zone_id, int) and slack_moved >= 0:
        return _action("none", f"Misses it{_by(p.slack)} unless a picker joins zone {zone}, and none is idle or can "
                               "be spared: tell the carrier")
    return _action("none", f"Will miss it{_by(max(p.slack, slack_moved))} whatever is done: tell the carrier")


def _suggest(session: Session, floor: Floor, predictions: list[Prediction], rs: Settings) -> None:
    """The action for each released order at risk: a picker moved, the order split, or nothing helps."""
    todo = [p for p in predictions if p.at_risk and p.action["kind"] == "none" and not p.action["label"]]
    if not todo:
        return
    spare = _spare_zones(floor, predictions, rs)
    splittable = []
    for p in todo:
        order, zone = p.order, p.zone or "?"
        zone_id = p.zone_id if isinstance(p.zone_id, int) else None
        mover = _mover(floor, zone_id, spare) if zone_id is not None else None
        moved, _, _ = _picking(floor, order, extra_zone=zone_id)
        slack_moved = p.minutes_left - moved - rs.at_risk_pack_ship_minutes
        if mover is not None and slack_moved >= 0:
            worker, why = mover
            label = (f"Move {worker.username} (idle) to zone {zone}" if why == "idle"
                     else f"Move {worker.username} to zone {zone}: {why}")
            p.action = _action("move_picker", label, "PUT", f"/api/v1/workers/{quote(worker.username, safe='')}",
                               {"site": floor.site_code, "zones": [zone], "skills": worker.skills,
                                "equipment": worker.equipment})
            continue
        p.action = _nothing_helps(p, zone, slack_moved)
        fitting = {_fits(floor, order, z, p.minutes_left, rs) for z, n in order.lines.items() if n}
        if order.backorder_policy == "allow_partial" and fitting == {True, False}:
            splittable.append(p)  # some zones in time, some not: which lines, then
    lines = _open_pick_lines(session, [p.order.id for p in splittable])
    for p in splittable:
        on_time, late = [], []
        for line_no, zones in sorted(lines.get(p.order.id, {}).items()):
            fits = all(_fits(floor, p.order, z, p.minutes_left, rs) for z in zones)
            (on_time if fits else late).append(line_no)
        if on_time and late:
            p.action = _action("split_order", f"{_numbers(on_time).capitalize()} can make the truck, {_numbers(late)} "
                                              f"cannot (zone {p.zone or '?'}): split the order in the system it came "
                                              "from and ship the first part — orders are not split here")


def predict(session: Session, site_id: int, now: datetime, settings: Settings | None = None) -> list[Prediction]:
    """Every open order with a cut-off ahead, within the horizon: predicted, the at-risk ones with an action."""
    rs = settings or Settings.model_construct()  # (the defaults, not the environment)
    floor = load_floor(session, site_id, now, rs)
    predictions = [_predict(floor, order, now, rs) for order in floor.orders if order.cut_off > now]
    _suggest(session, floor, predictions, rs)
    return predictions


def _most_urgent(p: Prediction) -> tuple:
    # Orders the floor can still save first, tightest first (then the nearest cut-off: several may have nobody to
    # pick them); held and backordered ones after them.
    return (p.slack is None, p.slack if p.slack is not None else 0.0, p.minutes_left, p.order.reference)


def orders_at_risk(session: Session, site_id: int, now: datetime, settings: Settings | None = None) -> list[dict]:
    """The site's orders at risk of missing their cut-off (AtRisk dicts), most urgent first. Reads only.

    Pass the app's settings (`runtime.settings`) to honour WES_AT_RISK_*; without them, the defaults apply.
    """
    return [p.public() for p in sorted(predict(session, site_id, now, settings), key=_most_urgent) if p.at_risk]


# --- the one-tap release -------------------------------------------------------------------------


def release_order_now(session: Session, site: Site, reference: str, *, user_id: int, today: date) -> Wave:
    """Plan a wave of this order alone and release it: its tasks exist when the caller commits."""
    order = session.exec(select(Order).where(Order.site_id == site.id, Order.reference == reference)).first()
    if order is None:
        raise NotFound(f"order {reference!r} not found", code="unknown_order")
    if order.status not in WAVE_ORDER_STATES or order.wave_id is not None:
        raise Conflict(f"{reference} is {order.status.replace('_', ' ')}: only a new or allocated order, in no "
                       "released wave yet, can be released on its own", code="not_releasable",
                       details={"status": order.status})
    wave, plan = create_wave(session, site, WaveCriteria(references=(reference,)), today=today, user_id=user_id)
    if not wave.orders:
        raise Conflict(f"{reference} has nothing to pick: no stock can be allocated to it", code="nothing_to_release",
                       details={"skipped": plan.skipped_orders, "unplanned": plan.unplanned})
    release_wave(session, site, wave, today=today, user_id=user_id)
    offer_idle_workers(session, site.id)  # signed-on workers with nothing to do get the picks at once
    audit.record(session, user_id=user_id, site_id=site.id, action="order.release_now", entity="order",
                 entity_id=order.id, before={"status": "unreleased"}, after={"wave_id": wave.id, "tours": wave.tours,
                                                                            "picks": wave.lines})
    return wave


# --- recording and scoring -----------------------------------------------------------------------

Risk = OrderRiskPrediction


def record_predictions(session: Session, site_id: int, now: datetime,
                       predictions: list[Prediction]) -> tuple[list[Prediction], int]:
    """A row for each order whose prediction changed since its last row: (the orders newly at risk, rows written)."""
    latest = {}
    for row in session.exec(select(Risk.order_id, Risk.at_risk, Risk.action, Risk.zone, Risk.outcome)
                            .where(Risk.site_id == site_id, Risk.cut_off > now).order_by(Risk.id)).all():
        latest[row.order_id] = row
    rows: list[OrderRiskPrediction] = []
    newly: list[Prediction] = []
    for p in predictions:
        last = latest.pop(p.order.id, None)
        if last is not None and last.outcome is not None:
            continue  # shipped already
        if last is None and not p.at_risk:
            continue  # never flagged: predicted to make it
        kind = p.action["kind"]
        if last is not None and (last.at_risk, last.action, last.zone) == (p.at_risk, kind, p.zone):
            continue
        slack = None if p.slack is None or math.isinf(p.slack) else round(p.slack, 1)
        rows.append(Risk(site_id=site_id, order_id=p.order.id, cut_off=p.order.cut_off, at=now, at_risk=p.at_risk,
                         action=kind, zone=p.zone, reason=p.reason[:300], slack_minutes=slack))
        if p.at_risk and (last is None or not last.at_risk):
            newly.append(p)
    # Flagged orders no longer predicted (packed, cancelled): the flag is lifted.
    lifted = sorted(order_id for order_id, last in latest.items() if last.at_risk and last.outcome is None)
    for condition in among(session, Order.id, lifted):
        for order_id, status, cut_off in session.exec(select(Order.id, Order.status, Order.cut_off).where(condition)):
            rows.append(Risk(site_id=site_id, order_id=order_id, cut_off=cut_off, at=now, at_risk=False,
                             action="none", reason=f"now {status}: no longer at risk"))
    session.add_all(rows)
    return newly, len(rows)


def _score(session: Session, site_id: int, order_id: int, cut_off: datetime, shipped_at: datetime | None,
           now: datetime) -> None:
    """Put the outcome on the order's last prediction before it (a 'will make it' row if it was never flagged)."""
    outcome_at = shipped_at if shipped_at is not None else cut_off
    outcome = "made" if shipped_at is not None and shipped_at <= cut_off else "missed"
    row = session.exec(select(Risk).where(Risk.order_id == order_id, Risk.at <= outcome_at)
                       .order_by(Risk.id.desc()).limit(1)).first()
    if row is None:
        row = Risk(site_id=site_id, order_id=order_id, cut_off=cut_off, at=outcome_at, at_risk=False, action="none",
                   reason="never flagged")
    row.outcome, row.outcome_at, row.scored_at = outcome, outcome_at, now
    session.add(row)


def score_shipped(session: Session, order: Order, shipped_at: datetime) -> None:
    """Score an order as it ships (in the ship's transaction, the order row locked), unless scored already."""
    if order.cut_off is None:
        return
    if session.exec(select(Risk.id).where(Risk.order_id == order.id, Risk.outcome.is_not(None))).first() is None:
        _score(session, order.site_id, order.id, order.cut_off, shipped_at, shipped_at)


def score_outcomes(session: Session, site_id: int, now: datetime) -> int:
    """Score the site's orders whose cut-off has passed (shipped or not) and that are not scored yet; how many."""
    scored = select(Risk.id).where(Risk.order_id == Order.id, Risk.outcome.is_not(None)).exists()
    # An order being shipped right now is locked: its ship scores it, or the next sweep does.
    due = session.exec(
        select(Order.id, Order.cut_off, Order.status, Order.updated_at)
        .where(Order.site_id == site_id, Order.cut_off.is_not(None), Order.cut_off <= now,
               Order.cut_off > now - SCORE_LOOKBACK, Order.status != "cancelled", ~scored)
        .order_by(Order.id).with_for_update(skip_locked=True, of=Order)
    ).all()
    if not due:
        return 0
    shipped = [str(o.id) for o in due if o.status == "shipped"]
    shipped_at = {}
    if shipped:
        shipped_at = {int(entity_id): at for entity_id, at in session.exec(
            select(AuditEntry.entity_id, func.min(AuditEntry.at))
            .where(AuditEntry.entity == "order", AuditEntry.action == "order.shipped",
                   AuditEntry.entity_id.in_(shipped))
            .group_by(AuditEntry.entity_id)).all()}
    for o in due:
        when = shipped_at.get(o.id, o.updated_at) if o.status == "shipped" else None
        _score(session, site_id, o.id, o.cut_off, when, now)
    return len(due)


def prediction_hit_rate(session: Session, site_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """How well the predictions did, for the scored orders whose cut-off lies in [start, end).

    scored: orders with an outcome; hits: flagged at their last prediction and missed, or not flagged (or never
    flagged) and made it; hit_rate: hits ÷ scored (None when nothing is scored); flagged: scored orders whose last
    prediction was "at risk"; flagged_missed: of those, how many missed.
    """
    missed, made = Risk.outcome == "missed", Risk.outcome == "made"
    flagged = Risk.at_risk.is_(True)
    scored, hits, flagged_n, flagged_missed = session.exec(
        select(func.count(), func.sum(case(((flagged & missed) | (~flagged & made), 1), else_=0)),
               func.sum(case((flagged, 1), else_=0)), func.sum(case((flagged & missed, 1), else_=0)))
        .where(Risk.site_id == site_id, Risk.outcome.is_not(None), Risk.cut_off >= start, Risk.cut_off < end)
    ).one()
    return {"scored": scored, "hits": hits or 0, "hit_rate": round((hits or 0) / scored, 4) if scored else None,
            "flagged": flagged_n or 0, "flagged_missed": flagged_missed or 0}


# --- the sweep -----------------------------------------------------------------------------------


def sweep_site(runtime: Runtime, site_id: int, now: datetime) -> list[dict] | None:
    """Score and record for one site: its orders newly at risk (None: another process is sweeping it)."""
    read_sessions: sessionmaker = runtime.read_sessions or runtime.sessions
    with read_sessions() as session:
        predictions = predict(session, site_id, now, runtime.settings)
    with unit_of_work(runtime.sessions) as session:
        if is_postgres(session) and not session.execute(
                text("SELECT pg_try_advisory_xact_lock(CAST(:namespace AS integer), CAST(:site AS integer))"),
                {"namespace": RISK_LOCK_NAMESPACE, "site": site_id}).scalar_one():
            return None
        score_outcomes(session, site_id, now)
        newly, _ = record_predictions(session, site_id, now, predictions)
    return [p.public() for p in sorted(newly, key=_most_urgent)]


def sweep(runtime: Runtime, now: datetime, *, stopping: threading.Event | None = None) -> dict[str, list[dict]]:
    """One pass over every site: site code → its orders newly at risk (sites another process sweeps left out)."""
    with runtime.sessions() as session:
        sites = session.exec(select(Site.id, Site.code).order_by(Site.code)).all()
    alerts: dict[str, list[dict]] = {}
    for site_id, code in sites:
        if stopping is not None and stopping.is_set():
            break
        try:
            found = sweep_site(runtime, site_id, now)
        except Exception:
            log.exception("site %s: predicting its orders at risk failed", code)
            continue
        if found is not None:
            alerts[code] = found
    return alerts


@asynccontextmanager
async def at_risk_sweeper(runtime: Runtime) -> AsyncIterator[None]:
    """Component: a sweep every WES_AT_RISK_SWEEP_SECONDS (0: off), the first one interval after start."""
    seconds = runtime.settings.at_risk_sweep_seconds
    if not seconds:
        yield
        return

    def one_sweep(stopping: threading.Event) -> None:
        for code, found in sweep(runtime, utcnow(), stopping=stopping).items():
            if found:
                log.info("site %s: %d order(s) newly at risk", code, len(found))

    async with every(seconds, one_sweep, name="at-risk-sweeper", at_start=False, log=log,
                     failed="sweeping the orders at risk failed"):
        yield
