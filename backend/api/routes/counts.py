"""Count tasks: on demand for named locations, or the cycle counts that are due by ABC class."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import select

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Strict
from backend.bounds import StrictBool, Text
from backend.errors import Invalid
from backend.execution.counting import due_for_cycle_count, request_counts
from backend.models import Location

router = APIRouter(prefix="/counts", tags=["counting"])


class CountsIn(Strict):
    site: Text | None = None
    locations: list[Text] | None = Field(default=None, max_length=5000, description="on demand: these locations")
    cycle: StrictBool = Field(default=False, description="every location whose cycle count is due (A 30, B 91, C 365 days)")


class CountsOut(BaseModel):
    tasks: list[int]
    locations: list[str]


@router.post("", response_model=CountsOut, status_code=201)
def create_counts(body: CountsIn, me: CurrentUser, session: SessionDep) -> CountsOut:
    """Blind count tasks (one open count per location at most)."""
    site = resolve_site(session, me, body.site)
    if not body.cycle and not body.locations:
        raise Invalid("name locations or ask for the due cycle counts", code="nothing_to_count")
    ids: list[int] = []
    if body.locations:
        found = dict(session.exec(select(Location.code, Location.id).where(
            Location.site_id == site.id, Location.code.in_(body.locations))).all())
        unknown = sorted(set(body.locations) - set(found))
        if unknown:
            raise Invalid(f"unknown location {unknown[0]!r}", code="unknown_location",
                          details={"field": "locations", "unknown": unknown[:50]})
        ids += list(found.values())
    if body.cycle:
        ids += due_for_cycle_count(session, site, datetime.now(timezone.utc).date())
    tasks = request_counts(session, site, sorted(set(ids)), reason="cycle" if body.cycle else "on_demand")
    codes = dict(session.exec(select(Location.id, Location.code).where(
        Location.id.in_([t.from_location_id for t in tasks] or [-1]))).all())
    session.commit()
    return CountsOut(tasks=[t.id for t in tasks], locations=[codes[t.from_location_id] for t in tasks])
