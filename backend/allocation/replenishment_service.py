"""Min/max replenishment of pick faces from reserve, as replenish tasks."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from backend import audit
from backend.allocation import core
from backend.allocation.replenishment_planning import PickFace, PickFaceStock, plan_min_max_replenishment
from backend.bulk import insert_rows
from backend.models import Location, Product, Quant, Task, utcnow
from backend.tasks.states import WORK_TO_COME_STATES


def run_min_max(session: Session, site_id: int, *, today: date, user_id: int | None) -> list[dict]:
    """Create a replenish task for every pick face below its min (faces with one on the way count it)."""
    faces = session.exec(
        select(Location.id, Location.fixed_product_id, Location.replenish_min, Location.replenish_max,
               Location.zone_id).where(
            Location.site_id == site_id, Location.kind == "pick_face", Location.active,
            Location.fixed_product_id.is_not(None), Location.replenish_min.is_not(None),
            Location.replenish_max.is_not(None))
    ).all()
    if not faces:
        return []
    product_ids = sorted({f.fixed_product_id for f in faces})
    face_ids = [f.id for f in faces]
    stock = {}
    for loc_id, pid, on_hand, reserved in session.exec(
        select(Quant.location_id, Quant.product_id, func.sum(Quant.on_hand), func.sum(Quant.reserved))
        .where(Quant.site_id == site_id, Quant.location_id.in_(face_ids)).group_by(Quant.location_id, Quant.product_id)
    ).all():
        stock[(loc_id, pid)] = (int(on_hand), int(reserved))
    inbound: dict[tuple[int, int], int] = defaultdict(int)
    for to_loc, pid, qty in session.exec(
        select(Task.to_location_id, Task.product_id, func.sum(Task.quantity)).where(
            Task.site_id == site_id, Task.kind == "replenish", Task.state.in_(WORK_TO_COME_STATES),
            Task.to_location_id.in_(face_ids)).group_by(Task.to_location_id, Task.product_id)
    ).all():
        inbound[(to_loc, pid)] = int(qty or 0)
    reserve = session.exec(
        select(Quant.id, Quant.product_id, Quant.location_id, Quant.on_hand, Quant.reserved, Quant.received_at,
               Quant.lot, Quant.expiry, Quant.container_id)
        .join(Location, Location.id == Quant.location_id)
        .where(Quant.site_id == site_id, Quant.product_id.in_(product_ids), Location.kind == "reserve",
               Location.active, Quant.on_hand > Quant.reserved)
    ).all()
    products = session.exec(select(Product.id, Product.expiry_tracked, Product.units_per_case)
                            .where(Product.id.in_(product_ids))).all()
    plan = plan_min_max_replenishment(
        [PickFace(f.fixed_product_id, f.id, f.replenish_min, f.replenish_max) for f in faces],
        [PickFaceStock(pid, loc, *stock[(loc, pid)], inbound[(loc, pid)]) for (loc, pid) in stock]
        + [PickFaceStock(pid, loc, 0, 0, qty) for (loc, pid), qty in inbound.items() if (loc, pid) not in stock],
        [core.StockCandidate(q.id, q.product_id, q.location_id, core.LocationKind.RESERVE, q.on_hand - q.reserved,
                             q.received_at, q.lot, q.expiry, q.container_id) for q in reserve],
        [core.ProductInfo(p.id, p.expiry_tracked, p.units_per_case) for p in products],
        today=today,
    )
    zone_of = {f.id: f.zone_id for f in faces}
    expiry_of = {q.id: q.expiry for q in reserve}
    now = utcnow()
    rows = [{
        "site_id": site_id, "kind": "replenish", "state": "pending", "priority": 50, "product_id": r.product_id,
        "quantity": r.qty, "lot": r.lot, "expiry": expiry_of.get(r.from_quant_id), "from_location_id": r.from_location_id,
        "to_location_id": r.to_location_id, "container_id": r.container_id, "zone_id": zone_of.get(r.to_location_id),
        "reference": "min_max", "details": {"quant_id": r.from_quant_id, "urgent": False}, "version": 1,
        "created_at": now, "updated_at": now,
    } for r in plan]
    insert_rows(session, Task.__table__, rows)
    if rows:
        audit.record(session, user_id=user_id, site_id=site_id, action="replenishment.min_max", entity="site",
                     entity_id=site_id, after={"tasks": len(rows), "units": sum(r["quantity"] for r in rows)})
    return rows
