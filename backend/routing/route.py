"""A picking route: stops in walking order and the distance walked from the depot back to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from backend.routing.layout import DEPOT, Layout, PickPoint


@dataclass(frozen=True, slots=True)
class Route:
    """Stops in walking order (the depot at both ends is implied) and the metres walked."""

    stops: tuple[PickPoint, ...]
    length_m: float
    method: str


def tour_length(layout: Layout, stops: Sequence[PickPoint]) -> float:
    """Metres from the depot through ``stops`` in order and back, walking shortest paths between stops."""
    total = 0.0
    previous = DEPOT
    for stop in stops:
        total += layout.distance(previous, stop)
        previous = stop
    return total + layout.distance(previous, DEPOT)


def order_length(matrix: Sequence[Sequence[float]], order: Sequence[int]) -> float:
    """Length of depot (index 0) -> order -> depot on a distance matrix."""
    total = 0.0
    previous = 0
    for node in order:
        total += matrix[previous][node]
        previous = node
    return total + matrix[previous][0]
