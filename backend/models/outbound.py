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


class Reservation(SQLModel, table=True):
    """Stock promised to an order line; a quant's `reserved` is the sum of its reservations."""

    __tablename__ = "reservation"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="reservation_quantity_non_negative"),
        Index("ix_reservation_quant", "quant_id"),
        Index("ix_reservation_line", "order_line_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    quant_id: int = Field(foreign_key="quant.id")
    order_line_id: int = Field(foreign_key="order_line.id")
    quantity: int
    # pick_face | reserve | full_case | pending_replenishment
    stage: str = Field(max_length=24)
    # Where it will be picked (differs from the quant's location while a replenishment is pending).
    pick_location_id: int = Field(foreign_key="location.id")
    wave_id: int | None = Field(default=None, foreign_key="wave.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Wave(SQLModel, table=True):
    __tablename__ = "wave"
    __table_args__ = (Index("ix_wave_site_status", "site_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    # planned → released → picking → picked; or discarded (unreleased) / cancelled (before picking)
    status: str = Field(default="planned", max_length=16)
    criteria: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    plan: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    orders: int = 0
    lines: int = 0
    tours: int = 0
    distance_m: float = 0.0
    seconds: float = 0.0
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    released_at: datetime | None = None


class Tour(SQLModel, table=True):
    """A pick batch: the lines one picker collects in one trip, into totes, in walking order."""

    __tablename__ = "tour"
    __table_args__ = (UniqueConstraint("wave_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    number: int
    status: str = Field(default="pending", max_length=16)
    distance_m: float = 0.0
    seconds: float = 0.0
    totes: int = 0
    cut_off: datetime | None = None
    # Where the picker left the totes for packing (the tour is then "dropped": its cart is free).
    dropped_at_location_id: int | None = Field(default=None, foreign_key="location.id")


class TourTote(SQLModel, table=True):
    """Which order goes in which tote of a tour's cart (an order may need several)."""

    __tablename__ = "tour_tote"
    __table_args__ = (UniqueConstraint("tour_id", "tote_no", "order_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tour_id: int = Field(foreign_key="tour.id", index=True)
    tote_no: int
    order_id: int = Field(foreign_key="outbound_order.id", index=True)
    container_id: int | None = Field(default=None, foreign_key="container.id", index=True)
