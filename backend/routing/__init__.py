"""Pick-tour routing on parallel-aisle layouts: pure functions, plain data in and out.

Typical use::

    from backend.routing import Layout, PickPoint, route_tour
    layout = Layout(aisle_x=(1.5, 4.5, 7.5), aisle_length=34.0, depot=(4.5, 0.0))
    route = route_tour(layout, [PickPoint(0, 12.0), PickPoint(2, 30.5)])
    route.stops, route.length_m
"""

from backend.routing.baselines import route_largest_gap, route_s_shape
from backend.routing.exact import route_ratliff_rosenthal
from backend.routing.layout import DEPOT, DEPOT_AISLE, Layout, PickPoint, distance_matrix
from backend.routing.local_search import route_local_search
from backend.routing.route import Route, order_length, tour_length
from backend.routing.router import route_tour

__all__ = [
    "DEPOT",
    "DEPOT_AISLE",
    "Layout",
    "PickPoint",
    "Route",
    "distance_matrix",
    "order_length",
    "route_largest_gap",
    "route_local_search",
    "route_ratliff_rosenthal",
    "route_s_shape",
    "route_tour",
    "tour_length",
]
