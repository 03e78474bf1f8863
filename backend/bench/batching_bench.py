"""`wes bench batching`: our planner on the order-batching benchmark of the literature.

The instances follow Henn & Wäscher (and Henn et al., Žulj et al. after them):

* one block of 10 parallel aisles, aisle centres 5 m apart, a front and a
  back cross aisle; the depot is on the front cross aisle in front of the
  leftmost aisle;
* 45 storage slots on each side of every aisle (900 slots), 1 m per slot.
  As in the literature the picker walks 1 m from a cross aisle to the first
  slot and 1 m from the last slot to the other cross aisle, so an aisle is
  47 m between the centre lines of the cross aisles and slot ``k`` (1..45) is
  picked at ``y = k + 0.5`` m, in the middle of its metre.  The two slots
  facing each other across an aisle are one stop;
* each order has a uniformly random number of articles, 5 to 25, one unit
  each, on distinct uniformly random slots; 100 orders by default;
* a cart holds 45 articles.  In our terms: :class:`CartSpec` with
  ``max_units=45`` and 9 totes (an order of 5 to 25 units fits one tote, and
  no cart of 45 articles carries more than 9 orders), so only the articles
  bind, as in the literature.

Every distance is walked on the same aisle graph (:meth:`Layout.distance`):

``fcfs_s_shape_m``
    first come first served batching + S-shape (:func:`plan_fcfs`);
``savings_s_shape_m``
    Clarke & Wright savings batching, variant (ii) of de Koster et al.: the
    saving of two batches is ``d(a) + d(b) - d(a ∪ b)``, tour lengths by
    S-shape; the feasible pair with the largest non-negative saving is merged
    and the savings of the merged batch are recomputed, until no pair fits on
    a cart or saves anything; routed by S-shape;
``savings_optimal_m``
    the same savings batching with optimal tour lengths (Ratliff-Rosenthal,
    exact on this layout) in the savings and in the routing;
``savings_ortools_m``
    the batches of ``savings_optimal_m`` routed by OR-Tools (guided local
    search, ``--ortools-seconds`` per tour) on the shortest-path matrix: a
    check on the optimal router, which OR-Tools may match but never beat;
``ours_m``
    :func:`plan_tours`, the planner the API uses, on the same orders as
    :class:`PickOrder` s, default :class:`PlanSettings`; ``plan_s`` is its
    wall-clock time.

JSON (``--json``): ``rows``, one per seed, with ``seed``, ``orders``,
``articles``, ``batches`` (ours), ``savings_batches`` (savings + optimal),
the five distances above in metres, ``ours_vs_fcfs_pct``,
``ours_vs_savings_s_shape_pct`` and ``ours_vs_savings_optimal_pct`` (ours
minus the baseline, in % of the baseline: negative is shorter) and
``plan_s``; ``mean``, the same averaged over the seeds;
``ours_never_longer_than_savings_optimal``; ``max_plan_s``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from backend.routing.baselines import route_s_shape
from backend.routing.exact import TourLengths, route_ratliff_rosenthal
from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import CartSpec, PickLine, PickOrder, PlanSettings, plan_fcfs, plan_tours

AISLES = 10
SLOTS_PER_SIDE = 45
SLOT_M = 1.0
AISLE_PITCH_M = 5.0
END_M = 1.0  # from a cross aisle to the nearest slot
CART_ARTICLES = 45
ARTICLES_PER_ORDER = (5, 25)
CART = CartSpec(totes=9, tote_volume_l=35.0, tote_weight_kg=15.0, max_units=CART_ARTICLES)
UNIT_VOLUME_L = 1.0  # 25 units: 25 l and 12.5 kg, one tote
UNIT_WEIGHT_KG = 0.5


def henn_waescher_layout() -> Layout:
    """10 aisles 5 m apart, 47 m long (1 m + 45 slots + 1 m), depot in front of the leftmost aisle."""
    return Layout(
        aisle_x=tuple(AISLE_PITCH_M * a for a in range(AISLES)),
        aisle_length=2 * END_M + SLOTS_PER_SIDE * SLOT_M,
        depot=(0.0, 0.0),
    )


@dataclass(frozen=True, slots=True)
class Slot:
    aisle: int  # 0-based, left to right
    side: int  # 0 left, 1 right
    number: int  # 1..45 from the front cross aisle

    @property
    def point(self) -> PickPoint:
        return PickPoint(self.aisle, END_M + (self.number - 0.5) * SLOT_M)

    @property
    def code(self) -> str:
        return f"A{self.aisle + 1:02d}-{'LR'[self.side]}-{self.number:02d}"


@dataclass(frozen=True, slots=True)
class Instance:
    seed: int
    layout: Layout
    orders: tuple[tuple[Slot, ...], ...]  # one unit per slot
    cart: CartSpec = CART

    @property
    def articles(self) -> int:
        return sum(len(slots) for slots in self.orders)

    def order_points(self) -> list[list[PickPoint]]:
        return [sorted({slot.point for slot in slots}) for slots in self.orders]

    def pick_orders(self) -> list[PickOrder]:
        """The orders as the planner sees them: one line per article, all due together, equal priority."""
        return [
            PickOrder(
                f"O{i + 1:03d}",
                0.0,
                0,
                tuple(
                    PickLine(f"O{i + 1:03d}-{k + 1:02d}", slot.point, 1, UNIT_VOLUME_L, UNIT_WEIGHT_KG, slot.code)
                    for k, slot in enumerate(slots)
                ),
            )
            for i, slots in enumerate(self.orders)
        ]


def generate_instance(orders: int = 100, seed: int = 1) -> Instance:
    """``orders`` orders of 5-25 articles on distinct uniformly random slots; the same seed, the same orders."""
    rng = random.Random(seed)
    slots = [
        Slot(aisle, side, number)
        for aisle in range(AISLES)
        for side in (0, 1)
        for number in range(1, SLOTS_PER_SIDE + 1)
    ]
    book = []
    for _ in range(orders):
        count = rng.randint(*ARTICLES_PER_ORDER)
        book.append(tuple(sorted(rng.sample(slots, count), key=lambda s: (s.aisle, s.number, s.side))))
    return Instance(seed, henn_waescher_layout(), tuple(book))


def savings_batches(
    points: Sequence[Sequence[PickPoint]],
    units: Sequence[int],
    capacity: int,
    length: Callable[[list[PickPoint]], float],
) -> list[list[int]]:
    """Clarke & Wright (ii) savings batching: lists of order indices, each within ``capacity`` units.

    Starts from one batch per order; merges the feasible pair with the largest
    saving ``length(a) + length(b) - length(a ∪ b)`` (ties: the pair created
    first) while that saving is not negative, recomputing the merged batch's
    savings with every other batch.
    """
    members: dict[int, list[int]] = {i: [i] for i in range(len(points))}
    spots: dict[int, set[PickPoint]] = {i: set(p) for i, p in enumerate(points)}
    load: dict[int, int] = {i: units[i] for i in range(len(points))}
    tour: dict[int, float] = {i: length(sorted(spots[i])) for i in members}
    heap: list[tuple[float, int, int]] = []

    def push(a: int, b: int) -> None:
        if load[a] + load[b] <= capacity:
            saving = tour[a] + tour[b] - length(sorted(spots[a] | spots[b]))
            if saving >= -1e-9:
                heapq.heappush(heap, (-saving, min(a, b), max(a, b)))

    ids = sorted(members)
    for k, a in enumerate(ids):
        for b in ids[k + 1 :]:
            push(a, b)
    next_id = len(points)
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in members or b not in members:
            continue  # one of them was merged already
        merged = next_id
        next_id += 1
        members[merged] = members.pop(a) + members.pop(b)
        spots[merged] = spots.pop(a) | spots.pop(b)
        load[merged] = load.pop(a) + load.pop(b)
        tour.pop(a), tour.pop(b)
        tour[merged] = length(sorted(spots[merged]))
        for other in sorted(members):
            if other != merged:
                push(other, merged)
    return [sorted(batch) for batch in members.values()]


def _points_of(batch: Sequence[int], points: Sequence[Sequence[PickPoint]]) -> list[PickPoint]:
    return sorted({p for i in batch for p in points[i]})


def run_seed(
    orders: int, seed: int, *, ortools: bool = True, ortools_seconds: float = 0.1,
    settings: PlanSettings = PlanSettings(),
) -> dict[str, Any]:
    """Every baseline and ours on one instance; distances in metres."""
    instance = generate_instance(orders, seed)
    layout, cart = instance.layout, instance.cart
    points = instance.order_points()
    units = [len(slots) for slots in instance.orders]
    pick_orders = instance.pick_orders()
    exact = TourLengths(layout)

    def s_shape(stops: list[PickPoint]) -> float:
        return route_s_shape(layout, stops).length_m

    def optimal(stops: list[PickPoint]) -> float:
        picks: dict[int, list[float]] = {}
        for p in stops:
            picks.setdefault(p.aisle, []).append(p.y)
        return exact.length(picks)

    fcfs = plan_fcfs(layout, pick_orders, cart, settings)
    by_s_shape = savings_batches(points, units, CART_ARTICLES, s_shape)
    by_optimal = savings_batches(points, units, CART_ARTICLES, optimal)
    savings_s_shape = sum(s_shape(_points_of(b, points)) for b in by_s_shape)
    savings_optimal = sum(route_ratliff_rosenthal(layout, _points_of(b, points)).length_m for b in by_optimal)
    savings_ortools = None
    if ortools:
        from backend.bench.ortools_ref import ortools_tour_length

        savings_ortools = sum(ortools_tour_length(layout, _points_of(b, points), ortools_seconds) for b in by_optimal)
    started = time.perf_counter()
    ours = plan_tours(layout, pick_orders, cart, settings)
    plan_seconds = time.perf_counter() - started
    if ours.unplanned:
        raise RuntimeError(f"seed {seed}: {len(ours.unplanned)} orders left unplanned")
    ours_m = ours.distance_m
    return {
        "seed": seed,
        "orders": orders,
        "articles": instance.articles,
        "batches": len(ours.tours),
        "savings_batches": len(by_optimal),
        "fcfs_s_shape_m": round(fcfs.distance_m, 1),
        "savings_s_shape_m": round(savings_s_shape, 1),
        "savings_optimal_m": round(savings_optimal, 1),
        "savings_ortools_m": round(savings_ortools, 1) if savings_ortools is not None else None,
        "ours_m": round(ours_m, 1),
        "ours_vs_fcfs_pct": round(100.0 * (ours_m - fcfs.distance_m) / fcfs.distance_m, 2),
        "ours_vs_savings_s_shape_pct": round(100.0 * (ours_m - savings_s_shape) / savings_s_shape, 2),
        "ours_vs_savings_optimal_pct": round(100.0 * (ours_m - savings_optimal) / savings_optimal, 2),
        "ours_vs_savings_ortools_pct": (round(100.0 * (ours_m - savings_ortools) / savings_ortools, 2)
                                        if savings_ortools is not None else None),
        "plan_s": round(plan_seconds, 3),
    }


_MEANS = (
    "articles", "batches", "savings_batches", "fcfs_s_shape_m", "savings_s_shape_m", "savings_optimal_m",
    "savings_ortools_m", "ours_m", "ours_vs_fcfs_pct", "ours_vs_savings_s_shape_pct", "ours_vs_savings_optimal_pct",
    "ours_vs_savings_ortools_pct", "plan_s",
)


def run(orders: int, seeds: Sequence[int], *, ortools: bool = True, ortools_seconds: float = 0.1) -> dict[str, Any]:
    rows = [run_seed(orders, seed, ortools=ortools, ortools_seconds=ortools_seconds) for seed in seeds]
    mean: dict[str, Any] = {}
    for key in _MEANS:
        values = [row[key] for row in rows if row[key] is not None]
        mean[key] = round(sum(values) / len(values), 3) if values else None
    return {
        "instances": "Henn & Wäscher: 10 aisles x 90 slots, 5-25 articles per order, cart of 45 articles",
        "orders": orders,
        "seeds": list(seeds),
        "rows": rows,
        "mean": mean,
        "ours_never_longer_than_savings_optimal": all(r["ours_m"] <= r["savings_optimal_m"] for r in rows),
        "ours_never_longer_than_savings_ortools": (all(r["ours_m"] <= r["savings_ortools_m"] for r in rows)
                                                   if ortools else None),
        "max_plan_s": max(r["plan_s"] for r in rows),
    }


def table(result: dict[str, Any]) -> str:
    columns = (
        ("seed", "seed", "{}"), ("orders", "orders", "{}"), ("articles", "articles", "{}"),
        ("batches", "batches", "{}"), ("savings_batches", "sav. b.", "{}"),
        ("fcfs_s_shape_m", "FCFS+S", "{:.1f}"), ("savings_s_shape_m", "sav.+S", "{:.1f}"),
        ("savings_optimal_m", "sav.+opt", "{:.1f}"), ("savings_ortools_m", "sav.+ORT", "{:.1f}"),
        ("ours_m", "ours", "{:.1f}"), ("ours_vs_fcfs_pct", "vs FCFS %", "{:+.2f}"),
        ("ours_vs_savings_s_shape_pct", "vs sav.+S %", "{:+.2f}"),
        ("ours_vs_savings_optimal_pct", "vs sav.+opt %", "{:+.2f}"),
        ("ours_vs_savings_ortools_pct", "vs sav.+ORT %", "{:+.2f}"), ("plan_s", "plan s", "{:.2f}"),
    )

    def cell(value: Any, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    header = [title for _, title, _ in columns]
    body = [[cell(row[key], fmt) for key, _, fmt in columns] for row in result["rows"]]
    mean = result["mean"]
    body.append(["mean", "", ""] + [cell(mean[key], fmt) for key, _, fmt in columns[3:]])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [" | ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.rjust(w) for c, w in zip(r, widths)) for r in body)
    lines.append(
        f"ours never longer than savings + optimal routing: {result['ours_never_longer_than_savings_optimal']}, "
        f"than savings + OR-Tools routing: {result['ours_never_longer_than_savings_ortools']}; "
        f"slowest plan {result['max_plan_s']:.2f} s"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--seed", type=int, help="one instance; default: seeds 1..--seeds")
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds without --seed (default 10)")
    parser.add_argument("--no-ortools", action="store_true", help="skip the OR-Tools routing of the savings batches")
    parser.add_argument("--ortools-seconds", type=float, default=0.1, help="OR-Tools time limit per tour")
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    if args.orders < 1 or args.seeds < 1:
        raise SystemExit("--orders and --seeds must be 1 or more")
    seeds = [args.seed] if args.seed is not None else list(range(1, args.seeds + 1))
    result = run(args.orders, seeds, ortools=not args.no_ortools, ortools_seconds=args.ortools_seconds)
    print(json.dumps(result) if args.json else table(result))
    return 0
