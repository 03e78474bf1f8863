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

Filters: a zone narrows pick_rate (the location picked from), pick_accuracy, dock_to_stock (the destination) and
inventory_accuracy (the location counted) to that zone; a worker narrows them to that worker's work. Order-level
tables (cycle_time, fill_rate, backlog) and labels are site-wide; each table says which filters it took.

Speed (`wes bench kpis`, docs/performance.md): each table is one or two set-based statements — GROUP BY in the
database, percentiles by ``percentile_cont`` on PostgreSQL (on SQLite the durations are read in order and
interpolated the same way here) — over indexes that start with (site, kind of row, time) so that a period reads
only its own rows: migration 0010 (``ix_move_site_reason_created`` covers the ledger's columns the KPIs read, so
PostgreSQL answers pick and ship figures from the index alone).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Float, Integer, String, and_, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from backend.db import is_postgres
from backend.models import (
    ORDER_STATUSES,
    AuditEntry,
    DeviceCommand,
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
}
FILTERED_BY: dict[str, tuple[str, ...]] = {
    "pick_rate": ("zone", "worker"), "pick_accuracy": ("zone", "worker"), "dock_to_stock": ("zone", "worker"),
    "inventory_accuracy": ("zone", "worker"), "cycle_time": (), "fill_rate": (), "backlog": (), "labels": (),
}


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


def _p50_p90(session: Session, seconds) -> tuple[int, float | None, float | None]:  # noqa: ANN001
    """(how many, p50, p90) of a one-column subquery of durations in seconds (NULLs left out)."""
    column = seconds.c.seconds
    if is_postgres(session):
        n, p50, p90 = session.execute(select(
            func.count(column), func.percentile_cont(0.5).within_group(column),
            func.percentile_cont(0.9).within_group(column)).select_from(seconds)).one()
        return n, p50, p90
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


def _zone_codes(session: Session, site_id: int) -> dict[int, str]:
    return dict(session.execute(select(Zone.id, Zone.code).where(Zone.site_id == site_id)).all())


def _usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


# --- picking ------------------------------------------------------------------------------------------------


def _pick_groups(session: Session, period: Period) -> list[tuple[int | None, int | None, int, int]]:
    """(zone id, worker id, lines, units) of the pick moves in the period, by zone and worker."""
    source = aliased(Location)
    query = (select(source.zone_id, Move.user_id, func.count(), func.coalesce(func.sum(Move.quantity), 0))
             .select_from(Move).outerjoin(source, source.id == Move.from_location_id)
             .where(Move.site_id == period.site_id, _is(Move.reason, "pick"), _in_period(Move.created_at, period))
             .group_by(source.zone_id, Move.user_id))
    if period.zone_id is not None:
        query = query.where(source.zone_id == period.zone_id)
    if period.user_id is not None:
        query = query.where(Move.user_id == period.user_id)
    return [(zone, user, int(lines), int(units)) for zone, user, lines, units in session.execute(query).all()]


def _rate_row(scope: str, zone: str | None, worker: str | None, lines: int, units: int, hours: float) -> dict:
    return {"scope": scope, "zone": zone, "worker": worker, "lines": lines, "units": units,
            "lines_per_hour": round(lines / hours, 3) if hours else None,
            "units_per_hour": round(units / hours, 3) if hours else None}


def pick_rate(session: Session, period: Period, groups: list | None = None) -> list[dict]:
    """The site's row, then one per zone (by code; no zone last) and one per worker (by username)."""
    groups = _pick_groups(session, period) if groups is None else groups
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


def pick_accuracy(session: Session, period: Period, groups: list | None = None) -> list[dict]:
    groups = _pick_groups(session, period) if groups is None else groups
    lines = sum(g[2] for g in groups)
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


# --- orders: cycle time and fill rate --------------------------------------------------------------------------


def _shipped(session: Session, period: Period):  # noqa: ANN202
    """CTEs of the orders shipped in the period: per order and product what shipped (`by_product`), and per
    order when it shipped, what shipped and its wave (`orders`)."""
    ship = (select(Move.reference.label("reference"), Move.product_id.label("product_id"),
                   func.sum(Move.quantity).label("units"), func.max(Move.created_at).label("shipped_at"))
            .where(Move.site_id == period.site_id, _is(Move.reason, "ship"), _in_period(Move.created_at, period))
            .group_by(Move.reference, Move.product_id).cte("ship"))
    by_product = (select(Order.id.label("order_id"), Order.wave_id.label("wave_id"), ship.c.product_id,
                         ship.c.units, ship.c.shipped_at)
                  .select_from(ship)
                  .join(Order, and_(Order.site_id == period.site_id,
                                    Order.reference == func.substr(ship.c.reference, len(_ORDER_REF_PREFIX) + 1)))
                  .cte("shipped_product"))
    orders = (select(by_product.c.order_id, by_product.c.wave_id, func.max(by_product.c.shipped_at).label("shipped_at"),
                     func.sum(by_product.c.units).label("units"))
              .group_by(by_product.c.order_id, by_product.c.wave_id).cte("shipped_order"))
    return by_product, orders


def cycle_time(session: Session, period: Period) -> list[dict]:
    _, orders = _shipped(session, period)
    seconds = (select(_seconds_between(session, orders.c.shipped_at, Wave.released_at).label("seconds"))
               .select_from(orders).outerjoin(Wave, Wave.id == orders.c.wave_id).subquery())
    shipped = session.execute(select(func.count()).select_from(orders)).scalar_one()
    with_release, p50, p90 = _p50_p90(session, seconds)
    return [{"orders": int(shipped), "with_release": int(with_release), "p50_s": _round(p50), "p90_s": _round(p90)}]


def fill_rate(session: Session, period: Period) -> list[dict]:
    by_product, orders = _shipped(session, period)
    lines = (select(OrderLine.order_id, OrderLine.product_id, OrderLine.quantity,
                    func.sum(OrderLine.quantity).over(partition_by=(OrderLine.order_id, OrderLine.product_id),
                                                      order_by=OrderLine.line_no).label("up_to"))
             .join(orders, orders.c.order_id == OrderLine.order_id).subquery())
    shipped_units = func.coalesce(by_product.c.units, 0)
    n_lines, units_ordered, fully = session.execute(
        select(func.count(), func.coalesce(func.sum(lines.c.quantity), 0),
               func.coalesce(func.sum(case((shipped_units >= lines.c.up_to, 1), else_=0)), 0))
        .select_from(lines).outerjoin(by_product, and_(by_product.c.order_id == lines.c.order_id,
                                                       by_product.c.product_id == lines.c.product_id))).one()
    n_orders, units_shipped = session.execute(
        select(func.count(), func.coalesce(func.sum(orders.c.units), 0)).select_from(orders)).one()
    return [{"orders": int(n_orders), "units_ordered": int(units_ordered), "units_shipped": int(units_shipped),
             "unit_fill_rate": _share(int(units_shipped), int(units_ordered)), "lines": int(n_lines),
             "lines_fully_shipped": int(fully), "line_fill_rate": _share(int(fully), int(n_lines))}]


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
    putaways, p50, p90 = _p50_p90(session, query.subquery())
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


def inventory_accuracy(session: Session, period: Period) -> list[dict]:
    status = Task.details["status"].as_string()
    counts = (select(Task.id.label("task_id"), Task.details["variances"].as_integer().label("variances"))
              .where(Task.site_id == period.site_id, Task.kind == "count", Task.state == "done",
                     _in_period(Task.done_at, period), or_(status.is_(None), status != "recount")))
    if period.zone_id is not None:
        counts = counts.where(Task.zone_id == period.zone_id)
    if period.user_id is not None:
        counts = counts.where(Task.assigned_to == period.user_id)
    counts = counts.cte("final_count")
    n, exact = session.execute(select(func.count(), func.coalesce(func.sum(
        case((func.coalesce(counts.c.variances, 0) == 0, 1), else_=0)), 0)).select_from(counts)).one()
    # Within tolerance: booked at once, as count_adjustment moves referencing the count task.
    posted = session.execute(
        select(func.coalesce(func.sum(Move.quantity), 0)).select_from(Move)
        .join(counts, Move.reference == literal("task:").concat(cast(counts.c.task_id, String)))
        .where(Move.site_id == period.site_id, _is(Move.reason, "count_adjustment"), Move.created_at >= period.start,
               Move.created_at < period.end + _COUNT_POSTING_SLACK)).scalar_one()
    # Beyond tolerance: what the count found waits in its count_variance exception (approved or not).
    waiting = 0
    for details in session.execute(
            select(WarehouseException.details).join(counts, counts.c.task_id == WarehouseException.task_id)
            .where(WarehouseException.kind == "count_variance")).scalars():
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


def kpi_table(session: Session, period: Period, name: str, *, _groups: list | None = None) -> list[dict]:
    """One KPI table's rows (`name` in TABLES)."""
    if name == "pick_rate":
        return pick_rate(session, period, _groups)
    if name == "pick_accuracy":
        return pick_accuracy(session, period, _groups)
    if name == "cycle_time":
        return cycle_time(session, period)
    if name == "fill_rate":
        return fill_rate(session, period)
    if name == "dock_to_stock":
        return dock_to_stock(session, period)
    if name == "backlog":
        return backlog(session, period.site_id)
    if name == "inventory_accuracy":
        return inventory_accuracy(session, period)
    if name == "labels":
        return labels(session, period)
    raise KeyError(name)


def kpi_tables(session: Session, period: Period) -> dict[str, dict]:
    """Every KPI table: {name: {"columns": [...], "rows": [...], "filtered_by": [...]}}."""
    groups = _pick_groups(session, period)  # (pick_rate and pick_accuracy share the ledger's pick lines)
    return {name: {"columns": list(columns), "rows": kpi_table(session, period, name, _groups=groups),
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
    groups = _pick_groups(session, Period(site_id, now - timedelta(hours=1), now))
    open_orders = session.execute(select(func.count()).select_from(Order).where(
        Order.site_id == site_id, Order.status.in_(OPEN_ORDER_STATUSES))).scalar_one()
    shipped_today = session.execute(
        select(func.count(func.distinct(Move.reference))).where(
            Move.site_id == site_id, _is(Move.reason, "ship"), Move.created_at >= _site_midnight(session, site_id, now),
            Move.created_at <= now)).scalar_one()
    return {"lines_per_hour": float(sum(g[2] for g in groups)), "units_per_hour": float(sum(g[3] for g in groups)),
            "open_orders": int(open_orders), "orders_shipped_today": int(shipped_today)}
