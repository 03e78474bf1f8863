"""Textbook routing heuristics: S-shape (traversal) and largest gap.

Both produce a visiting order; the length is that order walked along
shortest paths between consecutive stops, which is never more than the
textbook walk (so a baseline measured this way is, if anything, flattering
to the baseline).
"""

from __future__ import annotations

from typing import Iterable

from backend.routing.layout import Layout, PickPoint, unique_points
from backend.routing.route import Route, tour_length


def route_s_shape(layout: Layout, points: Iterable[PickPoint]) -> Route:
    """S-shape; on multi-block layouts Roodbergen & de Koster's block-by-block generalisation.

    Both mirror images (starting from the leftmost or the rightmost pick aisle)
    are built and the shorter is returned.
    """
    stops = unique_points(points)
    for stop in stops:
        layout.check_point(stop)
    if not stops:
        return Route((), 0.0, "s_shape")
    routes = []
    for mirror in (False, True):
        order = _s_shape_order(layout, stops, mirror)
        routes.append(Route(tuple(order), tour_length(layout, order), "s_shape"))
    return routes[1] if routes[1].length_m < routes[0].length_m - 1e-9 else routes[0]


def _s_shape_order(layout: Layout, stops: list[PickPoint], mirror: bool) -> list[PickPoint]:
    # cells[block][aisle] -> ascending ys
    cells: dict[int, dict[int, list[float]]] = {}
    for stop in stops:
        cells.setdefault(layout.block_of(stop.y), {}).setdefault(stop.aisle, []).append(stop.y)
    aisles = sorted({s.aisle for s in stops}, reverse=mirror)
    first_aisle = aisles[0]
    farthest_block = max(cells)
    # Walk up the first pick aisle to the back of the farthest block, picking all of it.
    order = [PickPoint(first_aisle, y) for y in sorted(s.y for s in stops if s.aisle == first_aisle)]
    going_right = not mirror
    for block in range(farthest_block, -1, -1):
        row = cells.get(block, {})
        sub_aisles = sorted((a for a in row if a != first_aisle), reverse=not going_right)
        for i, aisle in enumerate(sub_aisles):
            ys = sorted(row[aisle])
            # Enter the block from its far cross aisle, then alternate.
            order.extend(PickPoint(aisle, y) for y in (reversed(ys) if i % 2 == 0 else ys))
        if sub_aisles:
            going_right = not going_right
    return order


def route_largest_gap(layout: Layout, points: Iterable[PickPoint]) -> Route:
    """Largest gap (single-block layouts): traverse the outer pick aisles, enter the others up to their largest gap."""
    if not layout.is_single_block:
        raise ValueError("largest gap routing is defined for single-block layouts")
    stops = unique_points(points)
    for stop in stops:
        layout.check_point(stop)
    if not stops:
        return Route((), 0.0, "largest_gap")
    by_aisle: dict[int, list[float]] = {}
    for stop in stops:
        by_aisle.setdefault(stop.aisle, []).append(stop.y)
    aisles = sorted(by_aisle)
    if len(aisles) == 1:
        order = [PickPoint(aisles[0], y) for y in by_aisle[aisles[0]]]
        return Route(tuple(order), tour_length(layout, order), "largest_gap")
    length = layout.aisle_length
    front_parts: dict[int, list[float]] = {}
    back_parts: dict[int, list[float]] = {}
    for aisle in aisles[1:-1]:
        ys = by_aisle[aisle]
        bounds = [0.0, *ys, length]
        # The gap left unwalked is the largest between consecutive bounds.
        gap = max(range(len(bounds) - 1), key=lambda k: (bounds[k + 1] - bounds[k], -k))
        front_parts[aisle] = ys[:gap]
        back_parts[aisle] = ys[gap:]
    order = [PickPoint(aisles[0], y) for y in by_aisle[aisles[0]]]
    for aisle in aisles[1:-1]:
        order.extend(PickPoint(aisle, y) for y in reversed(back_parts[aisle]))
    order.extend(PickPoint(aisles[-1], y) for y in reversed(by_aisle[aisles[-1]]))
    for aisle in reversed(aisles[1:-1]):
        order.extend(PickPoint(aisle, y) for y in front_parts[aisle])
    return Route(tuple(order), tour_length(layout, order), "largest_gap")
