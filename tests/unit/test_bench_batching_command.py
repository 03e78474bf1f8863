"""`wes bench batching` prints every figure it promises, computed, as JSON."""

from __future__ import annotations

import json

from backend.cli import main

ROW_KEYS = {
    "seed", "orders", "articles", "batches", "savings_batches", "fcfs_s_shape_m", "savings_s_shape_m",
    "savings_optimal_m", "savings_ortools_m", "ours_m", "ours_vs_fcfs_pct", "ours_vs_savings_s_shape_pct",
    "ours_vs_savings_optimal_pct", "ours_vs_savings_ortools_pct", "plan_s",
}


def test_bench_batching_prints_json_with_every_baseline(capsys):  # noqa: ANN001
    assert main(["bench", "batching", "--orders", "20", "--seed", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # one line of JSON
    assert result["orders"] == 20 and result["seeds"] == [1]
    assert set(result) >= {"instances", "rows", "mean", "ours_never_longer_than_savings_optimal", "max_plan_s"}
    (row,) = result["rows"]
    assert set(row) == ROW_KEYS
    assert set(result["mean"]) == ROW_KEYS - {"seed", "orders"}
    assert row["orders"] == 20 and 100 <= row["articles"] <= 500
    # OR-Tools routes the same batches, on the same distances: it never beats the optimal tours.
    assert row["savings_ortools_m"] >= row["savings_optimal_m"] - 0.1
    assert row["fcfs_s_shape_m"] > row["ours_m"] > 0
    expected = 100.0 * (row["ours_m"] - row["savings_optimal_m"]) / row["savings_optimal_m"]
    assert abs(row["ours_vs_savings_optimal_pct"] - expected) < 0.01
    assert result["ours_never_longer_than_savings_optimal"] == (row["ours_m"] <= row["savings_optimal_m"])
    expected = 100.0 * (row["ours_m"] - row["savings_ortools_m"]) / row["savings_ortools_m"]
    assert abs(row["ours_vs_savings_ortools_pct"] - expected) < 0.01
    assert result["ours_never_longer_than_savings_ortools"] == (row["ours_m"] <= row["savings_ortools_m"])


def test_bench_batching_table_has_a_row_per_seed_and_a_mean(capsys):  # noqa: ANN001
    assert main(["bench", "batching", "--orders", "12", "--seeds", "2", "--no-ortools"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("|")[0].strip() == "seed"
    assert [line.split("|")[0].strip() for line in lines[2:5]] == ["1", "2", "mean"]
