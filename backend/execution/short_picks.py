"""Short picks: book what was found, give the rest of the reservation back, raise a `short_pick` exception,
order a count of the location, and reallocate the missing units from other locations into the same tour and
tote — or backorder them. (Confirming a whole pick: backend.execution.picking.)"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, update
from sqlmodel import Session, select

from backend import audit
from backend.allocation import core
from backend.errors import Invalid
from backend.execution.picking import (
    ORDER_STATUS, announce_picked, bind_tote, check_pickable, check_reserved, follow_progress, load_pick,
    settle_take, take_params, take_stock,
)
from backend.execution.scan_checks import verify_location, verify_product
from backend.location_kinds import STORAGE_KINDS
from backend.models import (
    Location, Order, OrderLine, Product, Quant, Reservation, Site, Task, WarehouseException, utcnow,
)
from backend.sql import Raw
from backend.tasks.states import WORK_TO_COME_STATES
from backend.tasks.transitions import tell_assigned
from backend.webhooks import payloads

_SHORT_PICK_COUNT_PRIORITY = 10  # a location found short is counted before anything else there


def short_pick(session: Session, site: Site, task: Task, *, location: str, found: int, reason: str,
               product: str | None, tote: str | None, user_id: int, today: datetime | None = None,
               batch: bool = False) -> dict:
    """Book what was found (`batch`: see _send_take), give the rest back and reallocate it, and raise the
    exception and the count."""
    row = load_pick(session, task.id)
    check_pickable(row)
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
        tote_id, _ = bind_tote(session, row, tote)
        check_reserved(row)
        settle_take(session, take_stock(session, row, take_params(Raw.of(session), row, found, tote_id, user_id), batch=batch))
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
    order_before = Raw.of(session).scalar(ORDER_STATUS, order_id=row.order_id) if row.order_id is not None else None
    count = session.exec(select(Task).where(Task.site_id == site.id, Task.kind == "count", Task.from_location_id == loc.id,
                                            Task.state.in_(WORK_TO_COME_STATES))).first()
    if count is None:
        count = Task(site_id=site.id, kind="count", state="pending", priority=_SHORT_PICK_COUNT_PRIORITY,
                     from_location_id=loc.id, zone_id=loc.zone_id, reference=f"short_pick:{task.id}",
                     details={"blind": True, "cause": "short_pick"})
    elif count.priority > _SHORT_PICK_COUNT_PRIORITY:  # one open count per location: the one there goes first now
        count.priority = _SHORT_PICK_COUNT_PRIORITY
        count.version += 1
        count.updated_at = utcnow()
    session.add(count)
    new_tasks = _reallocate(session, site, task, missing, exclude_location=loc.id, holder=user_id,
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
    follow_progress(session, task.id, task.tour_id, task.order_line_id)
    payloads.exception_raised(session, exc)
    announce_picked(session, row.order_id, order_before)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.short_pick", entity="task",
                 entity_id=task.id, after={"found": found, "missing": missing, "reason": reason})
    for new in new_tasks:
        audit.record(session, user_id=user_id, site_id=site.id, action="task.reallocate", entity="task",
                     entity_id=new.id, after={"state": new.state, "assigned_to": user_id, "from_task": task.id,
                                              "location_id": new.from_location_id, "quantity": new.quantity})
        tell_assigned(session, new, "reallocated")
    return {"picked": found, "short": missing, "exception_id": exc.id, "count_task_id": count.id,
            "reallocated": [{"task_id": t.id, "quantity": t.quantity} for t in new_tasks],
            "backordered": missing - sum(t.quantity for t in new_tasks)}


def _reallocate(session: Session, site: Site, task: Task, missing: int, *, exclude_location: int, holder: int,
                today) -> list[Task]:  # noqa: ANN001
    """New picks for the missing units from other locations, at the end of the same tour, into the same tote,
    held by `holder`: the picker who found the shortage has the tote on their cart."""
    line = session.get(OrderLine, task.order_line_id)
    order = session.get(Order, line.order_id)
    product = session.get(Product, task.product_id)
    rows = session.exec(
        select(Quant, Location.kind, Location.zone_id).join(Location, Location.id == Quant.location_id).where(
            Quant.site_id == site.id, Quant.product_id == product.id, Quant.on_hand > Quant.reserved,
            Quant.location_id != exclude_location, Location.kind.in_(STORAGE_KINDS), Location.active,
            Quant.container_id.is_(None) | (Location.kind == "reserve"))
        .order_by(Quant.id).with_for_update(of=Quant)
    ).all()
    candidates = [core.StockCandidate(q.id, q.product_id, q.location_id, core.LocationKind(kind), q.on_hand - q.reserved,
                                      q.received_at, q.lot, q.expiry, q.container_id) for q, kind, _ in rows]
    if not candidates:
        return []
    result = core.allocate(
        [core.Order(order.id, (core.OrderLine(line.line_no, product.id, missing),), order.cut_off,
                    10 - order.priority, order.min_shelf_life_days, core.BackorderPolicy.ALLOW_PARTIAL)],
        candidates, [core.ProductInfo(product.id, product.expiry_tracked, product.units_per_case)], today=today)
    quants = {q.id: q for q, _, _ in rows}
    zones = {q.id: zone_id for q, _, zone_id in rows}
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
        new = Task(site_id=site.id, kind="pick", state="assigned", assigned_to=holder, priority=task.priority,
                   product_id=product.id, quantity=alloc.qty, lot=quant.lot, expiry=quant.expiry,
                   from_location_id=quant.location_id, wave_id=task.wave_id, tour_id=task.tour_id,
                   sequence=next_sequence, order_line_id=line.id, reservation_id=reservation.id,
                   tote_no=task.tote_no, zone_id=zones[quant.id],
                   container_id=quant.container_id, reference=task.reference,
                   details={"reallocated_from_task": task.id})
        session.add(new)
        created.append(new)
        session.execute(update(OrderLine).where(OrderLine.id == line.id)
                        .values(quantity_allocated=OrderLine.quantity_allocated + alloc.qty))
    session.flush()
    return created
