"""Outbound orders: idempotent bulk import, hold/release/cancel."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlmodel import Session, select

from backend import audit
from backend.bulk import insert_rows, update_rows
from backend.errors import Conflict, Invalid
from backend.masterdata import among, product_ids_by_sku
from backend.models import Order, OrderLine, Product, Quant, Reservation, Site, Task, utcnow
from backend.tasks.states import UNSTARTED_STATES

CANCELLABLE = ("new", "allocated", "partly_allocated", "backordered", "held", "in_wave", "picking")


@dataclass
class LineProblem:
    line_no: int | None
    field: str
    code: str
    message: str


@dataclass
class OrderOutcome:
    reference: str | None
    index: int
    id: int | None = None
    created: bool = False
    problems: list[LineProblem] = field(default_factory=list)


def _validate(order: dict, products: dict[str, int], case_units: dict[str, int | None], now: datetime) -> list[LineProblem]:
    """Business checks; a value the caller's schema could not read is None and its checks are skipped."""
    problems = []
    cut_off = order.get("cut_off")
    if cut_off is not None and cut_off <= now:
        problems.append(LineProblem(None, "cut_off", "cut_off_in_past", f"cut-off {cut_off.isoformat()} is in the past"))
    seen: set[int] = set()
    for position, line in enumerate(order.get("lines") or (), 1):
        no = line.get("line_no")
        label = f"line {no}" if no is not None else f"line at position {position}"
        if no is not None:
            if no in seen:
                problems.append(LineProblem(no, "line_no", "duplicate_line_no", f"line {no} appears twice"))
            seen.add(no)
        sku = line.get("sku")
        if sku is None:
            continue
        if sku not in products:
            problems.append(LineProblem(no, "sku", "unknown_sku", f"{label}: unknown SKU {sku!r}"))
        elif line.get("unit", "each") == "case" and not case_units.get(sku):
            problems.append(LineProblem(no, "unit", "no_case_quantity", f"{label}: {sku} has no case quantity"))
    return problems


def import_orders(session: Session, site: Site, orders: list[dict], *, partial: bool, user_id: int | None,
                  schema_problems: list[list[LineProblem]] | None = None) -> list[OrderOutcome]:
    """Import orders idempotently by reference; with partial=False a single bad order rejects the batch.

    Each order is checked in full, so a rejected one lists all its problems. `schema_problems[i]`: what
    parsing found wrong with orders[i], which then holds only what could be read of it (reference, cut_off,
    lines' line_no, sku, unit; any may be None): it still gets the business checks, and is never created.
    """
    now = datetime.now(timezone.utc)
    outcomes = [OrderOutcome(o.get("reference"), index) for index, o in enumerate(orders)]
    if schema_problems is not None:
        for outcome, found in zip(outcomes, schema_problems, strict=True):
            outcome.problems.extend(found)
    seen_refs: dict[str, int] = {}
    for index, order in enumerate(orders):
        reference = order.get("reference")
        if reference is None:
            continue
        if reference in seen_refs:
            outcomes[index].problems.append(LineProblem(None, "reference", "duplicate_in_request",
                                                        f"order {reference!r} appears twice in the request"))
        seen_refs.setdefault(reference, index)
    skus = sorted({line.get("sku") for o in orders for line in o.get("lines") or ()} - {None})
    products = product_ids_by_sku(session, site.company_id, skus)
    case_units: dict[str, int | None] = {}
    for condition in among(session, Product.sku, skus):
        for sku, units in session.exec(select(Product.sku, Product.units_per_case).where(
                Product.company_id == site.company_id, condition)).all():
            case_units[sku] = units
    existing: dict[str, int] = {}
    for condition in among(session, Order.reference, list(seen_refs)):
        for ref, oid in session.exec(
            select(Order.reference, Order.id).where(Order.site_id == site.id, condition)
        ).all():
            existing[ref] = oid
    for index, order in enumerate(orders):
        if order.get("reference") in existing:
            outcomes[index].id = existing[order["reference"]]
            continue
        outcomes[index].problems.extend(_validate(order, products, case_units, now))
    failed = [o for o in outcomes if o.problems]
    if failed and not partial:
        return outcomes
    to_create = [(i, o) for i, o in enumerate(orders) if outcomes[i].id is None and not outcomes[i].problems]
    if to_create:
        rows = [{
            "site_id": site.id, "reference": o["reference"], "customer": o.get("customer", ""),
            "priority": o.get("priority", 5), "carrier": o.get("carrier", ""), "service": o.get("service", ""),
            "cut_off": o.get("cut_off"), "ship_to": o.get("ship_to"), "status": "new",
            "backorder_policy": o.get("backorder_policy", "allow_partial"),
            "min_shelf_life_days": o.get("min_shelf_life_days", 0), "created_at": now, "updated_at": now,
        } for _, o in to_create]
        insert_rows(session, Order.__table__, rows)
        ids: dict[str, int] = {}
        for condition in among(session, Order.reference, [r["reference"] for r in rows]):
            ids.update(session.exec(select(Order.reference, Order.id).where(Order.site_id == site.id, condition)).all())
        line_rows = []
        for index, order in to_create:
            order_id = ids[order["reference"]]
            outcomes[index].id = order_id
            outcomes[index].created = True
            for line in order["lines"]:
                unit = line.get("unit", "each")
                units = line["quantity"] * (case_units[line["sku"]] if unit == "case" else 1)
                line_rows.append({"order_id": order_id, "line_no": line["line_no"], "product_id": products[line["sku"]],
                                  "quantity": units, "unit": unit, "unit_quantity": line["quantity"],
                                  "quantity_allocated": 0, "quantity_picked": 0})
        insert_rows(session, OrderLine.__table__, line_rows)
        audit.record(session, user_id=user_id, site_id=site.id, action="orders.import", entity="site",
                     entity_id=site.id, after={"created": len(to_create), "lines": len(line_rows)})
    return outcomes


def set_hold(session: Session, order: Order, hold: bool, user_id: int) -> Order:
    before = order.status
    if hold:
        if order.status not in ("new", "allocated", "partly_allocated", "backordered"):
            raise Conflict(f"order {order.reference} is {order.status} and cannot be held", code="invalid_transition")
        order.status = "held"
    else:
        if order.status != "held":
            raise Conflict(f"order {order.reference} is not held", code="invalid_transition")
        order.status = _allocation_status(session, order)
    order.updated_at = utcnow()
    session.add(order)
    audit.record(session, user_id=user_id, site_id=order.site_id, action="order.hold" if hold else "order.release",
                 entity="order", entity_id=order.id, before={"status": before}, after={"status": order.status})
    return order


def _allocation_status(session: Session, order: Order) -> str:
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    allocated = sum(line.quantity_allocated for line in lines)
    if allocated == 0:
        return "new"
    return "allocated" if all(line.quantity_allocated >= line.quantity for line in lines) else "partly_allocated"


def release_reservations(session: Session, reservations: list[Reservation]) -> None:
    """Give reserved stock back: quants' reserved and lines' allocated go down together, in bulk."""
    by_quant: dict[int, int] = defaultdict(int)
    by_line: dict[int, int] = defaultdict(int)
    for res in reservations:
        if res.quantity > 0:
            by_quant[res.quant_id] += res.quantity
            by_line[res.order_line_id] += res.quantity
    update_rows(session, Quant.__table__, "id", [{"id": q, "reserved": -n} for q, n in sorted(by_quant.items())],
                add=("reserved",))
    update_rows(session, OrderLine.__table__, "id",
                [{"id": line, "quantity_allocated": -n} for line, n in sorted(by_line.items())],
                add=("quantity_allocated",))
    update_rows(session, Reservation.__table__, "id",
                [{"id": res.id, "quantity": 0} for res in sorted(reservations, key=lambda r: r.id) if res.quantity > 0])
    for res in reservations:
        session.expire(res)


def cancel_order(session: Session, order: Order, user_id: int) -> dict:
    if order.status not in CANCELLABLE:
        raise Conflict(f"order {order.reference} is {order.status} and cannot be cancelled", code="invalid_transition")
    line_ids = list(session.exec(select(OrderLine.id).where(OrderLine.order_id == order.id)).all())
    tasks = session.exec(select(Task).where(Task.order_line_id.in_(line_ids or [-1]), Task.kind == "pick")).all()
    revoked = 0
    picked = 0
    for task in tasks:
        if task.state in UNSTARTED_STATES:
            task.state = "cancelled"
            task.updated_at = utcnow()
            task.version += 1
            session.add(task)
            revoked += 1
        elif task.state in ("in_progress", "done"):
            picked += 1
    reservations = session.exec(
        select(Reservation).where(Reservation.order_line_id.in_(line_ids or [-1]), Reservation.quantity > 0)
    ).all()
    released = sum(r.quantity for r in reservations)
    release_reservations(session, list(reservations))
    before = order.status
    order.status = "cancelled"
    order.updated_at = utcnow()
    session.add(order)
    audit.record(session, user_id=user_id, site_id=order.site_id, action="order.cancel", entity="order",
                 entity_id=order.id, before={"status": before},
                 after={"status": "cancelled", "released": released, "revoked_tasks": revoked})
    return {"released_units": released, "revoked_tasks": revoked, "tasks_already_started": picked}


def order_by_reference(session: Session, site_id: int, reference: str) -> Order | None:
    return session.exec(select(Order).where(Order.site_id == site_id, Order.reference == reference)).first()


def require_valid_policy(policy: str) -> None:
    if policy not in ("allow_partial", "ship_complete", "fill_or_kill"):
        raise Invalid(f"unknown backorder policy {policy!r}", code="invalid_backorder_policy")
