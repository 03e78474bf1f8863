from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Page, Strict, UpsertResult
from backend.bounds import Count, Metres, Quantity, QuantityOrZero, StrictBool, Text
from backend.errors import NotFound
from backend.insights.floor import location_detail
from backend.location_kinds import LOCATION_KIND_NAMES
from backend.masterdata import upsert_locations
from backend.models import Location, Product, Zone

router = APIRouter(prefix="/locations", tags=["locations"])

LocationKind = Literal[LOCATION_KIND_NAMES]  # type: ignore[valid-type]  (the one list: backend.location_kinds)


class LocationIn(Strict):
    """A location by code. On a new location a field left out takes its default; on an existing one it keeps
    its stored value (`zone` or `fixed_sku` given as null clears it)."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")
    kind: LocationKind
    zone: Text | None = None
    capacity: QuantityOrZero = 0
    aisle: Text = Field(default="", max_length=16)
    bay: Text = Field(default="", max_length=16)
    level: Text = Field(default="", max_length=16)
    x: Metres = 0.0
    y: Metres = 0.0
    fixed_sku: Text | None = None
    mixed_products: StrictBool = False
    replenish_min: QuantityOrZero | None = None
    replenish_max: Quantity | None = None
    active: StrictBool = True


class LocationsUpsert(Strict):
    site: Text | None = None
    locations: list[LocationIn] = Field(min_length=1, max_length=50_000)


class LocationOut(LocationIn):
    id: int
    check_digits: str


@router.post("", response_model=UpsertResult)
def upsert(body: LocationsUpsert, me: CurrentUser, session: SessionDep) -> UpsertResult:
    """Create or update locations by code (idempotent, partial: a field left out keeps its value); up to 50,000."""
    site = resolve_site(session, me, body.site)
    rows = [loc.model_dump(include=loc.model_fields_set | {"code", "kind"}) for loc in body.locations]
    result = upsert_locations(session, site, rows, me.id)
    session.commit()
    return UpsertResult(**result)


def _out(loc: Location, zone_code: str | None, sku: str | None) -> LocationOut:
    # Not validated: what was stored under older, looser input rules must still be readable.
    return LocationOut.model_construct(
        id=loc.id, code=loc.code, kind=loc.kind, zone=zone_code, capacity=loc.capacity, aisle=loc.aisle,
        bay=loc.bay, level=loc.level, x=loc.x, y=loc.y, fixed_sku=sku, mixed_products=loc.mixed_products,
        replenish_min=loc.replenish_min, replenish_max=loc.replenish_max, active=loc.active,
        check_digits=loc.check_digits,
    )


def _query():  # noqa: ANN202
    return (
        select(Location, Zone.code, Product.sku)
        .outerjoin(Zone, Zone.id == Location.zone_id)
        .outerjoin(Product, Product.id == Location.fixed_product_id)
    )


@router.get("", response_model=Page[LocationOut])
def list_locations(
    me: CurrentUser,
    session: SessionDep,
    site: Text | None = None,
    kind: LocationKind | None = None,
    zone: Text | None = None,
    aisle: Text | None = None,
    code_prefix: Text | None = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: Count = 0,
) -> Page[LocationOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Location.site_id == site_row.id]
    if kind:
        conditions.append(Location.kind == kind)
    if zone:
        conditions.append(Zone.code == zone)
    if aisle:
        conditions.append(Location.aisle == aisle)
    if code_prefix:
        conditions.append(Location.code.startswith(code_prefix, autoescape=True))  # (% and _ are plain)
    total = session.exec(
        select(func.count()).select_from(Location).outerjoin(Zone, Zone.id == Location.zone_id).where(*conditions)
    ).one()
    rows = session.exec(_query().where(*conditions).order_by(Location.code).offset(offset).limit(limit)).all()
    return Page(data=[_out(*row) for row in rows], count=total)


class StockOut(BaseModel):
    sku: str
    lot: str | None
    expiry: date | None
    quantity: int = Field(description="on hand")
    reserved: int
    lpn: str | None


class OpenTaskOut(BaseModel):
    id: int
    kind: str
    state: str
    assigned_to: str | None = Field(description="the holder's username")


class LastCountOut(BaseModel):
    at: datetime | None
    by: str | None
    variance: int | None = Field(description="units counted minus the system's quantity (null: being recounted)")
    status: str = Field(description="posted, awaiting_approval, approved, rejected or recount")
    task_id: int


class LocationDetailOut(BaseModel):
    code: str
    kind: str
    zone: str | None
    aisle: str | None
    x: float
    y: float
    stock: list[StockOut]
    open_tasks: list[OpenTaskOut] = Field(description="open tasks from or to here (at most 200)")
    last_count: LastCountOut | None


@router.get("/{code}/detail", response_model=LocationDetailOut)
def get_location_detail(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> LocationDetailOut:
    """One location as the floor map shows it when clicked: its stock, the open work there and its last count."""
    return LocationDetailOut(**location_detail(session, resolve_site(session, me, site), code))


@router.get("/{code}", response_model=LocationOut)
def get_location(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> LocationOut:
    site_row = resolve_site(session, me, site)
    row = session.exec(_query().where(Location.site_id == site_row.id, Location.code == code)).first()
    if row is None:
        raise NotFound(f"location {code!r} not found", code="unknown_location")
    return _out(*row)
