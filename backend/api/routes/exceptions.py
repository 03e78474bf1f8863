"""Exceptions queue for supervisors: over-receipts, damage, short picks, variances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import func, select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, ensure_site_access, resolve_site
from backend.api.schemas import Page, Strict
from backend.auth.principal import Principal
from backend.bounds import Count, Id, MultilineText, Text
from backend.devices.stream import touch_site
from backend.errors import Conflict, NotFound
from backend.insights.desk import exception_detail
from backend.models import Site, User, WarehouseException, utcnow
from backend.receiving.service import Receiver, approved_request
from backend.roles import Role
from backend.webhooks import payloads

router = APIRouter(prefix="/exceptions", tags=["exceptions"])


class ExceptionOut(BaseModel):
    id: int
    kind: str
    state: str
    message: str
    details: dict[str, Any] | None
    task_id: int | None
    raised_by: int | None
    resolved_by: int | None
    resolution_note: str
    created_at: datetime
    resolved_at: datetime | None


class Resolution(Strict):
    note: MultilineText = Field(default="", max_length=500)


def _out(e: WarehouseException) -> ExceptionOut:
    return ExceptionOut(**e.model_dump(exclude={"site_id"}))


@router.get("", response_model=Page[ExceptionOut])
def list_exceptions(
    me: CurrentUser, session: SessionDep, site: Text | None = None, state: Text | None = "open",
    kind: Text | None = None, limit: int = Query(default=200, ge=1, le=5000), offset: Count = 0,
) -> Page[ExceptionOut]:
    site_row = resolve_site(session, me, site)
    conditions = [WarehouseException.site_id == site_row.id]
    if state:
        conditions.append(WarehouseException.state == state)
    if kind:
        conditions.append(WarehouseException.kind == kind)
    total = session.exec(select(func.count()).select_from(WarehouseException).where(*conditions)).one()
    rows = session.exec(select(WarehouseException).where(*conditions).order_by(WarehouseException.id)
                        .offset(offset).limit(limit)).all()
    return Page(data=[_out(e) for e in rows], count=total)


def _load(session, me: Principal, exception_id: int) -> WarehouseException:  # noqa: ANN001
    exc = session.get(WarehouseException, exception_id)
    if exc is None:
        raise NotFound(f"exception {exception_id} not found", code="unknown_exception")
    ensure_site_access(me, exc.site_id, f"exception {exception_id}", code="unknown_exception")
    return exc


@router.get("/{exception_id}", response_model=ExceptionOut)
def get_exception(exception_id: Id, me: CurrentUser, session: SessionDep) -> ExceptionOut:
    return _out(_load(session, me, exception_id))


class StockLine(BaseModel):
    sku: str
    lot: str | None
    location: str
    before: int
    after: int


class ExceptionDetailOut(ExceptionOut):
    who: str | None = Field(description="who raised it (null: the system, e.g. the print spool)")
    resolved_by_name: str | None = Field(description="who approved or rejected it")
    where: str | None = Field(description="the location (or station) code it is about")
    scanned: str | None = Field(description="what was scanned or counted, as the floor sent it")
    stock_before: int | None = Field(description="open: the product's quantity there now; resolved: what it was")
    stock_after: int | None = Field(description="open: what approving would make it; resolved: what it is now")
    stock_lines: list[StockLine] = Field(description="the same per product and lot")
    effect: str = Field(description="what approving does, in plain words")


@router.get("/{exception_id}/detail", response_model=ExceptionDetailOut)
def exception_detail_route(exception_id: Id, me: CurrentUser, session: SessionDep) -> ExceptionDetailOut:
    """The exception with who raised it, where, what was scanned, and the stock before and after approving."""
    exc = _load(session, me, exception_id)
    detail = exception_detail(session, exc)
    return ExceptionDetailOut(**_out(exc).model_dump(), **{k: v for k, v in detail.items() if k in _DETAIL_ONLY},
                              resolved_by_name=detail["resolved_by"])


_DETAIL_ONLY = ("who", "where", "scanned", "stock_before", "stock_after", "stock_lines", "effect")


def _load_open(session, me: Principal, exception_id: int) -> WarehouseException:  # noqa: ANN001
    # Row lock on PostgreSQL: two supervisors approving at once resolve it once.
    exc = session.exec(
        select(WarehouseException).where(WarehouseException.id == exception_id).with_for_update()
    ).first()
    if exc is None:
        raise NotFound(f"exception {exception_id} not found", code="unknown_exception")
    ensure_site_access(me, exc.site_id, f"exception {exception_id}", code="unknown_exception")
    if exc.state != "open":
        raise Conflict(f"exception {exception_id} is already {exc.state}", code="exception_resolved")
    return exc


def _resolve(session, me: Principal, exc: WarehouseException, state: str, note: str) -> None:  # noqa: ANN001
    before = {"state": exc.state}
    exc.state = state
    exc.resolved_by = me.id
    exc.resolution_note = note
    exc.resolved_at = utcnow()
    session.add(exc)
    audit.record(session, user_id=me.id, site_id=exc.site_id, action=f"exception.{state}",
                 entity="warehouse_exception", entity_id=exc.id, before=before, after={"state": state, "note": note})
    touch_site(session, exc.site_id)  # the walls' exception queue
    payloads.exception_resolved(session, exc)


@router.post("/{exception_id}/approve", response_model=ExceptionOut)
def approve(exception_id: Id, body: Resolution, me: CurrentUser, runtime: RuntimeDep,
            session: SessionDep) -> ExceptionOut:
    """Approve: an over-receipt is then posted as received, a count variance as adjusted; others are acknowledged."""
    exc = _load_open(session, me, exception_id)
    if exc.kind == "over_receipt":
        site = session.get(Site, exc.site_id)
        requester = session.get(User, (exc.details or {}).get("requested_by"))
        who = Principal(id=requester.id if requester else me.id, username="", roles=frozenset({Role.SUPERVISOR}),
                        all_sites=True, site_ids=frozenset())
        outcome = Receiver(session, runtime.settings, who, site).receive(approved_request(exc.details), allow_over=True)
        exc.details = {**exc.details, "posted": {"lpn": outcome.lpn, "putaway_task_id": outcome.putaway_task_id,
                                                 "receipt_ids": [ln.receipt_id for ln in outcome.lines]}}
    if exc.kind == "count_variance":
        from backend.execution.counting import approve_variance

        approve_variance(session, session.get(Site, exc.site_id), exc, me.id)
    _resolve(session, me, exc, "approved", body.note)
    session.commit()
    return _out(exc)


@router.post("/{exception_id}/reject", response_model=ExceptionOut)
def reject(exception_id: Id, body: Resolution, me: CurrentUser, session: SessionDep) -> ExceptionOut:
    exc = _load_open(session, me, exception_id)
    _resolve(session, me, exc, "rejected", body.note)
    session.commit()
    return _out(exc)
