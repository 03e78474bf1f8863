"""The stock ledger: every change of stock is a Move, and quants are their sum.

Quant rows are changed only here, with single atomic UPDATE/UPSERT statements
so concurrent transactions can never drive stock negative (the CHECK
constraints are the last line of defence, not the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, literal, update
from sqlmodel import Session, select

from backend.db import dialect_insert
from backend.errors import Conflict
from backend.models import Move, Quant, utcnow


@dataclass(frozen=True)
class StockIdentity:
    product_id: int
    location_id: int
    container_id: int | None = None
    lot: str = ""
    expiry: date | None = None

    @property
    def key(self) -> str:
        exp = self.expiry.isoformat() if self.expiry else ""
        return f"{self.product_id}|{self.location_id}|{self.container_id or ''}|{self.lot}|{exp}"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


def _upsert_quant(session: Session, site_id: int, ident: StockIdentity, quantity: int) -> int:
    """Add quantity to the quant for ident (creating it), returning its id."""
    insert = dialect_insert(session)
    now = utcnow()
    stmt = insert(Quant).values(
        site_id=site_id,
        product_id=ident.product_id,
        location_id=ident.location_id,
        container_id=ident.container_id,
        lot=ident.lot,
        expiry=ident.expiry,
        stock_key=ident.key,
        on_hand=quantity,
        reserved=0,
        received_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["site_id", "stock_key"],
        set_={"on_hand": Quant.on_hand + stmt.excluded.on_hand},
    ).returning(Quant.id)
    return session.execute(stmt).scalar_one()


def _take_from_quant(session: Session, site_id: int, ident: StockIdentity, quantity: int) -> int:
    """Remove unreserved quantity from the quant for ident, atomically."""
    stmt = (
        update(Quant)
        .where(
            and_(
                Quant.site_id == site_id,
                Quant.stock_key == ident.key,
                Quant.on_hand - Quant.reserved >= quantity,
            )
        )
        .values(on_hand=Quant.on_hand - quantity)
        .returning(Quant.id)
    )
    quant_id = session.execute(stmt).scalar_one_or_none()
    if quant_id is None:
        raise InsufficientStock(
            "not enough free stock at the source",
            details={"product_id": ident.product_id, "location_id": ident.location_id, "quantity": quantity},
        )
    return quant_id


def post_move(
    session: Session,
    *,
    site_id: int,
    product_id: int,
    quantity: int,
    reason: str,
    source: StockIdentity | None = None,
    destination: StockIdentity | None = None,
    reference: str = "",
    user_id: int | None = None,
) -> Move:
    """Append one ledger move and apply it to the quants, in the caller's transaction."""
    if quantity <= 0:
        raise Conflict("move quantity must be positive", code="invalid_quantity")
    if source is None and destination is None:
        raise ValueError("a move needs a source or a destination")
    from_quant = _take_from_quant(session, site_id, source, quantity) if source else None
    to_quant = _upsert_quant(session, site_id, destination, quantity) if destination else None
    ident = source or destination
    move = Move(
        site_id=site_id,
        product_id=product_id,
        lot=ident.lot,
        expiry=ident.expiry,
        quantity=quantity,
        from_location_id=source.location_id if source else None,
        to_location_id=destination.location_id if destination else None,
        from_container_id=source.container_id if source else None,
        to_container_id=destination.container_id if destination else None,
        from_quant_id=from_quant,
        to_quant_id=to_quant,
        reason=reason,
        reference=reference,
        user_id=user_id,
    )
    session.add(move)
    return move


def ledger_disagreements(session: Session, site_id: int) -> list[dict]:
    """Quants whose on-hand differs from the sum of their moves (empty = healthy)."""
    inflow = (
        select(Move.to_quant_id.label("quant_id"), func.sum(Move.quantity).label("qty"))
        .where(Move.site_id == site_id, Move.to_quant_id.is_not(None))
        .group_by(Move.to_quant_id)
        .subquery()
    )
    outflow = (
        select(Move.from_quant_id.label("quant_id"), func.sum(Move.quantity).label("qty"))
        .where(Move.site_id == site_id, Move.from_quant_id.is_not(None))
        .group_by(Move.from_quant_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Quant.id,
            Quant.on_hand,
            func.coalesce(inflow.c.qty, literal(0)),
            func.coalesce(outflow.c.qty, literal(0)),
        )
        .outerjoin(inflow, inflow.c.quant_id == Quant.id)
        .outerjoin(outflow, outflow.c.quant_id == Quant.id)
        .where(Quant.site_id == site_id)
    ).all()
    bad = []
    for quant_id, on_hand, qty_in, qty_out in rows:
        if on_hand != qty_in - qty_out:
            bad.append({"quant_id": quant_id, "on_hand": on_hand, "moves_sum": qty_in - qty_out})
    return bad
