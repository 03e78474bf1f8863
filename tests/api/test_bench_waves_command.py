"""`wes bench waves` runs end to end on a small workload and reports every figure it promises."""

from __future__ import annotations

import json

from backend.bench.waves_bench import run


def test_bench_waves_reports_its_figures_and_dumps_checkable_tours(tmp_path):  # noqa: ANN001
    dump = tmp_path / "tours.json"
    figures = run(80, f"sqlite:///{tmp_path / 'bench.db'}", "multi", 3, str(dump), ortools_seconds=0.2)
    assert figures["orders"] == 80 and figures["database"] == "sqlite"
    assert set(figures["seconds"]) == {"import", "allocate", "plan", "release", "total"}
    travel = figures["travel"]
    assert 0 < travel["tours_sampled"] <= travel["tours"]
    # The wave's stored plan and a fresh plan of the same orders agree: the figures are reproducible.
    assert travel["ours_m"] == travel["replanned_m"]
    assert travel["ours_m"] > 0 and travel["baseline_m"] > 0
    expected = (travel["baseline_m"] - travel["ours_m"]) / travel["baseline_m"] * 100
    assert abs(travel["reduction_pct"] - expected) < 0.05
    dumped = json.loads(dump.read_text())
    planned_orders = sorted(o for tour in dumped["tours"] for o in tour["orders"])
    assert len(planned_orders) == len(set(planned_orders)) == len(dumped["orders"])
