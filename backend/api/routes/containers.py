from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlmodel import func, select

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, resolve_site
from backend.api.schemas import Page, Strict
from backend.bounds import Count, StrictBool, Text
from backend.containers import container_by_code, create_containers
from backend.errors import NotFound
from backend.models import Container, Location

router = APIRouter(prefix="/containers", tags=["containers"])

Kind = Literal["pallet", "case", "tote", "carton"]


class ContainersCreate(Strict):
    site: Text | None = None
    kind: Kind
    count: int = Field(default=1, ge=1, le=10_000)
    sscc: StrictBool = Field(default=False, description="give each container a new SSCC from the site's GS1 prefix")
    location: Text | None = None


class ContainerOut(Strict):
    id: int
    code: str
    kind: str
    sscc: str | None
    location: str | None
    status: str


def _out(container: Container, location_code: str | None) -> ContainerOut:
    return ContainerOut(id=container.id, code=container.code, kind=container.kind, sscc=container.sscc,
                        location=location_code, status=container.status)


@router.post("", response_model=Page[ContainerOut], status_code=201)
def create(body: ContainersCreate, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> Page[ContainerOut]:
    """Create LPNs (optionally with SSCCs): pallets, cases, totes or cartons."""
    site = resolve_site(session, me, body.site)
    location = None
    if body.location:
        location = session.exec(
            select(Location).where(Location.site_id == site.id, Location.code == body.location)
        ).first()
        if location is None:
            raise NotFound(f"location {body.location!r} not found", code="unknown_location",
                           details={"field": "location"})
    made = create_containers(session, runtime.settings, site_id=site.id, site_code=site.code, kind=body.kind,
                             count=body.count, with_sscc=body.sscc, location_id=location.id if location else None,
                             user_id=me.id)
    session.commit()
    code = location.code if location else None
    return Page(data=[_out(c, code) for c in made], count=len(made))


@router.get("", response_model=Page[ContainerOut])
def list_containers(
    me: CurrentUser, session: SessionDep, site: Text | None = None, kind: Kind | None = None,
    status: Text | None = None, limit: int = Query(default=500, ge=1, le=10_000), offset: Count = 0,
) -> Page[ContainerOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Container.site_id == site_row.id]
    if kind:
        conditions.append(Container.kind == kind)
    if status:
        conditions.append(Container.status == status)
    total = session.exec(select(func.count()).select_from(Container).where(*conditions)).one()
    rows = session.exec(
        select(Container, Location.code).outerjoin(Location, Location.id == Container.location_id)
        .where(*conditions).order_by(Container.id).offset(offset).limit(limit)
    ).all()
    return Page(data=[_out(c, loc) for c, loc in rows], count=total)


@router.get("/{code}", response_model=ContainerOut)
def get_container(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> ContainerOut:
    site_row = resolve_site(session, me, site)
    container = container_by_code(session, site_row.id, code)
    if container is None:
        raise NotFound(f"container {code!r} not found", code="unknown_lpn")
    loc = session.get(Location, container.location_id) if container.location_id else None
    return _out(container, loc.code if loc else None)
