"""A site's KPIs over a period, computed from what happened: the stock ledger (`move`), tasks, orders, waves,
receipts, print jobs, exceptions, refused device commands and the audit trail — never from counters.

`kpi_tables(session, period)` answers every table; `kpi_table(…, name)` one of them (the CSV download);
`wall_kpis(session, site_id, now)` the four figures the wall shows. A period is [start, end), aware UTC.

The tables (each a list of rows with fixed columns, `TABLES` says which):

- ``pick_rate``: lines and units picked, per hour of the period, for the site, per zone (of the location picked
  from) and per worker. A line is one pick booked in the ledger (a `move` with reason ``pick``): a confirmed pick,
  or what a short pick found.
- ``cycle_time``: release → shipped, p50/p90 in seconds, over the orders shipped in the period. Shipped is the
  order's last ``ship`` move; release is its wave's ``released_at`` (an order shipped without a released wave
  counts in ``orders`` but has no cycle time).
- ``dock_to_stock``: receipt → putaway done, p50/p90 in seconds, over the putaway tasks done in the period: from
  the first receipt onto the task's LPN to the task's ``done_at``.
- ``backlog``: the open orders (not shipped nor cancelled) now, their lines and units, by their cut-off's hour.
- ``fill_rate``: over the orders shipped in the period, units shipped (their ``ship`` moves) / units ordered, and
  lines fully shipped / lines (a line is fully shipped when its order's ship moves of its product cover it, lines
  of one product filled in line order).
- ``pick_accuracy``: picks (pick lines booked, plus short picks that found nothing), short picks (their
  ``short_pick`` exceptions), wrong scans refused (a refused check at the scan — audited as ``scan.refused`` by
  POST /tasks/{id}/check-scan — plus pick commands refused for a wrong scan, as stored in ``device_command``),
  and task conflicts (``task_conflict`` exceptions: work done on a task that had moved on).
- ``inventory_accuracy``: over the final counts done in the period (a count sent for a recount is not final):
  the share that found no variance, and the absolute unit variance they found (posted at once as
  ``count_adjustment`` moves, or waiting in their ``count_variance`` exception).
- ``labels``: print jobs made in the period, by label type: printed (sent), failed, waiting, cancelled.
- ``at_risk_predictions``: how often the orders-at-risk prediction was right, for the orders whose cut-off is
  in the period (backend.insights.at_risk.prediction_hit_rate).

Filters: a zone narrows pick_rate (the location picked from), pick_accuracy, dock_to_stock (the destination) and
inventory_accuracy (the location counted) to that zone; a worker narrows them to that worker's work. Order-level
tables (cycle_time, fill_rate, backlog) and labels are site-wide; each table says which filters it took.

How it stays fast (`wes bench kpis`; figures in docs/performance.md): indexes and rollups.

- Indexes (migration 0010) that start with (site, kind of row, time), so a period reads only its own rows; on
  PostgreSQL the ledger's carries the columns read (INCLUDE): pick and ship figures come from the index alone.
  Every table is one or two set-based statements: GROUP BY in the database, percentiles by ``percentile_cont``
  on PostgreSQL (on SQLite the durations are read in order and interpolated the same way, `percentile`).
- Rollups computed from the ledger (backend.models.kpi_rollups): settled hours — over ten minutes old, when no
  transaction can still add a move to them — are summed once, picks per hour, zone and worker, and shipped
  orders one row each with their cycle time and what shipped. `refresh_rollups` brings them up to date (the
  KPI routes call it first). A period reads the rollups for its whole rolled-up hours and the ledger for the
  rest (its ragged ends and the last hour). The other tables read their rows directly: a month of them is
  tens of thousands (putaways, counts, exceptions, refusals) or one index-only scan (labels).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ARRAY, Float, Integer, Text, and_, case, cast, func, insert, literal, literal_column, null, or_, select, union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from backend.db import dialect_insert, is_postgres
from backend.insights.at_risk import prediction_hit_rate
from backend.models import (
    ORDER_STATUSES,
    AuditEntry,
    DeviceCommand,
    KpiPickHour,
    KpiRollup,
    KpiShippedOrder,
    Location,
    Move,
    Order,
    OrderLine,
    PrintJob,
    Receipt,
    Site,
    Task,
    User,
    Wave,
    WarehouseException,
    Zone,
)
from backend.models.inventory import SCAN_REFUSED

OPEN_ORDER_STATUSES = tuple(s for s in ORDER_STATUSES if s not in ("shipped", "cancelled"))
# The refusals of a pick command that mean the worker scanned the wrong thing.
WRONG_SCAN_CODES = (
    "wrong_location", "wrong_product", "wrong_lot", "wrong_tote", "wrong_lpn", "unknown_product", "unknown_code",
    "unknown_tote", "not_a_location", "not_a_product", "malformed_scan", "unknown_scan",
)
PICK_COMMANDS = ("confirm_pick", "short_pick")
_ORDER_REF_PREFIX = "order:"  # a ship move's reference: order:<reference>

TABLES: dict[str, tuple[str, ...]] = {
    "pick_rate": ("scope", "zone", "worker", "lines", "units", "lines_per_hour", "units_per_hour"),
    "cycle_time": ("orders", "with_release", "p50_s", "p90_s"),
    "dock_to_stock": ("putaways", "p50_s", "p90_s"),
    "backlog": ("cut_off", "orders", "lines", "units"),
    "fill_rate": ("orders", "units_ordered", "units_shipped", "unit_fill_rate", "lines", "lines_fully_shipped",
                  "line_fill_rate"),
    "pick_accuracy": ("picks", "short_picks", "units_short", "wrong_scans_refused", "task_conflicts",
                      "accuracy"),
    "inventory_accuracy": ("counts", "counts_without_variance", "record_accuracy", "units_variance"),
    "labels": ("label_type", "jobs", "printed", "failed", "waiting", "cancelled"),
    "at_risk_predictions": ("scored", "hits", "hit_rate", "flagged", "flagged_missed"),
}
FILTERED_BY: dict[str, tuple[str, ...]] = {
    "pick_rate": ("zone", "worker"), "pick_accuracy": ("zone", "worker"), "dock_to_stock": ("zone", "worker"),
    "inventory_accuracy": ("zone", "worker"), "cycle_time": (), "fill_rate": (), "backlog": (), "labels": (),
    "at_risk_predictions": (),
}

HOUR = timedelta(hours=1)
# An hour is settled (rolled up, never read from the ledger again) this long after it ends: a move's
# created_at is taken before its transaction commits, and no transaction stays open that long.
SETTLE = timedelta(minutes=10)
# The most history one refresh rolls up (the first refresh of a long history finishes over later requests;
# meanwhile what is not rolled up yet is read from the ledger) and how much one statement takes on.
REFRESH_LIMIT = timedelta(days=62)
_REFRESH_CHUNK = timedelta(days=1)
# All ship moves of an order are made by one transaction: this much on either side of a period finds them all.
_SHIP_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Period:
    """What the KPIs are asked about: a site, [start, end) in aware UTC, optionally one zone and/or one worker."""

    site_id: int
    start: datetime
    end: datetime
    zone_id: int | None = None
    user_id: int | None = None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


# --- small portable pieces ----------------------------------------------------------------------------------


def _seconds_between(session: Session, later, earlier):  # noqa: ANN001, ANN202
    """later - earlier in seconds, as SQL (PostgreSQL: exact; SQLite: by julian day, to about a millisecond)."""
    if is_postgres(session):
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def percentile(ordered: list[float], fraction: float) -> float | None:
    """As PostgreSQL's percentile_cont: linear interpolation between the closest ranks of sorted values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _p50_p90_sql(column):  # noqa: ANN001, ANN202
    """PostgreSQL: [p50, p90] of a column, from one sort (NULL over no rows)."""
    return func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(column)


def _p50_p90(session: Session, seconds) -> tuple[int, float | None, float | None]:  # noqa: ANN001
    """(how many, p50, p90) of a one-column subquery of durations in seconds (NULLs left out)."""
    column = seconds.c.seconds
    if is_postgres(session):
        n, both = session.execute(select(func.count(column), _p50_p90_sql(column)).select_from(seconds)).one()
        return n, *(both or (None, None))
    ordered = [float(v) for v in session.execute(
        select(column).select_from(seconds).where(column.is_not(None)).order_by(column)).scalars()]
    return len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 6)


def _is(column, value: str):  # noqa: ANN001, ANN202
    """column = 'value' with the value written into the SQL: PostgreSQL then matches the partial indexes of
    migration 0010 under any plan (a bound parameter would not prove their predicate in a generic plan)."""
    return column == literal_column("'" + value.replace("'", "''") + "'")


def _at(value: datetime):  # noqa: ANN202
    """A time as a bound value of the timestamp columns' type (SQLite compares their text)."""
    return literal(value, Move.__table__.c.created_at.type)


def _in_period(column, period: Period):  # noqa: ANN001, ANN202
    return and_(column >= period.start, column < period.end)


def _iso(value: Any) -> str | None:
    """A timestamp from the database (datetime, or SQLite's text) as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _floor_hour(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(value: datetime) -> datetime:
    floor = _floor_hour(value)
    return floor if floor == value else floor + HOUR


def _zone_codes(session: Session, site_id: int) -> dict[int, str]:
    return dict(session.execute(select(Zone.id, Zone.code).where(Zone.site_id == site_id)).all())


def _usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


# --- the ledger's picks and shipped orders, and their rollups --------------------------------------------------


def _hour_of(session: Session, column):  # noqa: ANN001, ANN202
    """The UTC hour a timestamp falls in, as SQL (constants written in, so GROUP BY matches the SELECT)."""
    if is_postgres(session):
        utc = literal_column("'UTC'")
        return func.timezone(utc, func.date_trunc(literal_column("'hour'"), func.timezone(utc, column)))
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00.000000'"), column)


def _ledger_picks(site_id: int, start: datetime, end: datetime, zone_id: int | None = None,
                  user_id: int | None = None, *, hour=None):  # noqa: ANN001, ANN202
    """SELECT of the pick moves in [start, end): lines and units by zone (of the location picked from) and worker
    (and by `hour`, an SQL expression, when given)."""
    source = aliased(Location)
    keys = ([hour] if hour is not None else []) + [source.zone_id, Move.user_id]
    query = (select(*keys, func.count(), func.coalesce(func.sum(Move.quantity), 0))
             .select_from(Move).outerjoin(source, source.id == Move.from_location_id)
             .where(Move.site_id == site_id, _is(Move.reason, "pick"), Move.created_at >= _at(start),
                    Move.created_at < _at(end))
             .group_by(*keys))
    if zone_id is not None:
        query = query.where(source.zone_id == zone_id)
    if user_id is not None:
        query = query.where(Move.user_id == user_id)
    return query


def _ledger_shipped_orders(session: Session, site_id: int, start: datetime, end: datetime):  # noqa: ANN202
    """SELECT of the orders whose last ship move is in [start, end), one row each: order_id, shipped_at, cycle_s,
    units_ordered, units_shipped, lines, lines_full.

    The order's ship moves (by product) and its lines go through one window, partitioned by order and product:
    a line is full when the units of its product shipped cover it and the lines of that product before it.
    """
    reference = func.substr(Move.reference, len(_ORDER_REF_PREFIX) + 1)
    ship_moves = and_(Move.site_id == site_id, _is(Move.reason, "ship"), Move.created_at >= _at(start - _SHIP_SLACK),
                      Move.created_at < _at(end + _SHIP_SLACK))
    zero = literal_column("0", Integer)
    shipped = select(reference.label("reference"), Move.product_id.label("product_id"), zero.label("line_no"),
                     Move.quantity.label("shipped"), zero.label("ordered"), Move.created_at.label("at"),
                     null().label("order_id"), null().label("wave_id")).where(ship_moves)
    if is_postgres(session):
        # = ANY(the references, gathered first): one index lookup per order, whatever the planner guesses
        # of a set-returning IN (it scanned every order of the site for a busy hour).
        gathered = cast(select(func.array_agg(reference)).where(ship_moves).scalar_subquery(), ARRAY(Text))
        of_these = Order.reference == func.any(gathered)
    else:
        of_these = Order.reference.in_(select(reference).where(ship_moves))
    ordered = (select(Order.reference, OrderLine.product_id, OrderLine.line_no, zero, OrderLine.quantity, null(),
                      Order.id, Order.wave_id)
               .select_from(Order).join(OrderLine, OrderLine.order_id == Order.id)
               .where(Order.site_id == site_id, of_these))
    rows = union_all(shipped, ordered).subquery("ship_row")
    by_product = (rows.c.reference, rows.c.product_id)
    lines = select(rows, func.sum(rows.c.shipped).over(partition_by=by_product).label("product_shipped"),
                   func.sum(rows.c.ordered).over(partition_by=by_product, order_by=rows.c.line_no)
                   .label("ordered_up_to")).subquery("ship_line")
    is_line = lines.c.line_no > 0
    last_move = func.max(lines.c.at)
    per_order = (select(func.max(lines.c.order_id).label("order_id"), func.max(lines.c.wave_id).label("wave_id"),
                        last_move.label("shipped_at"), func.sum(lines.c.ordered).label("units_ordered"),
                        func.sum(lines.c.shipped).label("units_shipped"),
                        func.sum(case((is_line, 1), else_=0)).label("lines"),
                        func.sum(case((and_(is_line, lines.c.product_shipped >= lines.c.ordered_up_to), 1), else_=0))
                        .label("lines_full"))
                 .group_by(lines.c.reference)
                 .having(last_move >= _at(start), last_move < _at(end), func.max(lines.c.order_id).is_not(None))
                 .subquery("shipped_order"))
    return (select(per_order.c.order_id, per_order.c.shipped_at,
                   _seconds_between(session, per_order.c.shipped_at, Wave.released_at).label("cycle_s"),
                   per_order.c.units_ordered, per_order.c.units_shipped, per_order.c.lines, per_order.c.lines_full)
            .select_from(per_order).outerjoin(Wave, Wave.id == per_order.c.wave_id))


def rolled_until(session: Session, site_id: int) -> datetime | None:
    """Every hour of the site before this is in the rollups (None: nothing is)."""
    return session.execute(select(KpiRollup.rolled_until).where(KpiRollup.site_id == site_id)).scalar_one_or_none()


def refresh_rollups(session: Session, site_id: int, now: datetime, *,
                    limit: timedelta = REFRESH_LIMIT) -> datetime | None:
    """Roll the site's settled hours not rolled up yet into the rollups, at most `limit` of them; commits.

    Two refreshes of a site never overlap: the site's kpi_rollup row is written first, which holds it (its row
    lock on PostgreSQL, the writer's lock on SQLite) until the COMMIT. Returns how far the site is rolled up.
    """
    session.execute(dialect_insert(session)(KpiRollup).values(site_id=site_id, rolled_until=None)
                    .on_conflict_do_nothing(index_elements=["site_id"]))
    done = session.execute(select(KpiRollup.rolled_until).where(KpiRollup.site_id == site_id)
                           .with_for_update()).scalar_one()
    settled = _floor_hour(now - SETTLE)
    if done is None:  # from the site's first pick or shipment on
        first = session.execute(select(func.min(Move.created_at)).where(
            Move.site_id == site_id, or_(_is(Move.reason, "pick"), _is(Move.reason, "ship")))).scalar_one()
        done = _floor_hour(first) if first is not None else settled
    target = min(settled, done + limit)
    if target <= done:
        session.commit()
        return done
    hour = _hour_of(session, Move.created_at)
    while done < target:
        upto = min(done + _REFRESH_CHUNK, target)
        picks = _ledger_picks(site_id, done, upto, hour=hour).subquery()
        session.execute(insert(KpiPickHour).from_select(
            ["site_id", "hour", "zone_id", "user_id", "lines", "units"], select(literal(site_id), *picks.c)))
        shipped = _ledger_shipped_orders(session, site_id, done, upto).subquery()
        session.execute(insert(KpiShippedOrder).from_select(
            ["site_id", "order_id", "shipped_at", "cycle_s", "units_ordered", "units_shipped", "lines", "lines_full"],
            select(literal(site_id), *shipped.c)))
        done = upto
    session.execute(update(KpiRollup).where(KpiRollup.site_id == site_id).values(rolled_until=done))
    session.commit()
    return done


def _split(period: Period, rolled: datetime | None) -> tuple[tuple[datetime, datetime] | None,
                                                               list[tuple[datetime, datetime]]]:
    """The period's whole hours that are rolled up, and the stretches before and after them to read raw."""
    if rolled is not None:
        first, last = _ceil_hour(period.start), min(_floor_hour(period.end), rolled)
        if first < last:
            return (first, last), [(a, b) for a, b in ((period.start, first), (last, period.end)) if a < b]
    return None, [(period.start, period.end)]


@dataclass
class _Figures:
    """What several tables share, computed once per request: the pick lines and the shipped orders."""

    session: Session
    period: Period
    rolled: datetime | None
    _picks: list | None = field(default=None, repr=False)
    _orders: dict | None = field(default=None, repr=False)

    def picks(self) -> list[tuple[int | None, int | None, int, int]]:
        """(zone id, worker id, lines, units) of the period's picks, from the rollups and the ledger."""
        if self._picks is None:
            period, session = self.period, self.session
            rolled, raw = _split(period, self.rolled)
            queries = [_ledger_picks(period.site_id, a, b, period.zone_id, period.user_id) for a, b in raw]
            if rolled is not None:
                rollup = (select(KpiPickHour.zone_id, KpiPickHour.user_id, func.sum(KpiPickHour.lines),
                                 func.sum(KpiPickHour.units))
                          .where(KpiPickHour.site_id == period.site_id, KpiPickHour.hour >= _at(rolled[0]),
                                 KpiPickHour.hour < _at(rolled[1]))
                          .group_by(KpiPickHour.zone_id, KpiPickHour.user_id))
                if period.zone_id is not None:
                    rollup = rollup.where(KpiPickHour.zone_id == period.zone_id)
                if period.user_id is not None:
                    rollup = rollup.where(KpiPickHour.user_id == period.user_id)
                queries.append(rollup)
            totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
            for query in queries:
                for zone, user, lines, units in session.execute(query).all():
                    totals[(zone, user)][0] += int(lines)
                    totals[(zone, user)][1] += int(units)
            self._picks = [(zone, user, lines, units) for (zone, user), (lines, units) in totals.items()]
        return self._picks

    def orders(self) -> dict:
        """The period's shipped orders: how many, with a cycle time, its p50/p90, units and lines."""
        if self._orders is None:
            period, session = self.period, self.session
            rolled, raw = _split(period, self.rolled)
            parts = [_ledger_shipped_orders(session, period.site_id, a, b).subquery() for a, b in raw]
            columns = ("cycle_s", "units_ordered", "units_shipped", "lines", "lines_full")
            selects = [select(*(part.c[c] for c in columns)) for part in parts]
            if rolled is not None:
                selects.append(select(*(KpiShippedOrder.__table__.c[c] for c in columns)).where(
                    KpiShippedOrder.site_id == period.site_id, KpiShippedOrder.shipped_at >= _at(rolled[0]),
                    KpiShippedOrder.shipped_at < _at(rolled[1])))
            shipped = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("shipped")
            cycle = shipped.c.cycle_s
            figures = [func.count(), func.count(cycle)] + [func.coalesce(func.sum(shipped.c[c]), 0)
                                                           for c in columns[1:]]
            postgres = is_postgres(session)
            if postgres:
                figures.append(_p50_p90_sql(cycle))
            row = session.execute(select(*figures).select_from(shipped)).one()
            n, with_release, units_ordered, units_shipped, lines, full = (int(v) for v in row[:6])
            if postgres:
                p50, p90 = row[6] or (None, None)  # (NULL over no rows)
            else:
                ordered = [float(v) for v in session.execute(
                    select(cycle).where(cycle.is_not(None)).order_by(cycle)).scalars()]
                p50, p90 = percentile(ordered, 0.5), percentile(ordered, 0.9)
            self._orders = {"orders": n, "with_release": with_release, "p50_s": _round(p50), "p90_s": _round(p90),
                            "units_ordered": units_ordered, "units_shipped": units_shipped, "lines": lines,
                            "lines_full": full}
        return self._orders


# --- the tables ------------------------------------------------------------------------------------------------


def _rate_row(scope: str, zone: str | None, worker: str | None, lines: int, units: int, hours: float) -> dict:
    return {"scope": scope, "zone": zone, "worker": worker, "lines": lines, "units": units,
            "lines_per_hour": round(lines / hours, 3) if hours else None,
            "units_per_hour": round(units / hours, 3) if hours else None}


def pick_rate(session: Session, figures: _Figures) -> list[dict]:
    """The site's row, then one per zone (by code; no zone last) and one per worker (by username)."""
    period, groups = figures.period, figures.picks()
    zones, workers = _zone_codes(session, period.site_id), _usernames(session, (g[1] for g in groups))
    by_zone: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    by_worker: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for zone, user, lines, units in groups:
        for bucket in (by_zone[zone], by_worker[user]):
            bucket[0] += lines
            bucket[1] += units
    hours = period.hours
    rows = [_rate_row("site", None, None, sum(g[2] for g in groups), sum(g[3] for g in groups), hours)]
    for zone in sorted(by_zone, key=lambda z: (z is None, zones.get(z, ""))):
        rows.append(_rate_row("zone", zones.get(zone), None, *by_zone[zone], hours))
    for user in sorted(by_worker, key=lambda u: (u is None, workers.get(u, ""))):
        rows.append(_rate_row("worker", None, workers.get(user), *by_worker[user], hours))
    return rows


def cycle_time(figures: _Figures) -> list[dict]:
    o = figures.orders()
    return [{"orders": o["orders"], "with_release": o["with_release"], "p50_s": o["p50_s"], "p90_s": o["p90_s"]}]


def fill_rate(figures: _Figures) -> list[dict]:
    o = figures.orders()
    return [{"orders": o["orders"], "units_ordered": o["units_ordered"], "units_shipped": o["units_shipped"],
             "unit_fill_rate": _share(o["units_shipped"], o["units_ordered"]), "lines": o["lines"],
             "lines_fully_shipped": o["lines_full"], "line_fill_rate": _share(o["lines_full"], o["lines"])}]


def _exception_conditions(period: Period, kind: str) -> list:
    """An exception kind's rows in the period; with a zone, the query joins the exception's task."""
    conditions = [WarehouseException.site_id == period.site_id, WarehouseException.kind == kind,
                  _in_period(WarehouseException.created_at, period)]
    if period.zone_id is not None:
        conditions.append(Task.zone_id == period.zone_id)
    if period.user_id is not None:
        conditions.append(WarehouseException.raised_by == period.user_id)
    return conditions


def _wrong_scans(session: Session, period: Period) -> int:
    """Scans refused at the check (audited) and pick commands refused for a wrong scan (stored), on pick tasks."""
    audited = (select(func.count()).select_from(AuditEntry)
               .join(Task, Task.id == cast(AuditEntry.entity_id, Integer))
               .where(AuditEntry.site_id == period.site_id, _is(AuditEntry.action, SCAN_REFUSED),
                      AuditEntry.entity == "task", _in_period(AuditEntry.at, period), Task.kind == "pick"))
    commands = (select(func.count()).select_from(DeviceCommand).join(Task, Task.id == DeviceCommand.task_id)
                .where(~DeviceCommand.ok, _in_period(DeviceCommand.created_at, period),
                       DeviceCommand.type.in_(PICK_COMMANDS),
                       DeviceCommand.result["code"].as_string().in_(WRONG_SCAN_CODES),
                       Task.site_id == period.site_id))
    if period.zone_id is not None:
        audited = audited.where(Task.zone_id == period.zone_id)
        commands = commands.where(Task.zone_id == period.zone_id)
    if period.user_id is not None:
        audited = audited.where(AuditEntry.user_id == period.user_id)
        commands = commands.where(DeviceCommand.user_id == period.user_id)
    return int(session.execute(audited).scalar_one()) + int(session.execute(commands).scalar_one())


def pick_accuracy(session: Session, figures: _Figures) -> list[dict]:
    period = figures.period
    lines = sum(g[2] for g in figures.picks())
    expected = WarehouseException.details["expected"].as_integer()
    found = WarehouseException.details["found"].as_integer()
    short_picks, found_nothing, units_short = session.execute(
        select(func.count(), func.coalesce(func.sum(case((found == 0, 1), else_=0)), 0),
               func.coalesce(func.sum(expected - found), 0))
        .select_from(WarehouseException).outerjoin(Task, Task.id == WarehouseException.task_id)
        .where(*_exception_conditions(period, "short_pick"))).one()
    task_conflicts = session.execute(
        select(func.count()).select_from(WarehouseException).outerjoin(Task, Task.id == WarehouseException.task_id)
        .where(*_exception_conditions(period, "task_conflict"))).scalar_one()
    picks = lines + int(found_nothing)
    return [{"picks": picks, "short_picks": int(short_picks), "units_short": int(units_short),
             "wrong_scans_refused": _wrong_scans(session, period), "task_conflicts": int(task_conflicts),
             "accuracy": None if not picks else round(1 - int(short_picks) / picks, 6)}]


# --- receiving, backlog, counts, labels --------------------------------------------------------------------------


def dock_to_stock(session: Session, period: Period) -> list[dict]:
    first_receipt = (select(func.min(Receipt.created_at)).where(Receipt.container_id == Task.container_id)
                     .correlate(Task).scalar_subquery())
    query = (select(_seconds_between(session, Task.done_at, first_receipt).label("seconds"))
             .where(Task.site_id == period.site_id, Task.kind == "putaway", Task.state == "done",
                    _in_period(Task.done_at, period), Task.container_id.is_not(None)))
    if period.zone_id is not None:
        destination = aliased(Location)
        query = query.join(destination, destination.id == Task.to_location_id).where(
            destination.zone_id == period.zone_id)
    if period.user_id is not None:
        query = query.where(Task.assigned_to == period.user_id)
    # (OFFSET 0: PostgreSQL would otherwise copy the first-receipt subquery into each of the three aggregates.)
    putaways, p50, p90 = _p50_p90(session, query.offset(0).subquery())
    return [{"putaways": int(putaways), "p50_s": _round(p50), "p90_s": _round(p90)}]


def backlog(session: Session, site_id: int) -> list[dict]:
    """Open orders now, by the hour (UTC) of their cut-off; orders without a cut-off last."""
    if is_postgres(session):
        bucket = func.date_trunc(literal_column("'hour'"), func.timezone(literal_column("'UTC'"), Order.cut_off))
    else:
        bucket = func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), Order.cut_off)
    bucket = bucket.label("cut_off")
    rows = session.execute(
        select(bucket, func.count(func.distinct(Order.id)), func.count(OrderLine.id),
               func.coalesce(func.sum(OrderLine.quantity), 0))
        .select_from(Order).outerjoin(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.site_id == site_id, Order.status.in_(OPEN_ORDER_STATUSES)).group_by(bucket)).all()
    table = [{"cut_off": _iso(cut_off), "orders": int(orders), "lines": int(lines), "units": int(units)}
             for cut_off, orders, lines, units in rows]
    return sorted(table, key=lambda row: (row["cut_off"] is None, row["cut_off"] or ""))


# A count's adjustments are booked just after its done_at is set, in the same transaction.
_COUNT_POSTING_SLACK = timedelta(minutes=5)


def _final_counts(period: Period) -> list:
    """The count tasks done in the period that are final (not sent for a recount), as conditions on Task."""
    status = Task.details["status"].as_string()
    conditions = [Task.site_id == period.site_id, Task.kind == "count", Task.state == "done",
                  _in_period(Task.done_at, period), or_(status.is_(None), status != "recount")]
    if period.zone_id is not None:
        conditions.append(Task.zone_id == period.zone_id)
    if period.user_id is not None:
        conditions.append(Task.assigned_to == period.user_id)
    return conditions


def inventory_accuracy(session: Session, period: Period) -> list[dict]:
    counts = _final_counts(period)
    variances = func.coalesce(Task.details["variances"].as_integer(), 0)
    n, exact = session.execute(select(func.count(), func.coalesce(func.sum(case((variances == 0, 1), else_=0)), 0))
                               .where(*counts)).one()
    # Within tolerance: booked at once, as count_adjustment moves whose reference is the count task ("task:<id>";
    # an approval's are "exception:<id>", hence the CASE before the cast).
    task_of_move = case((Move.reference.like("task:%"), cast(func.substr(Move.reference, 6), Integer)))
    posted = session.execute(
        select(func.coalesce(func.sum(Move.quantity), 0)).select_from(Move).join(Task, Task.id == task_of_move)
        .where(Move.site_id == period.site_id, _is(Move.reason, "count_adjustment"), Move.created_at >= period.start,
               Move.created_at < period.end + _COUNT_POSTING_SLACK, *counts)).scalar_one()
    # Beyond tolerance: what the count found waits in its count_variance exception (approved or not).
    waiting = 0
    for details in session.execute(
            select(WarehouseException.details).join(Task, Task.id == WarehouseException.task_id)
            .where(WarehouseException.kind == "count_variance", *counts)).scalars():
        waiting += sum(abs(int(v["counted"]) - int(v["system"])) for v in (details or {}).get("variances", []))
    return [{"counts": int(n), "counts_without_variance": int(exact), "record_accuracy": _share(int(exact), int(n)),
             "units_variance": int(posted) + waiting}]


_LABEL_STATES = {"sent": "printed", "failed": "failed", "queued": "waiting", "sending": "waiting",
                 "cancelled": "cancelled"}


def labels(session: Session, period: Period) -> list[dict]:
    """Print jobs made in the period, by label type: the total ("all") first."""
    counts: dict[str, dict[str, int]] = {}
    total = {"jobs": 0, "printed": 0, "failed": 0, "waiting": 0, "cancelled": 0}
    for label_type, state, n in session.execute(
            select(PrintJob.label_type, PrintJob.state, func.count())
            .where(PrintJob.site_id == period.site_id, _in_period(PrintJob.created_at, period))
            .group_by(PrintJob.label_type, PrintJob.state)).all():
        row = counts.setdefault(label_type, {key: 0 for key in total})
        for bucket in (row, total):
            bucket["jobs"] += n
            bucket[_LABEL_STATES.get(state, "waiting")] += n
    return [{"label_type": "all", **total}] + [{"label_type": t, **counts[t]} for t in sorted(counts)]


# --- everything, one table, the wall ---------------------------------------------------------------------------


def kpi_table(session: Session, period: Period, name: str, *, _figures: _Figures | None = None) -> list[dict]:
    """One KPI table's rows (`name` in TABLES), from the rollups as far as the site is rolled up."""
    figures = _figures or _Figures(session, period, rolled_until(session, period.site_id))
    if name == "pick_rate":
        return pick_rate(session, figures)
    if name == "pick_accuracy":
        return pick_accuracy(session, figures)
    if name == "cycle_time":
        return cycle_time(figures)
    if name == "fill_rate":
        return fill_rate(figures)
    if name == "dock_to_stock":
        return dock_to_stock(session, period)
    if name == "backlog":
        return backlog(session, period.site_id)
    if name == "inventory_accuracy":
        return inventory_accuracy(session, period)
    if name == "labels":
        return labels(session, period)
    if name == "at_risk_predictions":
        # How often the at-risk prediction was right, for the orders whose cut-off is in the period.
        return [prediction_hit_rate(session, period.site_id, period.start, period.end)]
    raise KeyError(name)


def kpi_tables(session: Session, period: Period) -> dict[str, dict]:
    """Every KPI table: {name: {"columns": [...], "rows": [...], "filtered_by": [...]}}."""
    figures = _Figures(session, period, rolled_until(session, period.site_id))
    return {name: {"columns": list(columns), "rows": kpi_table(session, period, name, _figures=figures),
                   "filtered_by": list(FILTERED_BY[name])}
            for name, columns in TABLES.items()}


def _site_midnight(session: Session, site_id: int, now: datetime) -> datetime:
    """The start of `now`'s day where the site is (its timezone; UTC if unknown)."""
    name = session.execute(select(Site.timezone).where(Site.id == site_id)).scalar_one_or_none() or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = timezone.utc
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(), tzinfo=zone).astimezone(timezone.utc)


def wall_kpis(session: Session, site_id: int, now: datetime) -> dict:
    """The wall's figures: lines and units picked in the last hour, open orders, orders shipped today (site time)."""
    groups = session.execute(_ledger_picks(site_id, now - HOUR, now)).all()
    open_orders = session.execute(select(func.count()).select_from(Order).where(
        Order.site_id == site_id, Order.status.in_(OPEN_ORDER_STATUSES))).scalar_one()
    shipped_today = session.execute(
        select(func.count(func.distinct(Move.reference))).where(
            Move.site_id == site_id, _is(Move.reason, "ship"), Move.created_at >= _site_midnight(session, site_id, now),
            Move.created_at <= now)).scalar_one()
    return {"lines_per_hour": float(sum(g[2] for g in groups)), "units_per_hour": float(sum(g[3] for g in groups)),
            "open_orders": int(open_orders), "orders_shipped_today": int(shipped_today)}
