"""Outbound orders: import, query, hold/release/cancel, allocate."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import func, select

from backend.allocation.service import allocate_orders
from backend.api.deps import ALL_ROLES, CurrentUser, SessionDep, require_roles, resolve_site
from backend.api.schemas import Page, Strict
from backend.errors import Invalid, NotFound
from backend.masterdata import among
from backend.models import Order, OrderLine, Product
from backend.orders.service import cancel_order, import_orders, order_by_reference, set_hold

router = APIRouter(prefix="/orders", tags=["orders"])

OrderStatus = Literal["new", "allocated", "partly_allocated", "backordered", "in_wave", "picking", "picked", "packed",
                      "shipped", "cancelled", "held"]


class OrderLineIn(Strict):
    line_no: int = Field(ge=1)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1_000_000)
    unit: Literal["each", "case"] = "each"


class OrderIn(Strict):
    reference: str = Field(min_length=1, max_length=64)
    customer: str = Field(default="", max_length=200)
    priority: int = Field(default=5, ge=1, le=9, description="1 is the most urgent")
    carrier: str = Field(default="", max_length=64)
    service: str = Field(default="", max_length=64)
    cut_off: AwareDatetime | None = None
    ship_to: dict[str, Any] | None = None
    backorder_policy: Literal["allow_partial", "ship_complete", "fill_or_kill"] = "allow_partial"
    min_shelf_life_days: int = Field(default=0, ge=0, le=3650)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)


class OrdersImport(Strict):
    site: str | None = None
    orders: list[OrderIn] = Field(min_length=1, max_length=10_000)
    partial: bool = Field(default=False, description="import the valid orders and list the rejected ones")


class Accepted(BaseModel):
    reference: str
    id: int
    created: bool


class Problem(BaseModel):
    line_no: int | None
    field: str
    code: str
    message: str


class Rejected(BaseModel):
    reference: str
    problems: list[Problem]


class ImportResult(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected]


@router.post("", response_model=ImportResult, dependencies=[require_roles("integration", "admin", "supervisor")])
def import_route(body: OrdersImport, me: CurrentUser, session: SessionDep, response: Response) -> ImportResult:
    """Import up to 10,000 orders, idempotent by reference. Without `partial`, one bad order rejects the batch."""
    site = resolve_site(session, me, body.site)
    outcomes = import_orders(session, site, [o.model_dump() for o in body.orders], partial=body.partial,
                             user_id=me.id)
    rejected = [Rejected(reference=o.reference, problems=[Problem(**p.__dict__) for p in o.problems])
                for o in outcomes if o.problems]
    if rejected and not body.partial:
        session.rollback()
        first = rejected[0]
        raise Invalid(
            f"order {first.reference}: {first.problems[0].message}; nothing was imported",
            code="orders_rejected",
            details={"rejected": [r.model_dump() for r in rejected]},
        )
    session.commit()
    accepted = [Accepted(reference=o.reference, id=o.id, created=o.created) for o in outcomes if not o.problems]
    response.status_code = 201 if any(a.created for a in accepted) else 200
    return ImportResult(accepted=accepted, rejected=rejected)


class LineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit: str
    unit_quantity: int
    quantity_allocated: int
    quantity_picked: int


class OrderOut(BaseModel):
    id: int
    reference: str
    customer: str
    priority: int
    carrier: str
    service: str
    cut_off: datetime | None
    ship_to: dict[str, Any] | None
    status: str
    backorder_policy: str
    min_shelf_life_days: int
    wave_id: int | None
    lines: list[LineOut]


def _out(session, orders: list[Order]) -> list[OrderOut]:  # noqa: ANN001
    lines: dict[int, list[LineOut]] = {o.id: [] for o in orders}
    for condition in among(session, OrderLine.order_id, [o.id for o in orders]):
        for line, sku in session.exec(
            select(OrderLine, Product.sku).join(Product, Product.id == OrderLine.product_id).where(condition)
            .order_by(OrderLine.order_id, OrderLine.line_no)
        ).all():
            lines[line.order_id].append(LineOut(line_no=line.line_no, sku=sku, quantity=line.quantity, unit=line.unit,
                                                unit_quantity=line.unit_quantity,
                                                quantity_allocated=line.quantity_allocated,
                                                quantity_picked=line.quantity_picked))
    return [OrderOut(**o.model_dump(exclude={"site_id", "created_at", "updated_at"}), lines=lines[o.id]) for o in orders]


@router.get("", response_model=Page[OrderOut], dependencies=[require_roles(*ALL_ROLES)])
def list_orders(
    me: CurrentUser, session: SessionDep, site: str | None = None, status: str | None = None,
    carrier: str | None = None, reference: str | None = None, wave_id: int | None = None,
    cut_off_before: AwareDatetime | None = None, cut_off_after: AwareDatetime | None = None,
    limit: int = Query(default=100, ge=1, le=5000), offset: int = Query(default=0, ge=0),
) -> Page[OrderOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Order.site_id == site_row.id]
    if status:
        conditions.append(Order.status.in_(status.split(",")))
    if carrier:
        conditions.append(Order.carrier == carrier)
    if reference:
        conditions.append(Order.reference == reference)
    if wave_id is not None:
        conditions.append(Order.wave_id == wave_id)
    if cut_off_before:
        conditions.append(Order.cut_off <= cut_off_before)
    if cut_off_after:
        conditions.append(Order.cut_off >= cut_off_after)
    total = session.exec(select(func.count()).select_from(Order).where(*conditions)).one()
    rows = list(session.exec(select(Order).where(*conditions).order_by(Order.id).offset(offset).limit(limit)).all())
    return Page(data=_out(session, rows), count=total)


def _load(session, me, site: str | None, reference: str) -> Order:  # noqa: ANN001
    site_row = resolve_site(session, me, site)
    order = order_by_reference(session, site_row.id, reference)
    if order is None:
        raise NotFound(f"order {reference!r} not found", code="unknown_order")
    return order


@router.get("/{reference}", response_model=OrderOut, dependencies=[require_roles(*ALL_ROLES)])
def get_order(reference: str, me: CurrentUser, session: SessionDep, site: str | None = None) -> OrderOut:
    return _out(session, [_load(session, me, site, reference)])[0]


class SiteOnly(Strict):
    site: str | None = None


@router.post("/{reference}/hold", response_model=OrderOut,
             dependencies=[require_roles("supervisor", "admin", "integration")])
def hold(reference: str, body: SiteOnly, me: CurrentUser, session: SessionDep) -> OrderOut:
    order = set_hold(session, _load(session, me, body.site, reference), True, me.id)
    session.commit()
    return _out(session, [order])[0]


@router.post("/{reference}/release", response_model=OrderOut,
             dependencies=[require_roles("supervisor", "admin", "integration")])
def release(reference: str, body: SiteOnly, me: CurrentUser, session: SessionDep) -> OrderOut:
    order = set_hold(session, _load(session, me, body.site, reference), False, me.id)
    session.commit()
    return _out(session, [order])[0]


class CancelOut(BaseModel):
    order: OrderOut
    released_units: int
    revoked_tasks: int
    tasks_already_started: int


@router.post("/{reference}/cancel", response_model=CancelOut,
             dependencies=[require_roles("supervisor", "admin", "integration")])
def cancel(reference: str, body: SiteOnly, me: CurrentUser, session: SessionDep) -> CancelOut:
    """Cancel: reservations are released and unstarted tasks revoked."""
    order = _load(session, me, body.site, reference)
    summary = cancel_order(session, order, me.id)
    session.commit()
    return CancelOut(order=_out(session, [order])[0], **summary)


class AllocateIn(Strict):
    site: str | None = None
    references: list[str] | None = Field(default=None, max_length=10_000,
                                         description="orders to allocate; all allocatable orders when omitted")


class AllocateOut(BaseModel):
    orders: int
    lines: int
    allocated_units: int
    backordered_units: int
    reservations: int


@router.post("/allocate", response_model=AllocateOut, dependencies=[require_roles("supervisor", "admin", "integration")])
def allocate(body: AllocateIn, me: CurrentUser, session: SessionDep) -> AllocateOut:
    """Reserve stock for orders: FEFO/FIFO, pick faces before reserve, full cases from reserve."""
    site = resolve_site(session, me, body.site)
    order_ids = None
    if body.references is not None:
        order_ids = []
        for condition in among(session, Order.reference, body.references):
            order_ids.extend(session.exec(select(Order.id).where(Order.site_id == site.id, condition)).all())
    run = allocate_orders(session, site.id, order_ids, today=datetime.now(timezone.utc).date(), user_id=me.id)
    session.commit()
    return AllocateOut(orders=run.orders, lines=run.lines, allocated_units=run.allocated_units,
                       backordered_units=run.backordered_units, reservations=len(run.reservations))




replenishment_router = APIRouter(prefix="/replenishments", tags=["orders"])


class ReplenishOut(BaseModel):
    tasks: int
    units: int


@replenishment_router.post("", response_model=ReplenishOut, dependencies=[require_roles("supervisor", "admin")])
def replenish(body: SiteOnly, me: CurrentUser, session: SessionDep) -> ReplenishOut:
    """Run min/max: a replenish task from reserve for every pick face below its minimum."""
    from backend.allocation.replenish_service import run_min_max

    site = resolve_site(session, me, body.site)
    rows = run_min_max(session, site.id, today=datetime.now(timezone.utc).date(), user_id=me.id)
    session.commit()
    return ReplenishOut(tasks=len(rows), units=sum(r["quantity"] for r in rows))
