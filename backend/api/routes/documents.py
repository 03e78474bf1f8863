"""PDF documents for laser printers: pick lists (per tour, per wave), packing slips, wave summaries, location labels.

Registered before the resource routers, so `/locations/labels.pdf` is not
taken for a location code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, func, select

from backend.api.deps import CurrentUser, SessionDep, ensure_site_access, resolve_site
from backend.api.downloads import content_disposition
from backend.bounds import Id, Text
from backend.errors import Invalid, NotFound
from backend.models import (
    Company,
    Container,
    Location,
    Order,
    OrderLine,
    Product,
    Site,
    Task,
    Tour,
    TourTote,
    User,
    Wave,
    Zone,
)
# submodules, not the package: they import even where an old editable install sees `printers` as a namespace
from printers.documents import (
    PackingLine,
    PackingSlip,
    PickStop,
    PickTour,
    WaveOrder,
    WaveSummary,
    location_sheet_pdf,
    packing_slip_pdf,
    pick_list_pdf,
    pick_lists_pdf,
    wave_summary_pdf,
)
from printers.errors import LabelDataError
from printers.labels import Address, LocationLabel

router = APIRouter(tags=["documents"])
log = logging.getLogger("wes.documents")

PageSize = Literal["A4", "Letter"]
PDF = {200: {"content": {"application/pdf": {}}, "description": "a PDF document"}}
_UNITS = {"each": "EA", "case": "CS", "inner": "IN", "pallet": "PL"}


def _pdf(build: Callable[[], bytes], filename: str) -> Response:
    try:
        content = build()
    except LabelDataError as exc:
        # e.g. a code that cannot be barcoded; the data is at fault, not the request
        raise Invalid(f"cannot lay out the document: {exc}", code="document_data_invalid") from None
    except ValueError as exc:  # (reportlab's words name its own objects: logged, not answered)
        log.warning("document %s: cannot lay out: %s", filename, exc)
        raise Invalid("cannot lay out the document with this data", code="document_data_invalid") from None
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(filename)})


def wave_code(wave: Wave) -> str:
    return f"W{wave.id}"


def tour_code(wave: Wave, tour: Tour) -> str:
    return f"W{wave.id}-T{tour.number}"


def _load_wave(session: Session, me, wave_id: int) -> Wave:  # noqa: ANN001
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFound(f"wave {wave_id} not found", code="unknown_wave")
    ensure_site_access(me, wave.site_id, f"wave {wave_id}", code="unknown_wave")
    return wave


def _text(value: Any, limit: int) -> str:
    return ("" if value is None else str(value)).strip()[:limit]


def _pick_tour(session: Session, wave: Wave, tour: Tour) -> PickTour:
    """The tour's pick tasks in walking order (Task.sequence)."""
    rows = session.exec(
        select(Task, Location.code, Location.check_digits, Product.sku, Product.description, Product.uom)
        .join(Location, Location.id == Task.from_location_id)
        .join(Product, Product.id == Task.product_id)
        .where(Task.tour_id == tour.id, Task.kind == "pick", Task.state != "cancelled")
        .order_by(Task.sequence, Task.id)
    ).all()
    containers = dict(session.exec(
        select(TourTote.tote_no, Container.code).join(Container, Container.id == TourTote.container_id)
        .where(TourTote.tour_id == tour.id)
    ).all())
    stops = tuple(
        PickStop(sequence=index, location_code=code, check_digits=check_digits, sku=sku,
                 description=_text(description, 120), quantity=task.quantity or 0,
                 tote_code=containers.get(task.tote_no) or (str(task.tote_no) if task.tote_no is not None else ""),
                 unit=_UNITS.get(uom, _text(uom, 4).upper() or "EA"))
        for index, (task, code, check_digits, sku, description, uom) in enumerate(rows, start=1)
    )
    zone_ids = {task.zone_id for task, *_ in rows if task.zone_id is not None}
    zone = session.get(Zone, next(iter(zone_ids))).code if len(zone_ids) == 1 else None
    picker_ids = {task.assigned_to for task, *_ in rows if task.assigned_to is not None}
    picker = session.get(User, next(iter(picker_ids))).username if len(picker_ids) == 1 else None
    return PickTour(tour_code=tour_code(wave, tour), stops=stops, wave_code=wave_code(wave), picker=picker,
                    zone=zone, created_at=wave.released_at or wave.created_at)


@router.get("/waves/{wave_id}/pick-lists.pdf", response_class=Response, responses=PDF)
def wave_pick_lists(wave_id: Id, me: CurrentUser, session: SessionDep, page_size: PageSize = "A4") -> Response:
    """Every tour of a released wave, one pick list each (stops in walking order), in one PDF."""
    wave = _load_wave(session, me, wave_id)
    tours = session.exec(select(Tour).where(Tour.wave_id == wave.id).order_by(Tour.number)).all()
    if not tours:
        raise NotFound(f"wave {wave_id} has no tours (not released yet?)", code="no_tours")
    pick_tours = [_pick_tour(session, wave, tour) for tour in tours]
    return _pdf(lambda: pick_lists_pdf(pick_tours, f"Pick lists · wave {wave_code(wave)}", page_size),
                f"pick-lists-{wave_code(wave)}.pdf")


@router.get("/tours/{tour_id}/pick-list.pdf", response_class=Response, responses=PDF)
def tour_pick_list(tour_id: Id, me: CurrentUser, session: SessionDep, page_size: PageSize = "A4") -> Response:
    """One tour's pick list: stops in walking order with location, check digits, SKU, quantity and tote."""
    tour = session.get(Tour, tour_id)
    if tour is None:
        raise NotFound(f"tour {tour_id} not found", code="unknown_tour")
    ensure_site_access(me, tour.site_id, f"tour {tour_id}", code="unknown_tour")
    wave = session.get(Wave, tour.wave_id)
    pick_tour = _pick_tour(session, wave, tour)
    return _pdf(lambda: pick_list_pdf(pick_tour, page_size), f"pick-list-{pick_tour.tour_code}.pdf")


def _address(values: Mapping[str, Any] | None, fallback_name: str) -> Address:
    """An order's free-form ship_to JSON as an address block."""
    values = values if isinstance(values, Mapping) else {}
    lines = values.get("lines")
    if not isinstance(lines, list):
        lines = [values.get(key) for key in ("street", "address", "address1", "address2", "line1", "line2")]
    kept = tuple(_text(line, 100) for line in lines if _text(line, 100))[:3]
    return Address(
        name=_text(values.get("name"), 200) or fallback_name,
        lines=kept,
        city=_text(values.get("city"), 100),
        postcode=_text(values.get("postcode") or values.get("postal_code") or values.get("zip"), 100),
        country=_text(values.get("country"), 100),
    )


@router.get("/orders/{reference}/packing-slip.pdf", response_class=Response, responses=PDF)
def packing_slip(reference: Text, me: CurrentUser, session: SessionDep, site: Text | None = None,
                 page_size: PageSize = "A4") -> Response:
    """The packing slip of an order: ship-to, ship-from (the site), lines ordered and picked."""
    site_row = resolve_site(session, me, site)
    order = session.exec(select(Order).where(Order.site_id == site_row.id, Order.reference == reference)).first()
    if order is None:
        raise NotFound(f"order {reference!r} not found", code="unknown_order")
    rows = session.exec(select(OrderLine, Product).join(Product, Product.id == OrderLine.product_id)
                        .where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)).all()
    lines = tuple(
        PackingLine(sku=product.sku, description=_text(product.description, 200), quantity_ordered=line.quantity,
                    quantity_packed=line.quantity_picked, unit=_UNITS.get(product.uom, "EA"))
        for line, product in rows
    )
    company = session.get(Company, site_row.company_id)

    def build() -> bytes:
        ship_from = Address(name=_text(company.name if company else site_row.name, 200) or site_row.code,
                            lines=(_text(site_row.name, 100),) if company else ())
        ship_to = _address(order.ship_to, _text(order.customer, 200) or order.reference)
        slip = PackingSlip(order_reference=order.reference, ship_to=ship_to, ship_from=ship_from, lines=lines,
                           carrier=order.carrier or None, service=order.service or None,
                           customer_reference=order.customer or None)
        return packing_slip_pdf(slip, page_size)

    return _pdf(build, f"packing-slip-{order.reference}.pdf")


@router.get("/waves/{wave_id}/summary.pdf", response_class=Response, responses=PDF)
def wave_summary(wave_id: Id, me: CurrentUser, session: SessionDep, page_size: PageSize = "A4") -> Response:
    """A wave's orders by carrier and cut-off, with lines and units."""
    wave = _load_wave(session, me, wave_id)
    orders = session.exec(select(Order).where(Order.site_id == wave.site_id, Order.wave_id == wave.id)).all()
    if not orders and wave.plan:
        # planned, not released: the orders are only named in the plan
        planned = {order_id for tour in wave.plan.get("tours", []) for order_id in tour.get("orders", [])}
        if planned:
            orders = session.exec(select(Order).where(Order.site_id == wave.site_id, Order.id.in_(planned))).all()
    totals = {
        order_id: (lines, units or 0)
        for order_id, lines, units in session.exec(
            select(OrderLine.order_id, func.count(), func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_([order.id for order in orders])).group_by(OrderLine.order_id)
        ).all()
    } if orders else {}
    ordered = sorted(orders, key=lambda o: (o.cut_off is None, o.cut_off or o.created_at, o.reference))
    summary = WaveSummary(
        wave_code=wave_code(wave),
        orders=tuple(
            WaveOrder(order_reference=o.reference, carrier=o.carrier or "(none)", lines=totals.get(o.id, (0, 0))[0],
                      units=int(totals.get(o.id, (0, 0))[1]), status=o.status, priority=o.priority, cut_off=o.cut_off)
            for o in ordered
        ),
        status=wave.status, released_at=wave.released_at,
        cut_off=min((o.cut_off for o in orders if o.cut_off is not None), default=None),
    )
    return _pdf(lambda: wave_summary_pdf(summary, page_size), f"wave-{wave_code(wave)}.pdf")


@router.get("/locations/labels.pdf", response_class=Response, responses=PDF)
def location_labels(
    me: CurrentUser, session: SessionDep, site: Text | None = None, aisle: Text | None = None,
    zone: Text | None = None, code_prefix: Text | None = None, page_size: PageSize = "A4",
    limit: int = Query(default=2000, ge=1, le=20_000),
) -> Response:
    """Sheets of location labels (A4: 21 per sheet, Letter: 10), active locations by code."""
    site_row: Site = resolve_site(session, me, site)
    conditions = [Location.site_id == site_row.id, Location.active]
    if aisle:
        conditions.append(Location.aisle == aisle)
    if zone:
        conditions.append(Zone.code == zone)
    if code_prefix:
        conditions.append(Location.code.startswith(code_prefix, autoescape=True))  # (% and _ are plain)
    rows = session.exec(select(Location.code, Location.check_digits).outerjoin(Zone, Zone.id == Location.zone_id)
                        .where(*conditions).order_by(Location.code).limit(limit)).all()
    if not rows:
        raise NotFound("no locations match", code="no_locations")
    return _pdf(lambda: location_sheet_pdf([LocationLabel(code=code, check_digits=digits) for code, digits in rows],
                                           page_size), f"location-labels-{site_row.code}.pdf")
