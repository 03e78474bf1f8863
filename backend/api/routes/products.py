from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, resolve_company
from backend.api.schemas import Page, Strict, UpsertResult
from backend.bounds import Count, Grams, Millimetres, Quantity, Reference, StrictBool, Text
from backend.errors import NotFound
from backend.gs1 import is_valid_gtin, normalise_gtin
from backend.masterdata import gtins_of, upsert_products
from backend.models import Product, ProductGtin

router = APIRouter(prefix="/products", tags=["products"])


class Gtins(Strict):
    """GTINs per pack level. In an upsert this is a patch: a level given sets its GTIN, a level given as
    null removes it, a level left out keeps the GTIN it has."""

    each: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    inner: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    case: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    pallet: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")


class ProductIn(Strict):
    """A product by SKU. On a new product a field left out takes its default; on an existing one a field
    left out keeps its stored value (`gtins` left out: every GTIN kept)."""

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


COMPANY_QUERY = "the company whose products these are, by code (default: the company of the caller's sites)"
SITE_QUERY = "a site of that company, instead of naming the company"


class ProductsUpsert(Strict):
    company: str | None = Field(default=None, description=COMPANY_QUERY)
    site: str | None = Field(default=None, description=SITE_QUERY)
    products: list[ProductIn] = Field(min_length=1, max_length=50_000)


class ProductOut(ProductIn):
    id: int
    company: str


@router.post("", response_model=UpsertResult)
def upsert(body: ProductsUpsert, me: CurrentUser, session: SessionDep) -> UpsertResult:
    """Create or update one company's products by SKU (idempotent); up to 50,000 per request.

    Products belong to a company and are shared by its sites; the same SKU in another company is
    another product, never touched here. Partial: a field a product leaves out keeps its stored value.
    GTINs are a patch per pack level: `"gtins": {"case": "…"}` sets the case GTIN and keeps the others,
    `"gtins": {"case": null}` removes it, no `gtins` keeps them all. A GTIN is unique within the company
    (409 gtin_in_use if another of its products has it); two companies may use the same GTIN.
    """
    company = resolve_company(session, me, body.site, body.company)
    rows = []
    for product in body.products:
        row = product.model_dump(include=product.model_fields_set | {"sku"}, exclude={"gtins"})
        if "gtins" in product.model_fields_set:
            row["gtins"] = product.gtins.model_dump(exclude_unset=True)
        rows.append(row)
    result = upsert_products(session, company.id, rows, me.id)
    session.commit()
    return UpsertResult(**result)


def _out(product: Product, company_code: str, gtins: dict[str, str]) -> ProductOut:
    data = product.model_dump(exclude={"updated_at", "company_id"})
    # Not validated: what was stored under older, looser input rules must still be readable.
    return ProductOut.model_construct(**data, company=company_code, gtins=Gtins.model_construct(**gtins))


@router.get("", response_model=Page[ProductOut])
def list_products(
    me: CurrentUser,
    session: SessionDep,
    company: Text | None = Query(default=None, description=COMPANY_QUERY),
    site: Text | None = Query(default=None, description=SITE_QUERY),
    sku: Text | None = None,
    gtin: Text | None = None,
    category: Text | None = None,
    q: Annotated[Text | None, Query(max_length=100, description="text in SKU or description")] = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: Count = 0,
) -> Page[ProductOut]:
    """One company's products (the caller's, or the one named by `company` or `site`)."""
    owner = resolve_company(session, me, site, company)
    conditions = [Product.company_id == owner.id]
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
        conditions.append(Product.id.in_(select(ProductGtin.product_id).where(
            ProductGtin.company_id == owner.id, ProductGtin.gtin == normalise_gtin(gtin))))
    total = session.exec(select(func.count()).select_from(Product).where(*conditions)).one()
    rows = session.exec(select(Product).where(*conditions).order_by(Product.sku).offset(offset).limit(limit)).all()
    gtins = gtins_of(session, [p.id for p in rows])
    return Page(data=[_out(p, owner.code, gtins[p.id]) for p in rows], count=total)


@router.get("/{sku}", response_model=ProductOut)
def get_product(sku: Text, me: CurrentUser, session: SessionDep,
                company: Annotated[Text | None, Query(description=COMPANY_QUERY)] = None,
                site: Annotated[Text | None, Query(description=SITE_QUERY)] = None) -> ProductOut:
    """The caller's company's product with this SKU (another company's is 404, like an unknown SKU)."""
    owner = resolve_company(session, me, site, company)
    product = session.exec(select(Product).where(Product.company_id == owner.id, Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"unknown SKU {sku!r}", code="unknown_sku")
    return _out(product, owner.code, gtins_of(session, [product.id])[product.id])
