from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import func, select

from backend.api.deps import ALL_ROLES, CurrentUser, SessionDep, require_roles
from backend.api.schemas import Page, Strict, UpsertResult
from backend.bounds import Count, Grams, Millimetres, Quantity, Reference, StrictBool, Text
from backend.errors import NotFound
from backend.gs1 import is_valid_gtin, normalise_gtin
from backend.masterdata import gtins_of, upsert_products
from backend.models import Product, ProductGtin

router = APIRouter(prefix="/products", tags=["products"])


class Gtins(Strict):
    each: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    inner: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    case: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    pallet: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")


class ProductIn(Strict):
    sku: Reference = Field(min_length=1, max_length=64)
    description: Text = Field(default="", max_length=300)
    uom: Text = Field(default="each", max_length=16)
    category: Text | None = Field(default=None, max_length=64)
    lot_tracked: StrictBool = False
    serial_tracked: StrictBool = False
    expiry_tracked: StrictBool = False
    gtins: Gtins = Field(default_factory=Gtins)
    units_per_inner: Quantity | None = None
    units_per_case: Quantity | None = None
    units_per_pallet: Quantity | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    weight_g: Grams | None = None
    abc_class: str = Field(default="C", pattern=r"^[ABC]$")


class ProductsUpsert(Strict):
    products: list[ProductIn] = Field(min_length=1, max_length=50_000)


class ProductOut(ProductIn):
    id: int


@router.post("", response_model=UpsertResult, dependencies=[require_roles("admin", "integration")])
def upsert(body: ProductsUpsert, me: CurrentUser, session: SessionDep) -> UpsertResult:
    """Create or update products by SKU (idempotent); GTINs per pack level; up to 50,000 per request."""
    rows = []
    for product in body.products:
        row = product.model_dump()
        row["gtins"] = product.gtins.model_dump()
        rows.append(row)
    result = upsert_products(session, rows, me.id)
    session.commit()
    return UpsertResult(**result)


def _out(product: Product, gtins: dict[str, str]) -> ProductOut:
    data = product.model_dump(exclude={"updated_at"})
    # Not validated: what was stored under older, looser input rules must still be readable.
    return ProductOut.model_construct(**data, gtins=Gtins.model_construct(**gtins))


@router.get("", response_model=Page[ProductOut], dependencies=[require_roles(*ALL_ROLES)])
def list_products(
    session: SessionDep,
    sku: Text | None = None,
    gtin: Text | None = None,
    category: Text | None = None,
    q: Annotated[Text | None, Query(max_length=100, description="text in SKU or description")] = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: Count = 0,
) -> Page[ProductOut]:
    conditions = []
    if sku:
        conditions.append(Product.sku == sku)
    if category:
        conditions.append(Product.category == category)
    if q:
        # autoescape: % and _ in q are characters, not wildcards
        conditions.append(Product.sku.contains(q, autoescape=True) | Product.description.contains(q, autoescape=True))
    if gtin:
        if not is_valid_gtin(gtin):
            return Page(data=[], count=0)
        conditions.append(Product.id.in_(select(ProductGtin.product_id).where(ProductGtin.gtin == normalise_gtin(gtin))))
    total = session.exec(select(func.count()).select_from(Product).where(*conditions)).one()
    rows = session.exec(select(Product).where(*conditions).order_by(Product.sku).offset(offset).limit(limit)).all()
    gtins = gtins_of(session, [p.id for p in rows])
    return Page(data=[_out(p, gtins[p.id]) for p in rows], count=total)


@router.get("/{sku}", response_model=ProductOut, dependencies=[require_roles(*ALL_ROLES)])
def get_product(sku: Text, session: SessionDep) -> ProductOut:
    product = session.exec(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"unknown SKU {sku!r}", code="unknown_sku")
    return _out(product, gtins_of(session, [product.id])[product.id])
