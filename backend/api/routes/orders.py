"""Outbound orders: import, query, hold/release/cancel, allocate."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field, SkipValidation, TypeAdapter, ValidationError
from sqlmodel import func, select

from backend.allocation.service import allocate_orders
from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Page, Strict
from backend.bounds import Count, Id, LineNo, Reference, StrictBool, Text
from backend.errors import Invalid, NotFound
from backend.masterdata import among
from backend.models import Order, OrderLine, Product
from backend.orders.service import LineProblem, cancel_order, import_orders, order_by_reference, set_hold

router = APIRouter(prefix="/orders", tags=["orders"])

OrderStatus = Literal["new", "allocated", "partly_allocated", "backordered", "in_wave", "picking", "picked", "packed",
                      "shipped", "cancelled", "held"]


class OrderLineIn(Strict):
    line_no: LineNo = Field(description="the caller's line number, unique within the order")
    sku: Text = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1_000_000, description="in `unit`s")
    unit: Literal["each", "case"] = "each"


class OrderIn(Strict):
    reference: Reference = Field(min_length=1, max_length=64, description="the caller's order number: imports are "
                                                                    "idempotent by it")
    customer: Text = Field(default="", max_length=200)
    priority: int = Field(default=5, ge=1, le=9, description="1 is the most urgent")
    carrier: Text = Field(default="", max_length=64)
    service: Text = Field(default="", max_length=64)
    cut_off: AwareDatetime | None = Field(default=None, description="must lie in the future")
    ship_to: dict[Text, Any] | None = None
    backorder_policy: Literal["allow_partial", "ship_complete", "fill_or_kill"] = "allow_partial"
    min_shelf_life_days: int = Field(default=0, ge=0, le=3650)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)


class OrdersImport(Strict):
    site: Text | None = None
    # Each order is parsed on its own in the route, so one malformed order cannot refuse the whole request.
    orders: list[SkipValidation[OrderIn]] = Field(
        min_length=1, max_length=10_000,
        description="each order is checked on its own; a bad one is named by its reference and line in the answer")
    partial: StrictBool = Field(default=False, description="import the valid orders and list the rejected ones")


class Accepted(BaseModel):
    reference: str
    id: int
    created: bool = Field(description="false: an order with this reference was already there and is left as it was")


class Problem(BaseModel):
    line_no: int | None = Field(description="the line's own line_no; null for the order as a whole, or when the "
                                            "line's line_no cannot be read (the message then gives its position)")
    field: str = Field(description="the order's or line's field, e.g. quantity, sku, cut_off, reference")
    code: str = Field(description="e.g. unknown_sku, invalid_quantity, unknown_unit, no_case_quantity, "
                                  "cut_off_in_past, duplicate_in_request, duplicate_line_no, "
                                  "invalid_backorder_policy, missing_<field>, unknown_field")
    message: str


class Rejected(BaseModel):
    reference: str | None = Field(description="null when the order's reference is missing or not text")
    index: int = Field(description="the order's position in `orders`, from 0")
    problems: list[Problem] = Field(description="every reason, not only the first")


class ImportResult(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected]


class RejectedOrders(BaseModel):
    rejected: list[Rejected]


class OrdersRejectedError(BaseModel):
    code: Literal["orders_rejected"]
    message: str = Field(description="how many were rejected, and the first problem")
    details: RejectedOrders


class OrdersRejected(BaseModel):
    """The shared error envelope of a batch refused for its orders."""

    error: OrdersRejectedError


_LABELS = {"sku": "SKU", "line_no": "line number", "cut_off": "cut-off", "ship_to": "ship-to"}
_LINE_READABLE = ("line_no", "sku", "unit")
_LINE_FIELDS = {name: TypeAdapter(Annotated[OrderLineIn.model_fields[name].annotation,
                                            OrderLineIn.model_fields[name]], config=Strict.model_config)
                for name in _LINE_READABLE}
_CUT_OFF = TypeAdapter(Annotated[OrderIn.model_fields["cut_off"].annotation, OrderIn.model_fields["cut_off"]])


def _shown(value: Any) -> str:
    """The caller's value, short enough to echo back."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def _rule(kind: str, ctx: dict, subject: str, msg: str) -> str:
    """What a value must be, in plain words, for one pydantic error type."""
    if kind == "missing":
        return "is missing"
    if kind in ("greater_than", "greater_than_equal"):
        bound = ctx.get("gt", ctx.get("ge"))
        return f"must be at least {bound + 1 if kind == 'greater_than' else bound:,}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"must be at most {bound - 1 if kind == 'less_than' else bound:,}"
    if kind.startswith("int_"):
        return "must be a whole number"
    if kind == "string_type":
        return "must be text"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "literal_error":
        return f"must be {ctx['expected']}"
    if kind == "list_type":
        return "must be a list"
    if kind in ("too_short", "too_long"):
        bound = ctx["min_length" if kind == "too_short" else "max_length"]
        return f"must have at {'least' if kind == 'too_short' else 'most'} {bound:,} line{'s' if bound != 1 else ''}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind == "string_pattern_mismatch" and subject in ("reference", "sku"):
        return "must be printable ASCII without / or \\"
    if kind == "value_error" and subject == "reference":
        return "must not be '.' or '..'"
    if subject == "cut_off":
        return "must be a date and time with a time zone, e.g. 2030-06-01T16:00:00+02:00"
    return "is invalid: " + msg[:1].lower() + msg[1:]


def _problem(err: dict, lines: list[dict]) -> LineProblem:
    """One pydantic error of one order as a problem named by line number and field."""
    loc, kind = err["loc"], err["type"]
    at_line = len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int)
    field = ".".join(str(p) for p in (loc[2:] if at_line else loc))
    line_no, prefix = None, ""
    if at_line:
        line_no = lines[loc[1]].get("line_no") if loc[1] < len(lines) else None
        prefix = f"line {line_no}: " if line_no is not None else f"line at position {loc[1] + 1}: "
    if kind == "extra_forbidden":
        return LineProblem(line_no, field, "unknown_field", f"{prefix}unknown field {_shown(field)}")
    if not field:
        subject, label, field = ("line", "the line", "lines") if at_line else ("order", "the order", "")
    else:
        subject, label = field, _LABELS.get(field, field.replace("_", " "))
    code = f"missing_{subject}" if kind == "missing" else "unknown_unit" if subject == "unit" else f"invalid_{subject}"
    rule = _rule(kind, err.get("ctx") or {}, subject, err["msg"])
    shown = "" if kind in ("missing", "string_too_short") else f", not {_shown(err.get('input'))}"
    return LineProblem(line_no, field, code, f"{prefix}{label} {rule}{shown}")


def _readable_line(raw: Any) -> dict:
    """What the business checks can still use of a line that failed its schema: each field valid on its own."""
    if not isinstance(raw, dict):
        return {}
    line: dict[str, Any] = {}
    for name in _LINE_READABLE:
        if name in raw:
            try:
                line[name] = _LINE_FIELDS[name].validate_python(raw[name])
            except ValidationError:
                line[name] = None
    return line


def _readable_order(raw: dict) -> dict:
    reference = raw.get("reference")
    reference = reference.strip() or None if isinstance(reference, str) else None
    try:
        cut_off = _CUT_OFF.validate_python(raw.get("cut_off"))
    except ValidationError:
        cut_off = None
    lines = raw.get("lines")
    lines = [_readable_line(line) for line in lines] if isinstance(lines, list) else []
    return {"reference": reference, "cut_off": cut_off, "lines": lines}


def _read_orders(raw_orders: list[Any]) -> tuple[list[dict], list[list[LineProblem]]]:
    """Each order through its schema on its own: valid ones as dicts, the others as what can be read of them."""
    orders, problems = [], []
    for raw in raw_orders:
        try:
            orders.append(OrderIn.model_validate(raw).model_dump())
            problems.append([])
        except ValidationError as exc:
            order = _readable_order(raw) if isinstance(raw, dict) else {"reference": None, "lines": []}
            orders.append(order)
            problems.append([_problem(err, order["lines"]) for err in exc.errors(include_url=False)])
    return orders, problems


def _name(rejected: Rejected) -> str:
    return f"order {rejected.reference}" if rejected.reference is not None else f"the order at index {rejected.index}"


@router.post(
    "", response_model=ImportResult,
    responses={200: {"description": "no order was created: all were there already, or (with `partial`) rejected"},
               201: {"model": ImportResult, "description": "at least one order was created"},
               422: {"model": OrdersRejected,
                     "description": "without `partial`: one or more orders are invalid and nothing was imported "
                                    "(`orders_rejected`, every rejected order with every reason); or the request "
                                    "itself is malformed (`validation_failed`, e.g. `orders` not a list of "
                                    "1 to 10,000)"}},
)
def import_route(body: OrdersImport, me: CurrentUser, session: SessionDep, response: Response) -> ImportResult:
    """Import up to 10,000 orders, idempotent by reference: 201 when any order was created, else 200.

    Every order is checked on its own and in full. Without `partial`, one bad order rejects the batch (422,
    nothing imported); with `partial: true` the valid orders are imported in one transaction and the answer
    lists the rejected ones, each by reference (or index) with every problem by line number.
    """
    site = resolve_site(session, me, body.site)
    orders, found = _read_orders(body.orders)
    outcomes = import_orders(session, site, orders, partial=body.partial, user_id=me.id, schema_problems=found)
    rejected = [Rejected(reference=o.reference, index=o.index, problems=[Problem(**p.__dict__) for p in o.problems])
                for o in outcomes if o.problems]
    if rejected and not body.partial:
        session.rollback()
        first = rejected[0]
        raise Invalid(
            f"{len(rejected)} of {len(outcomes)} orders rejected, nothing was imported; "
            f"{_name(first)}: {first.problems[0].message}",
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


@router.get("", response_model=Page[OrderOut])
def list_orders(
    me: CurrentUser, session: SessionDep, site: Text | None = None, status: Text | None = None,
    carrier: Text | None = None, reference: Text | None = None, wave_id: Id | None = None,
    cut_off_before: AwareDatetime | None = None, cut_off_after: AwareDatetime | None = None,
    limit: int = Query(default=100, ge=1, le=5000), offset: Count = 0,
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


@router.get("/{reference}", response_model=OrderOut)
def get_order(reference: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> OrderOut:
    return _out(session, [_load(session, me, site, reference)])[0]


class SiteOnly(Strict):
    site: Text | None = None


@router.post("/{reference}/hold", response_model=OrderOut)
def hold(reference: Text, body: SiteOnly, me: CurrentUser, session: SessionDep) -> OrderOut:
    order = set_hold(session, _load(session, me, body.site, reference), True, me.id)
    session.commit()
    return _out(session, [order])[0]


@router.post("/{reference}/release", response_model=OrderOut)
def release(reference: Text, body: SiteOnly, me: CurrentUser, session: SessionDep) -> OrderOut:
    order = set_hold(session, _load(session, me, body.site, reference), False, me.id)
    session.commit()
    return _out(session, [order])[0]


class CancelOut(BaseModel):
    order: OrderOut
    released_units: int
    revoked_tasks: int
    tasks_already_started: int


@router.post("/{reference}/cancel", response_model=CancelOut)
def cancel(reference: Text, body: SiteOnly, me: CurrentUser, session: SessionDep) -> CancelOut:
    """Cancel: reservations are released and unstarted tasks revoked."""
    order = _load(session, me, body.site, reference)
    summary = cancel_order(session, order, me.id)
    session.commit()
    return CancelOut(order=_out(session, [order])[0], **summary)


class AllocateIn(Strict):
    site: Text | None = None
    references: list[Text] | None = Field(default=None, max_length=10_000,
                                         description="orders to allocate; all allocatable orders when omitted")


class AllocateOut(BaseModel):
    orders: int
    lines: int
    allocated_units: int
    backordered_units: int
    reservations: int


@router.post("/allocate", response_model=AllocateOut)
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


@replenishment_router.post("", response_model=ReplenishOut)
def replenish(body: SiteOnly, me: CurrentUser, session: SessionDep) -> ReplenishOut:
    """Run min/max: a replenish task from reserve for every pick face below its minimum."""
    from backend.allocation.replenishment_service import run_min_max

    site = resolve_site(session, me, body.site)
    rows = run_min_max(session, site.id, today=datetime.now(timezone.utc).date(), user_id=me.id)
    session.commit()
    return ReplenishOut(tasks=len(rows), units=sum(r["quantity"] for r in rows))
