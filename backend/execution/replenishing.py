"""Replenishment: move stock from reserve to a pick face; picks waiting for it can go."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from backend import audit
from backend.errors import Conflict, Invalid
from backend.execution.common import verify_location
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import Location, Quant, Reservation, Site, Task, utcnow
from backend.tasks.states import require_workable


def confirm_replenish(session: Session, site: Site, task: Task, *, location: str, quantity: int | None,
                      user_id: int) -> dict:
    require_workable(task, "replenish")
    face = session.get(Location, task.to_location_id)
    verify_location(face, location)
    quantity = task.quantity if quantity is None else quantity
    if not 0 < quantity <= task.quantity:
        raise Invalid(f"move between 1 and {task.quantity}", code="wrong_quantity", details={"field": "quantity"})
    source = session.get(Quant, (task.details or {}).get("quant_id"))
    if source is None or source.location_id != task.from_location_id:
        raise Conflict("the reserve stock of this task has moved", code="source_moved")
    # Reservations made for picks at this face travel with the stock.
    waiting = list(session.exec(select(Reservation).where(
        Reservation.quant_id == source.id, Reservation.pick_location_id == face.id, Reservation.quantity > 0,
        Reservation.stage == "pending_replenishment").order_by(Reservation.id)).all())
    carried = min(sum(r.quantity for r in waiting), quantity)
    if carried:
        session.execute(update(Quant).where(Quant.id == source.id).values(reserved=Quant.reserved - carried))
    move = post_move(
        session, site_id=site.id, product_id=source.product_id, quantity=quantity, reason="replenish",
        source=StockIdentity(source.product_id, source.location_id, source.container_id, source.lot, source.expiry),
        destination=StockIdentity(source.product_id, face.id, None, source.lot, source.expiry),
        reference=f"task:{task.id}", user_id=user_id,
    )
    left = carried
    for reservation in waiting:
        if left <= 0:
            break
        take = min(left, reservation.quantity)
        if take < reservation.quantity:
            # Only part of this reservation came along: split it.
            session.add(Reservation(site_id=reservation.site_id, quant_id=source.id,
                                    order_line_id=reservation.order_line_id, quantity=reservation.quantity - take,
                                    stage=reservation.stage, pick_location_id=face.id, wave_id=reservation.wave_id))
            reservation.quantity = take
        reservation.quant_id = move.to_quant_id
        reservation.stage = "pick_face"
        session.add(reservation)
        left -= take
    if carried:
        session.execute(update(Quant).where(Quant.id == move.to_quant_id).values(reserved=Quant.reserved + carried))
    task.state = "done"
    task.quantity = quantity
    task.done_at = task.updated_at = utcnow()
    task.version += 1
    task.details = {**(task.details or {}), "confirmed_by": user_id, "carried_reservations": carried}
    session.add(task)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.confirm_replenish", entity="task",
                 entity_id=task.id, after={"quantity": quantity, "to": face.code})
    return {"moved": quantity}
