"""Allocation in the database: load quants, run the pure core, write reservations.

One call is one transaction's worth of work (the caller commits). On
PostgreSQL the candidate quants are locked (`FOR UPDATE`, in id order) before
their availability is read, so two allocations running at the same moment
serialise on the stock they share and can never reserve more than is on
hand; the conditional UPDATE on `reserved` and the CHECK constraint stand
behind that.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from backend import audit
from backend.webhooks import outbox
from backend.bulk import insert_rows, update_rows
from backend.allocation import core
from backend.errors import Conflict
from backend.location_kinds import STORAGE_KINDS
from backend.masterdata import among
from backend.models import Location, Order, OrderLine, Product, Quant, Reservation, utcnow

ALLOCATABLE = ("new", "partly_allocated", "backordered")


@dataclass
class AllocationRun:
    orders: int = 0
    lines: int = 0
    allocated_units: int = 0
    backordered_units: int = 0
    # One dict per reservation (written or, in a dry run, proposed).
    reservations: list[dict] = field(default_factory=list)
    order_status: dict[int, str] = field(default_factory=dict)


def _db_priority_to_core(priority: int) -> int:
    # Orders store 1 as most urgent; the core serves a higher number first.
    return 10 - priority


def allocate_orders(
    session: Session,
    site_id: int,
    order_ids: list[int] | None = None,
    *,
    today: date,
    wave_id: int | None = None,
    dry_run: bool = False,
    user_id: int | None = None,
) -> AllocationRun:
    """Allocate the open lines of the site's allocatable orders (all, or those of `order_ids`).

    A dry run proposes the reservations without locking, writing or announcing anything.
    """
    orders = _load_orders(session, site_id, order_ids)
    run = AllocationRun()
    if not orders:
        return run
    by_order = _load_open_lines(session, site_id, order_ids, orders)
    line_by_number = {(line.order_id, line.line_no): line for lines in by_order.values() for line in lines}
    product_ids = sorted({line.product_id for line in line_by_number.values()})
    products = _load_products(session, product_ids)
    candidates = _candidates(_lock_and_load_candidates(session, site_id, product_ids, dry_run))
    faces = _pick_faces(session, site_id, product_ids)
    core_orders = _core_orders(orders, by_order)
    result = core.allocate(
        core_orders,
        candidates,
        [core.ProductInfo(p.id, p.expiry_tracked, p.units_per_case) for p in products],
        today=today,
        pending_pick_faces=faces,
    )
    run.reservations = _reservations(result, line_by_number, site_id, wave_id)
    run.orders = len(core_orders)
    run.lines = len(result.lines)
    run.allocated_units = sum(r.allocated_qty for r in result.lines.values())
    run.backordered_units = sum(r.backordered_qty for r in result.lines.values())
    allocated_by_line: dict[int, int] = defaultdict(int)
    for res in run.reservations:
        allocated_by_line[res["order_line_id"]] += res["quantity"]
    run.order_status = _order_statuses(orders, by_order, allocated_by_line)
    if dry_run:
        return run
    _write(session, run, result.reserved_by_quant, allocated_by_line, orders, user_id, site_id)
    _announce(session, site_id, run, orders, by_order, allocated_by_line, products)
    return run


def _load_orders(session: Session, site_id: int, order_ids: list[int] | None) -> list:
    # Plain column rows, not ORM objects: a wave touches tens of thousands of them.
    query = select(Order.id, Order.cut_off, Order.priority, Order.min_shelf_life_days, Order.backorder_policy,
                   Order.reference, Order.customer, Order.carrier, Order.service).where(
        Order.site_id == site_id, Order.status.in_(ALLOCATABLE))
    orders: list = []
    if order_ids is None:
        orders = list(session.exec(query.order_by(Order.id)).all())
    else:
        for condition in among(session, Order.id, order_ids):
            orders.extend(session.exec(query.where(condition)).all())
    return orders


def _load_open_lines(session: Session, site_id: int, order_ids: list[int] | None,
                     orders: list) -> dict[int, list]:
    """The lines not yet fully allocated, by order id."""
    by_order: dict[int, list] = defaultdict(list)
    line_query = select(OrderLine.id, OrderLine.order_id, OrderLine.line_no, OrderLine.product_id, OrderLine.quantity,
                        OrderLine.quantity_allocated, OrderLine.unit)
    if order_ids is None:
        lines = session.exec(line_query.join(Order, Order.id == OrderLine.order_id).where(
            Order.site_id == site_id, Order.status.in_(ALLOCATABLE))).all()
    else:
        lines = []
        for condition in among(session, OrderLine.order_id, [o.id for o in orders]):
            lines.extend(session.exec(line_query.where(condition)).all())
    for line in lines:
        if line.quantity > line.quantity_allocated:
            by_order[line.order_id].append(line)
    return by_order


def _load_products(session: Session, product_ids: list[int]) -> list:
    products = []
    for condition in among(session, Product.id, product_ids):
        products.extend(session.exec(
            select(Product.id, Product.expiry_tracked, Product.units_per_case, Product.sku).where(condition)).all())
    return products


def _candidates(quants: list) -> list[core.StockCandidate]:
    return [
        core.StockCandidate(
            quant_id=q.id, product_id=q.product_id, location_id=q.location_id,
            location_kind=core.LocationKind(q.kind), available=q.on_hand - q.reserved,
            received_at=q.received_at, lot=q.lot, expiry=q.expiry, container_id=q.container_id, walk_key=q.location_id,
        )
        for q in quants
    ]


def _pick_faces(session: Session, site_id: int, product_ids: list[int]) -> dict[int, int]:
    """Each product's pick face (the lowest id among its active fixed faces)."""
    faces: dict[int, int] = {}
    for condition in among(session, Location.fixed_product_id, product_ids):
        for pid, loc_id in session.exec(
            select(Location.fixed_product_id, Location.id).where(
                Location.site_id == site_id, Location.kind == "pick_face", Location.active, condition
            ).order_by(Location.id)
        ).all():
            faces.setdefault(pid, loc_id)
    return faces


def _core_orders(orders: list, by_order: dict[int, list]) -> list[core.Order]:
    """The orders with open lines, as the core takes them (a case line is whole cases only while untouched)."""
    core_orders = []
    for order in orders:
        lines = by_order.get(order.id)
        if not lines:
            continue
        core_orders.append(core.Order(
            order_id=order.id,
            lines=tuple(
                core.OrderLine(
                    line.line_no, line.product_id, line.quantity - line.quantity_allocated,
                    core.OrderUnit.CASE if line.unit == "case" and line.quantity_allocated == 0 else core.OrderUnit.EACH,
                )
                for line in lines
            ),
            cut_off=order.cut_off,
            priority=_db_priority_to_core(order.priority),
            min_shelf_life_days=order.min_shelf_life_days,
            backorder_policy=core.BackorderPolicy(order.backorder_policy),
        ))
    return core_orders


def _reservations(result: core.AllocationResult, line_by_number: dict[tuple[int, int], Any], site_id: int,
                  wave_id: int | None) -> list[dict]:
    now = utcnow()
    reservations = []
    for alloc in result.allocations:
        line = line_by_number[(alloc.order_id, alloc.line_no)]
        reservations.append({
            "site_id": site_id, "quant_id": alloc.quant_id, "order_line_id": line.id, "quantity": alloc.qty,
            "stage": alloc.stage.value, "pick_location_id": alloc.pick_location_id, "wave_id": wave_id,
            "created_at": now,
        })
    return reservations


def _order_statuses(orders: list, by_order: dict[int, list], allocated_by_line: dict[int, int]) -> dict[int, str]:
    """Each order with open lines: allocated, partly_allocated or backordered once this run's reservations hold."""
    statuses = {}
    for order in orders:
        lines = by_order.get(order.id, [])
        if not lines:
            continue
        done = all(line.quantity_allocated + allocated_by_line[line.id] >= line.quantity for line in lines)
        any_allocated = any(line.quantity_allocated + allocated_by_line[line.id] > 0 for line in lines)
        statuses[order.id] = "allocated" if done else "partly_allocated" if any_allocated else "backordered"
    return statuses


def _lock_and_load_candidates(session: Session, site_id: int, product_ids: list[int], dry_run: bool) -> list:
    rows = []
    for condition in among(session, Quant.product_id, product_ids):
        query = (
            select(Quant.id, Quant.product_id, Quant.location_id, Quant.on_hand, Quant.reserved, Quant.received_at,
                   Quant.lot, Quant.expiry, Quant.container_id, Location.kind)
            .join(Location, Location.id == Quant.location_id)
            .where(Quant.site_id == site_id, condition, Quant.on_hand > Quant.reserved,
                   Location.kind.in_(STORAGE_KINDS), Location.active)
            .order_by(Quant.id)
        )
        if not dry_run:
            query = query.with_for_update(of=Quant)
        rows.extend(session.exec(query).all())
    return rows


def _write(session: Session, run: AllocationRun, reserved_by_quant, allocated_by_line, orders, user_id, site_id) -> None:  # noqa: ANN001
    insert_rows(session, Reservation.__table__, run.reservations)
    if reserved_by_quant:
        rows = [{"id": qid, "reserved": qty} for qid, qty in sorted(reserved_by_quant.items())]
        changed = update_rows(session, Quant.__table__, "id", rows, add=("reserved",),
                              guard="t.reserved + v.reserved <= t.on_hand")
        if changed != len(rows):
            raise Conflict("stock changed while allocating; try again", code="allocation_conflict")
    update_rows(session, OrderLine.__table__, "id",
                [{"id": lid, "quantity_allocated": q} for lid, q in sorted(allocated_by_line.items())],
                add=("quantity_allocated",))
    now = utcnow()
    update_rows(session, Order.__table__, "id",
                [{"id": oid, "status": st, "updated_at": now} for oid, st in sorted(run.order_status.items())])
    audit.record(session, user_id=user_id, site_id=site_id, action="orders.allocate", entity="site",
                 entity_id=site_id, after={"orders": run.orders, "allocated_units": run.allocated_units,
                                           "backordered_units": run.backordered_units})


def _announce(session: Session, site_id: int, run: AllocationRun, orders: list, by_order: dict[int, list],
              allocated_by_line: dict[int, int], products: list) -> None:
    """An order.allocated event (for the ERP's webhooks) per order this run touched, with its lines."""
    skus = {p.id: p.sku for p in products}
    outbox.record_many(session, [(site_id, "order.allocated", {
        "order": {"id": order.id, "reference": order.reference, "customer": order.customer, "carrier": order.carrier,
                  "service": order.service, "status": run.order_status[order.id]},
        "lines": [{"line_no": line.line_no, "sku": skus[line.product_id], "quantity": line.quantity,
                   "allocated": line.quantity_allocated + allocated_by_line[line.id],
                   "backordered": line.quantity - line.quantity_allocated - allocated_by_line[line.id]}
                  for line in by_order[order.id]],
    }) for order in orders if order.id in run.order_status])
