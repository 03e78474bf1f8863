"""Replenishment: move stock from reserve to a pick face; picks waiting for it can go.

The replenisher proves each step by a scan: the reserve location, what they
take there (the product's GTIN or GS1 label, or the pallet's LPN/SSCC), and
the pick face they put it in. A lot-tracked product is proven by a scan that
carries its lot (a GS1 label) or by its pallet: a bare GTIN says nothing
about the lot.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from backend import audit
from backend.errors import Conflict, Invalid
from backend.execution.scan_checks import verify_location, verify_product
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import Container, Location, Product, Quant, Reservation, Site, Task, utcnow
from backend.scanning.result import ScanKind, ScanResult
from backend.tasks.states import require_workable


def verify_source(session: Session, task: Task, raw: str, field: str = "product") -> ScanResult:
    """The scan at the reserve shows what this replenishment takes: its product and lot, or its pallet."""
    scanned = verify_product(session, task.site_id, raw, task.product_id, task.from_location_id, task.lot, field)
    if scanned.kind in (ScanKind.LPN, ScanKind.SSCC):
        if scanned.lpn.id != task.container_id:
            sku = session.get(Product, task.product_id).sku
            if task.container_id is None:
                raise Invalid(f"Wrong pallet: take the loose {sku}, not {scanned.lpn.code} — scan the product",
                              code="wrong_lpn", details={"field": field, "scanned": scanned.lpn.code})
            expected = session.get(Container, task.container_id).code
            raise Invalid(f"Wrong pallet: you scanned {scanned.lpn.code} — take {expected}", code="wrong_lpn",
                          details={"field": field, "scanned": scanned.lpn.code, "expected": expected})
    elif task.lot and not scanned.lot:
        raise Invalid(f"Lot {task.lot} to take: scan the case's GS1 label (it carries the lot) or the pallet's label",
                      code="lot_required", details={"field": field, "expected": task.lot})
    return scanned


def confirm_replenish(session: Session, site: Site, task: Task, *, to_location: str, quantity: int | None,
                      user_id: int, from_location: str | None = None, product: str | None = None) -> dict:
    """Book the move reserve → pick face; each scan given is checked (from_location and product may be left out)."""
    require_workable(task, "replenish")
    reserve = session.get(Location, task.from_location_id)
    if from_location is not None:
        verify_location(reserve, from_location, "from_location")
    if product is not None:
        verify_source(session, task, product, "product")
    face = session.get(Location, task.to_location_id)
    verify_location(face, to_location, "to_location")
    quantity = task.quantity if quantity is None else quantity
    if not 0 < quantity <= task.quantity:
        raise Invalid(f"Move between 1 and {task.quantity}: that is what this replenishment takes",
                      code="wrong_quantity", details={"field": "quantity"})
    source = session.get(Quant, (task.details or {}).get("quant_id"))
    if source is None or source.location_id != task.from_location_id:
        raise Conflict(f"The stock to take is no longer at {reserve.code}: hand this replenishment back and tell a "
                       "supervisor", code="source_moved")
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
    sku = session.get(Product, source.product_id).sku
    return {"moved": quantity, "sku": sku, "from_location": reserve.code, "to_location": face.code,
            "message": f"Moved {quantity} × {sku} from {reserve.code} to {face.code}"}
