"""Directed putaway rules (pure: plain data in, a decision out).

Order of preference:
1. the product's fixed pick face, when it has room;
2. category → zone rules, by rule priority: the nearest location in that zone
   that fits (capacity, and the same-product/mixed policy);
3. otherwise the nearest suitable *empty* reserve location;
4. a mixed LPN (several products), when no empty location takes mixed stock:
   the nearest reserve location that allows mixing and has room.
"Nearest" is travel distance from the dock along the aisle graph: with the
dock on the front cross aisle that is walking along the cross aisle to the
aisle, then up it, i.e. |dx| + |dy| (see `front_aisle_distance`).

An LPN is put away whole when any location takes it whole (one trip). A mixed
LPN that nothing takes whole is broken down: one putaway per product, the
largest first, each planned against the room the ones before it took
(`plan_lpn_putaway`). Nothing is ever planned where `destination_problems`
objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from backend.location_kinds import STORAGE_KINDS



@dataclass(frozen=True)
class PutawayCandidate:
    location_id: int
    code: str
    kind: str
    zone_id: int | None
    capacity: int  # units; 0 = unlimited
    on_hand: int
    product_ids: frozenset[int]
    mixed_products: bool
    fixed_product_id: int | None
    x: float
    y: float
    active: bool = True


@dataclass(frozen=True)
class PutawayRequest:
    product_ids: frozenset[int]
    category: str | None
    quantity: int
    dock_x: float
    dock_y: float


@dataclass(frozen=True)
class CategoryZoneRule:
    category: str
    zone_id: int
    priority: int = 100


@dataclass(frozen=True)
class PutawayChoice:
    location_id: int
    code: str
    rule: str  # fixed_pick_face | category_zone | nearest_empty | mixed_reserve
    distance_m: float


@dataclass(frozen=True)
class LpnLine:
    """All of one product on an LPN."""

    product_id: int
    category: str | None
    quantity: int


@dataclass(frozen=True)
class PlannedPutaway:
    """One putaway of an LPN's plan: the whole LPN (product_id None when it is mixed) or one product of it."""

    product_id: int | None
    quantity: int
    choice: PutawayChoice | None
    part: int = 1  # 1-based, of `parts`
    parts: int = 1

    @property
    def breakdown(self) -> bool:
        return self.parts > 1


Distance = Callable[[float, float, float, float], float]


def front_aisle_distance(x1: float, y1: float, x2: float, y2: float) -> float:
    return abs(x1 - x2) + abs(y1 - y2)


def destination_problems(request: PutawayRequest, loc: PutawayCandidate) -> list[str]:
    """Why loc cannot take this putaway (empty list = it can)."""
    problems = []
    if not loc.active:
        problems.append("location_inactive")
    if loc.kind not in STORAGE_KINDS:
        problems.append("not_a_storage_location")
    if loc.fixed_product_id is not None and request.product_ids != frozenset({loc.fixed_product_id}):
        problems.append("fixed_to_another_product")
    if loc.kind == "pick_face" and loc.fixed_product_id is None and len(request.product_ids) > 1:
        problems.append("mixed_pallet_on_pick_face")
    if loc.capacity and loc.on_hand + request.quantity > loc.capacity:
        problems.append("over_capacity")
    if not loc.mixed_products:
        resulting = loc.product_ids | request.product_ids
        if len(resulting) > 1:
            problems.append("mixing_not_allowed")
    return problems


def choose_putaway(
    request: PutawayRequest,
    candidates: Sequence[PutawayCandidate],
    rules: Sequence[CategoryZoneRule] = (),
    distance: Distance = front_aisle_distance,
) -> PutawayChoice | None:
    def dist(loc: PutawayCandidate) -> float:
        return distance(request.dock_x, request.dock_y, loc.x, loc.y)

    def nearest(pool: list[PutawayCandidate], rule: str) -> PutawayChoice | None:
        if not pool:
            return None
        best = min(pool, key=lambda loc: (dist(loc), loc.code))
        return PutawayChoice(best.location_id, best.code, rule, dist(best))

    fits = [loc for loc in candidates if not destination_problems(request, loc)]
    if len(request.product_ids) == 1:
        (product_id,) = request.product_ids
        faces = [loc for loc in fits if loc.fixed_product_id == product_id]
        choice = nearest(faces, "fixed_pick_face")
        if choice:
            return choice
    reserve = [loc for loc in fits if loc.kind == "reserve" and loc.fixed_product_id is None]
    if request.category:
        for rule in sorted(rules, key=lambda r: (r.priority, r.zone_id)):
            if rule.category != request.category:
                continue
            choice = nearest([loc for loc in reserve if loc.zone_id == rule.zone_id], "category_zone")
            if choice:
                return choice
    empty = nearest([loc for loc in reserve if loc.on_hand == 0], "nearest_empty")
    if empty is not None or len(request.product_ids) <= 1:
        return empty
    # (every location left in `reserve` allows mixing: the others objected to a mixed LPN)
    return nearest(reserve, "mixed_reserve")


def plan_lpn_putaway(
    lines: Sequence[LpnLine],
    dock_x: float,
    dock_y: float,
    candidates: Sequence[PutawayCandidate],
    rules: Sequence[CategoryZoneRule] = (),
    distance: Distance = front_aisle_distance,
) -> list[PlannedPutaway]:
    """The putaways for one LPN: whole when a location takes it whole, else (mixed) one per product.

    A single-product LPN is always one putaway, with no choice when nothing fits.
    A mixed LPN that no location takes whole is broken down, largest quantity
    first (ties by product id); each product's choice counts against the room
    and the mixing policy seen by the next, so two products never land in one
    location that does not allow mixing.
    """
    lines = [line for line in lines if line.quantity > 0]
    if not lines:
        return []
    product_ids = frozenset(line.product_id for line in lines)
    total = sum(line.quantity for line in lines)
    category = lines[0].category if len(product_ids) == 1 else None
    whole = choose_putaway(PutawayRequest(product_ids, category, total, dock_x, dock_y), candidates, rules, distance)
    if whole is not None or len(product_ids) == 1:
        return [PlannedPutaway(next(iter(product_ids)) if len(product_ids) == 1 else None, total, whole)]
    merged: dict[int, LpnLine] = {}
    for line in lines:
        seen = merged.get(line.product_id)
        merged[line.product_id] = replace(seen, quantity=seen.quantity + line.quantity) if seen else line
    ordered = sorted(merged.values(), key=lambda line: (-line.quantity, line.product_id))
    pool = list(candidates)
    plan = []
    for part, line in enumerate(ordered, start=1):
        request = PutawayRequest(frozenset({line.product_id}), line.category, line.quantity, dock_x, dock_y)
        choice = choose_putaway(request, pool, rules, distance)
        plan.append(PlannedPutaway(line.product_id, line.quantity, choice, part, len(ordered)))
        if choice is not None:
            pool = [replace(loc, on_hand=loc.on_hand + line.quantity, product_ids=loc.product_ids | {line.product_id})
                    if loc.location_id == choice.location_id else loc for loc in pool]
    return plan
