"""The router the planner uses: the best tour this package can find, never longer than S-shape."""

from __future__ import annotations

from typing import Iterable

from backend.routing.baselines import route_s_shape
from backend.routing.exact import route_ratliff_rosenthal
from backend.routing.layout import Layout, PickPoint, unique_points
from backend.routing.local_search import route_local_search
from backend.routing.route import Route


def route_tour(layout: Layout, points: Iterable[PickPoint]) -> Route:
    """Shortest tour we can find through ``points`` from the depot and back.

    Single-block layouts: Ratliff-Rosenthal, which is optimal.  Multi-block
    layouts: 2-opt + Or-opt started from the optimal tour of the layout without
    its middle cross aisles and from the S-shape tour.  Either way the result
    is compared with S-shape and the shorter returned.
    """
    stops = unique_points(points)
    s_shape = route_s_shape(layout, stops)
    if layout.is_single_block:
        best = route_ratliff_rosenthal(layout, stops)
    else:
        relaxed = route_ratliff_rosenthal(layout.without_middle_cross_aisles(), stops)
        best = route_local_search(layout, stops, starts=(relaxed.stops, s_shape.stops), insertion=False)
    return best if best.length_m <= s_shape.length_m + 1e-9 else s_shape
