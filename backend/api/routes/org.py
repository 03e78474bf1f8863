"""Companies, sites and zones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import select

from backend import audit
from backend.api.deps import CurrentUser, SessionDep, caller_company_ids, resolve_site
from backend.auth.principal import Principal
from backend.api.schemas import Page, Strict, UpsertResult
from backend.bounds import Metres, QuantityOrZero, StrictBool, Text
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.insights.floor import aisle_heat, floor_map
from backend.masterdata import upsert_zones
from backend.models import (
    Company, InboundLine, InboundShipment, Location, Move, Order, OrderLine, PutawayRule, Site, Task, UserSite, Zone,
)
from backend.roles import Role
from backend.waves.site_layout import check_layout, site_layout

router = APIRouter(tags=["sites"])

CODE = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"  # (not "." or "..": a URL could not name it)


class CompanyIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: Text = Field(min_length=1, max_length=200)


class CompanyOut(CompanyIn):
    id: int


class SiteLayoutIn(Strict):
    """Where the aisles and the depot are, and how fast people walk and pick (backend.waves.site_layout)."""

    aisle_x: list[Metres] = Field(min_length=1, max_length=2000,
                                 description="x of each aisle's centre line, left to right, in metres")
    aisle_length: float = Field(gt=0, le=10_000, description="metres from the front cross aisle to the back one")
    middle_cross_aisles_y: list[Metres] = Field(default_factory=list, max_length=50,
                                               description="y of each middle cross aisle, increasing")
    depot: tuple[Metres, Metres] = Field(description="[x, y] where carts start and end (the pack or ship area); "
                                                   "y is 0 (front cross aisle) or aisle_length (back)")
    walk_speed_m_s: float = Field(default=1.0, gt=0, le=10, description="walking speed with a cart")
    seconds_per_stop: float = Field(default=10.0, ge=0, le=3600, description="stop, find the location, scan it")
    seconds_per_line: float = Field(default=5.0, ge=0, le=3600, description="pick, scan, put in the tote")


class CycleCountDaysIn(Strict):
    A: int | None = Field(default=None, ge=1, le=3650)
    B: int | None = Field(default=None, ge=1, le=3650)
    C: int | None = Field(default=None, ge=1, le=3650)


class SiteIn(Strict):
    """A site, created or changed by its code; on a change, fields left out keep their values."""

    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: Text = Field(min_length=1, max_length=200)
    company: Text = Field(min_length=1, max_length=32)
    timezone: Text = Field(default="UTC", max_length=64)
    receipt_tolerance_pct: float = Field(default=0.0, ge=0, le=100)
    allow_blind_receipt_by_receivers: StrictBool = False
    allow_typed_check_digits: StrictBool = Field(default=False, description="handhelds offer typing a location's check "
                                                                      "digits when its label won't scan")
    count_tolerance_pct: float = Field(default=2.0, ge=0, le=100)
    count_tolerance_units: QuantityOrZero = 1
    recount_variances: StrictBool = Field(default=False, description="a count beyond tolerance is counted again once "
                                                                "before a supervisor is asked")
    cycle_count_days: CycleCountDaysIn | None = Field(
        default=None, description="days between cycle counts per ABC class (default A 30, B 91, C 365)")
    layout: SiteLayoutIn | None = Field(default=None, description="null: inferred from the locations "
                                                                   "(GET /sites/{code}/layout shows it)")


class SiteOut(Strict):
    id: int
    code: str
    name: str
    company: str
    timezone: str
    receipt_tolerance_pct: float
    allow_blind_receipt_by_receivers: bool
    allow_typed_check_digits: bool
    count_tolerance_pct: float
    count_tolerance_units: int
    recount_variances: bool
    cycle_count_days: dict[str, int] | None
    layout: dict[str, Any] | None = Field(description="the layout set on the site, or null if it is inferred")


class SiteLayoutOut(BaseModel):
    site: str
    source: Literal["set", "inferred"]
    layout: dict[str, Any]


class ZoneIn(Strict):
    """A zone by code; on an existing zone a field left out keeps its stored value."""

    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: Text = Field(default="", max_length=200)
    category: Text | None = Field(default=None, max_length=64)


class ZonesUpsert(Strict):
    site: Text | None = None
    zones: list[ZoneIn] = Field(min_length=1, max_length=10_000)


class ZoneOut(ZoneIn):
    id: int


class PutawayRuleIn(Strict):
    category: Text = Field(min_length=1, max_length=64)
    zone: Text
    priority: int = Field(default=100, ge=0, le=1_000_000)


class PutawayRulesPut(Strict):
    site: Text | None = None
    rules: list[PutawayRuleIn] = Field(max_length=1000)


def require_group_admin(me: Principal, what: str) -> None:
    """Companies, sites and site settings are the group's: only an all-sites admin changes them (403 otherwise)."""
    if not (me.all_sites and Role.ADMIN in me.roles):
        raise Forbidden(f"only an all-sites admin may {what}", code="all_sites_forbidden")


@router.post("/companies", response_model=CompanyOut, status_code=201)
def upsert_company(body: CompanyIn, me: CurrentUser, session: SessionDep) -> CompanyOut:
    """Create a company or rename it, by code (all-sites admins only)."""
    require_group_admin(me, "create or change companies")
    company = session.exec(select(Company).where(Company.code == body.code)).first()
    before = audit.snapshot(company)
    if company is None:
        company = Company(**body.model_dump())
    else:
        company.name = body.name
    session.add(company)
    session.flush()
    audit.record(session, user_id=me.id, site_id=None, action="company.upsert", entity="company",
                 entity_id=company.id, before=before, after=audit.snapshot(company))
    session.commit()
    return CompanyOut.model_construct(id=company.id, code=company.code, name=company.name)


@router.get("/companies", response_model=Page[CompanyOut])
def list_companies(me: CurrentUser, session: SessionDep) -> Page[CompanyOut]:
    """The companies of the caller's sites (every company for an all-sites user)."""
    rows = session.exec(select(Company).where(Company.id.in_(caller_company_ids(session, me)))
                        .order_by(Company.code)).all()
    # (model_construct: codes stored under older, looser rules must still be readable)
    return Page(data=[CompanyOut.model_construct(id=c.id, code=c.code, name=c.name) for c in rows], count=len(rows))


def _site_out(site: Site, company_code: str) -> SiteOut:
    return SiteOut(id=site.id, code=site.code, name=site.name, company=company_code, timezone=site.timezone,
                   receipt_tolerance_pct=site.receipt_tolerance_pct,
                   allow_blind_receipt_by_receivers=site.allow_blind_receipt_by_receivers,
                   allow_typed_check_digits=site.allow_typed_check_digits,
                   count_tolerance_pct=site.count_tolerance_pct, count_tolerance_units=site.count_tolerance_units,
                   recount_variances=site.recount_variances, cycle_count_days=site.cycle_count_days, layout=site.layout)


def _site_values(body: SiteIn, fields: set[str]) -> dict[str, Any]:
    """The columns a site request sets, layout checked and cycle days without the classes left out."""
    values = body.model_dump(include=fields - {"company", "code"})
    if "layout" in values and values["layout"] is not None:
        values["layout"] = check_layout(values["layout"])
    if values.get("cycle_count_days") is not None:
        values["cycle_count_days"] = {k: v for k, v in values["cycle_count_days"].items() if v is not None} or None
    return values


def _refuse_move_with_master_data(session, site: Site) -> None:  # noqa: ANN001
    """A site whose rows name its company's products can't move to another company (they would name products
    of a company it no longer belongs to): 409. An empty site may move."""
    uses = {
        "stock": select(Move.id).where(Move.site_id == site.id),
        "tasks": select(Task.id).where(Task.site_id == site.id, Task.product_id.is_not(None)),
        "fixed pick faces": select(Location.id).where(Location.site_id == site.id,
                                                      Location.fixed_product_id.is_not(None)),
        "orders": select(OrderLine.id).join(Order, Order.id == OrderLine.order_id).where(Order.site_id == site.id),
        "inbound shipments": select(InboundLine.id).join(InboundShipment, InboundShipment.id == InboundLine.shipment_id)
        .where(InboundShipment.site_id == site.id),
    }
    found = [what for what, query in uses.items() if session.exec(query.limit(1)).first() is not None]
    if found:
        raise Conflict(f"site {site.code} has {', '.join(found)} naming its company's products: it can't move to "
                       "another company", code="site_has_product_data", details={"field": "company", "uses": found})


@router.post("/sites", response_model=SiteOut, status_code=201)
def upsert_site(body: SiteIn, me: CurrentUser, session: SessionDep) -> SiteOut:
    """Create a site or change it (its company, its settings such as receiving tolerances): all-sites admins only."""
    require_group_admin(me, "create or change sites (their company and settings)")
    company = session.exec(select(Company).where(Company.code == body.company)).first()
    if company is None:
        raise Invalid(f"unknown company {body.company!r}", code="unknown_company", details={"field": "company"})
    site = session.exec(select(Site).where(Site.code == body.code)).first()
    if site is None:
        site = Site(company_id=company.id, code=body.code, **_site_values(body, set(SiteIn.model_fields)))
        before = None
    else:
        if site.company_id != company.id:
            _refuse_move_with_master_data(session, site)
        before = audit.snapshot(site)
        for k, v in _site_values(body, body.model_fields_set).items():
            setattr(site, k, v)
        site.company_id = company.id
    session.add(site)
    session.flush()
    audit.record(session, user_id=me.id, site_id=site.id, action="site.upsert", entity="site", entity_id=site.id,
                 before=before, after=audit.snapshot(site))
    session.commit()
    return _site_out(site, company.code)


@router.get("/sites", response_model=Page[SiteOut])
def list_sites(me: CurrentUser, session: SessionDep) -> Page[SiteOut]:
    query = select(Site, Company.code).join(Company, Company.id == Site.company_id).order_by(Site.code)
    if not me.all_sites:
        query = query.join(UserSite, UserSite.site_id == Site.id).where(UserSite.user_id == me.id)
    rows = session.exec(query).all()
    return Page(data=[_site_out(site, code) for site, code in rows], count=len(rows))


def _site_by_code(session, me, code: str) -> tuple[Site, str]:  # noqa: ANN001
    row = session.exec(select(Site, Company.code).join(Company, Company.id == Site.company_id)
                       .where(Site.code == code)).first()
    if row is None or not me.may_access(row[0].id):
        raise NotFound(f"site {code!r} not found", code="unknown_site")
    return row


@router.get("/sites/{code}/layout", response_model=SiteLayoutOut,
            responses={409: {"description": "`no_layout`: the site has no pick or reserve locations to route through"}})
def get_site_layout(code: Text, me: CurrentUser, session: SessionDep) -> SiteLayoutOut:
    """The layout waves are planned on: the one set on the site, or the one inferred from its locations."""
    site, _ = _site_by_code(session, me, code)
    layout, source = site_layout(session, site)
    return SiteLayoutOut(site=site.code, source=source, layout=layout)


class FloorLocation(BaseModel):
    code: str
    kind: str
    zone: str | None
    aisle: str | None
    x: float
    y: float


class FloorAisle(BaseModel):
    aisle: str
    x0: float
    y0: float
    x1: float
    y1: float


class FloorMapOut(BaseModel):
    site: str
    bounds: dict[str, float] = Field(description="min_x, min_y, max_x, max_y of the locations, in metres")
    locations: list[FloorLocation] = Field(description="every active location")
    aisles: list[FloorAisle] = Field(description="each aisle label as the rectangle its locations span")


@router.get("/sites/{code}/floor-map", response_model=FloorMapOut)
def get_floor_map(code: Text, me: CurrentUser, session: SessionDep) -> FloorMapOut:
    """The site's plan: every active location at its x/y, the aisles, and the bounds to draw them in."""
    site, _ = _site_by_code(session, me, code)
    return FloorMapOut(**floor_map(session, site))


class AisleHeat(BaseModel):
    aisle: str
    picks: int


class FloorHeatOut(BaseModel):
    site: str
    from_: datetime = Field(alias="from")
    to: datetime
    aisles: list[AisleHeat] = Field(description="every aisle, with the pick lines done there in the period")
    outside_aisles: int = Field(description="pick lines done at locations without an aisle")


@router.get("/sites/{code}/floor-map/heat", response_model=FloorHeatOut, response_model_by_alias=True)
def get_floor_heat(code: Text, me: CurrentUser, session: SessionDep,
                   from_: AwareDatetime | None = Query(default=None, alias="from",
                                                       description="default: the last 8 hours"),
                   to: AwareDatetime | None = Query(default=None, description="default: now")) -> FloorHeatOut:
    """Pick lines done per aisle in [from, to), for the floor map's heat layer."""
    site, _ = _site_by_code(session, me, code)
    end = to or datetime.now(timezone.utc)
    start = from_ or end - timedelta(hours=8)
    if start >= end:
        raise Invalid("'from' must be before 'to'", code="invalid_period", details={"field": "from"})
    if end - start > timedelta(days=366):
        raise Invalid("ask for a year at most", code="invalid_period", details={"field": "from"})
    return FloorHeatOut(**aisle_heat(session, site, start, end))


@router.put("/sites/{code}/layout", response_model=SiteLayoutOut)
def put_site_layout(code: Text, body: SiteLayoutIn, me: CurrentUser, session: SessionDep) -> SiteLayoutOut:
    """Set the site's layout (aisles, cross aisles, depot, travel figures); later waves are planned on it."""
    site, _ = _site_by_code(session, me, code)
    before = {"layout": site.layout}
    site.layout = check_layout(body.model_dump())
    session.add(site)
    audit.record(session, user_id=me.id, site_id=site.id, action="site.layout", entity="site", entity_id=site.id,
                 before=before, after={"layout": site.layout})
    session.commit()
    return SiteLayoutOut(site=site.code, source="set", layout=site.layout)


@router.delete("/sites/{code}/layout", response_model=SiteLayoutOut)
def delete_site_layout(code: Text, me: CurrentUser, session: SessionDep) -> SiteLayoutOut:
    """Forget the layout set on the site: waves are planned on the one inferred from its locations again."""
    site, _ = _site_by_code(session, me, code)
    before = {"layout": site.layout}
    site.layout = None
    session.add(site)
    audit.record(session, user_id=me.id, site_id=site.id, action="site.layout", entity="site", entity_id=site.id,
                 before=before, after={"layout": None})
    session.commit()
    layout, source = site_layout(session, site)
    return SiteLayoutOut(site=site.code, source=source, layout=layout)


@router.post("/zones", response_model=UpsertResult)
def upsert_zones_route(body: ZonesUpsert, me: CurrentUser, session: SessionDep) -> UpsertResult:
    site = resolve_site(session, me, body.site)
    result = upsert_zones(session, site, [z.model_dump(include=z.model_fields_set | {"code"}) for z in body.zones],
                          me.id)
    session.commit()
    return UpsertResult(**result)


@router.get("/zones", response_model=Page[ZoneOut])
def list_zones(me: CurrentUser, session: SessionDep, site: Text | None = None) -> Page[ZoneOut]:
    site_row = resolve_site(session, me, site)
    rows = session.exec(select(Zone).where(Zone.site_id == site_row.id).order_by(Zone.code)).all()
    zones = [ZoneOut.model_construct(id=z.id, code=z.code, name=z.name, category=z.category) for z in rows]
    return Page(data=zones, count=len(rows))  # (not validated: codes stored under older rules stay readable)


@router.put("/putaway-rules", response_model=Page[PutawayRuleIn])
def replace_putaway_rules(body: PutawayRulesPut, me: CurrentUser, session: SessionDep) -> Page[PutawayRuleIn]:
    """Replace the site's category → zone putaway rules."""
    site = resolve_site(session, me, body.site)
    zones = {z.code: z.id for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
    for index, rule in enumerate(body.rules):
        if rule.zone not in zones:
            raise Invalid(f"rule {index}: unknown zone {rule.zone!r}", code="unknown_zone",
                          details={"row": index, "field": "zone"})
    for old in session.exec(select(PutawayRule).where(PutawayRule.site_id == site.id)).all():
        session.delete(old)
    for rule in body.rules:
        session.add(PutawayRule(site_id=site.id, category=rule.category, zone_id=zones[rule.zone],
                                priority=rule.priority))
    audit.record(session, user_id=me.id, site_id=site.id, action="putaway_rules.replace", entity="site",
                 entity_id=site.id, after={"rules": [r.model_dump() for r in body.rules]})
    session.commit()
    return Page(data=body.rules, count=len(body.rules))


@router.get("/putaway-rules", response_model=Page[PutawayRuleIn])
def list_putaway_rules(me: CurrentUser, session: SessionDep, site: Text | None = None) -> Page[PutawayRuleIn]:
    site_row = resolve_site(session, me, site)
    rows = session.exec(
        select(PutawayRule, Zone.code).join(Zone, Zone.id == PutawayRule.zone_id)
        .where(PutawayRule.site_id == site_row.id).order_by(PutawayRule.priority, PutawayRule.id)
    ).all()
    data = [PutawayRuleIn(category=r.category, zone=code, priority=r.priority) for r, code in rows]
    return Page(data=data, count=len(data))
