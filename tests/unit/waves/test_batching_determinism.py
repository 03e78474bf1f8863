import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from backend.bench.workload import generate_workload
from backend.waves.batching import plan_tours

ROOT = Path(__file__).resolve().parents[3]

DIGEST_SCRIPT = """
import hashlib, json
from backend.bench.workload import generate_workload
from backend.waves.batching import plan_tours
w = generate_workload(400, seed=5, multi_block=True)
plan = plan_tours(w.layout, w.pick_orders(), w.cart)
text = json.dumps([[t.number, t.order_ids, [(s.point.aisle, s.point.y, [(p.line_id, p.tote, p.quantity) for p in s.picks]) for s in t.stops], round(t.distance_m, 6)] for t in plan.tours])
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_same_input_gives_the_same_plan():
    workload = generate_workload(700, seed=12)
    first = plan_tours(workload.layout, workload.pick_orders(), workload.cart)
    second = plan_tours(workload.layout, workload.pick_orders(), workload.cart)
    assert first == second


def test_plan_does_not_depend_on_string_hashing():
    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1


def test_workload_is_the_same_for_the_same_seed_and_differs_for_another():
    a, b, c = generate_workload(200, seed=1), generate_workload(200, seed=1), generate_workload(200, seed=2)
    assert a == b
    assert a.orders != c.orders
