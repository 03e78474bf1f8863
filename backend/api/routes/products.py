from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, resolve_company
from backend.api.schemas import Page, Strict, UpsertResult
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
    return ProductOut(**data, company=company_code, gtins=Gtins(**gtins))


@router.get("", response_model=Page[ProductOut])
def list_products(
    me: CurrentUser,
    session: SessionDep,
    company: str | None = Query(default=None, description=COMPANY_QUERY),
    site: str | None = Query(default=None, description=SITE_QUERY),
    sku: str | None = None,
    gtin: str | None = None,
    category: str | None = None,
    q: str | None = Query(default=None, max_length=100, description="text in SKU or description"),
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0),
) -> Page[ProductOut]:
    """One company's products (the caller's, or the one named by `company` or `site`)."""
    owner = resolve_company(session, me, site, company)
    conditions = [Product.company_id == owner.id]
    if sku:
        conditions.append(Product.sku == sku)
    if category:
        conditions.append(Product.category == category)
    if q:
        conditions.append(Product.sku.contains(q) | Product.description.contains(q))
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
def get_product(sku: str, me: CurrentUser, session: SessionDep,
                company: str | None = Query(default=None, description=COMPANY_QUERY),
                site: str | None = Query(default=None, description=SITE_QUERY)) -> ProductOut:
    """The caller's company's product with this SKU (another company's is 404, like an unknown SKU)."""
    owner = resolve_company(session, me, site, company)
    product = session.exec(select(Product).where(Product.company_id == owner.id, Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"unknown SKU {sku!r}", code="unknown_sku")
    return _out(product, owner.code, gtins_of(session, [product.id])[product.id])
