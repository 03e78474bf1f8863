"""Ratliff & Rosenthal (1983): the shortest picking tour in a single-block parallel-aisle area.

The tour is built as an even, connected multigraph on the aisle graph.  A
dynamic programme sweeps the aisles left to right.  At each aisle it chooses
how the aisle itself is walked (not at all, once through, twice through,
from the front to the farthest pick and back, from the back likewise, or
from both ends leaving the largest gap), then how many times (0, 1, 2) the
front and back cross-aisle segments to the next aisle are walked.  The state
between steps is the degree parity of the current aisle's front and back
corners and whether they are in one component.  The edge multiset is then
walked as an Euler circuit from the depot, and the order of first visits is
the stop order.

The depot may sit anywhere on the front cross aisle: if it is not in front of
an aisle it becomes a pseudo-aisle that can't be walked into.
"""

from __future__ import annotations

from typing import Iterable

from backend.routing.layout import Layout, PickPoint, unique_points
from backend.routing.route import Route, tour_length

_INF = float("inf")

# Vertical (in-aisle) options: (front corner degree added, back corner degree added, joins corners).
_NONE, _THROUGH, _THROUGH_TWICE, _FROM_FRONT, _FROM_BACK, _GAP = range(6)
_EFFECTS = {
    _NONE: (0, 0, False),
    _THROUGH: (1, 1, True),
    _THROUGH_TWICE: (2, 2, True),
    _FROM_FRONT: (2, 0, False),
    _FROM_BACK: (0, 2, False),
    _GAP: (2, 2, False),
}

# Degree classes: 0 = untouched, 1 = odd, 2 = even and positive.


def _add(degree_class: int, added: int) -> int:
    if degree_class == 0 and added == 0:
        return 0
    return 1 if (degree_class == 1) != (added == 1) else 2


def _encode(front: int, back: int, joined: bool) -> int:
    return front * 6 + back * 2 + (1 if joined and front and back else 0)


def _decode(state: int) -> tuple[int, int, bool]:
    return state // 6, (state % 6) // 2, bool(state % 2)


def _vertical_step(state: int, option: int) -> int:
    front, back, joined = _decode(state)
    add_front, add_back, joins = _EFFECTS[option]
    new_front, new_back = _add(front, add_front), _add(back, add_back)
    if joins:
        new_joined = True
    else:
        new_joined = joined and front > 0 and back > 0
    return _encode(new_front, new_back, new_joined)


def _horizontal_step(state: int, front_times: int, back_times: int, front_required: bool) -> int | None:
    """Walk the cross-aisle segments to the next aisle; the current corners' degrees become final."""
    front, back, joined = _decode(state)
    final_front, final_back = _add(front, front_times), _add(back, back_times)
    if final_front == 1 or final_back == 1:
        return None
    if front_required and final_front == 0:
        return None
    # A component that no longer reaches the frontier is closed for good: the tour would be disconnected.
    if front and not front_times and not (joined and back_times):
        return None
    if back and not back_times and not (joined and front_times):
        return None
    new_joined = bool(front_times and back_times and front and back and joined)
    return _encode(front_times, back_times, new_joined)


def _is_final(state: int, front_required: bool) -> bool:
    front, back, joined = _decode(state)
    if front == 1 or back == 1 or (front_required and not front):
        return False
    if front and back:
        return joined
    return bool(front or back)


_START = _encode(0, 0, False)
_STATES = range(18)
_VERTICAL = {
    (state, option): _vertical_step(state, option) for state in _STATES for option in _EFFECTS
}
_HORIZONTAL = {
    (state, required): [
        (front_times, back_times, nxt)
        for front_times in (0, 1, 2)
        for back_times in (0, 1, 2)
        if (nxt := _horizontal_step(state, front_times, back_times, required)) is not None
    ]
    for state in _STATES
    for required in (False, True)
}


class _Column:
    __slots__ = ("x", "aisle", "ys", "options", "depot")

    def __init__(self, x: float, aisle: int | None, ys: list[float], length: float, depot: bool) -> None:
        self.x = x
        self.aisle = aisle
        self.ys = ys
        self.depot = depot
        if aisle is None:  # the depot's pseudo-aisle: no shelving to walk into
            self.options: list[tuple[int, float, int]] = [(_NONE, 0.0, 0)]
        elif not ys:
            self.options = [(_NONE, 0.0, 0), (_THROUGH, length, 0), (_THROUGH_TWICE, 2.0 * length, 0)]
        else:
            self.options = [
                (_THROUGH, length, 0),
                (_THROUGH_TWICE, 2.0 * length, 0),
                (_FROM_FRONT, 2.0 * ys[-1], 0),
                (_FROM_BACK, 2.0 * (length - ys[0]), 0),
            ]
            if len(ys) > 1:
                split, cost = min(
                    ((k, 2.0 * ys[k - 1] + 2.0 * (length - ys[k])) for k in range(1, len(ys))),
                    key=lambda item: (item[1], item[0]),
                )
                self.options.append((_GAP, cost, split))


def route_ratliff_rosenthal(layout: Layout, points: Iterable[PickPoint]) -> Route:
    """The shortest tour from the depot through every point and back (single-block layouts only)."""
    if not layout.is_single_block:
        raise ValueError("Ratliff-Rosenthal routing needs a single-block layout")
    stops = unique_points(points)
    for stop in stops:
        layout.check_point(stop)
    if not stops:
        return Route((), 0.0, "ratliff_rosenthal")
    columns = _columns(layout, stops)
    choices = _solve(columns)
    order = _walk(columns, choices)
    return Route(tuple(order), tour_length(layout, order), "ratliff_rosenthal")


def _columns(layout: Layout, stops: list[PickPoint]) -> list[_Column]:
    by_aisle: dict[int, list[float]] = {}
    for stop in stops:
        by_aisle.setdefault(stop.aisle, []).append(stop.y)
    depot_x = layout.depot[0]
    xs = layout.aisle_x
    depot_aisle = next((a for a, x in enumerate(xs) if abs(x - depot_x) < 1e-9), None)
    lo, hi = min(by_aisle), max(by_aisle)
    if depot_aisle is not None:
        lo, hi = min(lo, depot_aisle), max(hi, depot_aisle)
    columns = [
        _Column(xs[a], a, sorted(by_aisle.get(a, [])), layout.aisle_length, a == depot_aisle)
        for a in range(lo, hi + 1)
    ]
    if depot_aisle is None:
        position = sum(1 for c in columns if c.x < depot_x)
        columns.insert(position, _Column(depot_x, None, [], layout.aisle_length, True))
    # Aisles beyond the outermost required column are never worth walking.
    required = [i for i, c in enumerate(columns) if c.ys or c.depot]
    return columns[required[0] : required[-1] + 1]


def _solve(columns: list[_Column]) -> list[tuple[int, int, int, int]]:
    """Per column: (option, split, front_times, back_times) of an optimal tour, by backtracking."""
    costs = {_START: 0.0}
    # history[j] = (state after aisle j -> (state before, option, split),
    #               state before aisle j+1 -> (state after aisle j, front times, back times))
    history: list[tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, int, int]]]] = []
    last = len(columns) - 1
    for j, column in enumerate(columns):
        after_vertical: dict[int, float] = {}
        vertical_from: dict[int, tuple[int, int, int]] = {}
        for state, cost in costs.items():
            for option, option_cost, split in column.options:
                nxt = _VERTICAL[state, option]
                value = cost + option_cost
                if value < after_vertical.get(nxt, _INF):
                    after_vertical[nxt] = value
                    vertical_from[nxt] = (state, option, split)
        horizontal_from: dict[int, tuple[int, int, int]] = {}
        if j == last:
            history.append((vertical_from, horizontal_from))
            costs = {s: c for s, c in after_vertical.items() if _is_final(s, column.depot)}
            break
        width = columns[j + 1].x - column.x
        costs = {}
        for state, cost in after_vertical.items():
            for front_times, back_times, nxt in _HORIZONTAL[state, column.depot]:
                value = cost + (front_times + back_times) * width
                if value < costs.get(nxt, _INF):
                    costs[nxt] = value
                    horizontal_from[nxt] = (state, front_times, back_times)
        history.append((vertical_from, horizontal_from))
    if not costs:
        raise RuntimeError("no feasible tour found")  # cannot happen on a valid layout
    state = min(costs, key=lambda s: (costs[s], s))
    plan: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(columns)
    front_times = back_times = 0
    for j in range(last, -1, -1):
        vertical_from, horizontal_from = history[j]
        if j < last:
            state, front_times, back_times = horizontal_from[state]
        previous, option, split = vertical_from[state]
        plan[j] = (option, split, front_times, back_times)
        state = previous
    return plan


def _walk(columns: list[_Column], plan: list[tuple[int, int, int, int]]) -> list[PickPoint]:
    """Euler circuit of the chosen multigraph from the depot; stops in order of first visit."""
    # Vertices: ("f", j) front corner, ("b", j) back corner, ("p", j, k) k-th pick of column j.
    adjacency: dict[tuple, list[tuple]] = {}

    def connect(u: tuple, v: tuple, times: int) -> None:
        for _ in range(times):
            adjacency.setdefault(u, []).append(v)
            adjacency.setdefault(v, []).append(u)

    for j, column in enumerate(columns):
        option, split, front_times, back_times = plan[j]
        chain = [("f", j)] + [("p", j, k) for k in range(len(column.ys))] + [("b", j)]
        edges = len(chain) - 1
        if option in (_THROUGH, _THROUGH_TWICE):
            times = 1 if option == _THROUGH else 2
            for e in range(edges):
                connect(chain[e], chain[e + 1], times)
        elif option == _FROM_FRONT:
            for e in range(edges - 1):  # front corner up to the last pick
                connect(chain[e], chain[e + 1], 2)
        elif option == _FROM_BACK:
            for e in range(1, edges):  # first pick up to the back corner
                connect(chain[e], chain[e + 1], 2)
        elif option == _GAP:
            for e in range(edges):
                if e != split:  # chain edge `split` joins pick split-1 and pick split: the gap left unwalked
                    connect(chain[e], chain[e + 1], 2)
        if j + 1 < len(columns):
            connect(("f", j), ("f", j + 1), front_times)
            connect(("b", j), ("b", j + 1), back_times)
    depot_column = next(j for j, c in enumerate(columns) if c.depot)
    start = ("f", depot_column)
    # Hierholzer's algorithm with edge removal from both ends.
    remaining = {v: list(reversed(n)) for v, n in adjacency.items()}
    stack = [start]
    circuit: list[tuple] = []
    while stack:
        v = stack[-1]
        neighbours = remaining.get(v)
        if neighbours:
            u = neighbours.pop()
            remaining[u].remove(v)
            stack.append(u)
        else:
            circuit.append(stack.pop())
    circuit.reverse()
    seen: set[tuple] = set()
    order: list[PickPoint] = []
    for vertex in circuit:
        if vertex[0] == "p" and vertex not in seen:
            seen.add(vertex)
            column = columns[vertex[1]]
            order.append(PickPoint(column.aisle, column.ys[vertex[2]]))  # type: ignore[arg-type]
    return order



class TourLengths:
    """Lengths of optimal (Ratliff-Rosenthal) tours on one single-block layout, without building the tours.

    For search loops that price thousands of pick sets.  ``length(picks)``
    takes, per aisle, the positions to visit; ``length_of_spans`` takes per
    aisle ``(nearest y, farthest y, widest gap between two picks)`` or None.
    Equal to ``route_ratliff_rosenthal(...).length_m`` up to rounding.

    It is the same programme as :func:`route_ratliff_rosenthal`, written out
    on the six states a tour can be in between two aisles (degree classes of
    the front and back corners, and whether they are joined):

    ====  =================================================
    z     nothing walked yet
    b     back corner even, front untouched
    o     both corners odd, joined
    f     front corner even, back untouched
    ee    both even, in two components
    ej    both even, joined
    ====  =================================================
    """

    __slots__ = ("layout", "_xs", "_aisle_column", "_depot_column", "_aisle_length")

    def __init__(self, layout: Layout) -> None:
        if not layout.is_single_block:
            raise ValueError("Ratliff-Rosenthal lengths need a single-block layout")
        self.layout = layout
        depot_x = layout.depot[0]
        depot_aisle = next((a for a, x in enumerate(layout.aisle_x) if abs(x - depot_x) < 1e-9), None)
        xs = list(layout.aisle_x)
        self._aisle_column = list(range(len(xs)))
        if depot_aisle is None:  # the depot's pseudo-aisle gets a column of its own
            position = sum(1 for x in xs if x < depot_x)
            xs.insert(position, depot_x)
            self._aisle_column = [a if a < position else a + 1 for a in range(len(layout.aisle_x))]
            self._depot_column = position
        else:
            self._depot_column = depot_aisle
        self._xs = xs
        self._aisle_length = layout.aisle_length

    def length(self, picks: dict[int, list[float]]) -> float:
        """Metres of the shortest tour from the depot visiting every y in ``picks[aisle]`` of every aisle."""
        spans: list[tuple[float, float, float] | None] = [None] * len(self.layout.aisle_x)
        for aisle, ys in picks.items():
            if ys:
                ys = sorted(ys)
                gap = max((b - a for a, b in zip(ys, ys[1:])), default=0.0)
                spans[aisle] = (ys[0], ys[-1], gap)
        return self.length_of_spans(spans)

    def length_of_spans(self, spans: list[tuple[float, float, float] | None]) -> float:
        """As :meth:`length`, from each aisle's nearest y, farthest y and widest gap (None: nothing to pick)."""
        columns: list[tuple[float, float, float] | None] = [None] * len(self._xs)
        depot_column = first = last = self._depot_column
        for aisle, span in enumerate(spans):
            if span is not None:
                column = self._aisle_column[aisle]
                columns[column] = span
                if column < first:
                    first = column
                elif column > last:
                    last = column
        if first == last and columns[first] is None:
            return 0.0
        inf = _INF
        length = self._aisle_length
        twice = 2.0 * length
        xs = self._xs
        pseudo_depot = len(xs) != len(spans)
        z, b, o, f, ee, ej = 0.0, inf, inf, inf, inf, inf
        # (min() is spelt out as conditionals: this loop runs for every column of every priced pick set)
        for column in range(first, last + 1):
            span = columns[column]
            zb = z if z < b else b
            zf = z if z < f else f
            before_any = zb if zb < f else f
            if ee < before_any:
                before_any = ee
            if span is not None:
                # Walk this aisle through, twice through, from the front, from the back, or from both ends
                # leaving the widest gap; not walking it is not an option.
                low, high, gap = span
                front, back, ends = 2.0 * high, 2.0 * (length - low), 2.0 * (length - gap)
                least_open = front if front < back else back
                if ends < least_open:
                    least_open = ends  # never above twice through: that only joins, at 2 * length >= ends
                nz = inf
                nb = zb + back
                nf = zf + front
                nee = before_any + ends
                if b + front < nee:
                    nee = b + front
                if f + back < nee:
                    nee = f + back
                if ee + least_open < nee:
                    nee = ee + least_open
                to_o = before_any if before_any < ej else ej
                no = to_o + length
                if o + least_open < no:
                    no = o + least_open
                nej = before_any + twice
                if o + length < nej:
                    nej = o + length
                if ej + least_open < nej:
                    nej = ej + least_open
            elif pseudo_depot and column == depot_column:
                nz, nb, no, nf, nee, nej = z, b, o, f, ee, ej  # nothing to walk in the depot's pseudo-aisle
            else:
                # An empty aisle: not walked, or walked through once or twice (to join or re-pair corners).
                nz, nb, nf, nee = z, b, f, ee
                to_o = before_any if before_any < ej else ej
                no = to_o + length
                if o < no:
                    no = o
                nej = before_any + twice
                if o + length < nej:
                    nej = o + length
                if ej < nej:
                    nej = ej
            if column == last:
                best = nf if nf < nej else nej
                if column != depot_column and nb < best:
                    best = nb
                return best
            # Cross-aisle stretches to the next aisle: front and back each walked 0, 1 or 2 times.
            width = xs[column + 1] - xs[column]
            two, four = 2.0 * width, 4.0 * width
            zej = nz if nz < nej else nej
            if column == depot_column:
                z = inf
                b = nej + two
            else:
                z = nz
                b = (zej if zej < nb else nb) + two
            o = no + two
            f = (zej if zej < nf else nf) + two
            low4 = nz if nz < nb else nb
            if nf < low4:
                low4 = nf
            if nee < low4:
                low4 = nee
            ee = low4 + four
            ej = nej + four
        raise RuntimeError("no feasible tour found")  # unreachable: the loop returns at the last column
