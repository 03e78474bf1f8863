"""Counting: blind counts by location, adjustments within tolerance, approval above it, ABC cycle counts.

A count reports what is physically in a location (per product and lot);
the worker never sees the system quantity. Each difference from the
system within the site's tolerance (percent or units, whichever is larger)
is posted at once as a `count_adjustment` move; if any is larger, the whole
count waits as a `count_variance` exception and the supervisor's approval
posts it. A site with `recount_variances` first has such a count done once
more: the count ends as "recount" and a new count of the location goes at
once to the same counter; only the recount can raise the exception. Stock
reserved for picks is never adjusted away silently.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import Session, select

from backend import audit
from backend.db import is_postgres
from backend.errors import Conflict, Invalid
from backend.execution.scan_checks import classify, verify_location
from backend.inventory.ledger import StockIdentity, post_move
from backend.masterdata import product_at_site
from backend.models import Location, Product, Quant, Site, Task, WarehouseException, utcnow
from backend.scanning.result import ScanKind
from backend.tasks.transitions import tell_assigned
from backend.webhooks import outbox, payloads
from backend.tasks.states import WORK_TO_COME_STATES, require_workable

DEFAULT_CYCLE_DAYS = {"A": 30, "B": 91, "C": 365}
# PostgreSQL advisory lock (this namespace, the site's id), held by a transaction creating the site's count tasks.
COUNT_LOCK_NAMESPACE = 727275


def _within_tolerance(site: Site, system: int, counted: int) -> bool:
    allowed = max(site.count_tolerance_units, math.floor(system * site.count_tolerance_pct / 100.0))
    return abs(counted - system) <= allowed


def _system_stock(session: Session, location_id: int) -> dict[tuple[int, str], list[Quant]]:
    stock: dict[tuple[int, str], list[Quant]] = defaultdict(list)
    for quant in session.exec(select(Quant).where(Quant.location_id == location_id, Quant.on_hand > 0)
                              .order_by(Quant.id)).all():
        stock[(quant.product_id, quant.lot)].append(quant)
    return stock


def _counted_product(session: Session, site: Site, line: dict, field: str) -> tuple[Product, str, date | None]:
    """The product, lot and expiry a count line names: by SKU, or by a scan (a GS1 label brings its lot and expiry)."""
    product = product_at_site(session, site.id, line["product"])
    lot, expiry = line.get("lot") or "", line.get("expiry")
    if product is None:
        scanned = classify(session, site.id, line["product"], field)
        if scanned.kind not in (ScanKind.PRODUCT, ScanKind.GS1) or scanned.product is None:
            raise Invalid("Count a product by its SKU, GTIN or GS1 label", code="not_a_product",
                          details={"field": field})
        product = session.get(Product, scanned.product.id)
        lot, expiry = lot or scanned.lot or "", expiry or scanned.expiry
    return product, lot, expiry


def _lot_of(product: Product, lot: str, system: dict[tuple[int, str], list[Quant]], loc: Location, field: str) -> str:
    """A lot-tracked product counted without its lot: the location's only lot of it, else the counter must say."""
    if lot or not product.lot_tracked:
        return lot
    lots = {key[1] for key in system if key[0] == product.id}
    if len(lots) == 1:
        return lots.pop()
    raise Invalid(f"{product.sku} is lot-tracked: scan its GS1 label (it carries the lot) or key the lot",
                  code="lot_required", details={"field": field, "sku": product.sku, "location": loc.code})


def count_location(session: Session, site: Site, task: Task, *, location: str, lines: list[dict], user_id: int) -> dict:
    """lines: [{"product": scan or SKU, "lot": str, "expiry": date, "quantity": int}] — all found in the location.

    The answer's `status`: "posted" (within tolerance, booked), "awaiting_approval" (a `count_variance`
    exception for a supervisor) or "recount" (count the location again: `recount_task_id`); `message` says
    it in the floor's words.
    """
    require_workable(task, "count")
    loc = session.get(Location, task.from_location_id)
    verify_location(loc, location)
    system = _system_stock(session, loc.id)
    counted: dict[tuple[int, str], int] = defaultdict(int)
    expiries: dict[tuple[int, str], date] = {}
    for index, line in enumerate(lines):
        field = f"lines.{index}"
        if line["quantity"] < 0:
            raise Invalid("A count cannot be negative", code="invalid_quantity", details={"field": field})
        product, lot, expiry = _counted_product(session, site, line, f"{field}.product")
        key = (product.id, _lot_of(product, lot, system, loc, f"{field}.product"))
        counted[key] += line["quantity"]
        if expiry is not None:
            expiries.setdefault(key, expiry)
    variances = []
    for key in sorted(set(system) | set(counted)):
        on_hand = sum(q.on_hand for q in system.get(key, []))
        if counted.get(key, 0) != on_hand:
            variances.append({"product_id": key[0], "lot": key[1], "system": on_hand, "counted": counted.get(key, 0),
                              "expiry": expiries.get(key)})
    needs_approval = [v for v in variances if not _within_tolerance(site, v["system"], v["counted"])]
    first_count = (task.details or {}).get("first_count")
    task.state = "done"
    task.done_at = task.updated_at = utcnow()
    task.version += 1
    result: dict = {"variances": len(variances)}
    skus = dict(session.exec(select(Product.id, Product.sku).where(
        Product.id.in_([v["product_id"] for v in variances] or [-1]))).all())
    as_counted = [{**v, "sku": skus[v["product_id"]], "expiry": v["expiry"].isoformat() if v["expiry"] else None}
                  for v in variances]
    if needs_approval and site.recount_variances and first_count is None:
        recount = _recount(session, task, loc, user_id, as_counted)
        result.update(status="recount", recount_task_id=recount.id,
                      message=f"Count {loc.code} again: your count is too far from the stock")
    elif needs_approval:
        exc = WarehouseException(
            site_id=site.id, kind="count_variance", task_id=task.id, raised_by=user_id,
            message=f"count of {loc.code} differs beyond tolerance for "
                    + ", ".join(skus[v["product_id"]] for v in needs_approval)[:400],
            details={"location_id": loc.id, "location": loc.code, "variances": as_counted,
                     **({"first_count": first_count} if first_count is not None else {})})
        payloads.exception_raised(session, exc)
        loc.last_counted_at = utcnow()
        result.update(status="awaiting_approval", exception_id=exc.id,
                      message=f"{loc.code} counted: the difference was sent to a supervisor for approval")
    else:
        post_adjustments(session, site, loc, variances, user_id, reference=f"task:{task.id}")
        loc.last_counted_at = utcnow()
        result.update(status="posted", message=f"{loc.code} counted: it matches the stock" if not variances else
                      f"{loc.code} counted: {len(variances)} small difference{'s' if len(variances) > 1 else ''} "
                      "within tolerance booked")
    session.add(loc)
    task.details = {**(task.details or {}), "counted_by": user_id, **result}
    session.add(task)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.count", entity="task", entity_id=task.id,
                 after=result)
    if result["status"] == "posted":
        _announce_count(session, site, loc, task.id, as_counted, counted, skus, reference=f"task:{task.id}")
    return result


def _announce_count(session: Session, site: Site, loc: Location, task_id: int, variances: list[dict],
                    counted: dict | None, skus: dict[int, str], *, reference: str,
                    exception_id: int | None = None) -> None:
    """`count.posted`: the count as booked, every product counted (and every difference)."""
    lines = {(v["product_id"], v["lot"]): {"sku": v["sku"], "lot": v["lot"], "system": v["system"],
                                          "counted": v["counted"]} for v in variances}
    if counted:
        missing = [pid for pid, _ in counted if pid not in skus]
        if missing:
            skus = {**skus, **dict(session.exec(select(Product.id, Product.sku).where(Product.id.in_(missing))).all())}
        for (pid, lot), n in counted.items():
            lines.setdefault((pid, lot), {"sku": skus[pid], "lot": lot, "system": n, "counted": n})
    outbox.record(session, site.id, "count.posted", {
        "task_id": task_id, "location": loc.code, "reference": reference, "exception_id": exception_id,
        "lines": [{**line, "difference": line["counted"] - line["system"]}
                  for _, line in sorted(lines.items(), key=lambda kv: (kv[1]["sku"], kv[1]["lot"]))]})


def _recount(session: Session, task: Task, loc: Location, user_id: int, first_count: list[dict]) -> Task:
    """The location's count again, given at once to the counter who is there (the first count kept with it)."""
    recount = Task(site_id=task.site_id, kind="count", state="assigned", assigned_to=user_id, priority=task.priority,
                   from_location_id=loc.id, zone_id=loc.zone_id, reference=task.reference,
                   details={"blind": True, "cause": "recount", "recount_of": task.id, "first_count": first_count})
    session.add(recount)
    session.flush()  # (the dispatcher must see that the counter holds it: no other task is pushed to them)
    audit.record(session, user_id=user_id, site_id=task.site_id, action="task.recount", entity="task",
                 entity_id=recount.id, after={"recount_of": task.id, "location": loc.code, "assigned_to": user_id})
    tell_assigned(session, recount, "recount")
    return recount


def post_adjustments(session: Session, site: Site, loc: Location, variances: list[dict], user_id: int,
                     *, reference: str) -> None:
    """Book the counted quantities: one count_adjustment move per difference (and one `inventory.adjusted`)."""
    system = _system_stock(session, loc.id)
    adjusted = []
    for v in variances:
        quants = system.get((v["product_id"], v["lot"]), [])
        on_hand = sum(q.on_hand for q in quants)
        delta = v["counted"] - on_hand
        if delta > 0:
            expiry = quants[0].expiry if quants else v.get("expiry")
            container = quants[0].container_id if quants else None
            post_move(session, site_id=site.id, product_id=v["product_id"], quantity=delta, reason="count_adjustment",
                      destination=StockIdentity(v["product_id"], loc.id, container, v["lot"], expiry),
                      reference=reference, user_id=user_id)
            adjusted.append((v["product_id"], v["lot"], expiry, delta))
        elif delta < 0:
            short = -delta
            for quant in quants:
                take = min(short, quant.on_hand - quant.reserved)
                if take > 0:
                    post_move(session, site_id=site.id, product_id=v["product_id"], quantity=take,
                              reason="count_adjustment", reference=reference, user_id=user_id,
                              source=StockIdentity(v["product_id"], loc.id, quant.container_id, quant.lot,
                                                   quant.expiry))
                    adjusted.append((v["product_id"], quant.lot, quant.expiry, -take))
                    short -= take
            if short:
                raise Conflict(f"{short} of the missing units are reserved for picks; cancel or short those picks "
                               "first", code="reserved_stock_missing", details={"product_id": v["product_id"]})
    if adjusted:
        skus = dict(session.exec(select(Product.id, Product.sku).where(
            Product.id.in_({a[0] for a in adjusted}))).all())
        outbox.record(session, site.id, "inventory.adjusted", {
            "reason": "count_adjustment", "reference": reference, "location": loc.code,
            "lines": [{"sku": skus[pid], "lot": lot, "expiry": payloads.iso(expiry), "location": loc.code,
                       "quantity": qty} for pid, lot, expiry, qty in adjusted]})


def approve_variance(session: Session, site: Site, exc: WarehouseException, user_id: int) -> None:
    loc = session.get(Location, exc.details["location_id"])
    variances = [{"product_id": v["product_id"], "lot": v["lot"], "counted": v["counted"],
                  "expiry": date.fromisoformat(v["expiry"]) if v.get("expiry") else None}
                 for v in exc.details["variances"]]
    post_adjustments(session, site, loc, variances, user_id, reference=f"exception:{exc.id}")
    _announce_count(session, site, loc, exc.task_id, exc.details["variances"], None, {},
                    reference=f"exception:{exc.id}", exception_id=exc.id)


def request_counts(session: Session, site: Site, location_ids: list[int], *, reason: str, priority: int = 100) -> list[Task]:
    """Count tasks for these locations of the site (one open count per location at most)."""
    if is_postgres(session):
        # Without it two transactions could both find no open count for a location and both make one.
        session.execute(text("SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), CAST(:site AS integer))"),
                        {"namespace": COUNT_LOCK_NAMESPACE, "site": site.id})
    open_counts = set(session.exec(select(Task.from_location_id).where(
        Task.site_id == site.id, Task.kind == "count", Task.state.in_(WORK_TO_COME_STATES))).all())
    created = []
    for loc in session.exec(select(Location).where(Location.site_id == site.id, Location.id.in_(location_ids))
                            .order_by(Location.code)).all():
        if loc.id in open_counts:
            continue
        task = Task(site_id=site.id, kind="count", state="pending", priority=priority, from_location_id=loc.id,
                    zone_id=loc.zone_id, reference=reason, details={"blind": True, "cause": reason})
        session.add(task)
        created.append(task)
    session.flush()
    return created


def due_for_cycle_count(session: Session, site: Site, today: date) -> list[int]:
    """Locations whose stock's ABC class makes a count due (A monthly, B quarterly, C yearly by default)."""
    days = {**DEFAULT_CYCLE_DAYS, **(site.cycle_count_days or {})}
    rank = {"A": 0, "B": 1, "C": 2}
    rows = session.exec(
        select(Location.id, Location.last_counted_at, func.min(Product.abc_class))
        .join(Quant, Quant.location_id == Location.id).join(Product, Product.id == Quant.product_id)
        .where(Location.site_id == site.id, Quant.on_hand > 0, Location.active)
        .group_by(Location.id, Location.last_counted_at)
    ).all()
    due = []
    now = datetime.combine(today, datetime.min.time())
    for loc_id, last, abc in rows:
        interval = timedelta(days=days[abc if abc in rank else "C"])
        if last is None or last.replace(tzinfo=None) + interval <= now:
            due.append(loc_id)
    return sorted(due)
