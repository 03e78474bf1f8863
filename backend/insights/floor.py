"""The floor as the supervisor's desk draws it: the plan, picks per aisle, one location's detail, a wave's walks.

* ``floor_map``: every active location at its x/y (metres), the bounds of the drawing, and each aisle as the
  rectangle its locations span (an aisle is the locations' ``aisle`` label; locations without one, such as
  docks and pack benches, are drawn on their own).
* ``aisle_heat``: pick lines done per aisle in a period (a done pick task counts once, short or not), from the
  tasks themselves; picks at locations without an aisle label are counted apart (``outside_aisles``).
* ``location_detail``: what is in a location, the open work there, and its last count.
* ``wave_preview``: each tour's walking path, drawn through the site layout the tours were planned on
  (backend.waves.site_layout): from the depot along the aisles and cross aisles to each stop in walking order
  and back, with the planned metres and minutes. A released wave's tours come from its tour rows and picks, a
  planned wave's from its stored plan (such a tour has no id yet).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, select

from backend.errors import NotFound
from backend.models import (
    Container, Location, Move, Product, Quant, Reservation, Site, Task, Tour, User, WarehouseException, Wave, Zone,
)
from backend.routing.layout import DEPOT, Layout, PickPoint
from backend.tasks.states import OPEN_STATES
from backend.waves.site_layout import SiteGeometry, site_geometry


# --- the plan --------------------------------------------------------------------------------------


def floor_map(session: Session, site: Site) -> dict:
    """Locations, aisles and bounds for an SVG plan of the site."""
    rows = session.exec(
        select(Location.code, Location.kind, Zone.code, Location.aisle, Location.x, Location.y)
        .outerjoin(Zone, Zone.id == Location.zone_id)
        .where(Location.site_id == site.id, Location.active).order_by(Location.code)
    ).all()
    locations = [{"code": code, "kind": kind, "zone": zone, "aisle": aisle or None, "x": x, "y": y}
                 for code, kind, zone, aisle, x, y in rows]
    spans: dict[str, list[float]] = {}
    for _code, _kind, _zone, aisle, x, y in rows:
        if not aisle:
            continue
        span = spans.get(aisle)
        if span is None:
            spans[aisle] = [x, y, x, y]
        else:
            span[0], span[1], span[2], span[3] = min(span[0], x), min(span[1], y), max(span[2], x), max(span[3], y)
    xs = [r[4] for r in rows] or [0.0]
    ys = [r[5] for r in rows] or [0.0]
    return {
        "site": site.code,
        "bounds": {"min_x": min(xs), "min_y": min(ys), "max_x": max(xs), "max_y": max(ys)},
        "locations": locations,
        "aisles": [{"aisle": aisle, "x0": s[0], "y0": s[1], "x1": s[2], "y1": s[3]}
                   for aisle, s in sorted(spans.items())],
    }


def aisle_heat(session: Session, site: Site, start: datetime, end: datetime) -> dict:
    """Pick lines done per aisle with done_at in [start, end); every labelled aisle is listed, 0 included."""
    aisles = session.exec(
        select(Location.aisle).where(Location.site_id == site.id, Location.aisle != "").distinct()
    ).all()
    picks = dict.fromkeys(sorted(aisles), 0)
    outside = 0
    for aisle, count in session.exec(
        select(Location.aisle, func.count()).select_from(Task).join(Location, Location.id == Task.from_location_id)
        .where(Task.site_id == site.id, Task.kind == "pick", Task.state == "done", Task.done_at >= start,
               Task.done_at < end)
        .group_by(Location.aisle)
    ).all():
        if aisle:
            picks[aisle] = picks.get(aisle, 0) + count
        else:
            outside += count
    return {"site": site.code, "from": start, "to": end,
            "aisles": [{"aisle": aisle, "picks": n} for aisle, n in sorted(picks.items())],
            "outside_aisles": outside}


# --- one location ----------------------------------------------------------------------------------


def location_detail(session: Session, site: Site, code: str) -> dict:
    """Stock, open tasks and the last count of one location of the site (404 unknown_location)."""
    location = session.exec(select(Location).where(Location.site_id == site.id, Location.code == code)).first()
    if location is None:
        raise NotFound(f"location {code!r} not found", code="unknown_location")
    stock = session.exec(
        select(Product.sku, Quant.lot, Quant.expiry, Quant.on_hand, Quant.reserved, Container.code)
        .join(Product, Product.id == Quant.product_id).outerjoin(Container, Container.id == Quant.container_id)
        .where(Quant.location_id == location.id, Quant.on_hand > 0).order_by(Product.sku, Quant.lot, Quant.id)
    ).all()
    tasks = session.exec(
        select(Task.id, Task.kind, Task.state, User.username).outerjoin(User, User.id == Task.assigned_to)
        .where(Task.site_id == site.id, Task.state.in_(OPEN_STATES),
               or_(Task.from_location_id == location.id, Task.to_location_id == location.id))
        .order_by(Task.priority, Task.id).limit(200)
    ).all()
    zone = session.get(Zone, location.zone_id) if location.zone_id else None
    return {
        "code": location.code, "kind": location.kind, "zone": zone.code if zone else None,
        "aisle": location.aisle or None, "x": location.x, "y": location.y,
        "stock": [{"sku": sku, "lot": lot or None, "expiry": expiry, "quantity": on_hand, "reserved": reserved,
                   "lpn": lpn} for sku, lot, expiry, on_hand, reserved, lpn in stock],
        "open_tasks": [{"id": id_, "kind": kind, "state": state, "assigned_to": username}
                       for id_, kind, state, username in tasks],
        "last_count": last_count(session, location),
    }


def last_count(session: Session, location: Location) -> dict | None:
    """The location's last finished count: when, by whom, and its variance in units (counted − system).

    ``status`` is the count's outcome: ``posted`` (booked at once), ``awaiting_approval`` / ``approved`` /
    ``rejected`` (beyond tolerance: a supervisor's call), or ``recount`` (counted again; variance null).
    """
    task = session.exec(
        select(Task).where(Task.site_id == location.site_id, Task.kind == "count", Task.done_at.is_not(None),
                           Task.state == "done", Task.from_location_id == location.id)
        .order_by(Task.done_at.desc(), Task.id.desc()).limit(1)
    ).first()
    if task is None:
        return None
    details = task.details or {}
    by_id = details.get("counted_by") or task.assigned_to
    by = session.get(User, by_id).username if by_id else None
    status = details.get("status", "posted")
    variance: int | None
    if status == "recount":
        variance = None
    else:
        exc = session.exec(select(WarehouseException).where(
            WarehouseException.task_id == task.id, WarehouseException.kind == "count_variance")).first()
        if exc is not None:
            variance = sum(v["counted"] - v["system"] for v in (exc.details or {}).get("variances", []))
            status = "awaiting_approval" if exc.state == "open" else exc.state
        else:
            variance = _net_moved(session, location.id, f"task:{task.id}", "count_adjustment")
    return {"at": task.done_at, "by": by, "variance": variance, "status": status, "task_id": task.id}


def _net_moved(session: Session, location_id: int, reference: str, reason: str) -> int:
    """Units the moves with this reference and reason brought into the location, less those they took out."""
    into = session.exec(select(func.coalesce(func.sum(Move.quantity), 0)).where(
        Move.to_location_id == location_id, Move.reference == reference, Move.reason == reason)).one()
    out = session.exec(select(func.coalesce(func.sum(Move.quantity), 0)).where(
        Move.from_location_id == location_id, Move.reference == reference, Move.reason == reason)).one()
    return int(into) - int(out)


# --- a wave's walks --------------------------------------------------------------------------------


def wave_preview(session: Session, wave: Wave) -> dict:
    """Every tour of the wave with its walking path ([x, y] points in site metres), metres and minutes."""
    geometry = site_geometry(session, session.get(Site, wave.site_id))
    tours = session.exec(select(Tour).where(Tour.wave_id == wave.id).order_by(Tour.number)).all()
    out = []
    if tours:
        stops_of = _released_stops(session, geometry, [t.id for t in tours])
        for tour in tours:
            stops = stops_of.get(tour.id, [])
            out.append(_tour_out(geometry, tour.id, tour.number, stops, tour.distance_m, tour.seconds))
    else:
        plan = wave.plan or {}
        points = _planned_points(session, geometry, plan)
        for tour in plan.get("tours", []):
            stops = [points[stop[0][0]] for stop in tour["stops"] if stop and stop[0][0] in points]
            out.append(_tour_out(geometry, None, tour["number"], _dedupe(stops), tour["distance_m"], tour["seconds"]))
    return {"wave_id": wave.id, "status": wave.status, "tours": out}


def _tour_out(geometry: SiteGeometry, tour_id: int | None, number: int, stops: list[PickPoint], metres: float,
              seconds: float) -> dict:
    return {"id": tour_id, "number": number, "metres": round(metres, 1), "minutes": round(seconds / 60.0, 1),
            "stops": len(stops), "path": [list(p) for p in walking_path(geometry, stops)]}


def _released_stops(session: Session, geometry: SiteGeometry, tour_ids: Sequence[int]) -> dict[int, list[PickPoint]]:
    rows = session.exec(
        select(Task.tour_id, Location.x, Location.y).join(Location, Location.id == Task.from_location_id)
        .where(Task.tour_id.in_(list(tour_ids)), Task.kind == "pick").order_by(Task.tour_id, Task.sequence, Task.id)
    ).all()
    stops: dict[int, list[PickPoint]] = defaultdict(list)
    for tour_id, x, y in rows:
        stops[tour_id].append(geometry.point(x, y))
    return {tour_id: _dedupe(points) for tour_id, points in stops.items()}


def _planned_points(session: Session, geometry: SiteGeometry, plan: dict) -> dict[str, PickPoint]:
    """Where each planned pick is: stored with the plan ("points", one per stop), else its reservation's location."""
    points: dict[str, PickPoint] = {}
    keys: list[str] = []
    for tour in plan.get("tours", []):
        stored = tour.get("points")
        for index, stop in enumerate(tour["stops"]):
            if not stop:
                continue
            if stored and index < len(stored):
                points[stop[0][0]] = PickPoint(int(stored[index][0]), float(stored[index][1]))
            else:
                keys.append(stop[0][0])
    reservation_ids = [int(k[1:]) for k in keys if k.startswith("r") and k[1:].isdigit()]
    if reservation_ids:
        for res_id, x, y in session.exec(
            select(Reservation.id, Location.x, Location.y).join(Location, Location.id == Reservation.pick_location_id)
            .where(Reservation.id.in_(reservation_ids))
        ).all():
            points[f"r{res_id}"] = geometry.point(x, y)
    return points


def _dedupe(points: list[PickPoint]) -> list[PickPoint]:
    return [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]


def walking_path(geometry: SiteGeometry, stops: Sequence[PickPoint]) -> list[tuple[float, float]]:
    """Corner points of the walk depot → stops in order → depot, along aisles and cross aisles, in site metres.

    Each leg is a shortest walk on the aisle graph (backend.routing.layout.Layout.distance), so the path's
    length is the tour's planned length.
    """
    layout = geometry.layout
    corners: list[tuple[float, float]] = [layout.xy(DEPOT)]
    here = DEPOT
    for there in [*stops, DEPOT]:
        corners.extend(_leg(layout, here, there))
        here = there
    length = layout.aisle_length
    path: list[tuple[float, float]] = []
    for x, y in corners:
        point = (round(x, 2), round(length - y if geometry.depot_at_back else y, 2))
        if not path or path[-1] != point:
            path.append(point)
    return path


def _leg(layout: Layout, p: PickPoint, q: PickPoint) -> list[tuple[float, float]]:
    """The corners after p on a shortest walk from p to q: up or down p's aisle to a cross aisle, across, along q's."""
    px, qx = layout.x_of(p), layout.x_of(q)
    if p.aisle == q.aisle and p.aisle != DEPOT.aisle:
        return [(qx, q.y)]
    cross = layout.cross_aisles_y
    lo, hi = min(p.y, q.y), max(p.y, q.y)
    i = bisect_left(cross, lo)
    if i < len(cross) and cross[i] <= hi:
        between = [c for c in cross[i:] if c <= hi]
        via = min(between, key=lambda c: abs(c - p.y))
    else:
        below, above = cross[i - 1], cross[i]
        via = below if lo + hi - 2.0 * below <= 2.0 * above - lo - hi else above
    return [(px, via), (qx, via), (qx, q.y)]
