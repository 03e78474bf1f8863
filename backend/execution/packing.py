"""Packing and shipping: tote → cartons with SSCCs → shipping labels → loaded at a dock door → shipped.

Splitting a tote into its orders
--------------------------------
A tote may hold several orders (small orders sharing a tote slot). What it
holds for each order is worked out from the done picks that went into it,
less what was packed or reported missing out of it for that order; the
tote's stock of a product is shared out to the orders newest pick first, so
the tote's earlier trips (packed long ago) never claim any of it. Units no
pick accounts for belong to no order and cannot be packed (`unassigned`).
`tote_for_packing` is what the pack bench shows.

Packing
-------
`pack_tote` packs the scanned items of one order from the tote into one new
carton: part of what the tote holds for the order is fine (the rest goes in
the next carton), anything the tote does not hold for that order, or more of
it than it holds, is refused (`wrong_item`, `pack_surplus`). `check_item`
answers the same question for one scan, at the scan. With `weight_kg` the
carton is closed in the same transaction (as `close_carton`). The carton's
size is one of CARTON_TYPES, the same set at every site (optional).

`report_missing` is the packer saying "it is not in the tote": the units are
written off the tote (reason `pack_short`), the order line's picked quantity
goes down by as much, the location they were picked from is counted, and a
`pack_short` exception tells the supervisor who reported what, where.

Carton numbers on shipping labels ("n of m")
--------------------------------------------
Each carton gets one label, at its close, and no label is ever wrong after a
later carton closes: m is printed only once it is final. The count is final
when the order is completely packed: no open pick task, nothing of the order
left in a tote, no open carton (the order is then `packed`). So a carton
closed while more may follow says only "n" (the box is captioned CARTON),
and the close that makes the count final says "n of m"; a one-carton order
gets "1 of 1". Where a carrier wants "n of m" on every carton,
`print_carton_set` prints the whole set again once the count is final (an
explicit reprint, never automatic). Packs, closes, loads and ships of one
order lock the order row, so two benches never number two cartons alike or
both miss the last close.

Loading and shipping
--------------------
`load_carton` puts a closed carton onto the load of a dock door (its stock
moves to the door, reason `load`; the carton is `loaded`) and answers what of
its order is on that load and what is still missing. A carton scanned at
another door than the one it was loaded at has moved there: the physical
fact wins. `ship_order` ships an order once it is packed and every carton of
it is loaded at that door; otherwise it is refused, naming the cartons.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import func, text
from sqlmodel import Session, select

from backend import audit
from backend.containers import create_containers
from backend.errors import Conflict, Invalid, NotFound
from backend.execution.scan_checks import classify, container_by_scan
from backend.inventory.ledger import StockIdentity, post_move
from backend.insights.at_risk import score_shipped
from backend.masterdata import product_at_site
from backend.models import (
    Container,
    Location,
    Move,
    Order,
    OrderLine,
    Product,
    ProductGtin,
    Quant,
    Site,
    Task,
    User,
    WarehouseException,
    utcnow,
)
from backend.location_kinds import PACK_BENCH, SHIP_DOORS, STORAGE_KINDS
from backend.models.inventory import PACKED_FROM
from backend.runtime import Runtime
from backend.scanning.result import ScanKind
from backend.webhooks import outbox, payloads


@dataclass(frozen=True)
class CartonType:
    code: str
    name: str
    inner_mm: tuple[int, int, int]  # length, width, height
    max_kg: float


# The carton sizes a packer chooses from, the same at every site (a common parcel range; 31.5 kg is the usual
# parcel carriers' limit).
CARTON_TYPES = (
    CartonType("S", "Small", (300, 200, 150), 5.0),
    CartonType("M", "Medium", (400, 300, 250), 15.0),
    CartonType("L", "Large", (600, 400, 400), 25.0),
    CartonType("XL", "Extra large", (800, 600, 500), 31.5),
)
_CARTON_TYPE_CODES = {t.code for t in CARTON_TYPES}
_MISSING_COUNT_PRIORITY = 10  # as a short pick's: the shelf the units came from is counted before anything else


def carton_types() -> list[dict]:
    return [{**asdict(t), "inner_mm": list(t.inner_mm)} for t in CARTON_TYPES]


# --- what was scanned -------------------------------------------------------------------------------------------


def _station(session: Session, site: Site, code: str, kinds: tuple[str, ...], field: str = "station") -> Location:
    loc = session.exec(select(Location).where(Location.site_id == site.id, Location.code == code.strip())).first()
    if loc is None:
        scanned = classify(session, site.id, code, field)
        if scanned.kind == ScanKind.LOCATION and scanned.location is not None:
            loc = session.get(Location, scanned.location.id)
    if loc is None:
        raise NotFound(f"location {code!r} not found", code="unknown_location", details={"field": field})
    if loc.kind not in kinds:
        wanted = " or ".join(k.replace("_", " ") for k in kinds)
        raise Invalid(f"{loc.code} is a {loc.kind.replace('_', ' ')} location, not a {wanted}: scan the "
                      + ("pack bench" if kinds == PACK_BENCH else "dock door"), code="wrong_station",
                      details={"field": field})
    return loc


def _what(scanned) -> str:  # noqa: ANN001
    """A classified scan in the floor's words: "a product (SKU-A)", "a location (R1-01)"."""
    if scanned.product is not None:
        return f"a product ({scanned.product.sku})"
    if scanned.location is not None:
        return f"a location ({scanned.location.code})"
    if scanned.lpn is not None:
        return f"an LPN ({scanned.lpn.code})"
    return f"a {scanned.kind.value.replace('_', ' ')}"


def _container(session: Session, site: Site, raw: str, kind: str, field: str) -> Container:
    """The container scanned (its code, SSCC, or a GS1 / AIM-prefixed label), which must be of `kind`."""
    code = raw.strip()
    row = session.exec(select(Container).where(
        Container.site_id == site.id, (Container.code == code) | (Container.sscc == code))).first()
    if row is None:
        scanned = classify(session, site.id, raw, field)
        ref = scanned.tote or scanned.lpn
        row = session.get(Container, ref.id) if ref else None
        if row is None:
            raise Invalid(f"That is {_what(scanned)}: scan the {kind}'s label", code=f"not_a_{kind}",
                          details={"field": field})
    if row.kind != kind:
        raise Invalid(f"{row.code} is a {row.kind}: scan the {kind}'s label", code=f"not_a_{kind}",
                      details={"field": field})
    return row


def _product(session: Session, site: Site, raw: str, field: str) -> tuple[Product, str | None]:
    """The product scanned (SKU, GTIN or GS1 label) and the lot the label names, if any."""
    product = product_at_site(session, site.id, raw.strip())
    if product is not None:
        return product, None
    scanned = classify(session, site.id, raw, field)
    if scanned.kind in (ScanKind.PRODUCT, ScanKind.GS1) and scanned.product is not None:
        return session.get(Product, scanned.product.id), scanned.lot
    raise Invalid(f"That is {_what(scanned)}: scan the item's barcode", code="not_a_product", details={"field": field})


def _locked_order(session: Session, order_id: int) -> Order:
    # packs, closes, loads and ships of one order wait for each other: carton numbers and the final count stay exact
    return session.exec(select(Order).where(Order.id == order_id).with_for_update()
                        .execution_options(populate_existing=True)).one()


# --- a tote, split into its orders ------------------------------------------------------------------------------


@dataclass
class ToteSplit:
    by_order: dict[int, dict[int, int]]  # order id → product id → units in the tote for it
    unassigned: dict[int, int]  # product id → units no pick accounts for

    def share(self, order_id: int) -> dict[int, int]:
        return self.by_order.get(order_id, {})


def _split(session: Session, tote: Container) -> ToteSplit:
    held = dict(session.exec(select(Quant.product_id, func.sum(Quant.on_hand)).where(
        Quant.container_id == tote.id, Quant.on_hand > 0).group_by(Quant.product_id)).all())
    if not held:
        return ToteSplit({}, {})
    picked: dict[tuple[int, int], int] = defaultdict(int)
    newest: dict[int, int] = {}
    for task_id, product_id, quantity, details, order_id in session.exec(
            select(Task.id, Task.product_id, Task.quantity, Task.details, OrderLine.order_id)
            .join(OrderLine, OrderLine.id == Task.order_line_id)
            .where(Task.container_id == tote.id, Task.kind == "pick", Task.state == "done",
                   Task.product_id.in_(list(held)))).all():
        picked[(order_id, product_id)] += int((details or {}).get("picked", quantity) or 0)
        newest[order_id] = max(newest.get(order_id, 0), task_id)
    out_by_reference = session.exec(
        select(Move.product_id, Move.reference, func.sum(Move.quantity))
        .where(Move.from_container_id == tote.id, text(PACKED_FROM), Move.product_id.in_(list(held)))
        .group_by(Move.product_id, Move.reference)).all()
    references = {ref.removeprefix("order:") for _, ref, _ in out_by_reference if ref.startswith("order:")}
    order_ids = dict(session.exec(select(Order.reference, Order.id).where(
        Order.site_id == tote.site_id, Order.reference.in_(references))).all()) if references else {}
    taken_out: dict[tuple[int, int], int] = defaultdict(int)
    for product_id, ref, units in out_by_reference:
        order_id = order_ids.get(ref.removeprefix("order:"))
        if order_id is not None:
            taken_out[(order_id, product_id)] += int(units)
    left = dict(held)
    by_order: dict[int, dict[int, int]] = {}
    for order_id in sorted(newest, key=lambda o: (-newest[o], o)):  # newest pick first
        for product_id in sorted(held):
            owed = picked.get((order_id, product_id), 0) - taken_out.get((order_id, product_id), 0)
            share = min(owed, left[product_id])
            if share > 0:
                by_order.setdefault(order_id, {})[product_id] = share
                left[product_id] -= share
    return ToteSplit(by_order, {p: n for p, n in left.items() if n > 0})


def _order_in_tote(session: Session, split: ToteSplit, tote: Container, order_ref: str | None,
                   products: set[int], field: str = "order") -> Order:
    """The order being packed: the one named, else the tote's only order, else the only one holding `products`."""
    if order_ref:
        order = session.exec(select(Order).where(Order.site_id == tote.site_id,
                                                 Order.reference == order_ref.strip())).first()
        if order is None:
            raise NotFound(f"order {order_ref!r} not found", code="unknown_order", details={"field": field})
        if order.id not in split.by_order:
            raise Invalid(f"Tote {tote.code} holds nothing for {order.reference}", code="order_not_in_tote",
                          details={"field": field})
        return order
    if not split.by_order:
        raise Conflict(f"Tote {tote.code} is empty: nothing to pack", code="tote_empty", details={"field": "tote"})
    if len(split.by_order) == 1:
        return session.get(Order, next(iter(split.by_order)))
    nowhere = {p for p in products if not any(p in share for share in split.by_order.values())}
    if nowhere:
        skus = ", ".join(sorted(session.exec(select(Product.sku).where(Product.id.in_(nowhere))).all()))
        raise Invalid(f"Wrong item: {skus} is not in tote {tote.code}", code="wrong_item",
                      details={"field": field})
    candidates = [o for o, share in split.by_order.items() if products and all(p in share for p in products)]
    if len(candidates) == 1:
        return session.get(Order, candidates[0])
    references = sorted(session.exec(select(Order.reference).where(Order.id.in_(
        candidates or list(split.by_order)))).all())
    raise Conflict(f"Tote {tote.code} holds {'this' if candidates else 'these'} for {' and '.join(references)}: "
                   "choose the order first", code="order_required", details={"field": field, "orders": references})


def _check_units(session: Session, tote: Container, order: Order, share: dict[int, int], product: Product,
                 units: int, field: str) -> int:
    """Refuse units of `product` the tote does not hold for the order (all of them so far); what it holds."""
    have = share.get(product.id, 0)
    if have == 0:
        skus = sorted(session.exec(select(Product.sku).where(Product.id.in_(list(share)))).all()) if share else []
        holds = f"tote {tote.code} holds {', '.join(skus)} for {order.reference}" if skus else \
            f"tote {tote.code} holds nothing more for {order.reference}"
        raise Invalid(f"Wrong item: you scanned {product.sku} — {holds}", code="wrong_item",
                      details={"field": field, "scanned": product.sku, "order": order.reference})
    if units > have:
        raise Invalid(f"Too many {product.sku}: tote {tote.code} holds {have} for {order.reference}",
                      code="pack_surplus", details={"field": field, "sku": product.sku, "in_tote": have,
                                                     "scanned": units, "order": order.reference})
    return have


def _gtins(session: Session, product_ids: list[int]) -> dict[int, str]:
    """The each GTIN of each product, as printed on the item (GTIN-13 without the leading zero)."""
    rows = session.exec(select(ProductGtin.product_id, ProductGtin.gtin, ProductGtin.pack_level)
                        .where(ProductGtin.product_id.in_(product_ids))).all() if product_ids else []
    found: dict[int, str] = {}
    for product_id, gtin, level in sorted(rows, key=lambda r: (r[0], r[2] != "each")):
        found.setdefault(product_id, gtin[1:] if gtin.startswith("0") else gtin)
    return found


def _cartons_view(session: Session, order: Order) -> list[dict]:
    rows = session.exec(select(Container).where(Container.order_id == order.id)
                        .order_by(Container.carton_no, Container.id)).all()
    places = dict(session.exec(select(Location.id, Location.code).where(
        Location.id.in_([c.location_id for c in rows if c.location_id]))).all()) if rows else {}
    return [{"carton": c.code, "sscc": c.sscc, "carton_no": c.carton_no, "carton_type": c.carton_type,
             "status": c.status, "weight_kg": c.weight_kg, "location": places.get(c.location_id)} for c in rows]


def tote_for_packing(session: Session, site: Site, raw: str) -> dict:
    """What the pack bench shows for a scanned tote: per order, the lines to pack from it, and its cartons."""
    tote = _container(session, site, raw, "tote", "tote")
    split = _split(session, tote)
    product_ids = sorted({p for share in split.by_order.values() for p in share} | set(split.unassigned))
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_(product_ids))).all()} \
        if product_ids else {}
    gtins = _gtins(session, product_ids)
    orders = []
    for order_id, share in sorted(split.by_order.items()):
        order = session.get(Order, order_id)
        ordered: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for product_id, quantity, picked in session.exec(select(
                OrderLine.product_id, OrderLine.quantity, OrderLine.quantity_picked).where(
                OrderLine.order_id == order_id)).all():
            ordered[product_id][0] += quantity
            ordered[product_id][1] += picked
        packed = dict(session.exec(select(Quant.product_id, func.sum(Quant.on_hand))
                                   .join(Container, Container.id == Quant.container_id)
                                   .where(Container.order_id == order_id, Quant.on_hand > 0)
                                   .group_by(Quant.product_id)).all())
        lines = [{"sku": products[p].sku, "description": products[p].description, "gtin": gtins.get(p),
                  "quantity": n, "ordered": ordered[p][0], "picked": ordered[p][1], "packed": int(packed.get(p, 0))}
                 for p, n in sorted(share.items(), key=lambda item: products[item[0]].sku)]
        orders.append({"order": order.reference, "customer": order.customer, "carrier": order.carrier,
                       "service": order.service, "status": order.status, "units": sum(share.values()),
                       "lines": lines, "cartons": _cartons_view(session, order)})
    return {"tote": tote.code, "empty": not split.by_order and not split.unassigned, "orders": orders,
            "unassigned": [{"sku": products[p].sku, "description": products[p].description, "quantity": n}
                           for p, n in sorted(split.unassigned.items())],
            "carton_types": carton_types()}


def check_item(session: Session, site: Site, *, tote: str, scan: str, quantity: int, order: str | None,
               in_carton: dict[str, int]) -> dict:
    """Would this scan (× quantity) go into the carton being packed from the tote? Changes nothing.

    `in_carton`: what the packer has scanned into this carton so far, by SKU. A refusal is the one `pack`
    would give (wrong_item, pack_surplus, order_required, …)."""
    tote_row = _container(session, site, tote, "tote", "tote")
    product, lot = _product(session, site, scan, "scan")
    split = _split(session, tote_row)
    order_row = _order_in_tote(session, split, tote_row, order, {product.id})
    already = int(in_carton.get(product.sku, 0))
    have = _check_units(session, tote_row, order_row, split.share(order_row.id), product, already + quantity, "scan")
    return {"ok": True, "order": order_row.reference, "sku": product.sku, "description": product.description,
            "gtin": _gtins(session, [product.id]).get(product.id), "lot": lot, "quantity": quantity,
            "in_tote": have, "remaining": have - already - quantity}


# --- pack, close, report missing --------------------------------------------------------------------------------


def _take_out_of_tote(session: Session, site: Site, tote: Container, product_id: int, units: int, lot: str | None,
                      *, reason: str, order: Order, destination: tuple[int, int] | None, user_id: int) -> list[int]:
    """Move `units` of the product out of the tote (the scanned lot first, then oldest quant first): into the
    carton (`destination` = location id, carton id) or off the books. The locations they were picked at."""
    quants = session.exec(select(Quant.location_id, Quant.lot, Quant.expiry, Quant.on_hand, Quant.id).where(
        Quant.container_id == tote.id, Quant.product_id == product_id, Quant.on_hand > 0)).all()
    left, picked_at = units, []
    for location_id, q_lot, expiry, on_hand, _ in sorted(quants, key=lambda q: (q[1] != lot, q[4])):
        take = min(on_hand, left)
        if take <= 0:
            break
        post_move(session, site_id=site.id, product_id=product_id, quantity=take, reason=reason,
                  source=StockIdentity(product_id, location_id, tote.id, q_lot, expiry),
                  destination=StockIdentity(product_id, destination[0], destination[1], q_lot, expiry)
                  if destination else None,
                  reference=f"order:{order.reference}", user_id=user_id)
        left -= take
        picked_at.append(location_id)
    if left:  # the split said the tote holds them: only a concurrent change gets here
        raise Conflict(f"tote {tote.code} no longer holds {units} of this product", code="tote_changed")
    return picked_at


def pack_tote(session: Session, runtime: Runtime, site: Site, *, tote: str, station: str, items: list[dict],
              user_id: int, order: str | None = None, carton_type: str | None = None,
              weight_kg: float | None = None) -> dict:
    """Pack the scanned items of one order from the tote into a new carton (closed at once with `weight_kg`)."""
    bench = _station(session, site, station, PACK_BENCH)
    if carton_type is not None and carton_type not in _CARTON_TYPE_CODES:
        raise Invalid(f"no carton size {carton_type!r}: choose one of {', '.join(t.code for t in CARTON_TYPES)}",
                      code="unknown_carton_type", details={"field": "carton_type"})
    tote_row = _container(session, site, tote, "tote", "tote")
    scanned: dict[int, int] = defaultdict(int)
    lots: dict[int, str | None] = {}
    products: dict[int, Product] = {}
    fields: dict[int, str] = {}
    for index, item in enumerate(items):
        if item["quantity"] <= 0:
            raise Invalid("quantities are positive", code="invalid_quantity", details={"field": f"items.{index}"})
        product, lot = _product(session, site, item["product"], f"items.{index}.product")
        scanned[product.id] += item["quantity"]
        products[product.id] = product
        lots.setdefault(product.id, lot)
        fields.setdefault(product.id, f"items.{index}.product")
    chosen = _order_in_tote(session, _split(session, tote_row), tote_row, order, set(scanned))
    order_row = _locked_order(session, chosen.id)
    share = _split(session, tote_row).share(order_row.id)  # again, now that packs of this order wait for this one
    for product_id, units in scanned.items():
        _check_units(session, tote_row, order_row, share, products[product_id], units, fields[product_id])
    carton_no = session.exec(select(func.count()).select_from(Container).where(
        Container.order_id == order_row.id)).one() + 1
    (carton,) = create_containers(session, runtime.settings, site_id=site.id, site_code=site.code, kind="carton",
                                  with_sscc=True, location_id=bench.id, user_id=user_id)
    carton.order_id = order_row.id
    carton.carton_no = carton_no
    carton.carton_type = carton_type
    session.add(carton)
    for product_id, units in scanned.items():
        _take_out_of_tote(session, site, tote_row, product_id, units, lots[product_id], reason="pack",
                          order=order_row, destination=(bench.id, carton.id), user_id=user_id)
    session.flush()  # (the sessions do not autoflush: what follows reads the carton and the moves back)
    packed = [{"sku": products[p].sku, "quantity": n} for p, n in sorted(scanned.items())]
    audit.record(session, user_id=user_id, site_id=site.id, action="order.pack", entity="order",
                 entity_id=order_row.id, after={"tote": tote_row.code, "carton": carton.code, "carton_no": carton_no,
                                                "carton_type": carton_type, "items": packed})
    after = _split(session, tote_row)
    result = {"order": order_row.reference, "tote": tote_row.code, "carton": carton.code, "sscc": carton.sscc,
              "carton_no": carton_no, "carton_type": carton_type, "items": packed,
              "left_for_order": sum(after.share(order_row.id).values()),
              "left_in_tote": sum(sum(s.values()) for s in after.by_order.values()) + sum(after.unassigned.values())}
    if weight_kg is not None:
        result.update(_close(session, site, order_row, carton, weight_kg, bench.code, user_id))
    return result


def _order_complete(session: Session, order: Order) -> bool:
    """Every pick done and nothing of the order left in a tote."""
    open_picks = session.exec(select(func.count()).select_from(Task).join(
        OrderLine, OrderLine.id == Task.order_line_id).where(
        OrderLine.order_id == order.id, Task.kind == "pick",
        Task.state.in_(("pending", "assigned", "in_progress", "suspended")))).one()
    if open_picks:
        return False
    totes = session.exec(select(Container).where(Container.id.in_(
        select(Task.container_id).join(OrderLine, OrderLine.id == Task.order_line_id).where(
            OrderLine.order_id == order.id, Task.kind == "pick", Task.state == "done",
            Task.container_id.is_not(None))), Container.kind == "tote")).all()
    return not any(_split(session, tote).share(order.id) for tote in totes)


def _count_final(session: Session, order: Order, closing: Container | None) -> bool:
    """No further carton can follow: the order is completely picked, out of its totes and in closed cartons."""
    other_open = session.exec(select(func.count()).select_from(Container).where(
        Container.order_id == order.id, Container.status == "open",
        Container.id != (closing.id if closing else -1))).one()
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


def _print_labels(session: Session, site: Site, order: Order, cartons: list[Container], count: int | None,
                  station: str, user_id: int) -> dict[int, int]:
    """Queue the cartons' shipping labels at the bench, in carton order: carton id → print job id."""
    from backend.printing.service import enqueue_label

    return {row.id: enqueue_label(session, site.id, "shipping", _shipping_label(site, order, row, count),
                                  station=station, user_id=user_id).id for row in cartons}


def _latest(moves: list, units: int) -> list:
    """The newest moves (newest first) that make up `units`: the ones this action just booked."""
    taken, out = 0, []
    for lot, expiry, quantity in moves:
        if taken >= units:
            break
        out.append((lot, expiry, quantity))
        taken += quantity
    return out


def _mark_packed(session: Session, order: Order) -> None:
    if order.status in ("picking", "picked"):
        order.status = "packed"
        order.updated_at = utcnow()
        session.add(order)
        payloads.order_event(session, order, "order.packed", with_cartons=True)


def _close(session: Session, site: Site, order: Order, carton_row: Container, weight_kg: float, station: str,
           user_id: int) -> dict:
    if weight_kg <= 0:
        raise Invalid("weigh the carton", code="invalid_weight", details={"field": "weight_kg"})
    carton_row.status = "closed"
    carton_row.weight_kg = weight_kg
    session.add(carton_row)
    session.flush()
    final = _count_final(session, order, carton_row)
    count = session.exec(select(func.count()).select_from(Container).where(
        Container.order_id == order.id)).one() if final else None
    jobs = _print_labels(session, site, order, [carton_row], count, station, user_id)
    if final:
        _mark_packed(session, order)
    audit.record(session, user_id=user_id, site_id=site.id, action="carton.close", entity="container",
                 entity_id=carton_row.id, after={"weight_kg": weight_kg, "print_job_id": jobs[carton_row.id],
                                                 "carton_count": count})
    return {"carton": carton_row.code, "carton_no": carton_row.carton_no, "carton_count": count,
            "print_job_id": jobs[carton_row.id], "order_status": order.status}


def print_carton_set(session: Session, site: Site, *, order: str, station: str, user_id: int) -> dict:
    """Print every carton's label again as "n of m", in carton order, once the order's carton count is final."""
    order_row = session.exec(select(Order).where(Order.site_id == site.id, Order.reference == order)).first()
    if order_row is None:
        raise NotFound(f"order {order!r} not found", code="unknown_order", details={"field": "order"})
    order_row = _locked_order(session, order_row.id)
    _station(session, site, station, PACK_BENCH + SHIP_DOORS)
    cartons = list(session.exec(select(Container).where(Container.order_id == order_row.id, Container.status != "open")
                                .order_by(Container.carton_no, Container.id)).all())
    if not cartons or not _count_final(session, order_row, None):
        raise Conflict(f"{order_row.reference} is not completely packed yet: its carton count is not final",
                       code="carton_count_open")
    jobs = _print_labels(session, site, order_row, cartons, len(cartons), station, user_id)
    audit.record(session, user_id=user_id, site_id=site.id, action="order.carton_labels", entity="order",
                 entity_id=order_row.id, after={"print_job_ids": list(jobs.values()), "station": station})
    return {"order": order_row.reference, "carton_count": len(cartons),
            "labels": [{"carton": c.code, "sscc": c.sscc, "carton_no": c.carton_no, "print_job_id": jobs[c.id]}
                       for c in cartons]}


def close_carton(session: Session, site: Site, *, carton: str, weight_kg: float, station: str, user_id: int) -> dict:
    """Weigh and close a carton and queue its shipping label: "n" alone, or "n of m" for the whole set once
    this close makes the order's carton count final (see the module docstring)."""
    carton_row = container_by_scan(session, site.id, carton, "carton", "carton")
    if carton_row.order_id is None:
        raise Conflict(f"carton {carton_row.code} holds no order's pack", code="carton_not_packed")
    order = _locked_order(session, carton_row.order_id)
    session.refresh(carton_row)  # read after the lock: a close of the same carton elsewhere has committed by now
    if carton_row.status != "open":
        raise Conflict(f"carton {carton_row.code} is {carton_row.status}", code="carton_closed")
    return _close(session, site, order, carton_row, weight_kg, station, user_id)


def report_missing(session: Session, site: Site, *, tote: str, station: str, product: str, quantity: int,
                   order: str | None, user_id: int) -> dict:
    """The packer finds fewer of a product in the tote than the order's picks put there (see the module docstring)."""
    from backend.execution.counting import request_counts

    bench = _station(session, site, station, PACK_BENCH)
    tote_row = _container(session, site, tote, "tote", "tote")
    product_row, _ = _product(session, site, product, "product")
    chosen = _order_in_tote(session, _split(session, tote_row), tote_row, order, {product_row.id})
    order_row = _locked_order(session, chosen.id)
    have = _split(session, tote_row).share(order_row.id).get(product_row.id, 0)
    if have == 0:
        raise Invalid(f"Tote {tote_row.code} holds no {product_row.sku} for {order_row.reference}",
                      code="wrong_item", details={"field": "product"})
    if quantity > have:
        raise Invalid(f"Tote {tote_row.code} should hold {have} × {product_row.sku} for {order_row.reference}: "
                      f"at most {have} can be missing", code="too_many_missing", details={"field": "quantity"})
    picked_at = _take_out_of_tote(session, site, tote_row, product_row.id, quantity, None, reason="pack_short",
                                  order=order_row, destination=None, user_id=user_id)
    left = quantity
    for line in session.exec(select(OrderLine).where(OrderLine.order_id == order_row.id,
                                                     OrderLine.product_id == product_row.id)
                             .order_by(OrderLine.line_no.desc()).with_for_update()).all():
        less = min(left, line.quantity_picked)
        line.quantity_picked -= less
        left -= less
        session.add(line)
    session.flush()
    shelves = sorted(session.exec(select(Location.id).where(
        Location.id.in_(set(picked_at)), Location.kind.in_(STORAGE_KINDS))).all())
    counts = request_counts(session, site, shelves, reason="pack_short", priority=_MISSING_COUNT_PRIORITY)
    shelf_codes = sorted(session.exec(select(Location.code).where(Location.id.in_(shelves))).all()) if shelves else []
    who = session.get(User, user_id)
    exc = WarehouseException(
        site_id=site.id, kind="pack_short", raised_by=user_id,
        message=(f"{bench.code}: {quantity} × {product_row.sku} missing from tote {tote_row.code} for "
                 f"{order_row.reference}, reported by {who.username if who else user_id}")[:500],
        details={"tote": tote_row.code, "station": bench.code, "order": order_row.reference, "sku": product_row.sku,
                 "quantity": quantity, "reported_by": user_id, "reported_by_name": who.username if who else None,
                 "picked_at": shelf_codes, "count_task_ids": [t.id for t in counts]})
    payloads.exception_raised(session, exc)
    lots = session.exec(select(Move.lot, Move.expiry, Move.quantity).where(
        Move.reference == f"order:{order_row.reference}", Move.reason == "pack_short", Move.site_id == site.id,
        Move.from_container_id == tote_row.id, Move.product_id == product_row.id).order_by(Move.id.desc())).all()
    outbox.record(session, site.id, "inventory.adjusted", {
        "reason": "pack_short", "reference": f"order:{order_row.reference}", "exception_id": exc.id,
        "lines": [{"sku": product_row.sku, "lot": lot, "expiry": payloads.iso(expiry), "location": tote_row.code,
                   "quantity": -quantity} for lot, expiry, quantity in _latest(lots, quantity)]})
    count = None
    cartons = session.exec(select(func.count()).select_from(Container).where(Container.order_id == order_row.id)).one()
    if order_row.status in ("picking", "picked") and cartons and _count_final(session, order_row, None):
        # this was all that held the order back: it is packed, its count final (print_carton_set labels the set)
        count = cartons
        _mark_packed(session, order_row)
    audit.record(session, user_id=user_id, site_id=site.id, action="order.pack_short", entity="order",
                 entity_id=order_row.id, after={"tote": tote_row.code, "sku": product_row.sku, "quantity": quantity,
                                                "exception_id": exc.id})
    return {"exception_id": exc.id, "order": order_row.reference, "tote": tote_row.code, "sku": product_row.sku,
            "quantity": quantity, "count_task_ids": [t.id for t in counts],
            "left_for_order": sum(_split(session, tote_row).share(order_row.id).values()),
            "carton_count": count, "order_status": order_row.status}


# --- load and ship ----------------------------------------------------------------------------------------------


def _carton_line(carton: Container, places: dict[int, str], door: Location) -> dict:
    return {"carton": carton.code, "sscc": carton.sscc, "carton_no": carton.carton_no, "status": carton.status,
            "location": places.get(carton.location_id),
            "loaded": carton.status == "loaded" and carton.location_id == door.id}


def _order_on_load(session: Session, order: Order, door: Location) -> dict:
    """What of the order is on this door's load, and what is still missing from it."""
    cartons = list(session.exec(select(Container).where(Container.order_id == order.id)
                                .order_by(Container.carton_no, Container.id)).all())
    places = dict(session.exec(select(Location.id, Location.code).where(
        Location.id.in_([c.location_id for c in cartons if c.location_id]))).all()) if cartons else {}
    lines = [_carton_line(c, places, door) for c in cartons]
    missing = [line for line in lines if not line["loaded"] and line["status"] != "shipped"]
    packed = order.status in ("packed", "shipped")
    return {"order": order.reference, "customer": order.customer, "carrier": order.carrier, "status": order.status,
            "carton_count": len(cartons) if packed else None, "cartons": lines,
            "loaded": sum(line["loaded"] for line in lines), "missing": missing, "packing_done": packed,
            "complete": packed and order.status != "shipped" and not missing}


def dock_load(session: Session, site: Site, dock: str) -> dict:
    """The load being built at a dock door: every order with a carton on it."""
    door = _station(session, site, dock, SHIP_DOORS, "dock")
    order_ids = sorted(set(session.exec(select(Container.order_id).where(
        Container.site_id == site.id, Container.location_id == door.id, Container.status == "loaded",
        Container.order_id.is_not(None))).all()))
    orders = session.exec(select(Order).where(Order.id.in_(order_ids)).order_by(Order.reference)).all() \
        if order_ids else []
    return {"dock": door.code, "orders": [_order_on_load(session, order, door) for order in orders]}


def load_carton(session: Session, site: Site, *, dock: str, carton: str, user_id: int) -> dict:
    """Put a closed carton onto the load of a dock door; what of its order is still missing there."""
    door = _station(session, site, dock, SHIP_DOORS, "dock")
    row = _container(session, site, carton, "carton", "carton")
    if row.order_id is None:
        raise Conflict(f"Carton {row.code} holds no order's pack", code="carton_not_packed",
                       details={"field": "carton"})
    order = _locked_order(session, row.order_id)
    session.refresh(row)
    name = f"Carton {row.carton_no} of {order.reference}"
    if row.status == "open":
        raise Conflict(f"{name} is still open: close it at the pack bench first", code="carton_open",
                       details={"field": "carton", "sscc": row.sscc})
    if row.status == "shipped":
        raise Conflict(f"{name} has already shipped", code="carton_shipped", details={"field": "carton"})
    already = row.status == "loaded" and row.location_id == door.id
    moved_from = None
    if not already:
        if row.status == "loaded" and row.location_id is not None:
            moved_from = session.get(Location, row.location_id).code
        for product_id, location_id, lot, expiry, on_hand in session.exec(select(
                Quant.product_id, Quant.location_id, Quant.lot, Quant.expiry, Quant.on_hand).where(
                Quant.container_id == row.id, Quant.on_hand > 0, Quant.location_id != door.id)).all():
            post_move(session, site_id=site.id, product_id=product_id, quantity=on_hand, reason="load",
                      source=StockIdentity(product_id, location_id, row.id, lot, expiry),
                      destination=StockIdentity(product_id, door.id, row.id, lot, expiry),
                      reference=f"order:{order.reference}", user_id=user_id)
        row.status = "loaded"
        row.location_id = door.id
        session.add(row)
        session.flush()
        audit.record(session, user_id=user_id, site_id=site.id, action="carton.load", entity="container",
                     entity_id=row.id, after={"dock": door.code, "order": order.reference, "moved_from": moved_from})
    return {"dock": door.code, "carton": row.code, "sscc": row.sscc, "carton_no": row.carton_no,
            "order": order.reference, "already_loaded": already, "moved_from": moved_from,
            "load": _order_on_load(session, order, door)}




def ship_order(session: Session, site: Site, *, order_reference: str, dock: str, user_id: int) -> dict:
    """Ship an order from a dock door: packed, and every carton of it on that door's load."""
    door = _station(session, site, dock, SHIP_DOORS, "dock")
    order = session.exec(select(Order).where(Order.site_id == site.id, Order.reference == order_reference)
                         .with_for_update()).first()
    if order is None:
        raise NotFound(f"order {order_reference!r} not found", code="unknown_order", details={"field": "order"})
    if order.status == "shipped":
        raise Conflict(f"{order.reference} has already shipped", code="order_shipped")
    if order.status != "packed":
        raise Conflict(f"{order.reference} is {order.status}, not packed yet: pack and close every carton first",
                       code="order_not_packed")
    load = _order_on_load(session, order, door)
    if load["missing"]:
        missing = load["missing"]
        one = len(missing) == 1
        numbers = ", ".join(str(c["carton_no"]) for c in missing)
        raise Conflict(f"Carton{'' if one else 's'} {numbers} of {order.reference} {'is' if one else 'are'} not "
                       f"loaded: scan {'it' if one else 'them'} onto the load at {door.code} first "
                       f"(SSCC {', '.join(c['sscc'] for c in missing)})",
                       code="cartons_not_loaded", details={"missing": missing, "dock": door.code})
    cartons = list(session.exec(select(Container).where(Container.order_id == order.id)
                                .order_by(Container.carton_no, Container.id)).all())
    shipped = payloads.cartons(session, order.id)  # (what they hold, before it leaves the books)
    units = 0
    for carton in cartons:
        for product_id, location_id, lot, expiry, on_hand in session.exec(select(
                Quant.product_id, Quant.location_id, Quant.lot, Quant.expiry, Quant.on_hand).where(
                Quant.container_id == carton.id, Quant.on_hand > 0)).all():
            units += on_hand
            post_move(session, site_id=site.id, product_id=product_id, quantity=on_hand, reason="ship",
                      source=StockIdentity(product_id, location_id, carton.id, lot, expiry),
                      reference=f"order:{order.reference}", user_id=user_id)
        carton.status = "shipped"
        carton.location_id = None
        session.add(carton)
    order.status = "shipped"
    order.updated_at = utcnow()
    session.add(order)
    score_shipped(session, order, order.updated_at)  # did it make its cut-off, and was that predicted?
    payloads.order_event(session, order, "order.shipped", cartons=shipped, dock=door.code, units=units,
                         shipped_at=order.updated_at.isoformat())
    audit.record(session, user_id=user_id, site_id=site.id, action="order.shipped", entity="order", entity_id=order.id,
                 after={"cartons": [c.sscc for c in cartons], "units": units, "carrier": order.carrier,
                        "dock": door.code})
    return {"order": order.reference, "dock": door.code, "cartons": [c.sscc for c in cartons], "units": units}
