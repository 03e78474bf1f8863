"""Anomalies a supervisor should look at: a location that keeps shorting, a SKU whose counts keep differing.

Each suggestion is `{"kind", "subject", "reason", "action"}`, the action in the same shape as an order at risk's
(`{kind, label, method, path, body}`: one tap where one call does it):

* **count_location** — a location with unusually many short picks in the last `anomaly_short_pick_days` days
  (1: today, from midnight at the site): "count A03-017-4: 3 shorts today". Unusual means at least
  `anomaly_min_events` shorts and at least `anomaly_factor` times what the site's normal short rate predicts for
  the picks done there: normal = the site's short picks ÷ its done picks over the `anomaly_baseline_days` before
  the window (no history: 0, so any location reaching the minimum is unusual). The action asks for a count of
  the location (`POST /api/v1/counts`); where a count of it is waiting already there is no call, the label says
  so.
* **check_sku** — a SKU whose counts found a difference unusually often in the last `anomaly_count_variance_days`
  days (7: this week): "check SKU-00042: 2 count variances this week". A count variance is one count that found a
  SKU's quantity different from the system's: posted within tolerance (a `count_adjustment` move of that count)
  or sent for approval (a `count_variance` exception), once per count and SKU. Blind counts do not record the
  SKUs they found as expected, so the normal rate is per SKU and day: the site's variances over the baseline days
  ÷ the SKUs it holds ÷ the days, times the window's days. The action counts every location holding the SKU.

Short picks are not a counter that can drift: they are read from the exceptions, picks from the tasks, variances
from the exceptions and the stock ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, func, select

from backend.config import Settings
from backend.models import Location, Move, Product, Quant, Site, Task, WarehouseException
from backend.tasks.states import WORK_TO_COME_STATES


def _period_words(days: int) -> str:
    return {1: "today", 7: "this week"}.get(days, f"in the last {days} days")


def window_start(site: Site, now: datetime, days: int) -> datetime:
    """Midnight at the site `days - 1` days before today there (1: the start of today), in UTC."""
    try:
        zone = ZoneInfo(site.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    first_day = now.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first_day, time.min, tzinfo=zone).astimezone(timezone.utc)


def _unusual(events: int, expected: float, s: Settings) -> bool:
    return events >= s.anomaly_min_events and events >= s.anomaly_factor * expected


def _count_action(site: Site, codes: list[str], label: str) -> dict[str, Any]:
    return {"kind": "count_location", "label": label, "method": "POST", "path": "/api/v1/counts",
            "body": {"site": site.code, "locations": codes}}


def _no_call(kind: str, label: str) -> dict[str, Any]:
    return {"kind": kind, "label": label, "method": None, "path": None, "body": None}


def _short_picks(session: Session, site: Site, now: datetime, s: Settings) -> list[dict[str, Any]]:
    start = window_start(site, now, s.anomaly_short_pick_days)
    base_start = start - timedelta(days=s.anomaly_baseline_days)
    shorts = session.exec(
        select(Location.id, Location.code, func.count()).select_from(WarehouseException)
        .join(Task, Task.id == WarehouseException.task_id).join(Location, Location.id == Task.from_location_id)
        .where(WarehouseException.site_id == site.id, WarehouseException.kind == "short_pick",
               WarehouseException.created_at >= start, WarehouseException.created_at <= now)
        .group_by(Location.id, Location.code)
    ).all()
    candidates = [(loc_id, code, n) for loc_id, code, n in shorts if n >= s.anomaly_min_events]
    if not candidates:
        return []
    base_shorts = session.exec(select(func.count()).select_from(WarehouseException).where(
        WarehouseException.site_id == site.id, WarehouseException.kind == "short_pick",
        WarehouseException.created_at >= base_start, WarehouseException.created_at < start)).one()
    base_picks = session.exec(select(func.count()).select_from(Task).where(
        Task.site_id == site.id, Task.kind == "pick", Task.state == "done", Task.done_at >= base_start,
        Task.done_at < start)).one()
    normal = base_shorts / base_picks if base_picks else 0.0
    ids = [loc_id for loc_id, _, _ in candidates]
    picks = dict(session.exec(select(Task.from_location_id, func.count()).where(
        Task.site_id == site.id, Task.kind == "pick", Task.state == "done", Task.done_at >= start, Task.done_at <= now,
        Task.from_location_id.in_(ids)).group_by(Task.from_location_id)).all())
    waiting = dict(session.exec(select(Task.from_location_id, func.min(Task.id)).where(
        Task.site_id == site.id, Task.kind == "count", Task.state.in_(WORK_TO_COME_STATES),
        Task.from_location_id.in_(ids)).group_by(Task.from_location_id)).all())
    when = _period_words(s.anomaly_short_pick_days)
    found = []
    for loc_id, code, n in candidates:
        done = max(picks.get(loc_id, 0), n)  # (a short pick is a done pick)
        if not _unusual(n, normal * done, s):
            continue
        usual = f"the site's usual rate is {normal:.1%}" if base_picks else "no short picks before to compare with"
        detail = f"{n} of its {done} picks {when} were short; {usual}"
        action = (_no_call("count_location", f"A count of {code} is waiting already (task {waiting[loc_id]}): "
                                             f"{detail}") if loc_id in waiting
                  else _count_action(site, [code], f"Count {code}: {detail}"))
        found.append({"kind": "count_location", "subject": code, "reason": f"count {code}: {n} shorts {when}",
                      "action": action, "events": n})
    return found


def _variances(session: Session, site_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """SKU → counts that found it different from the system in [start, end)."""
    found: set[tuple[str, str]] = set()  # (which count, SKU)
    for task_id, details in session.exec(select(WarehouseException.task_id, WarehouseException.details).where(
            WarehouseException.site_id == site_id, WarehouseException.kind == "count_variance",
            WarehouseException.created_at >= start, WarehouseException.created_at < end)).all():
        for variance in (details or {}).get("variances", []):
            if variance.get("sku"):
                found.add((f"task:{task_id}", variance["sku"]))
    for reference, sku in session.exec(
            select(Move.reference, Product.sku).join(Product, Product.id == Move.product_id).where(
                Move.site_id == site_id, Move.reason == "count_adjustment", Move.reference.startswith("task:"),
                Move.created_at >= start, Move.created_at < end).distinct()).all():
        found.add((reference, sku))
    per_sku: dict[str, int] = defaultdict(int)
    for _, sku in found:
        per_sku[sku] += 1
    return per_sku


def _count_variances(session: Session, site: Site, now: datetime, s: Settings) -> list[dict[str, Any]]:
    start = window_start(site, now, s.anomaly_count_variance_days)
    end = now + timedelta(microseconds=1)
    per_sku = _variances(session, site.id, start, end)
    candidates = {sku: n for sku, n in per_sku.items() if n >= s.anomaly_min_events}
    if not candidates:
        return []
    base_start = start - timedelta(days=s.anomaly_baseline_days)
    baseline = sum(_variances(session, site.id, base_start, start).values())
    skus_held = session.exec(select(func.count(func.distinct(Quant.product_id))).where(
        Quant.site_id == site.id, Quant.on_hand > 0)).one()
    window_days = (end - start).total_seconds() / 86400.0
    expected = baseline / max(skus_held, 1) / s.anomaly_baseline_days * window_days
    when = _period_words(s.anomaly_count_variance_days)
    found = []
    for sku, n in sorted(candidates.items()):
        if not _unusual(n, expected, s):
            continue
        codes = list(session.exec(
            select(Location.code).join(Quant, Quant.location_id == Location.id)
            .join(Product, Product.id == Quant.product_id)
            .where(Quant.site_id == site.id, Product.sku == sku, Quant.on_hand > 0).distinct().order_by(Location.code)
        ).all())
        if codes:
            places = f"the {len(codes)} locations" if len(codes) > 1 else "the location"
            action = _count_action(site, codes, f"Count {places} holding {sku} ({', '.join(codes[:5])}"
                                                f"{', …' if len(codes) > 5 else ''})")
        else:
            action = _no_call("none", f"No location holds {sku} now: check its receipts and moves")
        found.append({"kind": "check_sku", "subject": sku, "reason": f"check {sku}: {n} count variances {when}",
                      "action": action, "events": n})
    return found


def suggestions(session: Session, site_id: int, now: datetime, settings: Settings | None = None) -> list[dict]:
    """The site's anomalies worth a look, most events first.

    Pass the app's settings (`runtime.settings`) to honour WES_ANOMALY_*; without them, the defaults apply.
    """
    s = settings or Settings.model_construct()  # (the defaults, not the environment)
    site = session.get(Site, site_id)
    found = _short_picks(session, site, now, s) + _count_variances(session, site, now, s)
    found.sort(key=lambda f: (-f["events"], f["kind"], f["subject"]))
    return [{k: v for k, v in f.items() if k != "events"} for f in found]
