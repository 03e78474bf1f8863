"""Cluster-picking batches: which orders share a cart trip, in which totes, walked in which order.

Plain data in, plain data out.  The caller gives orders whose lines are
already allocated to pick locations (:class:`PickLine`), a cart
(:class:`CartSpec`) and the layout; :func:`plan_tours` returns numbered
tours with stops in walking order, :func:`plan_fcfs` the first-come
first-served baseline.

Cut-off and priority
--------------------
Every order gets a *release key* ``(cut-off window, -priority)``: the window
is ``floor(cut_off / cut_off_window_s)`` (``cut_off`` in POSIX seconds, UTC),
and a higher ``priority`` number is more urgent.  Orders are batched only
with orders of the same release key, and tours are numbered in release-key
order.  So for any two planned orders A and B::

    release_key(A) < release_key(B)  =>  tour_number(A) <= tour_number(B)

(strictly less, in fact, for :func:`plan_tours`): an order is never moved
behind an order that is due later, or behind a less urgent order of the same
window, to save metres.  Orders whose cut-offs fall in one window are
interchangeable; set ``cut_off_window_s`` to 0 to batch only identical
cut-offs.  Inside a release key, tours are numbered by their earliest
cut-off, then by the input position of their first order.

The input sequence is the arrival order: it breaks every tie, so the same
input always gives the same plan.

Carts
-----
A cart carries at most ``CartSpec.totes`` totes (an order's units are packed
into as few totes as first-fit decreasing finds, and a tote holds one order)
and, if ``CartSpec.max_units`` is set, at most that many units (articles) in
all.  An order that cannot ride one cart on its own is unplanned with reason
``order_exceeds_cart``.

Which orders share a cart
-------------------------
Per release key, the footprint seed batching and local search of
:mod:`backend.waves.clustering` (an estimate of walking that scales to tens
of thousands of orders); then, on single-block layouts, the exact-route
search of :mod:`backend.waves.improvement`, which prices every cart by its
optimal tour and never returns a longer plan than it was given.  Its budget
(``BatchingSettings.route_search_*``) is ``route_search_evaluations_per_order``
priced tours per order of the release key, and at most
``route_search_max_evaluations`` per call, shared by the release keys in
proportion to their orders; a call with more than ``route_search_max_orders``
orders skips the search.  The budget counts work, not time, so a plan does
not depend on the machine.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from backend.routing.baselines import route_s_shape
from backend.routing.layout import Layout, PickPoint
from backend.routing.route import Route
from backend.routing.router import route_tour
from backend.waves.clustering import BatchingSettings, Footprints, batch_footprints
from backend.waves.improvement import improve_batches_by_route

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class PickLine:
    """One allocated line: what to pick where. Volume and weight are per unit."""

    line_id: str | int
    point: PickPoint
    quantity: int
    unit_volume_l: float
    unit_weight_kg: float
    location_code: str | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line {self.line_id!r}: quantity must be at least 1")
        if self.unit_volume_l < 0 or self.unit_weight_kg < 0:
            raise ValueError(f"line {self.line_id!r}: volume and weight can't be negative")


@dataclass(frozen=True, slots=True)
class PickOrder:
    """An order ready to pick. ``cut_off`` is POSIX seconds (UTC); a higher ``priority`` is more urgent."""

    order_id: str | int
    cut_off: float
    priority: int
    lines: tuple[PickLine, ...]


@dataclass(frozen=True, slots=True)
class CartSpec:
    """A cluster-picking cart: ``totes`` totes, each holding at most the given volume and weight.

    ``max_units``, if set, also caps the articles (units, summed over all
    totes) one cart trip may pick: the "cart of 45 articles" of the batching
    literature.  None: only totes, volumes and weights limit a cart.
    """

    totes: int = 12
    tote_volume_l: float = 35.0
    tote_weight_kg: float = 15.0
    max_units: int | None = None

    def __post_init__(self) -> None:
        if self.totes < 1 or self.tote_volume_l <= 0 or self.tote_weight_kg <= 0:
            raise ValueError("a cart needs at least one tote with positive volume and weight limits")
        if self.max_units is not None and self.max_units < 1:
            raise ValueError("a cart's max_units must be at least 1 (or None for no limit)")


@dataclass(frozen=True, slots=True)
class PlanSettings:
    walk_speed_m_s: float = 1.0
    seconds_per_stop: float = 10.0  # stop, find the location, scan it
    seconds_per_line: float = 5.0  # pick, scan, put in the tote
    cut_off_window_s: float = 1800.0
    batching: BatchingSettings = field(default_factory=BatchingSettings)


@dataclass(frozen=True, slots=True)
class Pick:
    order_id: str | int
    line_id: str | int
    tote: int  # 0-based slot on the cart
    quantity: int


@dataclass(frozen=True, slots=True)
class TourStop:
    point: PickPoint
    picks: tuple[Pick, ...]


@dataclass(frozen=True, slots=True)
class ToteLoad:
    tote: int
    order_id: str | int
    volume_l: float
    weight_kg: float


@dataclass(frozen=True, slots=True)
class Tour:
    number: int  # 1-based release order
    release_key: tuple[float, int]  # (cut-off window, -priority): see release_key()
    order_ids: tuple[str | int, ...]
    totes: tuple[ToteLoad, ...]
    stops: tuple[TourStop, ...]  # walking order; the depot is implied at both ends
    distance_m: float
    duration_s: float
    earliest_cut_off: float
    routing: str


@dataclass(frozen=True, slots=True)
class UnplannedOrder:
    order_id: str | int
    reason: str  # "no_lines", "unit_exceeds_tote" or "order_exceeds_cart"


@dataclass(frozen=True, slots=True)
class BatchPlan:
    tours: tuple[Tour, ...]
    unplanned: tuple[UnplannedOrder, ...] = ()

    @property
    def distance_m(self) -> float:
        return sum(t.distance_m for t in self.tours)


@dataclass(slots=True)
class _Packed:
    """An order with its totes worked out: index is its input position."""

    index: int
    order: PickOrder
    key: tuple[float, int]
    totes: list[list[tuple[PickLine, int]]]
    points: list[PickPoint] = field(default_factory=list)
    units: int = 0


def release_key(order: PickOrder, settings: PlanSettings) -> tuple[float, int]:
    """``(cut-off window, -priority)``: smaller keys are released first.

    The window is ``floor(cut_off / cut_off_window_s)``; with a window of 0 it is the cut-off itself.
    """
    window = settings.cut_off_window_s
    bucket = float(math.floor(order.cut_off / window)) if window > 0 else float(order.cut_off)
    return (bucket, -order.priority)


def pack_order(order: PickOrder, cart: CartSpec) -> list[list[tuple[PickLine, int]]] | None:
    """Split an order's units over as few totes as first-fit decreasing finds; None if a unit fits no tote."""
    totes: list[list[tuple[PickLine, int]]] = []
    room: list[list[float]] = []  # [volume left, weight left] per tote
    lines = sorted(
        enumerate(order.lines), key=lambda item: (-item[1].unit_volume_l, -item[1].unit_weight_kg, item[0])
    )
    for _, line in lines:
        if line.unit_volume_l > cart.tote_volume_l + _EPS or line.unit_weight_kg > cart.tote_weight_kg + _EPS:
            return None
        left = line.quantity
        for tote, space in zip(totes, room):
            if left == 0:
                break
            fit = min(left, _units_fitting(space[0], line.unit_volume_l), _units_fitting(space[1], line.unit_weight_kg))
            if fit > 0:
                tote.append((line, fit))
                space[0] -= fit * line.unit_volume_l
                space[1] -= fit * line.unit_weight_kg
                left -= fit
        while left > 0:
            fit = min(
                left,
                _units_fitting(cart.tote_volume_l, line.unit_volume_l),
                _units_fitting(cart.tote_weight_kg, line.unit_weight_kg),
            )
            totes.append([(line, fit)])
            room.append([cart.tote_volume_l - fit * line.unit_volume_l, cart.tote_weight_kg - fit * line.unit_weight_kg])
            left -= fit
    return totes


def _units_fitting(space: float, unit: float) -> int:
    if unit <= 0:
        return 1 << 62
    return max(0, int(math.floor((space + _EPS) / unit)))


def _prepare(
    orders: Sequence[PickOrder], cart: CartSpec, settings: PlanSettings
) -> tuple[list[_Packed], list[UnplannedOrder]]:
    packed: list[_Packed] = []
    unplanned: list[UnplannedOrder] = []
    seen: set[str | int] = set()
    for index, order in enumerate(orders):
        if order.order_id in seen:
            raise ValueError(f"order {order.order_id!r} appears twice")
        seen.add(order.order_id)
        totes = pack_order(order, cart)
        if not order.lines:
            unplanned.append(UnplannedOrder(order.order_id, "no_lines"))
        elif totes is None:
            unplanned.append(UnplannedOrder(order.order_id, "unit_exceeds_tote"))
        elif len(totes) > cart.totes or (cart.max_units is not None and _units(order) > cart.max_units):
            unplanned.append(UnplannedOrder(order.order_id, "order_exceeds_cart"))
        else:
            points = sorted({line.point for line in order.lines})
            packed.append(_Packed(index, order, release_key(order, settings), totes, points, _units(order)))
    return packed, unplanned


def _units(order: PickOrder) -> int:
    return sum(line.quantity for line in order.lines)


def _buckets(packed: list[_Packed]) -> list[list[_Packed]]:
    by_key: dict[tuple[float, int], list[_Packed]] = {}
    for item in packed:
        by_key.setdefault(item.key, []).append(item)
    return [by_key[key] for key in sorted(by_key)]


def plan_fcfs(
    layout: Layout, orders: Sequence[PickOrder], cart: CartSpec, settings: PlanSettings = PlanSettings()
) -> BatchPlan:
    """Baseline: orders in release-key then arrival order fill carts one after another; S-shape routing."""
    packed, unplanned = _prepare(orders, cart, settings)
    packed.sort(key=lambda p: (p.key, p.index))
    groups: list[list[_Packed]] = []
    max_units = cart.max_units if cart.max_units is not None else math.inf
    used, units = cart.totes, 0
    for item in packed:
        if not groups or used + len(item.totes) > cart.totes or units + item.units > max_units:
            groups.append([])
            used, units = 0, 0
        groups[-1].append(item)
        used += len(item.totes)
        units += item.units
    tours = [
        _make_tour(number, group, route_s_shape(layout, _group_points(group)), settings)
        for number, group in enumerate(groups, start=1)
    ]
    return BatchPlan(tuple(tours), tuple(unplanned))


def plan_tours(
    layout: Layout, orders: Sequence[PickOrder], cart: CartSpec, settings: PlanSettings = PlanSettings()
) -> BatchPlan:
    """Our plan: per release key, footprint batching then the exact-route search, then the best route per tour."""
    for order in orders:
        for line in order.lines:
            layout.check_point(line.point)
    packed, unplanned = _prepare(orders, cart, settings)
    batching = settings.batching
    footprints = Footprints(layout, batching.zones_per_half)
    route_search = (
        layout.is_single_block
        and batching.route_search_evaluations_per_order > 0
        and batching.route_search_max_evaluations > 0
        and len(packed) <= batching.route_search_max_orders
    )
    groups: list[list[_Packed]] = []
    for bucket in _buckets(packed):
        masks = [footprints.of_points(item.points) for item in bucket]
        totes = [len(item.totes) for item in bucket]
        units = [item.units for item in bucket] if cart.max_units is not None else None
        chosen = batch_footprints(masks, totes, cart.totes, batching, units, cart.max_units)
        if route_search and len(chosen) > 1:
            budget = min(
                batching.route_search_evaluations_per_order * len(bucket),
                batching.route_search_max_evaluations * len(bucket) // len(packed),
            )
            chosen = improve_batches_by_route(
                layout,
                [item.points for item in bucket],
                chosen,
                totes,
                cart.totes,
                units=units,
                unit_capacity=cart.max_units,
                evaluations=budget,
                seed=_search_seed(bucket),
            )
        batches = [[bucket[i] for i in batch] for batch in chosen]
        batches.sort(key=lambda g: (min(p.order.cut_off for p in g), min(p.index for p in g)))
        groups.extend(batches)
    tours = [
        _make_tour(number, group, route_tour(layout, _group_points(group)), settings)
        for number, group in enumerate(groups, start=1)
    ]
    return BatchPlan(tuple(tours), tuple(unplanned))


def _search_seed(bucket: Sequence[_Packed]) -> int:
    """The route search's random seed: from the orders themselves, the same in every process."""
    return zlib.crc32(repr([item.order.order_id for item in bucket]).encode())


def _group_points(group: Iterable[_Packed]) -> list[PickPoint]:
    return sorted({point for item in group for point in item.points})


def _make_tour(number: int, group: list[_Packed], route: Route, settings: PlanSettings) -> Tour:
    group = sorted(group, key=lambda p: p.index)
    loads: list[ToteLoad] = []
    picks_at: dict[PickPoint, list[Pick]] = {}
    tote = 0
    lines = 0
    for item in group:
        for contents in item.totes:
            loads.append(
                ToteLoad(
                    tote,
                    item.order.order_id,
                    round(sum(line.unit_volume_l * qty for line, qty in contents), 6),
                    round(sum(line.unit_weight_kg * qty for line, qty in contents), 6),
                )
            )
            for line, qty in contents:
                picks_at.setdefault(line.point, []).append(Pick(item.order.order_id, line.line_id, tote, qty))
                lines += 1
            tote += 1
    stops = tuple(TourStop(point, tuple(picks_at[point])) for point in route.stops)
    duration = (
        route.length_m / settings.walk_speed_m_s + len(stops) * settings.seconds_per_stop + lines * settings.seconds_per_line
    )
    return Tour(
        number=number,
        release_key=group[0].key,
        order_ids=tuple(item.order.order_id for item in group),
        totes=tuple(loads),
        stops=stops,
        distance_m=route.length_m,
        duration_s=duration,
        earliest_cut_off=min(item.order.cut_off for item in group),
        routing=route.method,
    )
