"""Packing and shipping: tote → verified carton with an SSCC → shipping label → shipped.

`pack_tote` checks what the packer scanned against what the tote holds (per
product), moves it into a new carton at the pack bench, and gives the carton
an SSCC and the order's next carton number. `close_carton` weighs it and
queues its GS1 shipping label on the bench's printer. `ship` sends every
closed carton of an order out of the building.

Carton numbers on shipping labels ("n of m"): m is printed only once it is
final, so no label is ever wrong after a later carton closes. The count is
final when the carton just closed leaves the order completely packed: no
open pick task, nothing of the order left in a tote, no other open carton
(the order is then `packed`). Until then a label says only "n" (the box is
captioned CARTON). The close that makes the count final prints the whole
set at its bench, in carton order: this carton's label and a new label for
every earlier carton of the order, all "n of m"; its answer lists those
earlier cartons (`relabel`) so the packer swaps their labels. A one-carton
order gets "1 of 1" at once. Packs and closes of one order lock the order
row, so two benches never number two cartons alike or both miss the last close.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from backend import audit
from backend.containers import create_containers
from backend.errors import Conflict, Invalid, NotFound
from backend.execution.common import classify, container_by_scan
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import Container, Location, Order, OrderLine, Product, Quant, Site, Task, Tour, TourTote, utcnow
from backend.runtime import Runtime
from backend.scanning.result import ScanKind


def _station(session: Session, site: Site, code: str, kinds: tuple[str, ...]) -> Location:
    loc = session.exec(select(Location).where(Location.site_id == site.id, Location.code == code)).first()
    if loc is None:
        raise NotFound(f"location {code!r} not found", code="unknown_location", details={"field": "station"})
    if loc.kind not in kinds:
        raise Invalid(f"{code} is a {loc.kind} location, not {' or '.join(kinds)}", code="wrong_station",
                      details={"field": "station"})
    return loc


def _order_of_tote(session: Session, tote: Container) -> Order:
    order_ids = set(session.exec(
        select(TourTote.order_id).join(Tour, Tour.id == TourTote.tour_id)
        .where(TourTote.container_id == tote.id, Tour.status.in_(("picking", "picked")))).all())
    if len(order_ids) != 1:
        raise Conflict(f"tote {tote.code} is not holding one order's picks", code="tote_not_assigned")
    return _locked_order(session, order_ids.pop())


def _locked_order(session: Session, order_id: int) -> Order:
    # packs and closes of one order wait for each other: carton numbers and the final count stay exact
    return session.exec(select(Order).where(Order.id == order_id).with_for_update()
                        .execution_options(populate_existing=True)).one()


def _product_id(session: Session, site: Site, raw: str, field: str) -> int:
    product = session.exec(select(Product.id).where(Product.sku == raw.strip())).first()
    if product is not None:
        return product
    scanned = classify(session, site.id, raw, field)
    if scanned.kind in (ScanKind.PRODUCT, ScanKind.GS1) and scanned.product is not None:
        return scanned.product.id
    raise Invalid("scan a product", code="not_a_product", details={"field": field})


def pack_tote(session: Session, runtime: Runtime, site: Site, *, tote: str, station: str, items: list[dict],
              user_id: int) -> dict:
    bench = _station(session, site, station, ("pack",))
    tote_row = container_by_scan(session, site.id, tote, "tote", "tote")
    quants = list(session.exec(select(Quant).where(Quant.container_id == tote_row.id, Quant.on_hand > 0)
                               .order_by(Quant.id)).all())
    if not quants:
        raise Conflict(f"tote {tote_row.code} is empty", code="tote_empty")
    order = _order_of_tote(session, tote_row)
    expected: dict[int, int] = defaultdict(int)
    for q in quants:
        expected[q.product_id] += q.on_hand
    scanned: dict[int, int] = defaultdict(int)
    for index, item in enumerate(items):
        if item["quantity"] <= 0:
            raise Invalid("quantities are positive", code="invalid_quantity", details={"field": f"items.{index}"})
        scanned[_product_id(session, site, item["product"], f"items.{index}.product")] += item["quantity"]
    if scanned != expected:
        skus = dict(session.exec(select(Product.id, Product.sku).where(
            Product.id.in_(set(scanned) | set(expected)))).all())
        missing = {skus[p]: n - scanned.get(p, 0) for p, n in expected.items() if scanned.get(p, 0) < n}
        extra = {skus[p]: n - expected.get(p, 0) for p, n in scanned.items() if expected.get(p, 0) < n}
        raise Invalid("the scanned items do not match the tote", code="pack_mismatch",
                      details={"missing": missing, "extra": extra})
    carton_no = session.exec(select(func.count()).select_from(Container).where(Container.order_id == order.id)).one() + 1
    (carton,) = create_containers(session, runtime.settings, site_id=site.id, site_code=site.code, kind="carton",
                                  with_sscc=True, location_id=bench.id, user_id=user_id)
    carton.order_id = order.id
    carton.carton_no = carton_no
    session.add(carton)
    for q in quants:
        post_move(session, site_id=site.id, product_id=q.product_id, quantity=q.on_hand, reason="pack",
                  source=StockIdentity(q.product_id, q.location_id, tote_row.id, q.lot, q.expiry),
                  destination=StockIdentity(q.product_id, bench.id, carton.id, q.lot, q.expiry),
                  reference=f"order:{order.reference}", user_id=user_id)
    audit.record(session, user_id=user_id, site_id=site.id, action="order.pack", entity="order", entity_id=order.id,
                 after={"tote": tote_row.code, "carton": carton.code, "carton_no": carton_no})
    return {"order": order.reference, "carton": carton.code, "sscc": carton.sscc, "carton_no": carton_no}


def _order_complete(session: Session, order: Order) -> bool:
    """Every pick done and nothing of the order left in a tote."""
    open_picks = session.exec(select(func.count()).select_from(Task).join(
        OrderLine, OrderLine.id == Task.order_line_id).where(
        OrderLine.order_id == order.id, Task.kind == "pick",
        Task.state.in_(("pending", "assigned", "in_progress", "suspended")))).one()
    in_totes = session.exec(select(func.count()).select_from(Quant).join(
        TourTote, TourTote.container_id == Quant.container_id).where(
        TourTote.order_id == order.id, Quant.on_hand > 0)).one()
    return open_picks == 0 and in_totes == 0


def _count_final(session: Session, order: Order, closing: Container) -> bool:
    """No further carton can follow `closing`: the order is completely picked, out of its totes and in closed cartons."""
    other_open = session.exec(select(func.count()).select_from(Container).where(
        Container.order_id == order.id, Container.status == "open", Container.id != closing.id)).one()
    return other_open == 0 and _order_complete(session, order)


def _shipping_label(site: Site, order: Order, carton: Container, count: int | None) -> dict:
    ship_to = order.ship_to or {}
    return {
        "sscc": carton.sscc, "carrier": order.carrier or "-", "service": order.service or "standard",
        "order_reference": order.reference, "carton_number": carton.carton_no, "carton_count": count,
        "weight_kg": str(Decimal(str(round(carton.weight_kg, 2)))),
        "ship_to": {"name": ship_to.get("name") or order.customer or order.reference,
                    "lines": [str(x) for x in ship_to.get("lines", [])][:4], "city": ship_to.get("city", ""),
                    "postcode": ship_to.get("postcode", ""), "country": ship_to.get("country", "")},
        "ship_from": {"name": site.name, "lines": [], "city": "", "postcode": "", "country": ""},
    }


def close_carton(session: Session, site: Site, *, carton: str, weight_kg: float, station: str, user_id: int) -> dict:
    """Weigh and close a carton and queue its shipping label: "n" alone, or "n of m" for the whole set once
    this close makes the order's carton count final (see the module docstring)."""
    from backend.printing.service import enqueue_label

    carton_row = container_by_scan(session, site.id, carton, "carton", "carton")
    if carton_row.order_id is None:
        raise Conflict(f"carton {carton_row.code} holds no order's pack", code="carton_not_packed")
    order = _locked_order(session, carton_row.order_id)
    session.refresh(carton_row)  # read after the lock: a close of the same carton elsewhere has committed by now
    if carton_row.status != "open":
        raise Conflict(f"carton {carton_row.code} is {carton_row.status}", code="carton_closed")
    if weight_kg <= 0:
        raise Invalid("weigh the carton", code="invalid_weight", details={"field": "weight_kg"})
    carton_row.status = "closed"
    carton_row.weight_kg = weight_kg
    session.add(carton_row)
    final = _count_final(session, order, carton_row)
    cartons = [carton_row]
    if final:
        cartons = list(session.exec(select(Container).where(Container.order_id == order.id)
                                    .order_by(Container.carton_no, Container.id)).all())
    count = len(cartons) if final else None
    job = None
    relabel = []
    for row in cartons:  # the set in carton order, so the packer takes the labels off the printer 1, 2, … m
        queued = enqueue_label(session, site.id, "shipping", _shipping_label(site, order, row, count),
                               station=station, user_id=user_id)
        if row.id == carton_row.id:
            job = queued
        else:
            relabel.append({"carton": row.code, "sscc": row.sscc, "carton_no": row.carton_no,
                            "print_job_id": queued.id})
    if final and order.status in ("picking", "picked"):
        order.status = "packed"
        order.updated_at = utcnow()
        session.add(order)
    audit.record(session, user_id=user_id, site_id=site.id, action="carton.close", entity="container",
                 entity_id=carton_row.id, after={"weight_kg": weight_kg, "print_job_id": job.id,
                                                 "carton_count": count,
                                                 "relabel_print_job_ids": [r["print_job_id"] for r in relabel]})
    return {"carton": carton_row.code, "carton_no": carton_row.carton_no, "carton_count": count,
            "print_job_id": job.id, "relabel": relabel, "order_status": order.status}


def ship_order(session: Session, site: Site, *, order_reference: str, dock: str, user_id: int) -> dict:
    _station(session, site, dock, ("ship", "dock"))
    order = session.exec(select(Order).where(Order.site_id == site.id, Order.reference == order_reference)
                         .with_for_update()).first()
    if order is None:
        raise NotFound(f"order {order_reference!r} not found", code="unknown_order")
    if order.status != "packed":
        raise Conflict(f"order {order.reference} is {order.status}; pack and close every carton first",
                       code="order_not_packed")
    cartons = list(session.exec(select(Container).where(Container.order_id == order.id)).all())
    if any(c.status != "closed" for c in cartons):
        raise Conflict("every carton must be closed", code="carton_open")
    units = 0
    for carton in cartons:
        for q in session.exec(select(Quant).where(Quant.container_id == carton.id, Quant.on_hand > 0)).all():
            units += q.on_hand
            post_move(session, site_id=site.id, product_id=q.product_id, quantity=q.on_hand, reason="ship",
                      source=StockIdentity(q.product_id, q.location_id, carton.id, q.lot, q.expiry),
                      reference=f"order:{order.reference}", user_id=user_id)
        carton.status = "shipped"
        carton.location_id = None
        session.add(carton)
    order.status = "shipped"
    order.updated_at = utcnow()
    session.add(order)
    audit.record(session, user_id=user_id, site_id=site.id, action="order.shipped", entity="order", entity_id=order.id,
                 after={"cartons": [c.sscc for c in cartons], "units": units, "carrier": order.carrier})
    return {"order": order.reference, "cartons": [c.sscc for c in cartons], "units": units}
