"""Inbound shipments (ASNs), their lines and the receipts against them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow


class InboundShipment(SQLModel, table=True):
    __tablename__ = "inbound_shipment"
    __table_args__ = (UniqueConstraint("site_id", "reference"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    reference: str = Field(max_length=64)
    supplier: str = Field(default="", max_length=200)
    expected_at: datetime | None = None
    status: str = Field(default="open", max_length=16)  # open, receiving, received, closed
    created_at: datetime = Field(default_factory=utcnow)


class InboundLine(SQLModel, table=True):
    __tablename__ = "inbound_line"
    __table_args__ = (
        UniqueConstraint("shipment_id", "line_no"),
        CheckConstraint("quantity_expected > 0", name="inbound_line_quantity_positive"),
        CheckConstraint("quantity_received >= 0", name="inbound_line_received_non_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="inbound_shipment.id", index=True)
    line_no: int
    product_id: int = Field(foreign_key="product.id", index=True)
    quantity_expected: int
    quantity_received: int = 0
    lot: str = Field(default="", max_length=64)
    expiry: date | None = None
    sscc: str | None = Field(default=None, max_length=18, index=True)


class Receipt(SQLModel, table=True):
    __tablename__ = "receipt"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="receipt_quantity_positive"),
        # An LPN's first receipt (dock-to-stock KPI; PostgreSQL: from the index alone).
        Index("ix_receipt_container", "container_id", postgresql_include=["created_at"]),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="inbound_shipment.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="inbound_line.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    quantity: int
    lot: str = Field(default="", max_length=64)
    expiry: date | None = None
    container_id: int | None = Field(default=None, foreign_key="container.id")
    location_id: int = Field(foreign_key="location.id")
    damaged: bool = False
    blind: bool = False
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
