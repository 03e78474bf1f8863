"""Companies, sites and zones."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import select

from backend import audit
from backend.api.deps import ALL_ROLES, CurrentUser, SessionDep, require_roles, resolve_site
from backend.api.schemas import Page, Strict, UpsertResult
from backend.errors import Conflict, Forbidden, Invalid
from backend.masterdata import upsert_zones
from backend.models import Company, PutawayRule, Site, UserSite, Zone

router = APIRouter(tags=["sites"])

CODE = r"^[A-Za-z0-9_.-]+$"


class CompanyIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)


class CompanyOut(CompanyIn):
    id: int


class SiteIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    company: str = Field(min_length=1, max_length=32)
    timezone: str = Field(default="UTC", max_length=64)
    receipt_tolerance_pct: float = Field(default=0.0, ge=0, le=100)
    allow_blind_receipt_by_receivers: bool = False


class SiteOut(Strict):
    id: int
    code: str
    name: str
    company: str
    timezone: str
    receipt_tolerance_pct: float
    allow_blind_receipt_by_receivers: bool


class ZoneIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=CODE)
    name: str = Field(default="", max_length=200)
    category: str | None = Field(default=None, max_length=64)


class ZonesUpsert(Strict):
    site: str | None = None
    zones: list[ZoneIn] = Field(min_length=1, max_length=10_000)


class ZoneOut(ZoneIn):
    id: int


class PutawayRuleIn(Strict):
    category: str = Field(min_length=1, max_length=64)
    zone: str
    priority: int = Field(default=100, ge=0)


class PutawayRulesPut(Strict):
    site: str | None = None
    rules: list[PutawayRuleIn] = Field(max_length=1000)


@router.post("/companies", response_model=CompanyOut, status_code=201,
             dependencies=[require_roles("admin", "integration")])
def upsert_company(body: CompanyIn, me: CurrentUser, session: SessionDep) -> CompanyOut:
    if not me.all_sites:
        raise Forbidden("only group-wide users may manage companies", code="all_sites_forbidden")
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
    return CompanyOut(id=company.id, code=company.code, name=company.name)


@router.get("/companies", response_model=Page[CompanyOut], dependencies=[require_roles(*ALL_ROLES)])
def list_companies(session: SessionDep) -> Page[CompanyOut]:
    rows = session.exec(select(Company).order_by(Company.code)).all()
    return Page(data=[CompanyOut(id=c.id, code=c.code, name=c.name) for c in rows], count=len(rows))


def _site_out(site: Site, company_code: str) -> SiteOut:
    return SiteOut(id=site.id, code=site.code, name=site.name, company=company_code, timezone=site.timezone,
                   receipt_tolerance_pct=site.receipt_tolerance_pct,
                   allow_blind_receipt_by_receivers=site.allow_blind_receipt_by_receivers)


@router.post("/sites", response_model=SiteOut, status_code=201, dependencies=[require_roles("admin", "integration")])
def upsert_site(body: SiteIn, me: CurrentUser, session: SessionDep) -> SiteOut:
    company = session.exec(select(Company).where(Company.code == body.company)).first()
    if company is None:
        raise Invalid(f"unknown company {body.company!r}", code="unknown_company", details={"field": "company"})
    site = session.exec(select(Site).where(Site.code == body.code)).first()
    if site is None:
        if not me.all_sites:
            raise Forbidden("only group-wide users may create sites", code="all_sites_forbidden")
        site = Site(company_id=company.id, **body.model_dump(exclude={"company"}))
        before = None
    else:
        if not me.may_access(site.id):
            raise Conflict(f"site code {body.code!r} is taken", code="site_code_taken")
        before = audit.snapshot(site)
        for k, v in body.model_dump(exclude={"company", "code"}).items():
            setattr(site, k, v)
        site.company_id = company.id
    session.add(site)
    session.flush()
    audit.record(session, user_id=me.id, site_id=site.id, action="site.upsert", entity="site", entity_id=site.id,
                 before=before, after=audit.snapshot(site))
    session.commit()
    return _site_out(site, company.code)


@router.get("/sites", response_model=Page[SiteOut], dependencies=[require_roles(*ALL_ROLES)])
def list_sites(me: CurrentUser, session: SessionDep) -> Page[SiteOut]:
    query = select(Site, Company.code).join(Company, Company.id == Site.company_id).order_by(Site.code)
    if not me.all_sites:
        query = query.join(UserSite, UserSite.site_id == Site.id).where(UserSite.user_id == me.id)
    rows = session.exec(query).all()
    return Page(data=[_site_out(site, code) for site, code in rows], count=len(rows))


@router.post("/zones", response_model=UpsertResult, dependencies=[require_roles("admin", "integration", "supervisor")])
def upsert_zones_route(body: ZonesUpsert, me: CurrentUser, session: SessionDep) -> UpsertResult:
    site = resolve_site(session, me, body.site)
    result = upsert_zones(session, site, [z.model_dump() for z in body.zones], me.id)
    session.commit()
    return UpsertResult(**result)


@router.get("/zones", response_model=Page[ZoneOut], dependencies=[require_roles(*ALL_ROLES)])
def list_zones(me: CurrentUser, session: SessionDep, site: str | None = Query(default=None)) -> Page[ZoneOut]:
    site_row = resolve_site(session, me, site)
    rows = session.exec(select(Zone).where(Zone.site_id == site_row.id).order_by(Zone.code)).all()
    return Page(data=[ZoneOut(id=z.id, code=z.code, name=z.name, category=z.category) for z in rows], count=len(rows))


@router.put("/putaway-rules", response_model=Page[PutawayRuleIn],
            dependencies=[require_roles("admin", "integration", "supervisor")])
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


@router.get("/putaway-rules", response_model=Page[PutawayRuleIn], dependencies=[require_roles(*ALL_ROLES)])
def list_putaway_rules(me: CurrentUser, session: SessionDep, site: str | None = None) -> Page[PutawayRuleIn]:
    site_row = resolve_site(session, me, site)
    rows = session.exec(
        select(PutawayRule, Zone.code).join(Zone, Zone.id == PutawayRule.zone_id)
        .where(PutawayRule.site_id == site_row.id).order_by(PutawayRule.priority, PutawayRule.id)
    ).all()
    data = [PutawayRuleIn(category=r.category, zone=code, priority=r.priority) for r, code in rows]
    return Page(data=data, count=len(data))
