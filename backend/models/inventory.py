"""Inventory ledger: append-only moves and the quants they sum to."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .base import utcnow


class Quant(SQLModel, table=True):
    __tablename__ = "quant"
    __table_args__ = (
        UniqueConstraint("site_id", "stock_key", name="uq_quant_stock_key"),
        CheckConstraint("on_hand >= 0", name="quant_on_hand_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="quant_reserved_within_on_hand"),
        Index("ix_quant_site_product", "site_id", "product_id"),
        Index("ix_quant_location", "location_id"),
        Index("ix_quant_container", "container_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    product_id: int = Field(foreign_key="product.id")
    location_id: int = Field(foreign_key="location.id")
    container_id: int | None = Field(default=None, foreign_key="container.id")
    lot: str = Field(default="", max_length=64)
    expiry: date | None = None
    # product|location|container|lot|expiry: one quant per stock identity (NULLs
    # are never equal in a UNIQUE constraint, so a string key is used instead).
    stock_key: str = Field(max_length=200)
    on_hand: int = 0
    reserved: int = 0
    received_at: datetime = Field(default_factory=utcnow)


PACKED_FROM = "reason IN ('pack', 'pack_short')"
# The moves backend.insights.kpis reads over a period, and the columns it reads of them (PostgreSQL: from the index).
KPI_MOVES = "reason IN ('pick', 'ship', 'count_adjustment')"
KPI_MOVE_COLUMNS = ["quantity", "user_id", "from_location_id", "to_location_id", "product_id", "reference"]
# The audit rows of scans refused at POST /tasks/{id}/check-scan (the pick accuracy KPI counts them).
SCAN_REFUSED = "scan.refused"


class Move(SQLModel, table=True):
    """One line of the stock ledger; never updated or deleted."""

    __tablename__ = "move"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="move_quantity_positive"),
        CheckConstraint(
            "from_location_id IS NOT NULL OR to_location_id IS NOT NULL", name="move_has_a_side"
        ),
        Index("ix_move_site_created", "site_id", "id"),
        Index("ix_move_product", "product_id"),
        # What left a tote at packing (backend.execution.packing splits a tote into its orders by it); partial,
        # so the pick's hot path never writes it.
        Index("ix_move_packed_from", "from_container_id", postgresql_where=text(PACKED_FROM),
              sqlite_where=text(PACKED_FROM)),
        Index("ix_move_site_reason_created", "site_id", "reason", "created_at", postgresql_include=KPI_MOVE_COLUMNS,
              postgresql_where=text(KPI_MOVES)),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    product_id: int = Field(foreign_key="product.id")
    lot: str = Field(default="", max_length=64)
    expiry: date | None = None
    quantity: int
    from_location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    to_location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    from_container_id: int | None = Field(default=None, foreign_key="container.id")
    to_container_id: int | None = Field(default=None, foreign_key="container.id")
    from_quant_id: int | None = Field(default=None, foreign_key="quant.id")
    to_quant_id: int | None = Field(default=None, foreign_key="quant.id")
    reason: str = Field(max_length=32)
    reference: str = Field(default="", max_length=100)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_id"),
        Index("ix_audit_scan_refused", "site_id", "at", postgresql_where=text(f"action = '{SCAN_REFUSED}'"),
              sqlite_where=text(f"action = '{SCAN_REFUSED}'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int | None = Field(default=None, foreign_key="site.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    at: datetime = Field(default_factory=utcnow)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    before: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
