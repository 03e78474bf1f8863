"""KPIs for supervisors: GET /kpis (every table as JSON) and GET /kpis/{table}.csv (one table, for a spreadsheet).

What each table means and where it comes from: backend.insights.kpis.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import select

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.downloads import content_disposition
from backend.auth.principal import Principal
from backend.bounds import Text
from backend.errors import Invalid, NotFound
from backend.insights.kpis import FILTERED_BY, TABLES, Period, kpi_table, kpi_tables, refresh_rollups
from backend.models import User, Zone, utcnow

router = APIRouter(prefix="/kpis", tags=["kpis"])

DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=366)


class KpiTableOut(BaseModel):
    columns: list[str] = Field(description="the rows' keys, in the CSV's column order")
    rows: list[dict[str, Any]]
    filtered_by: list[str] = Field(description="which of the zone and worker filters this table took")


class KpisOut(BaseModel):
    site: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    hours: float
    zone: str | None
    worker: str | None
    tables: dict[str, KpiTableOut]


def _utc(value: datetime) -> datetime:
    """A time without an offset is taken as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _period(session, me: Principal, site: str | None, start: datetime | None, end: datetime | None,  # noqa: ANN001
            zone: str | None, worker: str | None) -> tuple[str, Period]:
    """The site's code and the period asked for, checked (default: the last 24 hours); the site's KPI rollups
    brought up to date (backend.insights.kpis.refresh_rollups)."""
    site_row = resolve_site(session, me, site)
    now = utcnow()
    end = _utc(end) if end is not None else now
    start = _utc(start) if start is not None else end - DEFAULT_SPAN
    if end <= start:
        raise Invalid("'to' must be later than 'from'", code="invalid_period",
                      details={"field": "to", "from": start.isoformat(), "to": end.isoformat()})
    if end - start > MAX_SPAN:
        raise Invalid(f"ask for at most {MAX_SPAN.days} days at a time", code="period_too_long",
                      details={"field": "from", "days": round((end - start).total_seconds() / 86400, 2)})
    zone_id = user_id = None
    if zone is not None:
        zone_id = session.exec(select(Zone.id).where(Zone.site_id == site_row.id, Zone.code == zone)).first()
        if zone_id is None:
            raise NotFound(f"zone {zone!r} not found at {site_row.code}", code="unknown_zone",
                           details={"field": "zone"})
    if worker is not None:
        user_id = session.exec(select(User.id).where(User.username == worker)).first()
        if user_id is None:
            raise NotFound(f"worker {worker!r} not found", code="unknown_worker", details={"field": "worker"})
    refresh_rollups(session, site_row.id, now)
    return site_row.code, Period(site_row.id, start, end, zone_id, user_id)


_FROM = Query(default=None, alias="from", description="ISO 8601; default: 24 hours before 'to' (no offset = UTC)")
_TO = Query(default=None, description="ISO 8601, excluded; default: now (no offset = UTC)")
_ZONE = Query(default=None, max_length=32, description="a zone's code: the tables that take it keep its work")
_WORKER = Query(default=None, max_length=64, description="a username: the tables that take it keep their work")


@router.get("", response_model=KpisOut, response_model_by_alias=True)
def get_kpis(me: CurrentUser, session: SessionDep, site: Text | None = None, start: datetime | None = _FROM,
             to: datetime | None = _TO, zone: Text | None = _ZONE, worker: Text | None = _WORKER) -> KpisOut:
    """Every KPI table of the site over [from, to): one object per table (backend.insights.kpis says how each
    is computed, from the ledger, tasks and the audit trail)."""
    code, period = _period(session, me, site, start, to, zone, worker)
    return KpisOut(site=code, from_=period.start, to=period.end, hours=round(period.hours, 6), zone=zone,
                   worker=worker, tables={name: KpiTableOut(**table)
                                          for name, table in kpi_tables(session, period).items()})


def _cell(value: Any) -> Any:
    return "" if value is None else value


@router.get("/{table}.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "a header row, then one row per entry"}})
def get_kpi_csv(table: Text, me: CurrentUser, session: SessionDep, site: Text | None = None,
                start: datetime | None = _FROM, to: datetime | None = _TO, zone: Text | None = _ZONE,
                worker: Text | None = _WORKER) -> Response:
    """One KPI table as CSV (the same parameters as GET /kpis)."""
    if table not in TABLES:
        raise NotFound(f"no KPI table {table!r}: ask for one of {', '.join(TABLES)}", code="unknown_kpi_table",
                       details={"field": "table", "tables": list(TABLES)})
    code, period = _period(session, me, site, start, to, zone, worker)
    columns = TABLES[table]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in kpi_table(session, period, table):
        writer.writerow([_cell(row[column]) for column in columns])
    filters = "".join(f"-{value}" for key, value in (("zone", zone), ("worker", worker))
                      if value is not None and key in FILTERED_BY[table])
    name = f"kpis-{code}-{table}-{period.start:%Y%m%dT%H%M}-{period.end:%Y%m%dT%H%M}{filters}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(name, "attachment")})
