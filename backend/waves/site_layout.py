"""A site's walking layout: set by the site's owner, or inferred from its locations.

The planner (backend.routing) walks a parallel-aisle area: aisles at
``aisle_x``, each ``aisle_length`` metres from the front cross aisle (y = 0)
to the back one, optional middle cross aisles, and a depot (where carts start
and end: the pack or ship area) on the front or the back cross aisle. A site
stores it as JSON in ``site.layout``::

    {"aisle_x": [1.5, 4.5, …], "aisle_length": 34.0, "middle_cross_aisles_y": [17.0],
     "depot": [12.0, 0.0], "walk_speed_m_s": 1.0, "seconds_per_stop": 10.0, "seconds_per_line": 5.0}

``depot[1]`` is 0 (front) or ``aisle_length`` (back). Without a layout one
is inferred: the aisles are the distinct x of pick-face and reserve
locations, the length their largest y + 1 m, no middle cross aisles, and the
depot the pack or ship location nearest the aisles, moved onto the cross
aisle on its side (front-left if the site has none).

A depot on the back cross aisle is planned as the mirror image (y becomes
``aisle_length - y``): walking distances are the same, and the routing
code only knows front depots.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from backend.errors import Conflict, Invalid
from backend.location_kinds import DEPOT_KINDS, STORAGE_KINDS
from backend.models import Location, Site
from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import PlanSettings

TRAVEL_DEFAULTS = {"walk_speed_m_s": 1.0, "seconds_per_stop": 10.0, "seconds_per_line": 5.0}


@dataclass(frozen=True)
class SiteGeometry:
    """The layout the planner walks, and how a location's (x, y) maps onto it."""

    layout: Layout
    aisle_x: tuple[float, ...]
    depot_at_back: bool = False
    settings: PlanSettings = PlanSettings()  # the site's travel figures

    def point(self, x: float, y: float) -> PickPoint:
        i = bisect_left(self.aisle_x, x)
        if i == len(self.aisle_x) or (i > 0 and x - self.aisle_x[i - 1] < self.aisle_x[i] - x):
            i -= 1
        length = self.layout.aisle_length
        along = min(max(y, 0.0), length)
        return PickPoint(i, length - along if self.depot_at_back else along)


def check_layout(spec: dict) -> dict:
    """The layout as stored (travel defaults filled in), or 422 invalid_layout saying what is wrong."""
    spec = {**TRAVEL_DEFAULTS, **spec}
    length = float(spec["aisle_length"])
    depot = spec.get("depot")
    if depot is None:
        raise Invalid("say where the depot (the pack or ship area) is: [x, y]", code="invalid_layout",
                      details={"field": "layout.depot"})
    if float(depot[1]) not in (0.0, length):
        raise Invalid(f"the depot must be on the front (y = 0) or the back (y = {length:g}) cross aisle",
                      code="invalid_layout", details={"field": "layout.depot"})
    try:
        _layout(spec)
    except ValueError as exc:
        raise Invalid(f"layout: {exc}", code="invalid_layout", details={"field": "layout"}) from None
    if not float(spec["walk_speed_m_s"]) > 0:
        raise Invalid("layout: walk_speed_m_s must be positive", code="invalid_layout",
                      details={"field": "layout.walk_speed_m_s"})
    for name in ("seconds_per_stop", "seconds_per_line"):
        if float(spec[name]) < 0:
            raise Invalid(f"layout: {name} can't be negative", code="invalid_layout", details={"field": f"layout.{name}"})
    return {
        "aisle_x": [float(x) for x in spec["aisle_x"]], "aisle_length": length,
        "middle_cross_aisles_y": [float(y) for y in spec.get("middle_cross_aisles_y") or ()],
        "depot": [float(depot[0]), float(depot[1])], **{name: float(spec[name]) for name in TRAVEL_DEFAULTS},
    }


def _layout(spec: dict) -> Layout:
    """The planner's layout: a back depot mirrored to the front."""
    length = float(spec["aisle_length"])
    middle = [float(y) for y in spec.get("middle_cross_aisles_y") or ()]
    depot_x, depot_y = (float(v) for v in spec["depot"])
    if depot_y == length:
        middle = sorted(length - y for y in middle)
    return Layout(tuple(float(x) for x in spec["aisle_x"]), length, (depot_x, 0.0), tuple(middle))


def infer_layout(session: Session, site: Site) -> dict:
    """The layout read off the site's locations (see the module docstring)."""
    rows = session.exec(
        select(Location.x, func.max(Location.y)).where(
            Location.site_id == site.id, Location.kind.in_(STORAGE_KINDS)
        ).group_by(Location.x)
    ).all()
    if not rows:
        raise Conflict("the site has no pick or reserve locations to route through", code="no_layout")
    aisle_x = sorted({round(float(x), 2) for x, _ in rows})
    length = max(float(y) for _, y in rows) + 1.0
    depots = session.exec(select(Location.x, Location.y, Location.code).where(
        Location.site_id == site.id, Location.kind.in_(DEPOT_KINDS))).all()

    def outside(x: float, y: float) -> float:  # metres from the aisle area's rectangle
        return max(aisle_x[0] - x, 0.0, x - aisle_x[-1]) + max(-y, 0.0, y - length)

    if depots:
        x, y, _ = min(depots, key=lambda d: (outside(float(d[0]), float(d[1])), d[2]))
        depot = [float(x), length if float(y) > length / 2 else 0.0]
    else:
        depot = [aisle_x[0], 0.0]
    return {"aisle_x": aisle_x, "aisle_length": length, "middle_cross_aisles_y": [], "depot": depot,
            **TRAVEL_DEFAULTS}


def site_layout(session: Session, site: Site) -> tuple[dict, str]:
    """The layout in force and where it comes from: "set" or "inferred"."""
    if site.layout:
        return {**TRAVEL_DEFAULTS, **site.layout}, "set"
    return infer_layout(session, site), "inferred"


def site_geometry(session: Session, site: Site) -> SiteGeometry:
    spec, _ = site_layout(session, site)
    layout = _layout(spec)
    settings = PlanSettings(walk_speed_m_s=float(spec["walk_speed_m_s"]),
                            seconds_per_stop=float(spec["seconds_per_stop"]),
                            seconds_per_line=float(spec["seconds_per_line"]))
    return SiteGeometry(layout, layout.aisle_x, float(spec["depot"][1]) == layout.aisle_length, settings)
