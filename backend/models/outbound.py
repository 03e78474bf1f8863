"""Outbound orders and their lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow

ORDER_STATUSES = (
    "new", "allocated", "partly_allocated", "backordered", "in_wave", "picking", "picked", "packed", "shipped",
    "cancelled", "held",
)


class Order(SQLModel, table=True):
    __tablename__ = "outbound_order"
    __table_args__ = (
        UniqueConstraint("site_id", "reference"),
        Index("ix_order_site_status", "site_id", "status"),
        Index("ix_order_site_cut_off", "site_id", "cut_off"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    reference: str = Field(max_length=64)
    customer: str = Field(default="", max_length=200)
    priority: int = Field(default=5, ge=1, le=9)  # 1 = most urgent
    carrier: str = Field(default="", max_length=64)
    service: str = Field(default="", max_length=64)
    cut_off: datetime | None = None
    ship_to: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="new", max_length=20)
    backorder_policy: str = Field(default="allow_partial", max_length=20)
    min_shelf_life_days: int = Field(default=0, ge=0)
    wave_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("quantity > 0", name="order_line_quantity_positive"),
        CheckConstraint("quantity_allocated >= 0 AND quantity_picked >= 0", name="order_line_progress_non_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="outbound_order.id", index=True)
    line_no: int
    product_id: int = Field(foreign_key="product.id", index=True)
    # Always in units (each); `unit`/`unit_quantity` keep what the sender ordered.
    quantity: int
    unit: str = Field(default="each", max_length=8)
    unit_quantity: int = 0
    quantity_allocated: int = 0
    quantity_picked: int = 0
