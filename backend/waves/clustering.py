"""Which orders share a cart: seed batching on walking footprints, then a swap/move local search.

An order's *footprint* is a bitmask of the pieces of aisle and cross aisle a
picker must walk to reach its picks, and a tour's footprint is the OR of its
orders'.  The number of set bits estimates the metres walked, so the extra
walking an order brings to a tour is ``popcount(order & ~tour)``: one C-level
operation on Python ints, which is what makes batching 10,000 orders fast in
CPython.

Bits:

* each block of each aisle is cut in two halves, each reached from its
  nearer cross aisle, and each half in ``zones_per_half`` zones; a pick sets
  every zone from the cross aisle up to its own, so the bits count how deep
  into the aisle the picker walks;
* each stretch of the front cross aisle between neighbouring aisles (and the
  depot) is a bit, set for every stretch between the depot and the pick's
  aisle, weighted to its length relative to a zone.

Batching per release key (see :mod:`backend.waves.batching`):

1. Seeds: the order with the largest footprint that is not in a tour yet.
2. Candidates: the ``pool_size`` unplaced orders adding least to the seed.
3. Greedy: add the candidate adding least to the tour (ties: the larger
   order, then arrival) while the cart has totes for it.
4. Local search: an order that adds walking to its tour is moved to, or
   swapped with an order of, one of the few tours it fits best, when that
   shortens the estimate; a few passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from backend.routing.layout import Layout, PickPoint


@dataclass(frozen=True, slots=True)
class BatchingSettings:
    zones_per_half: int = 2
    pool_size: int = 150
    improvement_passes: int = 3
    candidate_tours: int = 5
    # Exact-route search after the footprint batching (backend.waves.improvement; single-block layouts).
    # Budget in priced tour lengths: per order of a release key, and at most this much per planning call
    # (shared by the release keys in proportion to their orders).  0 turns the search off.
    route_search_evaluations_per_order: int = 600
    route_search_max_evaluations: int = 60_000
    # A planning call with more orders than this skips the search: the footprint batching scales to
    # tens of thousands of orders, and the budget spread that thin would buy next to nothing.
    route_search_max_orders: int = 1_000


class Footprints:
    """Turns pick points into footprint bitmasks for one layout."""

    def __init__(self, layout: Layout, zones_per_half: int = 2) -> None:
        self.layout = layout
        self.zones = zones_per_half
        cross = layout.cross_aisles_y
        self.blocks = layout.block_count
        self.block_low = cross[:-1]
        self.block_high = cross[1:]
        shortest_block = min(h - lo for lo, h in zip(self.block_low, self.block_high))
        self.zone_m = shortest_block / 2.0 / zones_per_half
        columns = sorted(set(layout.aisle_x) | {layout.depot[0]})
        self.depot_column = columns.index(layout.depot[0])
        self.column_of_aisle = [columns.index(x) for x in layout.aisle_x]
        horizontal_base = len(layout.aisle_x) * self.blocks * 2 * zones_per_half
        # A stretch of cross aisle is walked out and back, like a zone; give it bits in proportion.
        self.stretch_bits: list[int] = []
        offset = horizontal_base
        for left, right in zip(columns, columns[1:]):
            bits = max(1, round((right - left) / self.zone_m))
            self.stretch_bits.append(((1 << bits) - 1) << offset)
            offset += bits
        self._cache: dict[PickPoint, int] = {}

    def of_point(self, point: PickPoint) -> int:
        mask = self._cache.get(point)
        if mask is None:
            mask = self._point_mask(point)
            self._cache[point] = mask
        return mask

    def _point_mask(self, point: PickPoint) -> int:
        block = self.layout.block_of(point.y)
        low, high = self.block_low[block], self.block_high[block]
        middle = (low + high) / 2.0
        side, depth = (0, point.y - low) if point.y <= middle else (1, high - point.y)
        zone = min(self.zones - 1, int(depth / ((middle - low) / self.zones)))
        base = ((point.aisle * self.blocks + block) * 2 + side) * self.zones
        mask = ((1 << (zone + 1)) - 1) << base
        column = self.column_of_aisle[point.aisle]
        lo, hi = sorted((column, self.depot_column))
        for stretch in range(lo, hi):
            mask |= self.stretch_bits[stretch]
        return mask

    def of_points(self, points: Sequence[PickPoint]) -> int:
        mask = 0
        for point in points:
            mask |= self.of_point(point)
        return mask


def seed_batches(
    masks: Sequence[int],
    totes: Sequence[int],
    capacity: int,
    pool_size: int,
    units: Sequence[int] | None = None,
    unit_capacity: int | None = None,
) -> list[list[int]]:
    """Greedy seed batching: lists of order indices (into ``masks``), each within ``capacity`` totes
    and, if given, ``unit_capacity`` units."""
    n = len(masks)
    limit_units = units is not None and unit_capacity is not None
    if not limit_units:
        units, unit_capacity = [0] * n, 0
    sizes = [m.bit_count() for m in masks]
    # rank 0 = the largest footprint (earliest arrival on ties): seeds are taken in rank order.
    by_rank = sorted(range(n), key=lambda i: (-sizes[i], i))
    rank = [0] * n
    for r, i in enumerate(by_rank):
        rank[i] = r
    placed = [False] * n
    batches: list[list[int]] = []
    next_seed = 0
    stride = n + 1
    for _ in range(n):
        while next_seed < n and placed[by_rank[next_seed]]:
            next_seed += 1
        if next_seed == n:
            break
        seed = by_rank[next_seed]
        placed[seed] = True
        batch = [seed]
        tour = masks[seed]
        used = totes[seed]
        used_units = units[seed]
        outside = ~tour
        unplaced = [i for i in by_rank[next_seed:] if not placed[i]]
        keys = sorted((masks[i] & outside).bit_count() * stride + rank[i] for i in unplaced)
        pool = [by_rank[k % stride] for k in keys[:pool_size]]
        pool_masks = [masks[i] for i in pool]
        pool_ranks = [rank[i] for i in pool]
        pool_totes = [totes[i] for i in pool]
        pool_units = [units[i] for i in pool]
        while pool and used < capacity:
            outside = ~tour
            room = capacity - used
            unit_room = unit_capacity - used_units
            if room >= max(pool_totes) and (not limit_units or unit_room >= max(pool_units)):
                scores = [(m & outside).bit_count() * stride + r for m, r in zip(pool_masks, pool_ranks)]
            else:
                too_big = 1 << 62
                scores = [
                    (m & outside).bit_count() * stride + r if t <= room and u <= unit_room else too_big
                    for m, r, t, u in zip(pool_masks, pool_ranks, pool_totes, pool_units)
                ]
            best = min(scores)
            if best >= 1 << 62:
                break
            j = scores.index(best)
            chosen = pool[j]
            for column in (pool, pool_masks, pool_ranks, pool_totes, pool_units):
                column.pop(j)
            placed[chosen] = True
            batch.append(chosen)
            tour |= masks[chosen]
            used += totes[chosen]
            used_units += units[chosen]
        batches.append(batch)
    return batches


def without_each(members: Sequence[int], masks: Sequence[int]) -> list[int]:
    """For each member, the OR of the other members' masks."""
    k = len(members)
    prefix = [0] * (k + 1)
    for j, member in enumerate(members):
        prefix[j + 1] = prefix[j] | masks[member]
    rest = [0] * k
    suffix = 0
    for j in range(k - 1, -1, -1):
        rest[j] = prefix[j] | suffix
        suffix |= masks[members[j]]
    return rest


def improve_batches(
    batches: list[list[int]],
    masks: Sequence[int],
    totes: Sequence[int],
    capacity: int,
    passes: int,
    candidate_tours: int,
    units: Sequence[int] | None = None,
    unit_capacity: int | None = None,
) -> list[list[int]]:
    """Move or swap orders between batches while the summed footprint shrinks (in place; empties dropped).

    Batches stay within ``capacity`` totes and, if given, ``unit_capacity`` units. Each pass tries the orders
    that widen their batch's footprint most first."""
    if units is None or unit_capacity is None:
        units, unit_capacity = [0] * len(masks), 0
    search = _MoveSearch(batches, masks, totes, units, capacity, unit_capacity)
    for _ in range(passes):
        moves = 0
        for _, order in _misfits(batches, masks):
            move = search.best_move(order, candidate_tours)
            if move is not None:
                search.apply(order, *move)
                moves += 1
        if not moves:
            break
    return [members for members in batches if members]


def _misfits(batches: list[list[int]], masks: Sequence[int]) -> list[tuple[int, int]]:
    """(-cells, order) for every order adding cells to its batch's footprint, most cells first."""
    misfits = []
    for members in batches:
        for member, rest in zip(members, without_each(members, masks)):
            added = (masks[member] & ~rest).bit_count()
            if added:
                misfits.append((-added, member))
    misfits.sort()
    return misfits


class _MoveSearch:
    """The batches' footprints and loads while orders move between them (the batch lists change in place)."""

    def __init__(self, batches: list[list[int]], masks: Sequence[int], totes: Sequence[int], units: Sequence[int],
                 capacity: int, unit_capacity: int) -> None:
        self.batches, self.masks, self.totes, self.units = batches, masks, totes, units
        self.capacity, self.unit_capacity = capacity, unit_capacity
        count = len(batches)
        self.batch_of = {}
        self.footprint = [0] * count
        self.used = [0] * count
        self.used_units = [0] * count
        for b, members in enumerate(batches):
            for member in members:
                self.batch_of[member] = b
                self.footprint[b] |= masks[member]
                self.used[b] += totes[member]
                self.used_units[b] += units[member]
        self.outside = [~fp for fp in self.footprint]

    def best_move(self, order: int, candidate_tours: int) -> tuple[int, int | None] | None:
        """The move (target, None) or swap (target, other) that shrinks the footprint most, if any does.

        Only the `candidate_tours` batches the order would widen least (and less than it narrows its own) are
        tried."""
        batches, masks, footprint = self.batches, self.masks, self.footprint
        home = self.batch_of[order]
        mask = masks[order]
        rest_home = 0
        for member in batches[home]:
            if member != order:
                rest_home |= masks[member]
        home_size = footprint[home].bit_count()
        gain = home_size - rest_home.bit_count()
        if gain <= 0:
            return None
        totes, units, used, used_units = self.totes, self.units, self.used, self.used_units
        capacity, unit_capacity = self.capacity, self.unit_capacity
        added_to = [(mask & out).bit_count() for out in self.outside]
        added_to[home] = gain
        targets = sorted((a, b) for b, a in enumerate(added_to) if a < gain)[:candidate_tours]
        best_delta, best_move = 0, None
        for added, target in targets:
            if (
                used[target] + totes[order] <= capacity
                and used_units[target] + units[order] <= unit_capacity
                and added - gain < best_delta
            ):
                best_delta, best_move = added - gain, (target, None)
            target_size = footprint[target].bit_count()
            members = batches[target]
            for other, rest_target in zip(members, without_each(members, masks)):
                if (
                    used[home] - totes[order] + totes[other] > capacity
                    or used[target] - totes[other] + totes[order] > capacity
                    or used_units[home] - units[order] + units[other] > unit_capacity
                    or used_units[target] - units[other] + units[order] > unit_capacity
                ):
                    continue
                delta = (
                    (rest_home | masks[other]).bit_count()
                    + (rest_target | mask).bit_count()
                    - home_size
                    - target_size
                )
                if delta < best_delta:
                    best_delta, best_move = delta, (target, other)
        return best_move

    def apply(self, order: int, target: int, other: int | None) -> None:
        """Move `order` to `target` (and `other` from there to the order's batch, for a swap)."""
        home = self.batch_of[order]
        self._move(order, home, target)
        if other is not None:
            self._move(other, target, home)
        batches, masks = self.batches, self.masks
        for b in (home, target):
            fp = 0
            for member in batches[b]:
                fp |= masks[member]
            self.footprint[b] = fp
            self.outside[b] = ~fp

    def _move(self, order: int, source: int, target: int) -> None:
        """One order from batch `source` to batch `target`, with the batches' tote and unit loads."""
        self.batches[source].remove(order)
        self.batches[target].append(order)
        self.batch_of[order] = target
        self.used[source] -= self.totes[order]
        self.used[target] += self.totes[order]
        self.used_units[source] -= self.units[order]
        self.used_units[target] += self.units[order]


def batch_footprints(
    masks: Sequence[int],
    totes: Sequence[int],
    capacity: int,
    settings: BatchingSettings = BatchingSettings(),
    units: Sequence[int] | None = None,
    unit_capacity: int | None = None,
) -> list[list[int]]:
    """Seed batching then local search; each batch is a list of indices into ``masks``."""
    batches = seed_batches(masks, totes, capacity, settings.pool_size, units, unit_capacity)
    return improve_batches(
        batches, masks, totes, capacity, settings.improvement_passes, settings.candidate_tours, units, unit_capacity
    )
