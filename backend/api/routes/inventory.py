"""Stock on hand (quants) and the ledger (moves)."""

from __future__ import annotations

from typing import Annotated

from datetime import date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.orm import aliased
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Page
from backend.bounds import Count, QueryBool, Text
from backend.models import Container, Location, Move, Product, Quant

router = APIRouter(tags=["inventory"])


class QuantOut(BaseModel):
    id: int
    sku: str
    location: str
    lpn: str | None
    lot: str
    expiry: date | None
    on_hand: int
    reserved: int
    available: int
    received_at: datetime


class MoveOut(BaseModel):
    id: int
    sku: str
    quantity: int
    lot: str
    expiry: date | None
    from_location: str | None
    to_location: str | None
    from_lpn: str | None
    to_lpn: str | None
    reason: str
    reference: str
    user_id: int | None
    created_at: datetime


@router.get("/inventory", response_model=Page[QuantOut])
def inventory(
    me: CurrentUser,
    session: SessionDep,
    site: Text | None = None,
    sku: Text | None = None,
    location: Text | None = None,
    lot: Text | None = None,
    lpn: Text | None = None,
    include_empty: QueryBool = False,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: Count = 0,
) -> Page[QuantOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Quant.site_id == site_row.id]
    if not include_empty:
        conditions.append(Quant.on_hand > 0)
    if sku:
        conditions.append(Product.sku == sku)
    if location:
        conditions.append(Location.code == location)
    if lot is not None:
        conditions.append(Quant.lot == lot)
    if lpn:
        conditions.append((Container.code == lpn) | (Container.sscc == lpn))
    base = (
        select(Quant, Product.sku, Location.code, Container.code)
        .join(Product, Product.id == Quant.product_id)
        .join(Location, Location.id == Quant.location_id)
        .outerjoin(Container, Container.id == Quant.container_id)
        .where(*conditions)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(base.order_by(Location.code, Product.sku, Quant.id).offset(offset).limit(limit)).all()
    data = [
        QuantOut(id=q.id, sku=s, location=loc, lpn=c, lot=q.lot, expiry=q.expiry, on_hand=q.on_hand,
                 reserved=q.reserved, available=q.on_hand - q.reserved, received_at=q.received_at)
        for q, s, loc, c in rows
    ]
    return Page(data=data, count=total)


@router.get("/moves", response_model=Page[MoveOut])
def moves(
    me: CurrentUser,
    session: SessionDep,
    site: Text | None = None,
    sku: Text | None = None,
    location: Text | None = None,
    reason: Text | None = None,
    after_id: Annotated[Count, Query(description="only moves with a larger id (for incremental sync)")] = 0,
    limit: int = Query(default=500, ge=1, le=10_000),
) -> Page[MoveOut]:
    site_row = resolve_site(session, me, site)
    src, dst = aliased(Location), aliased(Location)
    src_c, dst_c = aliased(Container), aliased(Container)
    conditions = [Move.site_id == site_row.id, Move.id > after_id]
    if sku:
        conditions.append(Product.sku == sku)
    if location:
        conditions.append((src.code == location) | (dst.code == location))
    if reason:
        conditions.append(Move.reason == reason)
    base = (
        select(Move, Product.sku, src.code, dst.code, src_c.code, dst_c.code)
        .join(Product, Product.id == Move.product_id)
        .outerjoin(src, src.id == Move.from_location_id)
        .outerjoin(dst, dst.id == Move.to_location_id)
        .outerjoin(src_c, src_c.id == Move.from_container_id)
        .outerjoin(dst_c, dst_c.id == Move.to_container_id)
        .where(*conditions)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(base.order_by(Move.id).limit(limit)).all()
    data = [
        MoveOut(id=m.id, sku=s, quantity=m.quantity, lot=m.lot, expiry=m.expiry, from_location=fl, to_location=tl,
                from_lpn=fc, to_lpn=tc, reason=m.reason, reference=m.reference, user_id=m.user_id,
                created_at=m.created_at)
        for m, s, fl, tl, fc, tc in rows
    ]
    return Page(data=data, count=total)
