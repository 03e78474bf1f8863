"""Reference tour lengths from OR-Tools routing (a bench extra, never a runtime dependency)."""

from __future__ import annotations

from typing import Sequence

from backend.routing.layout import Layout, PickPoint, unique_points
from backend.routing.route import order_length

_SCALE = 1000  # OR-Tools wants integer arc costs: millimetres keep rounding far below 0.1 %


def ortools_order(matrix: Sequence[Sequence[float]], time_limit_s: float = 0.5) -> list[int]:
    """Best visiting order (nodes 1..n, depot 0 implied at both ends) found by guided local search."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(matrix)
    if n <= 2:
        return list(range(1, n))
    costs = [[int(round(d * _SCALE)) for d in row] for row in matrix]
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)

    def arc_cost(from_index: int, to_index: int) -> int:
        return costs[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    callback = routing.RegisterTransitCallback(arc_cost)
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    parameters.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(parameters)
    if solution is None:
        raise RuntimeError("OR-Tools found no tour")
    order: list[int] = []
    index = solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return order


def ortools_tour_length(layout: Layout, points: Sequence[PickPoint], time_limit_s: float = 0.5) -> float:
    """Metres of OR-Tools' tour through ``points`` on the same shortest-path matrix our routers use."""
    stops = unique_points(points)
    if not stops:
        return 0.0
    matrix = layout.distance_matrix(stops)
    return order_length(matrix, ortools_order(matrix, time_limit_s))
