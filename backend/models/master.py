"""Master data: companies, sites, zones, locations, products, containers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.location_kinds import LOCATION_KINDS

from .base import utcnow

CONTAINER_KINDS = ("pallet", "case", "tote", "carton")
PACK_LEVELS = ("each", "inner", "case", "pallet")


class Company(SQLModel, table=True):
    __tablename__ = "company"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Site(SQLModel, table=True):
    __tablename__ = "site"
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    # Over-receipt allowed per ASN line, in percent of the announced quantity.
    receipt_tolerance_pct: float = Field(default=0.0, ge=0)
    allow_blind_receipt_by_receivers: bool = Field(default=False)
    # The handheld offers typing a location's check digits (from its label) when a scan fails; off, only a scan counts.
    allow_typed_check_digits: bool = Field(default=False)
    # Aisle geometry for routing: {"aisle_x": [...], "aisle_length": m, "depot": [x, y],
    # "middle_cross_aisles_y": [...]}; derived from the locations when not set.
    layout: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # A count within this much of the system quantity (percent, or units, whichever is larger)
    # is posted at once; a larger variance waits for a supervisor.
    count_tolerance_pct: float = Field(default=2.0, ge=0)
    count_tolerance_units: int = Field(default=1, ge=0)
    # A count beyond tolerance is counted once more (by the same counter, at once) before a supervisor is asked.
    recount_variances: bool = Field(default=False)
    # Cycle count intervals in days per ABC class.
    cycle_count_days: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class Zone(SQLModel, table=True):
    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(default="", max_length=200)
    # Product category stored here by default (category -> zone putaway rule).
    category: str | None = Field(default=None, max_length=64, index=True)


class Location(SQLModel, table=True):
    __tablename__ = "location"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        CheckConstraint(
            "kind IN (" + ",".join(f"'{kind}'" for kind in LOCATION_KINDS) + ")",
            name="location_kind",
        ),
        Index("ix_location_site_kind", "site_id", "kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    code: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    check_digits: str = Field(max_length=2)
    # Capacity in units of stock (0 = unlimited).
    capacity: int = Field(default=0, ge=0)
    aisle: str = Field(default="", max_length=16)
    bay: str = Field(default="", max_length=16)
    level: str = Field(default="", max_length=16)
    x: float = 0.0
    y: float = 0.0
    # A fixed pick face is dedicated to one product.
    fixed_product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    mixed_products: bool = Field(default=False)
    replenish_min: int | None = None
    replenish_max: int | None = None
    active: bool = Field(default=True)
    last_counted_at: datetime | None = None


class Product(SQLModel, table=True):
    """A company's product: the company's sites share it; another company never sees or changes it."""

    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("company_id", "sku", name="uq_product_company_sku"),)
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    sku: str = Field(max_length=64)
    description: str = Field(default="", max_length=300)
    uom: str = Field(default="each", max_length=16)
    category: str | None = Field(default=None, max_length=64)
    lot_tracked: bool = False
    serial_tracked: bool = False
    expiry_tracked: bool = False
    units_per_inner: int | None = None
    units_per_case: int | None = None
    units_per_pallet: int | None = None
    length_mm: float | None = None
    width_mm: float | None = None
    height_mm: float | None = None
    weight_g: float | None = None
    abc_class: str = Field(default="C", max_length=1)
    updated_at: datetime = Field(default_factory=utcnow)


class ProductGtin(SQLModel, table=True):
    """One GTIN per pack level; within a company a GTIN identifies exactly one product pack."""

    __tablename__ = "product_gtin"
    __table_args__ = (
        UniqueConstraint("product_id", "pack_level"),
        # Two companies may sell the same GTIN (each its own product); one company may not use it twice.
        UniqueConstraint("company_id", "gtin", name="uq_product_gtin_company_gtin"),
    )
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    # The product's company, repeated so that the database itself keeps GTINs unique per company.
    company_id: int = Field(foreign_key="company.id")
    # Stored normalised to 14 digits.
    gtin: str = Field(sa_column=Column(String(14), nullable=False))
    pack_level: str = Field(max_length=8)
    units: int = Field(default=1, ge=1)


class Container(SQLModel, table=True):
    """A licence plate: pallet, case, tote or carton."""

    __tablename__ = "container"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        CheckConstraint("kind IN ('pallet','case','tote','carton')", name="container_kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    code: str = Field(max_length=40)
    kind: str = Field(max_length=8)
    sscc: str | None = Field(default=None, sa_column=Column(String(18), unique=True, nullable=True))
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    status: str = Field(default="open", max_length=16)
    # Shipping cartons: the order they belong to, their number and weight.
    order_id: int | None = Field(default=None, foreign_key="outbound_order.id", index=True)
    carton_no: int | None = None
    weight_kg: float | None = None
    # The carton size chosen at the pack bench (backend.execution.packing.CARTON_TYPES).
    carton_type: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Counter(SQLModel, table=True):
    """Named sequences (SSCC serials, LPN numbers), advanced by one atomic UPDATE."""

    __tablename__ = "counter"
    name: str = Field(primary_key=True, max_length=64)
    next_value: int = 1
