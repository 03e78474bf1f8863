"""Parallel-aisle warehouse layouts and exact walking distances on the aisle graph.

Coordinates: aisles are vertical lines at ``aisle_x``; ``y`` runs along every
aisle from the front cross aisle (``y = 0``) to the back cross aisle
(``y = aisle_length``); optional middle cross aisles split the aisles into
blocks.  A picker stands on the aisle centre line and picks from both sides,
so a pick location is a :class:`PickPoint` ``(aisle, y)``.  The depot is a
point on the front cross aisle.  Travel follows aisles and cross aisles only.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

DEPOT_AISLE = -1
"""Aisle index used by :data:`DEPOT`: the depot is on the front cross aisle, not in an aisle."""


@dataclass(frozen=True, slots=True, order=True)
class PickPoint:
    """Where a picker stops: aisle index (0-based, left to right) and metres along the aisle."""

    aisle: int
    y: float


DEPOT = PickPoint(DEPOT_AISLE, 0.0)
"""The depot as a point: its x is the layout's ``depot[0]``."""


@dataclass(frozen=True, slots=True)
class Layout:
    """A rectangular parallel-aisle area: one block, or several split by middle cross aisles."""

    aisle_x: tuple[float, ...]
    aisle_length: float
    depot: tuple[float, float] = (0.0, 0.0)
    middle_cross_aisles_y: tuple[float, ...] = ()
    cross_aisles_y: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aisle_x = tuple(float(x) for x in self.aisle_x)
        middle = tuple(float(y) for y in self.middle_cross_aisles_y)
        depot = (float(self.depot[0]), float(self.depot[1]))
        length = float(self.aisle_length)
        if not aisle_x:
            raise ValueError("a layout needs at least one aisle")
        if any(b <= a for a, b in zip(aisle_x, aisle_x[1:])):
            raise ValueError("aisle_x must be strictly increasing")
        if length <= 0:
            raise ValueError("aisle_length must be positive")
        if any(b <= a for a, b in zip(middle, middle[1:])) or any(not 0 < y < length for y in middle):
            raise ValueError("middle cross aisles must be increasing and strictly inside (0, aisle_length)")
        if depot[1] != 0.0:
            raise ValueError("the depot must be on the front cross aisle (y = 0)")
        object.__setattr__(self, "aisle_x", aisle_x)
        object.__setattr__(self, "aisle_length", length)
        object.__setattr__(self, "depot", depot)
        object.__setattr__(self, "middle_cross_aisles_y", middle)
        object.__setattr__(self, "cross_aisles_y", (0.0, *middle, length))

    @property
    def is_single_block(self) -> bool:
        return not self.middle_cross_aisles_y

    @property
    def block_count(self) -> int:
        return len(self.middle_cross_aisles_y) + 1

    def without_middle_cross_aisles(self) -> Layout:
        """The same aisles with only the front and back cross aisles (a valid but longer-walking relaxation)."""
        return replace(self, middle_cross_aisles_y=())

    def x_of(self, point: PickPoint) -> float:
        return self.depot[0] if point.aisle == DEPOT_AISLE else self.aisle_x[point.aisle]

    def xy(self, point: PickPoint) -> tuple[float, float]:
        return (self.x_of(point), point.y)

    def block_of(self, y: float) -> int:
        """Block index of a position along an aisle (a point on a middle cross aisle belongs to the block above)."""
        return min(bisect_right(self.cross_aisles_y, y) - 1, self.block_count - 1)

    def check_point(self, point: PickPoint) -> None:
        if point.aisle != DEPOT_AISLE and not 0 <= point.aisle < len(self.aisle_x):
            raise ValueError(f"aisle {point.aisle} is not in the layout")
        if not 0.0 <= point.y <= self.aisle_length:
            raise ValueError(f"y={point.y} is outside the aisle (0..{self.aisle_length})")

    def distance(self, p: PickPoint, q: PickPoint) -> float:
        """Shortest walking distance between two points (either may be :data:`DEPOT`)."""
        if p.aisle == q.aisle and p.aisle != DEPOT_AISLE:
            return abs(p.y - q.y)
        return abs(self.x_of(p) - self.x_of(q)) + _vertical_via_cross_aisle(self.cross_aisles_y, p.y, q.y)

    def distance_matrix(self, points: Sequence[PickPoint]) -> list[list[float]]:
        """Symmetric matrix over ``[DEPOT, *points]``: row/column 0 is the depot."""
        return distance_matrix(self, points)


def _vertical_via_cross_aisle(cross: Sequence[float], y1: float, y2: float) -> float:
    """min over cross aisles c of |y1 - c| + |y2 - c|."""
    lo, hi = (y1, y2) if y1 <= y2 else (y2, y1)
    i = bisect_left(cross, lo)
    if i < len(cross) and cross[i] <= hi:
        return hi - lo
    below, above = cross[i - 1], cross[i]
    return min(lo + hi - 2.0 * below, 2.0 * above - lo - hi)


def distance_matrix(layout: Layout, points: Sequence[PickPoint]) -> list[list[float]]:
    """Symmetric shortest-path matrix over ``[DEPOT, *points]`` (index 0 is the depot)."""
    n = len(points) + 1
    xs = [layout.depot[0]] + [layout.aisle_x[p.aisle] for p in points]
    ys = [0.0] + [p.y for p in points]
    aisles = [DEPOT_AISLE] + [p.aisle for p in points]
    cross = layout.cross_aisles_y
    # Each point's block floor/ceiling: two points in different blocks have a cross aisle between them.
    blocks = [layout.block_of(y) for y in ys]
    lows = [cross[b] for b in blocks]
    highs = [cross[b + 1] for b in blocks]
    matrix = [[0.0] * n for _ in range(n)]
    for i in range(n):
        xi, yi, ai, bi, lo, hi = xs[i], ys[i], aisles[i], blocks[i], lows[i], highs[i]
        row = matrix[i]
        for j in range(i + 1, n):
            yj = ys[j]
            if ai == aisles[j] and ai != DEPOT_AISLE:
                d = yi - yj if yi >= yj else yj - yi
            else:
                dx = xi - xs[j]
                if dx < 0:
                    dx = -dx
                if bi != blocks[j]:
                    d = dx + (yi - yj if yi >= yj else yj - yi)
                else:
                    down = yi + yj - 2.0 * lo
                    up = 2.0 * hi - yi - yj
                    d = dx + (down if down <= up else up)
            row[j] = d
            matrix[j][i] = d
    return matrix


def unique_points(points: Iterable[PickPoint]) -> list[PickPoint]:
    """Distinct points sorted by (aisle, y): the deterministic node order every router uses."""
    return sorted(set(points))
