"""Picking: confirm a pick into its tote, or report a short pick.

A pick moves stock in the ledger from its quant at the pick location into
the tote (the tote's stock keeps the location where it was picked until it
is packed) and consumes that much of the reservation. A short pick takes what
was found, gives the rest of the reservation back, raises a `short_pick`
exception, orders a count of the location, and reallocates the missing units
from other locations into the same tour and tote — or backorders them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import and_, func, update
from sqlmodel import Session, select

from backend import audit
from backend.allocation import core
from backend.errors import Conflict, Invalid
from backend.execution.common import container_by_scan, verify_location, verify_product
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import (
    OPEN_TASK_STATES,
    Location,
    Order,
    OrderLine,
    Product,
    Quant,
    Reservation,
    Site,
    Task,
    Tour,
    TourTote,
    WarehouseException,
    utcnow,
)
from backend.tasks.states import require_workable


def _check_pickable(session: Session, task: Task) -> None:
    require_workable(task, "pick")
    if task.depends_on_task_id:
        dependency = session.get(Task, task.depends_on_task_id)
        if dependency is not None and dependency.state != "done":
            raise Conflict(f"task {task.id} waits for replenishment task {dependency.id}",
                           code="waits_for_replenishment", details={"task_id": dependency.id})


def _bind_tote(session: Session, task: Task, raw: str) -> int:
    tote = container_by_scan(session, task.site_id, raw, "tote", "tote")
    slot = session.exec(select(TourTote).where(TourTote.tour_id == task.tour_id, TourTote.tote_no == task.tote_no)
                        .order_by(TourTote.id)).all()
    if not slot:
        raise Conflict(f"task {task.id} has no tote slot", code="no_tote_slot")
    bound = {s.container_id for s in slot if s.container_id is not None}
    if bound and tote.id not in bound:
        raise Invalid(f"pick into tote slot {task.tote_no}, not tote {tote.code}", code="wrong_tote",
                      details={"field": "tote"})
    if not bound:
        elsewhere = session.exec(
            select(TourTote.id).join(Tour, Tour.id == TourTote.tour_id).where(
                TourTote.container_id == tote.id, Tour.status.in_(("pending", "picking")),
                ~and_(TourTote.tour_id == task.tour_id, TourTote.tote_no == task.tote_no))
        ).first()
        if elsewhere is not None:
            raise Conflict(f"tote {tote.code} is in use on another cart", code="tote_in_use", details={"field": "tote"})
        for s in slot:
            s.container_id = tote.id
            session.add(s)
    return tote.id


def _take(session: Session, site: Site, task: Task, quantity: int, tote_id: int, user_id: int) -> None:
    reservation = session.get(Reservation, task.reservation_id)
    quant = session.get(Quant, reservation.quant_id)
    if quant.location_id != task.from_location_id:
        raise Conflict("the reserved stock is not at the pick location yet", code="waits_for_replenishment")
    released = session.execute(
        update(Quant).where(Quant.id == quant.id, Quant.reserved >= quantity)
        .values(reserved=Quant.reserved - quantity).returning(Quant.id)
    ).scalar_one_or_none()
    if released is None:
        raise Conflict("the reservation behind this pick is gone", code="reservation_missing")
    reservation.quantity -= quantity
    session.add(reservation)
    session.refresh(quant)
    post_move(
        session, site_id=site.id, product_id=quant.product_id, quantity=quantity, reason="pick",
        source=StockIdentity(quant.product_id, quant.location_id, quant.container_id, quant.lot, quant.expiry),
        destination=StockIdentity(quant.product_id, quant.location_id, tote_id, quant.lot, quant.expiry),
        reference=f"task:{task.id}", user_id=user_id,
    )
    session.execute(update(OrderLine).where(OrderLine.id == task.order_line_id)
                    .values(quantity_picked=OrderLine.quantity_picked + quantity))


def _progress(session: Session, task: Task) -> None:
    """Tour and order follow their picks: picking, then picked when none is open."""
    session.flush()
    open_in_tour = session.exec(select(func.count()).select_from(Task).where(
        Task.tour_id == task.tour_id, Task.kind == "pick", Task.state.in_(OPEN_TASK_STATES))).one()
    tour = session.get(Tour, task.tour_id)
    if tour is not None:
        tour.status = "picking" if open_in_tour else "picked"
        session.add(tour)
    line = session.get(OrderLine, task.order_line_id)
    order = session.get(Order, line.order_id)
    open_for_order = session.exec(select(func.count()).select_from(Task).join(
        OrderLine, OrderLine.id == Task.order_line_id).where(
        OrderLine.order_id == order.id, Task.kind == "pick", Task.state.in_(OPEN_TASK_STATES))).one()
    if order.status in ("in_wave", "picking"):
        order.status = "picking" if open_for_order else "picked"
        order.updated_at = utcnow()
        session.add(order)


def confirm_pick(session: Session, site: Site, task: Task, *, location: str, product: str, tote: str,
                 quantity: int, user_id: int) -> dict:
    _check_pickable(session, task)
    loc = session.get(Location, task.from_location_id)
    verify_location(loc, location)
    verify_product(session, site.id, product, task.product_id, loc.id, task.lot)
    if quantity != task.quantity:
        raise Invalid(f"pick {task.quantity}, or report a short pick", code="wrong_quantity",
                      details={"field": "quantity", "expected": task.quantity})
    tote_id = _bind_tote(session, task, tote)
    _take(session, site, task, quantity, tote_id, user_id)
    before = audit.snapshot(task, ("state",))
    task.state = "done"
    task.done_at = task.updated_at = utcnow()
    task.container_id = tote_id
    task.version += 1
    task.details = {**(task.details or {}), "picked": quantity, "confirmed_by": user_id}
    session.add(task)
    _progress(session, task)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.confirm_pick", entity="task",
                 entity_id=task.id, before=before, after={"state": "done", "quantity": quantity})
    return {"picked": quantity}


def short_pick(session: Session, site: Site, task: Task, *, location: str, found: int, reason: str,
               product: str | None, tote: str | None, user_id: int, today: datetime | None = None) -> dict:
    _check_pickable(session, task)
    loc = session.get(Location, task.from_location_id)
    verify_location(loc, location)
    if not 0 <= found < task.quantity:
        raise Invalid(f"a short pick finds fewer than {task.quantity}", code="wrong_quantity",
                      details={"field": "found"})
    tote_id = None
    if found:
        if not product or not tote:
            raise Invalid("scan the product and the tote for what was found", code="scan_required",
                          details={"field": "product" if not product else "tote"})
        verify_product(session, site.id, product, task.product_id, loc.id, task.lot)
        tote_id = _bind_tote(session, task, tote)
        _take(session, site, task, found, tote_id, user_id)
    missing = task.quantity - found
    reservation = session.get(Reservation, task.reservation_id)
    give_back = min(missing, reservation.quantity)
    session.execute(update(Quant).where(Quant.id == reservation.quant_id)
                    .values(reserved=Quant.reserved - give_back))
    reservation.quantity -= give_back
    session.add(reservation)
    session.execute(update(OrderLine).where(OrderLine.id == task.order_line_id)
                    .values(quantity_allocated=OrderLine.quantity_allocated - missing))
    product_row = session.get(Product, task.product_id)
    exc = WarehouseException(
        site_id=site.id, kind="short_pick", task_id=task.id, raised_by=user_id,
        message=f"{loc.code}: {found} of {task.quantity} × {product_row.sku} found ({reason})"[:500],
        details={"location": loc.code, "sku": product_row.sku, "expected": task.quantity, "found": found,
                 "reason": reason})
    session.add(exc)
    count = Task(site_id=site.id, kind="count", state="pending", priority=10, from_location_id=loc.id,
                 zone_id=loc.zone_id, reference=f"short_pick:{task.id}", details={"blind": True, "cause": "short_pick"})
    session.add(count)
    new_tasks = _reallocate(session, site, task, missing, exclude_location=loc.id,
                            today=(today or datetime.now(timezone.utc)).date())
    task.state = "done"
    task.done_at = task.updated_at = utcnow()
    task.container_id = tote_id
    task.version += 1
    task.details = {**(task.details or {}), "picked": found, "short": missing, "reason": reason,
                    "confirmed_by": user_id}
    session.add(task)
    session.flush()
    exc.details = {**exc.details, "count_task_id": count.id,
                   "reallocated_task_ids": [t.id for t in new_tasks],
                   "backordered": missing - sum(t.quantity for t in new_tasks)}
    session.add(exc)
    _progress(session, task)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.short_pick", entity="task",
                 entity_id=task.id, after={"found": found, "missing": missing, "reason": reason})
    return {"picked": found, "short": missing, "exception_id": exc.id, "count_task_id": count.id,
            "reallocated": [{"task_id": t.id, "quantity": t.quantity} for t in new_tasks],
            "backordered": missing - sum(t.quantity for t in new_tasks)}


def _reallocate(session: Session, site: Site, task: Task, missing: int, *, exclude_location: int, today) -> list[Task]:  # noqa: ANN001
    """New picks for the missing units from other locations, at the end of the same tour, into the same tote."""
    line = session.get(OrderLine, task.order_line_id)
    order = session.get(Order, line.order_id)
    product = session.get(Product, task.product_id)
    rows = session.exec(
        select(Quant, Location.kind).join(Location, Location.id == Quant.location_id).where(
            Quant.site_id == site.id, Quant.product_id == product.id, Quant.on_hand > Quant.reserved,
            Quant.location_id != exclude_location, Location.kind.in_(("pick_face", "reserve")), Location.active,
            Quant.container_id.is_(None) | (Location.kind == "reserve"))
        .order_by(Quant.id).with_for_update(of=Quant)
    ).all()
    candidates = [core.StockCandidate(q.id, q.product_id, q.location_id, core.LocationKind(kind), q.on_hand - q.reserved,
                                      q.received_at, q.lot, q.expiry, q.container_id) for q, kind in rows]
    if not candidates:
        return []
    result = core.allocate(
        [core.Order(order.id, (core.OrderLine(line.line_no, product.id, missing),), order.cut_off,
                    10 - order.priority, order.min_shelf_life_days, core.BackorderPolicy.ALLOW_PARTIAL)],
        candidates, [core.ProductInfo(product.id, product.expiry_tracked, product.units_per_case)], today=today)
    quants = {q.id: q for q, _ in rows}
    next_sequence = session.exec(select(func.max(Task.sequence)).where(Task.tour_id == task.tour_id)).one() or 0
    created = []
    for alloc in result.allocations:
        quant = quants[alloc.quant_id]
        session.execute(update(Quant).where(Quant.id == quant.id).values(reserved=Quant.reserved + alloc.qty))
        reservation = Reservation(site_id=site.id, quant_id=quant.id, order_line_id=line.id, quantity=alloc.qty,
                                  stage=alloc.stage.value, pick_location_id=quant.location_id, wave_id=task.wave_id)
        session.add(reservation)
        session.flush()
        next_sequence += 1
        new = Task(site_id=site.id, kind="pick", state="pending", priority=task.priority, product_id=product.id,
                   quantity=alloc.qty, lot=quant.lot, expiry=quant.expiry, from_location_id=quant.location_id,
                   wave_id=task.wave_id, tour_id=task.tour_id, sequence=next_sequence, order_line_id=line.id,
                   reservation_id=reservation.id, tote_no=task.tote_no, zone_id=task.zone_id,
                   container_id=quant.container_id, reference=task.reference,
                   details={"reallocated_from_task": task.id})
        session.add(new)
        created.append(new)
        session.execute(update(OrderLine).where(OrderLine.id == line.id)
                        .values(quantity_allocated=OrderLine.quantity_allocated + alloc.qty))
    session.flush()
    return created
