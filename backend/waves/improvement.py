"""Exact-route batch search: improve which orders share a cart, pricing every cart by its optimal tour.

The footprint batching of :mod:`backend.waves.clustering` estimates walking
with bit counts: fast enough for 10,000 orders, but an estimate.  On a
single-block layout the shortest tour through any set of picks is known
exactly (Ratliff-Rosenthal, :class:`backend.routing.exact.TourLengths`, some
microseconds per set), so :func:`improve_batches_by_route` takes batches and
shortens the sum of their optimal tours by iterated local search:

1. Local search.  For a changed batch A and every other batch B: the best of
   moving one order from A to B or from B to A, or swapping an order of A
   with one of B, that keeps both carts within their limits (totes and, if
   the cart has one, units) and shortens the two tours together.  It is
   applied at once and both batches are looked at again, until no pair of
   batches has an improving move.  A pair found without one is remembered
   by the orders in it and not priced again.
2. Kick.  ``kick_moves`` random feasible moves or swaps between random
   batches; or, every ``empty_every``-th round, emptying a random cart:
   its orders go, largest first, where they add least walking, and one that
   fits no cart takes the place of a smaller order, which moves on in turn
   (one cart fewer is where most of the metres are).  Then local search
   from the batches the kick touched.  The result is kept if it is shorter
   than the best plan so far, otherwise undone.
3. Stop when the budget is spent; the shortest plan seen is returned.

Budget.  ``evaluations`` counts tour lengths priced.  A length is cached by
its set of pick spots; looking up a cached one counts as 1/8 (the lookup is
cheap, the move bookkeeping around it is not) and every kick round as 1, so
the budget bounds all the work, not only the pricing, and the same input
gives the same plan on any machine: there is no clock in here.  The default
budget (``BatchingSettings``) plans 100 orders of the order-batching
benchmark in about 2 s (``docs/performance.md``).

Never worse.  The search starts from the given batches and only ever
replaces the best plan by a shorter one, so the result's total optimal tour
length is never above the start's.

Deterministic.  The kicks draw from ``random.Random(seed)``; the caller
derives the seed from its input.  Batches, orders and pairs are always
scanned in index order, and caches are keyed by integers.
"""

from __future__ import annotations

import random
from typing import Sequence

from backend.routing.exact import TourLengths
from backend.routing.layout import Layout, PickPoint
from backend.waves.clustering import without_each

_EPS = 1e-9
_LOOKUPS_PER_EVALUATION = 8  # a cached length, with the move bookkeeping around it, counts as an eighth of a priced one


class _Pricer:
    """Optimal tour lengths of sets of orders, by their pick spots as one bitmask (bits per aisle, near to far)."""

    def __init__(self, layout: Layout, points: Sequence[Sequence[PickPoint]]) -> None:
        self.lengths = TourLengths(layout)
        ys_by_aisle: dict[int, set[float]] = {}
        for spots in points:
            for spot in spots:
                ys_by_aisle.setdefault(spot.aisle, set()).add(spot.y)
        bit: dict[PickPoint, int] = {}
        # Per aisle with picks: (aisle, first bit, bits of the aisle, ys by bit, spans seen by bit pattern)
        self.aisles: list[tuple[int, int, int, list[float], dict[int, tuple[float, float, float]]]] = []
        offset = 0
        for aisle in sorted(ys_by_aisle):
            ys = sorted(ys_by_aisle[aisle])
            for k, y in enumerate(ys):
                bit[PickPoint(aisle, y)] = 1 << (offset + k)
            self.aisles.append((aisle, offset, (1 << len(ys)) - 1, ys, {}))
            offset += len(ys)
        self.masks = []
        for spots in points:
            mask = 0
            for spot in spots:
                mask |= bit[spot]
            self.masks.append(mask)
        self.aisle_count = len(layout.aisle_x)
        self.cache: dict[int, float] = {0: 0.0}
        self.priced = 0
        self.looked_up = 0
        self.rounds = 0
        self.alone = [self.length(mask) for mask in self.masks]  # each order's tour on its own

    @property
    def work(self) -> int:
        """Budget spent: lengths priced, cached lengths looked up (an eighth each), kick rounds (one each)."""
        return self.priced + self.looked_up // _LOOKUPS_PER_EVALUATION + self.rounds

    def length(self, mask: int) -> float:
        value = self.cache.get(mask)
        if value is not None:
            self.looked_up += 1
            return value
        self.priced += 1
        spans: list[tuple[float, float, float] | None] = [None] * self.aisle_count
        for aisle, offset, full, ys, seen in self.aisles:
            chunk = (mask >> offset) & full
            if chunk:
                span = seen.get(chunk)
                if span is None:
                    low = (chunk & -chunk).bit_length() - 1
                    previous = ys[low]
                    gap = 0.0
                    rest = chunk ^ (1 << low)
                    while rest:
                        lowest = rest & -rest
                        y = ys[lowest.bit_length() - 1]
                        if y - previous > gap:
                            gap = y - previous
                        previous = y
                        rest ^= lowest
                    span = seen[chunk] = (ys[low], previous, gap)
                spans[aisle] = span
        value = self.lengths.length_of_spans(spans)
        self.cache[mask] = value
        return value


class _Plan:
    """Batches in fixed slots (a slot may fall empty), with each slot's picks, load and tour length."""

    def __init__(
        self,
        pricer: _Pricer,
        batches: Sequence[Sequence[int]],
        totes: Sequence[int],
        units: Sequence[int],
        tote_capacity: int,
        unit_capacity: int,
    ) -> None:
        self.pricer = pricer
        self.totes = totes
        self.units = units
        self.tote_capacity = tote_capacity
        self.unit_capacity = unit_capacity
        count = len(batches)
        self.members: list[list[int]] = [list(b) for b in batches]
        self.picks = [0] * count
        self.orders = [0] * count  # bit i: order i is in the slot (the slot's identity for the memo)
        self.used_totes = [0] * count
        self.used_units = [0] * count
        self.length = [0.0] * count
        self.rests: list[tuple[list[int], list[float]] | None] = [None] * count
        self.undo: dict[int, list[int]] | None = None
        self.no_move: set[tuple[int, int]] = set()
        for slot in range(count):
            self._refresh(slot)

    def _refresh(self, slot: int) -> None:
        masks = self.pricer.masks
        picks = orders = totes = units = 0
        for i in self.members[slot]:
            picks |= masks[i]
            orders |= 1 << i
            totes += self.totes[i]
            units += self.units[i]
        self.picks[slot], self.orders[slot] = picks, orders
        self.used_totes[slot], self.used_units[slot] = totes, units
        self.length[slot] = self.pricer.length(picks)
        self.rests[slot] = None

    def total(self) -> float:
        return sum(self.length)

    def set_members(self, slot: int, members: list[int]) -> None:
        if self.undo is not None and slot not in self.undo:
            self.undo[slot] = self.members[slot]
        self.members[slot] = members
        self._refresh(slot)

    def move(self, a: int, b: int, order: int | None, other: int | None) -> None:
        """``order`` from slot a to b and ``other`` from b to a (either may be None)."""
        members_a = [i for i in self.members[a] if i != order]
        members_b = [j for j in self.members[b] if j != other]
        if order is not None:
            members_b.append(order)
        if other is not None:
            members_a.append(other)
        self.set_members(a, members_a)
        self.set_members(b, members_b)

    def fits(self, slot: int, out: int | None, into: int | None) -> bool:
        totes = self.used_totes[slot]
        units = self.used_units[slot]
        if out is not None:
            totes -= self.totes[out]
            units -= self.units[out]
        if into is not None:
            totes += self.totes[into]
            units += self.units[into]
        return totes <= self.tote_capacity and units <= self.unit_capacity

    def _rests(self, slot: int) -> tuple[list[int], list[float]]:
        """Per member of the slot: the picks of the others, and their tour length (kept until the slot changes)."""
        rests = self.rests[slot]
        if rests is None:
            masks = without_each(self.members[slot], self.pricer.masks)
            rests = self.rests[slot] = (masks, [self.pricer.length(m) for m in masks])
        return rests

    def best_move(self, a: int, b: int) -> tuple[float, int | None, int | None]:
        """The move or swap between slots a and b that shortens their tours most: (change, order a->b, order b->a)."""
        length = self.pricer.length
        masks = self.pricer.masks
        totes, units = self.totes, self.units
        base = self.length[a] + self.length[b]
        members_a, members_b = self.members[a], self.members[b]
        rest_a, without_a = self._rests(a)
        rest_b, without_b = self._rests(b)
        # Room left on each cart, in totes and units.
        totes_a = self.tote_capacity - self.used_totes[a]
        totes_b = self.tote_capacity - self.used_totes[b]
        units_a = self.unit_capacity - self.used_units[a]
        units_b = self.unit_capacity - self.used_units[b]
        best, best_order, best_other = -_EPS, None, None
        # Adding orders never shortens an optimal tour: each move's change has a lower bound from lengths
        # already known (the tours without the order that leaves), which skips most hopeless moves unpriced.
        length_a, length_b = self.length[a], self.length[b]
        picks_b = self.picks[b]
        for order, without in zip(members_a, without_a):
            if totes[order] <= totes_b and units[order] <= units_b and without - length_a < best:
                change = without + length(picks_b | masks[order]) - base
                if change < best:
                    best, best_order, best_other = change, order, None
        picks_a = self.picks[a]
        for other, without in zip(members_b, without_b):
            if totes[other] <= totes_a and units[other] <= units_a and without - length_b < best:
                change = length(picks_a | masks[other]) + without - base
                if change < best:
                    best, best_order, best_other = change, None, other
        alone = self.pricer.alone
        for order, rest, without_order in zip(members_a, rest_a, without_a):
            mask, order_totes, order_units, order_alone = masks[order], totes[order], units[order], alone[order]
            for other, rest_other, without_other in zip(members_b, rest_b, without_b):
                totes_change, units_change = totes[other] - order_totes, units[other] - order_units
                if not (-totes_b <= totes_change <= totes_a and -units_b <= units_change <= units_a):
                    continue  # the swap doesn't fit both carts
                into_a = without_order if without_order > alone[other] else alone[other]
                into_b = without_other if without_other > order_alone else order_alone
                if into_a + into_b - base >= best:
                    continue
                first = length(rest | masks[other])
                if first + into_b - base >= best:
                    continue
                change = first + length(rest_other | mask) - base
                if change < best:
                    best, best_order, best_other = change, order, other
        return best, best_order, best_other

    def local_search(self, dirty: set[int], budget: int) -> None:
        pricer = self.pricer
        members, orders, no_move, best_move = self.members, self.orders, self.no_move, self.best_move
        slots = range(len(members))
        while dirty and pricer.work < budget:
            a = min(dirty)
            dirty.discard(a)
            for b in slots:
                if not members[a]:
                    break
                if b == a or not members[b]:
                    continue
                mine, theirs = orders[a], orders[b]
                key = (mine, theirs) if mine < theirs else (theirs, mine)
                if key in no_move:
                    continue
                _, order, other = best_move(a, b)
                if order is None and other is None:
                    no_move.add(key)
                    continue
                self.move(a, b, order, other)
                dirty.add(a)
                dirty.add(b)

    def kick(self, rng: random.Random, moves: int) -> set[int]:
        live = [slot for slot, members in enumerate(self.members) if members]
        touched: set[int] = set()
        if len(live) < 2:
            return touched
        for _ in range(moves):
            a, b = rng.sample(live, 2)
            options = [
                (order, other)
                for order in self.members[a]
                for other in (*self.members[b], None)
                if self.fits(a, order, other) and self.fits(b, other, order)
            ]
            if options:
                order, other = options[rng.randrange(len(options))]
                self.move(a, b, order, other)
                touched.update((a, b))
        return touched

    def revert(self) -> None:
        """Undo every change since ``undo`` was last set to an empty dict."""
        assert self.undo is not None
        for slot, members in self.undo.items():
            self.members[slot] = members
            self._refresh(slot)
        self.undo = {}

    def empty_cart(self, slot: int, max_chain: int = 12) -> set[int] | None:
        """Spread a slot's orders over the other carts, each where it adds least walking.

        An order that fits no cart takes the place of a smaller order (fewer
        units, then fewer totes), which then looks for a cart in turn.  Returns
        the slots changed, or None if an order found no place (the caller
        undoes the round)."""
        length = self.pricer.length
        masks = self.pricer.masks
        homeless = sorted(self.members[slot], key=lambda i: (-self.units[i], -self.totes[i], i))
        self.set_members(slot, [])
        touched = {slot}
        for order in homeless:
            chain = 0
            while order is not None:
                chain += 1
                if chain > max_chain:
                    return None
                best, best_slot, best_out = float("inf"), -1, None
                for b, members in enumerate(self.members):
                    if not members:
                        continue
                    room_totes = self.tote_capacity - self.used_totes[b]
                    room_units = self.unit_capacity - self.used_units[b]
                    if self.totes[order] <= room_totes and self.units[order] <= room_units:
                        added = length(self.picks[b] | masks[order]) - self.length[b]
                        if added < best:
                            best, best_slot, best_out = added, b, None
                        continue
                    rests, withouts = self._rests(b)
                    for other, rest, without in zip(members, rests, withouts):
                        # Bump only a strictly smaller order, so the chain ends.
                        if (self.units[other], self.totes[other]) >= (self.units[order], self.totes[order]):
                            continue
                        if (
                            self.totes[order] - self.totes[other] <= room_totes
                            and self.units[order] - self.units[other] <= room_units
                            and without - self.length[b] < best
                        ):
                            added = length(rest | masks[order]) - self.length[b]
                            if added < best:
                                best, best_slot, best_out = added, b, other
                if best_slot < 0:
                    return None
                members = [i for i in self.members[best_slot] if i != best_out] + [order]
                self.set_members(best_slot, members)
                touched.add(best_slot)
                order = best_out
        return touched

    def batches(self) -> list[list[int]]:
        return [list(members) for members in self.members if members]


def improve_batches_by_route(
    layout: Layout,
    points: Sequence[Sequence[PickPoint]],
    batches: Sequence[Sequence[int]],
    totes: Sequence[int],
    tote_capacity: int,
    *,
    units: Sequence[int] | None = None,
    unit_capacity: int | None = None,
    evaluations: int,
    seed: int,
    kick_moves: int = 2,
    empty_every: int = 5,
) -> list[list[int]]:
    """Batches (lists of indices into ``points``) whose optimal tours are together no longer than the input's.

    ``points[i]`` are order i's pick spots, ``totes[i]`` and ``units[i]`` its
    load; every batch stays within ``tote_capacity`` and ``unit_capacity``.
    Single-block layouts only.
    """
    if units is None or unit_capacity is None:
        units, unit_capacity = [0] * len(points), 0
    pricer = _Pricer(layout, points)
    plan = _Plan(pricer, batches, totes, units, tote_capacity, unit_capacity)
    start = plan.total()
    plan.local_search(set(range(len(plan.members))), evaluations)
    best_total, best = plan.total(), plan.batches()
    rng = random.Random(seed)
    while pricer.work < evaluations:
        pricer.rounds += 1  # a round that prices nothing new still spends budget: the loop always ends
        plan.undo = {}
        touched = None
        if pricer.rounds % empty_every == 0:
            live = [slot for slot, members in enumerate(plan.members) if members]
            if len(live) > 1:
                touched = plan.empty_cart(live[rng.randrange(len(live))])
                if touched is None:
                    plan.revert()
        if touched is None:
            touched = plan.kick(rng, kick_moves)
        plan.local_search(touched, evaluations)
        total = plan.total()
        if total < best_total - _EPS:
            best_total, best = total, plan.batches()
        else:
            plan.revert()
        plan.undo = None
    if best_total < start - _EPS:
        return best
    return [list(b) for b in batches]
