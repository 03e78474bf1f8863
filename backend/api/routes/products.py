from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep
from backend.api.schemas import Page, Strict, UpsertResult
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
    sku: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=300)
    uom: str = Field(default="each", max_length=16)
    category: str | None = Field(default=None, max_length=64)
    lot_tracked: bool = False
    serial_tracked: bool = False
    expiry_tracked: bool = False
    gtins: Gtins = Field(default_factory=Gtins)
    units_per_inner: int | None = Field(default=None, ge=1)
    units_per_case: int | None = Field(default=None, ge=1)
    units_per_pallet: int | None = Field(default=None, ge=1)
    length_mm: float | None = Field(default=None, gt=0)
    width_mm: float | None = Field(default=None, gt=0)
    height_mm: float | None = Field(default=None, gt=0)
    weight_g: float | None = Field(default=None, gt=0)
    abc_class: str = Field(default="C", pattern=r"^[ABC]$")


class ProductsUpsert(Strict):
    products: list[ProductIn] = Field(min_length=1, max_length=50_000)


class ProductOut(ProductIn):
    id: int


@router.post("", response_model=UpsertResult)
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
    return ProductOut(**data, gtins=Gtins(**gtins))


@router.get("", response_model=Page[ProductOut])
def list_products(
    session: SessionDep,
    sku: str | None = None,
    gtin: str | None = None,
    category: str | None = None,
    q: str | None = Query(default=None, max_length=100, description="text in SKU or description"),
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0),
) -> Page[ProductOut]:
    conditions = []
    if sku:
        conditions.append(Product.sku == sku)
    if category:
        conditions.append(Product.category == category)
    if q:
        conditions.append(Product.sku.contains(q) | Product.description.contains(q))
    if gtin:
        if not is_valid_gtin(gtin):
            return Page(data=[], count=0)
        conditions.append(Product.id.in_(select(ProductGtin.product_id).where(ProductGtin.gtin == normalise_gtin(gtin))))
    total = session.exec(select(func.count()).select_from(Product).where(*conditions)).one()
    rows = session.exec(select(Product).where(*conditions).order_by(Product.sku).offset(offset).limit(limit)).all()
    gtins = gtins_of(session, [p.id for p in rows])
    return Page(data=[_out(p, gtins[p.id]) for p in rows], count=total)


@router.get("/{sku}", response_model=ProductOut)
def get_product(sku: str, session: SessionDep) -> ProductOut:
    product = session.exec(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"unknown SKU {sku!r}", code="unknown_sku")
    return _out(product, gtins_of(session, [product.id])[product.id])
