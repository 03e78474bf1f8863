"""Orders at risk of missing their cut-off, the one-tap release of one of them, and how well the risk is predicted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, resolve_site
from backend.api.schemas import Strict
from backend.bounds import Text
from backend.errors import Invalid
from backend.insights.at_risk import orders_at_risk, prediction_hit_rate, release_order_now
from backend.models import utcnow

router = APIRouter(prefix="/at-risk", tags=["orders at risk"])


class Action(BaseModel):
    kind: Literal["release_now", "move_picker", "split_order", "none"]
    label: str = Field(description="what to do, in plain words")
    method: Literal["POST", "PUT"] | None = Field(description="the one call that does it; null: no single call does")
    path: str | None
    body: dict[str, Any] | None


class AtRisk(BaseModel):
    order: str
    cut_off: datetime
    minutes_left: float
    remaining_lines: int = Field(description="picks left to do (open, or allocated and not released, or not "
                                             "allocated yet)")
    zones: list[str] = Field(description="the zones of those picks")
    reason: str = Field(description='e.g. "14 lines in zone C, 2 pickers at 70 lines/h, cut-off in 25 min: misses '
                                    'it by 4 min" (the lines its slowest zone picks before this order is done)')
    action: Action


class AtRiskList(BaseModel):
    data: list[AtRisk]
    at: datetime


@router.get("", response_model=AtRiskList)
def list_at_risk(me: CurrentUser, session: SessionDep, runtime: RuntimeDep, site: Text | None = None) -> AtRiskList:
    """Open orders predicted to miss their cut-off, or to make it by less than the margin, most urgent first.

    How the prediction is made: backend.insights.at_risk (remaining lines by zone, the queue ahead of the order
    there, the pickers in the zone and their pace over the last hour, then packing and shipping).
    """
    site_row = resolve_site(session, me, site)
    now = utcnow()
    return AtRiskList(data=orders_at_risk(session, site_row.id, now, runtime.settings), at=now)


class HitRate(BaseModel):
    site: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    scored: int = Field(description="orders with a cut-off in the period that shipped, or whose cut-off passed")
    hits: int = Field(description="flagged and missed, or not flagged and made it (at their last prediction)")
    hit_rate: float | None = Field(description="hits ÷ scored; null when nothing is scored")
    flagged: int
    flagged_missed: int


@router.get("/hit-rate", response_model=HitRate, response_model_by_alias=True)
def hit_rate(me: CurrentUser, session: SessionDep, site: Text | None = None,
             start: AwareDatetime | None = Query(default=None, alias="from",
                                                 description="cut-offs from (default: 7 days before `to`)"),
             end: AwareDatetime | None = Query(default=None, alias="to", description="cut-offs before (default: now)"),
             ) -> HitRate:
    """How often the at-risk prediction was right, for the orders whose cut-off lies in [from, to)."""
    site_row = resolve_site(session, me, site)
    end = end or utcnow()
    start = start or end - timedelta(days=7)
    if start >= end:
        raise Invalid("'from' must be before 'to'", code="invalid_period", details={"field": "from"})
    return HitRate(site=site_row.code, **{"from": start, "to": end},
                   **prediction_hit_rate(session, site_row.id, start, end))


class SiteOnly(Strict):
    site: Text | None = None


class Released(BaseModel):
    order: str
    wave_id: int
    status: str
    tours: int
    picks: int


@router.post("/{reference}/release", response_model=Released,
             responses={409: {"description": "the order is in a released wave already, shipped, held, cancelled "
                                             "(`not_releasable`), or nothing can be allocated to it "
                                             "(`nothing_to_release`)"}})
def release(reference: Text, body: SiteOnly, me: CurrentUser, session: SessionDep) -> Released:
    """Release one order now: a wave of this order alone, planned and released in one transaction."""
    site_row = resolve_site(session, me, body.site)
    wave = release_order_now(session, site_row, reference, user_id=me.id, today=utcnow().date())
    session.commit()
    return Released(order=reference, wave_id=wave.id, status=wave.status, tours=wave.tours, picks=wave.lines)
