"""The planning half of ``wes bench waves`` without a database: ours vs FCFS + S-shape vs OR-Tools.

``python -m backend.bench.pure_waves --orders 10000`` prints the figures;
``--dump tours.json`` also writes everything needed to check them
independently (see :func:`dump_tours`).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Sequence

from backend.bench.ortools_ref import ortools_tour_length
from backend.bench.workload import Workload, generate_workload
from backend.routing.layout import Layout
from backend.waves.batching import BatchPlan, CartSpec, PickOrder, PlanSettings, plan_fcfs, plan_tours


def sample_tour_indices(tour_count: int, sample: int) -> list[int]:
    """``sample`` tour indices spread evenly over the plan (all of them if there are fewer)."""
    if tour_count <= sample:
        return list(range(tour_count))
    if sample <= 1:
        return [0]
    return sorted({round(k * (tour_count - 1) / (sample - 1)) for k in range(sample)})


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def run_pure_waves(
    workload: Workload,
    *,
    settings: PlanSettings = PlanSettings(),
    sample: int = 60,
    ortools_seconds: float = 0.5,
    dump_path: str | Path | None = None,
) -> dict[str, Any]:
    """Plan ``workload`` ours and FCFS + S-shape, re-route a sample of our tours with OR-Tools, return the figures."""
    orders = workload.pick_orders()
    started = time.perf_counter()
    ours = plan_tours(workload.layout, orders, workload.cart, settings)
    plan_seconds = time.perf_counter() - started
    baseline = plan_fcfs(workload.layout, orders, workload.cart, settings)
    gaps = []
    sampled = sample_tour_indices(len(ours.tours), sample) if sample > 0 else []
    for index in sampled:
        tour = ours.tours[index]
        reference = ortools_tour_length(workload.layout, [stop.point for stop in tour.stops], ortools_seconds)
        if reference > 0:
            gaps.append(100.0 * (tour.distance_m - reference) / reference)
    ours_m, baseline_m = ours.distance_m, baseline.distance_m
    figures: dict[str, Any] = {
        "orders": len(orders),
        "lines": sum(len(o.lines) for o in orders),
        "layout": "single-block" if workload.layout.is_single_block else "multi-block",
        "aisles": len(workload.layout.aisle_x),
        "locations": len(workload.locations),
        "cart_totes": workload.cart.totes,
        "ours_m": round(ours_m, 1),
        "baseline_m": round(baseline_m, 1),
        "reduction_pct": round(100.0 * (1.0 - ours_m / baseline_m), 2) if baseline_m else 0.0,
        "ortools_gap_pct_mean": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "ortools_gap_pct_p95": round(percentile(gaps, 0.95), 3) if gaps else None,
        "tours": len(ours.tours),
        "baseline_tours": len(baseline.tours),
        "tours_sampled": len(gaps),
        "unplanned_orders": len(ours.unplanned),
        "plan_seconds": round(plan_seconds, 3),
    }
    if dump_path is not None:
        dump_tours(dump_path, workload.layout, workload.cart, orders, ours, baseline)
    return figures


def dump_tours(
    path: str | Path,
    layout: Layout,
    cart: CartSpec,
    orders: Sequence[PickOrder],
    plan: BatchPlan,
    baseline: BatchPlan | None = None,
) -> None:
    """Write the layout, the cart, every order's pick spots and every tour's walk as JSON (x, y in metres).

    Distances on the aisle graph: same aisle |dy|; otherwise |dx| plus the
    shortest detour via a cross aisle, min over c in ``cross_aisles_y`` of
    |y1 - c| + |y2 - c|.  A tour walks depot -> stops in order -> depot.
    """

    def tour_json(plan_: BatchPlan) -> list[dict[str, Any]]:
        return [
            {
                "number": tour.number,
                "release_key": list(tour.release_key),
                "orders": list(tour.order_ids),
                "stops": [list(layout.xy(stop.point)) for stop in tour.stops],
                "distance_m": round(tour.distance_m, 3),
                "routing": tour.routing,
            }
            for tour in plan_.tours
        ]

    document: dict[str, Any] = {
        "layout": {
            "aisle_x": list(layout.aisle_x),
            "aisle_length": layout.aisle_length,
            "cross_aisles_y": list(layout.cross_aisles_y),
            "depot": list(layout.depot),
        },
        "cart": {"totes": cart.totes, "tote_volume_l": cart.tote_volume_l, "tote_weight_kg": cart.tote_weight_kg},
        "orders": {
            str(order.order_id): {
                "cut_off": order.cut_off,
                "priority": order.priority,
                "picks": [list(layout.xy(line.point)) for line in order.lines],
            }
            for order in orders
        },
        "tours": tour_json(plan),
        "unplanned": [{"order": u.order_id, "reason": u.reason} for u in plan.unplanned],
    }
    if baseline is not None:
        document["baseline_tours"] = tour_json(baseline)
    Path(path).write_text(json.dumps(document, separators=(",", ":")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.bench.pure_waves", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--multi-block", action="store_true", help="add a middle cross aisle")
    parser.add_argument("--slotting", choices=("random", "velocity"), default="random")
    parser.add_argument("--totes", type=int, default=CartSpec().totes)
    parser.add_argument("--sample", type=int, default=60, help="tours re-routed by OR-Tools (0 to skip)")
    parser.add_argument("--ortools-seconds", type=float, default=0.5, help="OR-Tools time limit per tour")
    parser.add_argument("--dump", metavar="PATH", help="write tours and layout as JSON")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    workload = generate_workload(
        args.orders,
        args.seed,
        multi_block=args.multi_block,
        slotting=args.slotting,
        cart=CartSpec(totes=args.totes),
    )
    figures = run_pure_waves(workload, sample=args.sample, ortools_seconds=args.ortools_seconds, dump_path=args.dump)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
