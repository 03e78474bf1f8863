"""Anomalies: locations that keep shorting and SKUs whose counts keep differing, each with what to do."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, resolve_site
from backend.bounds import Text
from backend.insights.anomalies import suggestions
from backend.models import utcnow

router = APIRouter(prefix="/anomalies", tags=["anomalies"])


class Action(BaseModel):
    kind: Literal["count_location", "none"]
    label: str = Field(description="what to do, and what the rate was compared with")
    method: Literal["POST"] | None = Field(description="the one call that does it; null: nothing to call")
    path: str | None
    body: dict[str, Any] | None


class Suggestion(BaseModel):
    kind: Literal["count_location", "check_sku"]
    subject: str = Field(description="the location's code, or the SKU")
    reason: str = Field(description='e.g. "count A03-017-4: 3 shorts today", "check SKU-00042: 2 count variances '
                                    'this week"')
    action: Action


class Suggestions(BaseModel):
    data: list[Suggestion]
    at: datetime


@router.get("", response_model=Suggestions)
def list_anomalies(me: CurrentUser, session: SessionDep, runtime: RuntimeDep, site: Text | None = None) -> Suggestions:
    """Locations with unusually many short picks, SKUs with unusually many count variances (backend.insights.anomalies
    says how unusual is measured)."""
    site_row = resolve_site(session, me, site)
    now = utcnow()
    return Suggestions(data=suggestions(session, site_row.id, now, runtime.settings), at=now)
