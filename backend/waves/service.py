"""Waves in the database: plan (a preview that changes no stock), release, discard, cancel.

Planning selects orders by the wave's criteria, takes their pick locations
from their reservations (or from a dry-run allocation for orders not yet
allocated), and runs the pure batching + routing core. Release commits it all
in one transaction: reservations for orders still unallocated, tours, tote
assignments, pick tasks in walking order, and the urgent replenishments
those picks wait for.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from backend import audit
from backend.webhooks import outbox
from backend.bulk import insert_rows, update_rows
from backend.allocation.service import allocate_orders
from backend.errors import Conflict, Invalid
from backend.masterdata import among
from backend.models import Location, Order, OrderLine, Product, Quant, Reservation, Site, Task, Tour, TourTote, Wave, Zone, utcnow
from backend.orders.service import release_reservations
from backend.waves.batching import CartSpec, PickLine, PickOrder, plan_tours
from backend.waves.site_layout import SiteGeometry, site_geometry

WAVE_ORDER_STATES = ("new", "allocated", "partly_allocated")
DEFAULT_UNIT_VOLUME_L = 0.5
DEFAULT_UNIT_WEIGHT_KG = 0.3


@dataclass(frozen=True)
class WaveCriteria:
    cut_off_from: datetime | None = None
    cut_off_to: datetime | None = None
    carriers: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    zones: tuple[str, ...] = ()
    max_orders: int | None = None
    max_lines: int | None = None
    max_volume_l: float | None = None
    totes: int = 12
    tote_volume_l: float = 35.0
    tote_weight_kg: float = 15.0
    max_units: int | None = None  # the most units (articles) one cart carries; None: only totes, volume, weight
    references: tuple[str, ...] = ()  # only these orders (e.g. one at risk, released on its own); empty: any

    def to_json(self) -> dict:
        data = dict(self.__dict__)
        for key in ("cut_off_from", "cut_off_to"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["carriers"], data["priorities"], data["zones"] = list(self.carriers), list(self.priorities), list(self.zones)
        data["references"] = list(self.references)
        return data


@dataclass
class PlannedPick:
    key: str  # "r<reservation id>" or "d<index>" for a dry-run allocation
    order_id: int
    order_line_id: int
    location_id: int
    quantity: int


@dataclass
class WavePlan:
    order_ids: list[int]
    picks: dict[str, PlannedPick]
    tours: list[dict]
    unplanned: list[dict]
    distance_m: float
    seconds: float
    lines: int
    dry_run: bool
    skipped_orders: list[dict] = field(default_factory=list)


ORDER_COLUMNS = (Order.id, Order.reference, Order.cut_off, Order.priority, Order.status, Order.wave_id)


def _select_orders(session: Session, site_id: int, c: WaveCriteria) -> list:
    # Column rows (with attribute access), not ORM objects: a wave can hold 10,000 orders.
    query = select(*ORDER_COLUMNS).where(Order.site_id == site_id, Order.status.in_(WAVE_ORDER_STATES), Order.wave_id.is_(None))
    if c.cut_off_from:
        query = query.where(Order.cut_off >= c.cut_off_from)
    if c.cut_off_to:
        query = query.where(Order.cut_off <= c.cut_off_to)
    if c.carriers:
        query = query.where(Order.carrier.in_(c.carriers))
    if c.priorities:
        query = query.where(Order.priority.in_(c.priorities))
    if c.references:
        query = query.where(Order.reference.in_(c.references))
    return sorted(session.exec(query).all(), key=release_order_key)


def release_order_key(order) -> tuple:  # noqa: ANN001
    """Waves take orders by earliest cut-off (none: last), then most urgent priority, then arrival."""
    far = datetime.max.replace(tzinfo=None)
    return (order.cut_off.replace(tzinfo=None) if order.cut_off else far, order.priority, order.id)


def _reservations_of(session: Session, order_ids: list[int], wave_id: int | None = None) -> list[tuple]:
    """(reservation row, order id) pairs for the orders' open reservations, in id order."""
    rows: list[tuple] = []
    for condition in among(session, OrderLine.order_id, order_ids):
        query = (
            select(Reservation.id, Reservation.quant_id, Reservation.order_line_id, Reservation.quantity,
                   Reservation.stage, Reservation.pick_location_id, OrderLine.order_id)
            .join(OrderLine, OrderLine.id == Reservation.order_line_id)
            .where(condition, Reservation.quantity > 0)
        )
        query = query.where(Reservation.wave_id.is_(None) if wave_id is None else
                            (Reservation.wave_id.is_(None)) | (Reservation.wave_id == wave_id))
        rows.extend((row, row.order_id) for row in session.exec(query).all())
    rows.sort(key=lambda pair: pair[0].id)
    return rows


def plan_wave_picks(session: Session, site: Site, c: WaveCriteria, *, today: date) -> WavePlan:
    """Everything a plan needs, computed without writing anything."""
    orders = _select_orders(session, site.id, c)
    order_ids = [o.id for o in orders]
    picks: dict[str, PlannedPick] = {}
    for res, order_id in _reservations_of(session, order_ids):
        picks[f"r{res.id}"] = PlannedPick(f"r{res.id}", order_id, res.order_line_id, res.pick_location_id, res.quantity)
    unallocated = [o.id for o in orders if o.status == "new"]
    dry = False
    if unallocated:
        run = allocate_orders(session, site.id, unallocated, today=today, dry_run=True)
        line_to_order = {}
        for condition in among(session, OrderLine.order_id, unallocated):
            for lid, oid in session.exec(select(OrderLine.id, OrderLine.order_id).where(condition)).all():
                line_to_order[lid] = oid
        for index, res in enumerate(run.reservations):
            key = f"d{index}"
            picks[key] = PlannedPick(key, line_to_order[res["order_line_id"]], res["order_line_id"],
                                     res["pick_location_id"], res["quantity"])
            dry = True
    return _batch(session, site, c, orders, picks, dry)


@dataclass
class PickOrdersInput:
    geometry: SiteGeometry
    pick_orders: list[PickOrder]
    chosen: list[Order]
    skipped: list[dict]
    location_codes: dict[int, str]


def build_pick_orders(session: Session, site: Site, c: WaveCriteria, orders: list[Order],
                      picks: dict[str, PlannedPick]) -> PickOrdersInput:
    """The batching core's input for these orders and picks, after the criteria's zone and size limits."""
    geometry = site_geometry(session, site)
    location_ids = sorted({p.location_id for p in picks.values()})
    locations: dict[int, tuple[float, float, int | None, str]] = {}
    for condition in among(session, Location.id, location_ids):
        for lid, x, y, zone_id, code in session.exec(
            select(Location.id, Location.x, Location.y, Location.zone_id, Location.code).where(condition)
        ).all():
            locations[lid] = (x, y, zone_id, code)
    zone_ids: set[int] | None = None
    if c.zones:
        zone_ids = set(session.exec(select(Zone.id).where(Zone.site_id == site.id, Zone.code.in_(c.zones))).all())
    line_product = {}
    line_ids = sorted({p.order_line_id for p in picks.values()})
    for condition in among(session, OrderLine.id, line_ids):
        for lid, pid in session.exec(select(OrderLine.id, OrderLine.product_id).where(condition)).all():
            line_product[lid] = pid
    unit = {}
    for condition in among(session, Product.id, sorted(set(line_product.values()))):
        for p in session.exec(select(Product).where(condition)).all():
            volume = (p.length_mm * p.width_mm * p.height_mm / 1e6) if p.length_mm and p.width_mm and p.height_mm else None
            unit[p.id] = (volume or DEFAULT_UNIT_VOLUME_L, (p.weight_g / 1000.0) if p.weight_g else DEFAULT_UNIT_WEIGHT_KG)

    by_order: dict[int, list[PlannedPick]] = defaultdict(list)
    for pick in picks.values():
        by_order[pick.order_id].append(pick)
    chosen: list[Order] = []
    skipped: list[dict] = []
    total_lines = 0
    total_volume = 0.0
    for order in orders:
        order_picks = by_order.get(order.id, [])
        if not order_picks:
            skipped.append({"order_id": order.id, "reference": order.reference, "reason": "nothing_allocated"})
            continue
        if zone_ids is not None and any(locations[p.location_id][2] not in zone_ids for p in order_picks):
            continue
        volume = sum(unit[line_product[p.order_line_id]][0] * p.quantity for p in order_picks)
        if c.max_orders is not None and len(chosen) >= c.max_orders:
            break
        if c.max_lines is not None and total_lines + len(order_picks) > c.max_lines:
            break
        if c.max_volume_l is not None and total_volume + volume > c.max_volume_l:
            break
        chosen.append(order)
        total_lines += len(order_picks)
        total_volume += volume

    pick_orders = []
    for order in chosen:
        lines = []
        for p in sorted(by_order[order.id], key=lambda p: p.key):
            x, y, _zone, code = locations[p.location_id]
            vol, weight = unit[line_product[p.order_line_id]]
            lines.append(PickLine(p.key, geometry.point(x, y), p.quantity, vol, weight, code))
        pick_orders.append(PickOrder(order.id, order.cut_off.timestamp() if order.cut_off else 4.0e9,
                                     10 - order.priority, tuple(lines)))
    codes = {lid: v[3] for lid, v in locations.items()}
    return PickOrdersInput(geometry, pick_orders, chosen, skipped, codes)


def _batch(session: Session, site: Site, c: WaveCriteria, orders: list[Order], picks: dict[str, PlannedPick],
           dry: bool) -> WavePlan:
    prepared = build_pick_orders(session, site, c, orders, picks)
    geometry, pick_orders, chosen, skipped = prepared.geometry, prepared.pick_orders, prepared.chosen, prepared.skipped
    cart = CartSpec(totes=c.totes, tote_volume_l=c.tote_volume_l, tote_weight_kg=c.tote_weight_kg,
                    max_units=c.max_units)
    plan = plan_tours(geometry.layout, pick_orders, cart, geometry.settings)
    tours = [{
        "number": t.number, "orders": list(t.order_ids), "distance_m": round(t.distance_m, 2),
        "seconds": round(t.duration_s, 1), "earliest_cut_off": t.earliest_cut_off,
        "totes": [[load.tote, load.order_id] for load in t.totes],
        "stops": [[[pk.line_id, pk.tote, pk.quantity] for pk in stop.picks] for stop in t.stops],
        # Where each stop is on the planner's layout ([aisle index, metres along it]): the preview draws the walk.
        "points": [[stop.point.aisle, stop.point.y] for stop in t.stops],
    } for t in plan.tours]
    chosen_ids = [o.id for o in chosen]
    used = {pk[0] for t in tours for stop in t["stops"] for pk in stop}
    return WavePlan(
        order_ids=chosen_ids, picks={k: v for k, v in picks.items() if k in used}, tours=tours,
        unplanned=[{"order_id": u.order_id, "reason": u.reason} for u in plan.unplanned],
        distance_m=round(sum(t["distance_m"] for t in tours), 2), seconds=round(sum(t["seconds"] for t in tours), 1),
        lines=sum(len(stop) for t in tours for stop in t["stops"]), dry_run=dry, skipped_orders=skipped,
    )


def _signature(picks) -> str:  # noqa: ANN001
    """A fingerprint of the picks a plan was made from."""
    digest = hashlib.sha256()
    for p in sorted(picks, key=lambda p: p.key):
        digest.update(f"{p.key}|{p.order_line_id}|{p.location_id}|{p.quantity};".encode())
    return digest.hexdigest()


def create_wave(session: Session, site: Site, c: WaveCriteria, *, today: date, user_id: int | None) -> tuple[Wave, WavePlan]:
    plan = plan_wave_picks(session, site, c, today=today)
    wave = Wave(site_id=site.id, status="planned", criteria=c.to_json(), created_by=user_id,
                orders=len(plan.order_ids), lines=plan.lines, tours=len(plan.tours), distance_m=plan.distance_m,
                seconds=plan.seconds,
                plan={"orders": plan.order_ids, "tours": plan.tours, "unplanned": plan.unplanned,
                      "dry_run": plan.dry_run,
                      "signature": _signature(plan.picks.values())})
    session.add(wave)
    session.flush()
    audit.record(session, user_id=user_id, site_id=site.id, action="wave.plan", entity="wave", entity_id=wave.id,
                 after={"orders": wave.orders, "tours": wave.tours, "distance_m": wave.distance_m})
    return wave, plan


def lock_wave(session: Session, wave_id: int) -> Wave | None:
    return session.exec(select(Wave).where(Wave.id == wave_id).with_for_update()).first()


def _criteria(wave: Wave) -> WaveCriteria:
    data = dict(wave.criteria)
    for key in ("cut_off_from", "cut_off_to"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    for key in ("carriers", "priorities", "zones", "references"):
        data[key] = tuple(data.get(key) or ())
    return WaveCriteria(**data)


def release_wave(session: Session, site: Site, wave: Wave, *, today: date, user_id: int | None) -> Wave:
    if wave.status != "planned":
        raise Conflict(f"wave {wave.id} is {wave.status}; only a planned wave can be released", code="invalid_transition")
    planned_ids = list(wave.plan["orders"])
    orders = []
    for condition in among(session, Order.id, planned_ids):
        orders.extend(session.exec(select(*ORDER_COLUMNS).where(condition).with_for_update(of=Order)).all())
    eligible = [o for o in orders if o.status in WAVE_ORDER_STATES and o.wave_id is None]
    eligible_ids = sorted(o.id for o in eligible)
    to_allocate = [o.id for o in eligible if o.status == "new"]
    if to_allocate:
        allocate_orders(session, site.id, to_allocate, today=today, user_id=user_id)
        orders = []
        for condition in among(session, Order.id, eligible_ids):
            orders.extend(session.exec(select(*ORDER_COLUMNS).where(condition)).all())
        eligible = [o for o in orders if o.status in WAVE_ORDER_STATES]
    reservations = {f"r{res.id}": (res, oid) for res, oid in _reservations_of(session, eligible_ids)}
    current = [PlannedPick(k, oid, res.order_line_id, res.pick_location_id, res.quantity)
               for k, (res, oid) in reservations.items()]
    # The stored tours still fit if the same orders have exactly the reservations the plan saw.
    reusable = (
        not wave.plan.get("dry_run")
        and len(eligible_ids) == len(planned_ids)
        and wave.plan.get("signature") == _signature(current)
    )
    if reusable:
        tours = wave.plan["tours"]
    else:
        picks = {k: PlannedPick(k, oid, res.order_line_id, res.pick_location_id, res.quantity)
                 for k, (res, oid) in reservations.items()}
        c = _criteria(wave)
        c = WaveCriteria(**{**c.__dict__, "max_orders": None, "max_lines": None, "max_volume_l": None})
        plan = _batch(session, site, c, sorted(eligible, key=lambda o: o.id), picks, False)
        tours = plan.tours
    if not tours:
        raise Conflict(f"wave {wave.id} has nothing to pick any more", code="empty_wave")
    _persist_tours(session, site, wave, tours, reservations, user_id)
    return wave


def _persist_tours(session: Session, site: Site, wave: Wave, tours: list[dict],
                   reservations: dict[str, tuple[Reservation, int]], user_id: int | None) -> None:
    """Write the release: tours and their totes, the urgent replenishments, the pick tasks in walking order;
    then the reservations and orders join the wave, and the release is audited and announced."""
    now = utcnow()
    quants = _quants_of(session, reservations)
    location_zone = _zones_of(session, reservations, quants)
    tour_ids = _insert_tours(session, site, wave, tours, _cut_offs_of(session, reservations))
    replenish_ids = _insert_urgent_replenishments(session, site, wave, reservations, quants, location_zone, now)
    pick_rows = _pick_rows(site, wave, tours, tour_ids, reservations, quants, location_zone, replenish_ids, now)
    insert_rows(session, Task.__table__, pick_rows)
    in_wave = _join_wave(session, wave, tours, reservations, now)
    _mark_released(session, site, wave, tours, in_wave, len(pick_rows), len(replenish_ids), user_id, now)
    _announce_release(session, site, wave, in_wave, len(replenish_ids), now)


def _quants_of(session: Session, reservations: dict[str, tuple[Reservation, int]]) -> dict[int, tuple]:
    quant_ids = sorted({res.quant_id for res, _ in reservations.values()})
    quants: dict[int, tuple] = {}
    for condition in among(session, Quant.id, quant_ids):
        for q in session.exec(select(Quant.id, Quant.product_id, Quant.location_id, Quant.lot, Quant.expiry,
                                     Quant.container_id).where(condition)).all():
            quants[q.id] = q
    return quants


def _zones_of(session: Session, reservations: dict[str, tuple[Reservation, int]],
              quants: dict[int, tuple]) -> dict[int, int | None]:
    """The zone of every pick location and every quant's location."""
    location_zone = {}
    loc_ids = sorted({res.pick_location_id for res, _ in reservations.values()} | {q.location_id for q in quants.values()})
    for condition in among(session, Location.id, loc_ids):
        for lid, zid in session.exec(select(Location.id, Location.zone_id).where(condition)).all():
            location_zone[lid] = zid
    return location_zone


def _cut_offs_of(session: Session, reservations: dict[str, tuple[Reservation, int]]) -> dict[int, datetime | None]:
    cut_offs = {}
    order_ids = sorted({oid for _, oid in reservations.values()})
    for condition in among(session, Order.id, order_ids):
        for oid, cut_off in session.exec(select(Order.id, Order.cut_off).where(condition)).all():
            cut_offs[oid] = cut_off
    return cut_offs


def _insert_tours(session: Session, site: Site, wave: Wave, tours: list[dict],
                  cut_offs: dict[int, datetime | None]) -> list[int]:
    """The tours (each with its earliest cut-off) and their totes' orders; the tours' ids, in `tours`' order."""
    tour_rows = [{"site_id": site.id, "wave_id": wave.id, "number": t["number"], "status": "pending",
                  "distance_m": t["distance_m"], "seconds": t["seconds"], "totes": len({tt[0] for tt in t["totes"]}),
                  "cut_off": min((cut_offs[o] for o in t["orders"] if cut_offs.get(o)), default=None)}
                 for t in tours]
    conn = session.connection()
    tour_table = Tour.__table__
    tour_ids = conn.execute(insert(tour_table).returning(tour_table.c.id, sort_by_parameter_order=True),
                            tour_rows).scalars().all()
    conn.execute(insert(TourTote.__table__), [
        {"tour_id": tid, "tote_no": tote + 1, "order_id": oid}
        for tid, t in zip(tour_ids, tours) for tote, oid in t["totes"]
    ])
    return tour_ids


def _insert_urgent_replenishments(session: Session, site: Site, wave: Wave,
                                  reservations: dict[str, tuple[Reservation, int]], quants: dict[int, tuple],
                                  location_zone: dict[int, int | None], now: datetime) -> dict[tuple[int, int], int]:
    """One replenish task per reserve quant → pick face of the pending reservations; task ids by (quant, face)."""
    replenish: dict[tuple[int, int], int] = defaultdict(int)
    for res, _ in reservations.values():
        if res.stage == "pending_replenishment":
            replenish[(res.quant_id, res.pick_location_id)] += res.quantity
    repl_keys = sorted(replenish)
    if not repl_keys:
        return {}
    rows = []
    for quant_id, face in repl_keys:
        q = quants[quant_id]
        rows.append({"site_id": site.id, "kind": "replenish", "state": "pending", "priority": 0,
                     "product_id": q.product_id, "quantity": replenish[(quant_id, face)], "lot": q.lot,
                     "expiry": q.expiry, "from_location_id": q.location_id, "to_location_id": face,
                     "container_id": q.container_id, "wave_id": wave.id, "zone_id": location_zone.get(q.location_id),
                     "reference": f"wave:{wave.id}", "details": {"quant_id": quant_id, "urgent": True},
                     "version": 1, "created_at": now, "updated_at": now})
    task_table = Task.__table__
    ids = session.connection().execute(insert(task_table).returning(task_table.c.id, sort_by_parameter_order=True),
                                       rows).scalars().all()
    return dict(zip(repl_keys, ids))


def _pick_rows(site: Site, wave: Wave, tours: list[dict], tour_ids: list[int],
               reservations: dict[str, tuple[Reservation, int]], quants: dict[int, tuple],
               location_zone: dict[int, int | None], replenish_ids: dict[tuple[int, int], int],
               now: datetime) -> list[dict]:
    """A pick task per stop line, numbered in walking order within its tour; a pick at a face being replenished
    depends on that replenishment."""
    pick_rows = []
    for tid, t in zip(tour_ids, tours):
        sequence = 0
        for stop in t["stops"]:
            for key, tote, qty in stop:
                res, oid = reservations[key]
                q = quants[res.quant_id]
                sequence += 1
                pick_rows.append({
                    "site_id": site.id, "kind": "pick", "state": "pending", "priority": t["number"],
                    "product_id": q.product_id, "quantity": qty, "lot": q.lot, "expiry": q.expiry,
                    "from_location_id": res.pick_location_id, "wave_id": wave.id, "tour_id": tid,
                    "sequence": sequence, "order_line_id": res.order_line_id, "reservation_id": res.id,
                    "tote_no": tote + 1, "zone_id": location_zone.get(res.pick_location_id),
                    "depends_on_task_id": replenish_ids.get((res.quant_id, res.pick_location_id)),
                    "container_id": q.container_id if res.stage in ("reserve", "full_case") else None,
                    "reference": f"order:{oid}", "version": 1, "created_at": now, "updated_at": now,
                })
    return pick_rows


def _join_wave(session: Session, wave: Wave, tours: list[dict], reservations: dict[str, tuple[Reservation, int]],
               now: datetime) -> list[int]:
    """The reservations and the tours' orders join the wave (the orders go in_wave); the orders' ids."""
    update_rows(session, Reservation.__table__, "id",
                [{"id": res.id, "wave_id": wave.id} for res, _ in sorted(reservations.values(), key=lambda r: r[0].id)])
    in_wave = sorted({oid for t in tours for oid in t["orders"]})
    update_rows(session, Order.__table__, "id",
                [{"id": oid, "status": "in_wave", "wave_id": wave.id, "updated_at": now} for oid in in_wave])
    return in_wave


def _mark_released(session: Session, site: Site, wave: Wave, tours: list[dict], in_wave: list[int], picks: int,
                   replenishments: int, user_id: int | None, now: datetime) -> None:
    wave.status = "released"
    wave.released_at = now
    wave.orders = len(in_wave)
    wave.lines = picks
    wave.tours = len(tours)
    wave.distance_m = round(sum(t["distance_m"] for t in tours), 2)
    wave.seconds = round(sum(t["seconds"] for t in tours), 1)
    session.add(wave)
    audit.record(session, user_id=user_id, site_id=site.id, action="wave.release", entity="wave", entity_id=wave.id,
                 after={"orders": wave.orders, "tours": wave.tours, "picks": picks,
                        "replenishments": replenishments})


def _announce_release(session: Session, site: Site, wave: Wave, in_wave: list[int], replenishments: int,
                      now: datetime) -> None:
    """The wave.released event (for the ERP's webhooks), with the released orders."""
    released = []
    for condition in among(session, Order.id, in_wave):
        released.extend(session.exec(select(Order.id, Order.reference, Order.customer, Order.carrier, Order.service,
                                            Order.cut_off).where(condition)).all())
    outbox.record(session, site.id, "wave.released", {
        "wave": {"id": wave.id, "orders": wave.orders, "lines": wave.lines, "tours": wave.tours,
                 "replenishments": replenishments, "released_at": now.isoformat()},
        "orders": [{"id": oid, "reference": ref, "customer": customer, "carrier": carrier, "service": service,
                    "cut_off": cut_off.isoformat() if cut_off else None}
                   for oid, ref, customer, carrier, service, cut_off in sorted(released)]})


def discard_wave(session: Session, wave: Wave, user_id: int | None) -> Wave:
    if wave.status != "planned":
        raise Conflict(f"wave {wave.id} is {wave.status}; only a planned wave can be discarded", code="invalid_transition")
    wave.status = "discarded"
    session.add(wave)
    audit.record(session, user_id=user_id, site_id=wave.site_id, action="wave.discard", entity="wave",
                 entity_id=wave.id, before={"status": "planned"}, after={"status": "discarded"})
    return wave


def cancel_wave(session: Session, wave: Wave, user_id: int | None) -> dict:
    if wave.status != "released":
        raise Conflict(f"wave {wave.id} is {wave.status}; only a released wave can be cancelled", code="invalid_transition")
    tasks = session.exec(select(Task).where(Task.wave_id == wave.id).with_for_update()).all()
    started = [t.id for t in tasks if t.kind == "pick" and t.state in ("in_progress", "done", "exception")]
    if started:
        raise Conflict(f"wave {wave.id} has started picking", code="wave_picking_started", details={"tasks": started[:20]})
    now = utcnow()
    for task in tasks:
        if task.state not in ("done", "cancelled"):
            task.state = "cancelled"
            task.updated_at = now
            task.version += 1
            session.add(task)
    reservations = session.exec(select(Reservation).where(Reservation.wave_id == wave.id, Reservation.quantity > 0)).all()
    released = sum(r.quantity for r in reservations)
    release_reservations(session, list(reservations))
    order_table = Order.__table__
    session.flush()
    session.connection().execute(
        update(order_table).where(order_table.c.wave_id == wave.id).values(status="new", wave_id=None, updated_at=now)
    )
    for tour in session.exec(select(Tour).where(Tour.wave_id == wave.id)).all():
        tour.status = "cancelled"
        session.add(tour)
    wave.status = "cancelled"
    session.add(wave)
    audit.record(session, user_id=user_id, site_id=wave.site_id, action="wave.cancel", entity="wave", entity_id=wave.id,
                 before={"status": "released"}, after={"status": "cancelled", "released_units": released})
    return {"released_units": released, "cancelled_tasks": len(tasks)}


def validate_cart(c: WaveCriteria) -> None:
    if c.totes < 1 or c.tote_volume_l <= 0 or c.tote_weight_kg <= 0:
        raise Invalid("a cart needs at least one tote with a positive volume and weight", code="invalid_cart")
    if c.max_units is not None and c.max_units < 1:
        raise Invalid("a cart carries at least one unit", code="invalid_cart", details={"field": "cart.max_units"})
