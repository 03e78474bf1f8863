"""A deterministic benchmark site and order book for ``wes bench waves``.

Everything comes from one ``random.Random(seed)``: the same arguments give the
same site and orders on every machine and Python version.

The site: ``aisles`` parallel aisles (3 m apart), ``bays_per_side`` bays of
1 m on each side of every aisle and ``levels`` levels per bay.  One pick-face
location per bay and level, coded ``A{aisle:02}-{bay:03}-{level}``; bays are
numbered along the aisle, odd on the left and even on the right, so bays
2k-1 and 2k face each other.  Picking
from either side and any level of a bay happens at the same spot of the
aisle, so all of them share one :class:`~backend.routing.layout.PickPoint`.
With a middle cross aisle (``multi_block=True``) the bays are split evenly
into a front and a back block.

Products: one SKU per location.  Popularity is Zipf-like (weight ~ 1/rank);
``slotting="random"`` spreads SKUs over the locations at random,
``slotting="velocity"`` puts the fast movers in the bays closest to the
depot (a common ABC slotting).

Orders: 1-6 lines (mostly 1-3), distinct SKUs drawn by popularity, 1-3 units
a line (a few 4-6), a carrier with its cut-off time and a priority
(0 normal, 1 high, 2 urgent).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate

from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import CartSpec, PickLine, PickOrder

AISLE_PITCH_M = 3.0
BAY_WIDTH_M = 1.0
CROSS_AISLE_M = 2.0  # clearance in front of the first and behind the last bay, and middle cross-aisle width

# Carrier, collection time (hours after midnight, UTC), share of orders.
CARRIERS: tuple[tuple[str, float, float], ...] = (
    ("DHL", 14.0, 0.30),
    ("UPS", 15.5, 0.25),
    ("PostNL", 17.0, 0.30),
    ("DPD", 18.0, 0.15),
)
LINES_PER_ORDER_WEIGHTS = (0.28, 0.20, 0.16, 0.13, 0.12, 0.11)  # 1..6 lines: mean ~2.9
PRIORITY_WEIGHTS = (0.88, 0.09, 0.03)  # normal, high, urgent
BUSINESS_DAY = datetime(2025, 1, 6, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class SiteLocation:
    code: str
    aisle: int  # 0-based index into layout.aisle_x
    bay: int  # 1-based from the front
    level: int  # 1-based from the floor
    side: str  # "L" or "R"
    x: float
    y: float

    @property
    def point(self) -> PickPoint:
        return PickPoint(self.aisle, self.y)


@dataclass(frozen=True, slots=True)
class BenchProduct:
    sku: str
    location_code: str  # its pick face
    unit_volume_l: float
    unit_weight_kg: float
    popularity_rank: int  # 1 = fastest mover


@dataclass(frozen=True, slots=True)
class BenchOrderLine:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class BenchOrder:
    reference: str
    carrier: str
    cut_off: datetime  # aware, UTC
    priority: int
    lines: tuple[BenchOrderLine, ...]


@dataclass(frozen=True, slots=True)
class Workload:
    seed: int
    layout: Layout
    locations: tuple[SiteLocation, ...]
    products: tuple[BenchProduct, ...]
    orders: tuple[BenchOrder, ...]
    cart: CartSpec

    def pick_orders(self) -> list[PickOrder]:
        """The orders as the batcher sees them, each line picked from its SKU's pick face."""
        location_by_code = {loc.code: loc for loc in self.locations}
        product_by_sku = {p.sku: p for p in self.products}
        pick_orders = []
        for order in self.orders:
            lines = []
            for line in order.lines:
                product = product_by_sku[line.sku]
                location = location_by_code[product.location_code]
                lines.append(
                    PickLine(
                        line_id=line.line_id,
                        point=location.point,
                        quantity=line.quantity,
                        unit_volume_l=product.unit_volume_l,
                        unit_weight_kg=product.unit_weight_kg,
                        location_code=location.code,
                    )
                )
            pick_orders.append(
                PickOrder(
                    order_id=order.reference,
                    cut_off=order.cut_off.timestamp(),
                    priority=order.priority,
                    lines=tuple(lines),
                )
            )
        return pick_orders


def generate_workload(
    orders: int = 10_000,
    seed: int = 7,
    *,
    aisles: int = 24,
    bays_per_side: int = 30,
    levels: int = 3,
    multi_block: bool = False,
    slotting: str = "random",
    cart: CartSpec | None = None,
) -> Workload:
    """Build the benchmark site and order book (``aisles * bays_per_side * 2 * levels`` locations)."""
    if slotting not in ("random", "velocity"):
        raise ValueError("slotting must be 'random' or 'velocity'")
    if multi_block and bays_per_side % 2:
        raise ValueError("a middle cross aisle needs an even number of bays per side")
    rng = random.Random(seed)
    layout, locations = _site(aisles, bays_per_side, levels, multi_block)
    products = _products(rng, locations, layout, slotting)
    order_book = _orders(rng, products, orders)
    return Workload(seed, layout, tuple(locations), tuple(products), tuple(order_book), cart or CartSpec())


def _site(aisles: int, bays_per_side: int, levels: int, multi_block: bool) -> tuple[Layout, list[SiteLocation]]:
    aisle_x = tuple(AISLE_PITCH_M * (a + 0.5) for a in range(aisles))
    bays_per_block = bays_per_side // 2 if multi_block else bays_per_side
    blocks = 2 if multi_block else 1
    length = CROSS_AISLE_M * (blocks + 1) + BAY_WIDTH_M * bays_per_side
    middle = (CROSS_AISLE_M + bays_per_block * BAY_WIDTH_M + CROSS_AISLE_M / 2,) if multi_block else ()

    def bay_y(bay: int) -> float:
        block = (bay - 1) // bays_per_block
        return CROSS_AISLE_M * (block + 1) + BAY_WIDTH_M * (bay - 0.5)

    depot_x = aisle_x[aisles // 2]  # in front of the middle aisle
    layout = Layout(aisle_x, length, (depot_x, 0.0), middle)
    # Bays are numbered along the aisle, odd on the left and even on the right: bays 2k-1 and 2k face each other.
    locations = [
        SiteLocation(
            code=f"A{a + 1:02d}-{bay:03d}-{level}",
            aisle=a,
            bay=bay,
            level=level,
            side="L" if bay % 2 else "R",
            x=aisle_x[a],
            y=bay_y((bay + 1) // 2),
        )
        for a in range(aisles)
        for bay in range(1, 2 * bays_per_side + 1)
        for level in range(1, levels + 1)
    ]
    return layout, locations


def _products(rng: random.Random, locations: list[SiteLocation], layout: Layout, slotting: str) -> list[BenchProduct]:
    slots = list(locations)
    if slotting == "random":
        rng.shuffle(slots)
    else:
        # Fast movers where the round trip from the depot is shortest; the level breaks ties (waist height first).
        slots.sort(key=lambda loc: (abs(loc.x - layout.depot[0]) + loc.y, abs(loc.level - 2), loc.code))
    products = []
    for rank, location in enumerate(slots, start=1):
        volume = round(min(12.0, math.exp(rng.gauss(-0.5, 0.9))), 3)  # litres, median ~0.6
        density = rng.uniform(0.15, 0.9)  # kg per litre
        products.append(
            BenchProduct(
                sku=f"SKU{rank:05d}",
                location_code=location.code,
                unit_volume_l=volume,
                unit_weight_kg=round(max(0.02, volume * density), 3),
                popularity_rank=rank,
            )
        )
    return products


def _orders(rng: random.Random, products: list[BenchProduct], count: int) -> list[BenchOrder]:
    cumulative = list(accumulate(1.0 / p.popularity_rank for p in products))
    total = cumulative[-1]
    line_counts = list(accumulate(LINES_PER_ORDER_WEIGHTS))
    carriers = list(accumulate(c[2] for c in CARRIERS))
    priorities = list(accumulate(PRIORITY_WEIGHTS))
    orders = []
    for number in range(1, count + 1):
        lines_wanted = bisect_left(line_counts, rng.random() * line_counts[-1]) + 1
        chosen: list[int] = []
        while len(chosen) < lines_wanted:
            index = min(bisect_left(cumulative, rng.random() * total), len(products) - 1)
            if index not in chosen:
                chosen.append(index)
        reference = f"SO{number:06d}"
        lines = tuple(
            BenchOrderLine(
                line_id=f"{reference}-{k + 1}",
                sku=products[index].sku,
                quantity=rng.choices((1, 2, 3, 4, 6), weights=(70, 18, 7, 3, 2))[0],
            )
            for k, index in enumerate(chosen)
        )
        carrier, hour, _ = CARRIERS[bisect_left(carriers, rng.random() * carriers[-1])]
        priority = bisect_left(priorities, rng.random() * priorities[-1])
        cut_off = BUSINESS_DAY.replace(hour=int(hour), minute=int(round((hour % 1) * 60)))
        orders.append(BenchOrder(reference, carrier, cut_off, priority, lines))
    return orders
