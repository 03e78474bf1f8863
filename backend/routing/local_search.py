"""Routing for any layout: cheapest insertion, then 2-opt and Or-opt on the shortest-path matrix.

Node 0 is the depot; nodes 1..n are the stops.  All functions work on the
symmetric matrix from :func:`backend.routing.layout.distance_matrix`.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

from backend.routing.layout import Layout, PickPoint, unique_points
from backend.routing.route import Route, order_length

_EPS = 1e-9


def cheapest_insertion(matrix: Sequence[Sequence[float]]) -> list[int]:
    """Start from the stop farthest from the depot and insert, each time, the stop that adds least."""
    n = len(matrix) - 1
    if n == 0:
        return []
    first = max(range(1, n + 1), key=lambda v: (matrix[0][v], -v))
    tour = [0, first, 0]
    left = [v for v in range(1, n + 1) if v != first]
    # best[x] = (added length, node after which x goes): the cheapest place for x in the current tour
    best = {x: (matrix[0][x] + matrix[x][first] - matrix[0][first], 0) for x in left}
    while left:
        v = min(left, key=lambda x: (best[x][0], x))
        after = best[v][1]
        position = tour.index(after) + 1
        tour.insert(position, v)
        left.remove(v)
        u, w = after, tour[position + 1]
        d_uv, d_vw = matrix[u][v], matrix[v][w]
        for x in left:
            added, at = best[x]
            if at == u:  # its edge (u, w) is gone
                best[x] = _best_insertion(matrix, tour, x)
                continue
            row = matrix[x]
            via_uv = row[u] + row[v] - d_uv
            if via_uv < added - _EPS:
                added, at = via_uv, u
            via_vw = row[v] + row[w] - d_vw
            if via_vw < added - _EPS:
                added, at = via_vw, v
            best[x] = (added, at)
    return tour[1:-1]


def _best_insertion(matrix: Sequence[Sequence[float]], tour: list[int], x: int) -> tuple[float, int]:
    row = matrix[x]
    best_added, best_after = float("inf"), 0
    for k in range(len(tour) - 1):
        u, w = tour[k], tour[k + 1]
        added = row[u] + row[w] - matrix[u][w]
        if added < best_added - _EPS:
            best_added, best_after = added, u
    return best_added, best_after


def improve(matrix: Sequence[Sequence[float]], order: Sequence[int], neighbours: int = 10) -> list[int]:
    """2-opt and Or-opt (segments of 1-3 stops, either direction) until neither finds a shorter tour.

    Moves are only tried where they create an edge to one of a stop's nearest
    ``neighbours``, and a stop is looked at again only once an edge at it has
    changed (neighbour lists with don't-look bits).
    """
    size = len(order) + 1
    if size <= 3:
        return list(order)
    tour = [0, *order]
    position = [0] * size
    for i, v in enumerate(tour):
        position[v] = i
    near = [[v for v in sorted(range(size), key=row.__getitem__) if v != u][:neighbours] for u, row in enumerate(matrix)]
    queue = deque(tour)
    queued = [True] * size
    while queue:
        a = queue.popleft()
        queued[a] = False
        touched = _try_two_opt(matrix, near, tour, position, a) or _try_or_opt(matrix, near, tour, position, a)
        if touched:
            for v in touched:
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)
    return tour[1:]


def _reverse(tour: list[int], position: list[int], i: int, j: int) -> None:
    """Reverse tour[i..j] (1 <= i <= j < len(tour)) and keep positions in step."""
    tour[i : j + 1] = tour[i : j + 1][::-1]
    for k in range(i, j + 1):
        position[tour[k]] = k


def _try_two_opt(
    matrix: Sequence[Sequence[float]], near: list[list[int]], tour: list[int], position: list[int], a: int
) -> tuple[int, ...]:
    size = len(tour)
    i = position[a]
    row_a = matrix[a]
    for step in (1, -1):
        b = tour[(i + step) % size]
        d_ab = row_a[b]
        for c in near[a]:
            d_ac = row_a[c]
            if d_ac >= d_ab - _EPS:
                break
            if c == b:
                continue
            j = position[c]
            d = tour[(j + step) % size]
            if d == a:
                continue
            delta = d_ac + matrix[b][d] - d_ab - matrix[c][d]
            if delta < -_EPS:
                # Remove (a, b) and (c, d); the first edges in tour order start at p1, p2.
                p1, p2 = (i, j) if step == 1 else ((i - 1) % size, (j - 1) % size)
                if p1 > p2:
                    p1, p2 = p2, p1
                _reverse(tour, position, p1 + 1, p2)
                return (a, b, c, d)
    return ()


def _try_or_opt(
    matrix: Sequence[Sequence[float]], near: list[list[int]], tour: list[int], position: list[int], a: int
) -> tuple[int, ...]:
    size = len(tour)
    i = position[a]
    if i == 0:
        return ()
    for length in (1, 2, 3):
        for first in (i, i - length + 1):  # the segment starts or ends at a
            last = first + length - 1
            if first < 1 or last >= size or (length == 1 and first != i):
                continue
            s, e = tour[first], tour[last]
            p, q = tour[first - 1], tour[(last + 1) % size]
            gain = matrix[p][s] + matrix[e][q] - matrix[p][q]
            if gain <= _EPS:
                continue
            best, best_edge, best_reverse = gain - _EPS, -1, False
            for end, other in ((s, e), (e, s)):
                row_end, row_other = matrix[end], matrix[other]
                for c in near[end]:
                    d_c = row_end[c]
                    if d_c >= best:
                        break
                    k = position[c]
                    if first <= k <= last:
                        continue
                    for edge_start in (k, (k - 1) % size):  # edge (c, next) or (previous, c)
                        edge_end = (edge_start + 1) % size
                        if first - 1 <= edge_start <= last:
                            continue
                        u, w = tour[edge_start], tour[edge_end]
                        # `end` lands next to c: after u=c, or before w=c.
                        if u == c:
                            added = d_c + row_other[w] - matrix[u][w]
                            reverse = end == e
                        else:
                            added = row_other[u] + d_c - matrix[u][w]
                            reverse = end == s
                        if added < best:
                            best, best_edge, best_reverse = added, edge_start, reverse
            if best_edge >= 0:
                u, w = tour[best_edge], tour[(best_edge + 1) % size]
                segment = tour[first : last + 1]
                if best_reverse:
                    segment.reverse()
                del tour[first : last + 1]
                at = best_edge + 1 if best_edge < first else best_edge + 1 - length
                tour[at:at] = segment
                for k in range(min(first, at), len(tour)):
                    position[tour[k]] = k
                return (p, q, s, e, u, w)
    return ()


def route_local_search(
    layout: Layout,
    points: Iterable[PickPoint],
    starts: Sequence[Sequence[PickPoint]] = (),
    insertion: bool = True,
) -> Route:
    """Improve cheapest insertion (unless ``insertion`` is false) and any given start orders
    with 2-opt + Or-opt; return the shortest."""
    stops = unique_points(points)
    for stop in stops:
        layout.check_point(stop)
    if not stops:
        return Route((), 0.0, "local_search")
    matrix = layout.distance_matrix(stops)
    index = {stop: i + 1 for i, stop in enumerate(stops)}
    candidates = [cheapest_insertion(matrix)] if insertion or not starts else []
    for start in starts:
        order = [index[s] for s in start]
        if sorted(order) != list(range(1, len(stops) + 1)):
            raise ValueError("a start order must visit every stop exactly once")
        candidates.append(order)
    best_order: list[int] = []
    best_length = float("inf")
    for candidate in candidates:
        order = improve(matrix, candidate)
        length = order_length(matrix, order)
        if length < best_length - _EPS:
            best_order, best_length = order, length
    return Route(tuple(stops[v - 1] for v in best_order), best_length, "local_search")
