"""`wes bench waves`: the outbound pipeline on a generated site, through the service layer and a real database.

Generates a deterministic site (24 parallel aisles, 4,320 pick faces, Zipf-like
SKU popularity) and order set, loads it into a fresh database, then times
import → allocate → plan → release, each a real transaction. On the same
orders and cart it also plans FCFS batching + S-shape routing (the baseline),
and re-routes a sample of our tours with OR-Tools (a bench extra).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import select

from backend.allocation.service import allocate_orders
from backend.app import build_runtime
from backend.bench.pure_waves import dump_tours, percentile, sample_tour_indices
from backend.bench.workload import BUSINESS_DAY, Workload, generate_workload
from backend.config import Settings
from backend.inventory.ledger import StockIdentity, post_move
from backend.masterdata import upsert_locations, upsert_products
from backend.migrate import upgrade
from backend.models import Company, Location, Order, Product, Site, Wave
from backend.orders.service import import_orders
from backend.routing import route_tour
from backend.waves.batching import PlanSettings, plan_fcfs, plan_tours
from backend.waves.service import (
    PlannedPick,
    WaveCriteria,
    _reservations_of,
    build_pick_orders,
    create_wave,
    release_order_key,
    release_wave,
)

OR_TOOLS_SAMPLE = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file; for PostgreSQL a fresh database is "
                                               "created on that server and dropped afterwards")
    parser.add_argument("--layout", choices=("single", "multi"), default="single")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dump-tours", metavar="FILE")
    parser.add_argument("--ortools-seconds", type=float, default=0.5, help="OR-Tools time limit per sampled tour")


class _Database:
    """A fresh database for one run: a temporary SQLite file, or a new PostgreSQL database."""

    def __init__(self, url: str | None) -> None:
        self._tmp = None
        self._pg_admin = None
        if url is None or url.startswith("sqlite"):
            if url is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="wes-bench-")
                url = f"sqlite:///{Path(self._tmp.name) / 'bench.db'}"
            self.url = url
            self.kind = "sqlite"
            return
        import psycopg

        u = make_url(url)
        self.name = f"wes_bench_{uuid.uuid4().hex[:10]}"
        self._pg_admin = f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database or 'postgres'} " \
                         f"user={u.username or 'postgres'}" + (f" password={u.password}" if u.password else "")
        with psycopg.connect(self._pg_admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        self.url = u.set(database=self.name).render_as_string(hide_password=False)
        self.kind = "postgresql"

    def close(self) -> None:
        if self._pg_admin:
            import psycopg

            with psycopg.connect(self._pg_admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        if self._tmp:
            self._tmp.cleanup()


def _load_site(runtime, workload: Workload) -> int:  # noqa: ANN001
    """Company, site with its layout, pick faces, products and stock (not timed)."""
    layout = workload.layout
    with runtime.sessions() as session:
        company = Company(code="BENCH", name="Bench Co")
        session.add(company)
        session.flush()
        site = Site(company_id=company.id, code="BENCH1", name="Bench DC", layout={
            "aisle_x": list(layout.aisle_x), "aisle_length": layout.aisle_length, "depot": list(layout.depot),
            "middle_cross_aisles_y": list(layout.middle_cross_aisles_y)})
        session.add(site)
        session.flush()
        products = []
        for p in workload.products:
            side = 100.0
            products.append({"sku": p.sku, "description": f"Bench item {p.popularity_rank}",
                             "length_mm": p.unit_volume_l * 1e6 / (side * side), "width_mm": side, "height_mm": side,
                             "weight_g": p.unit_weight_kg * 1000.0})
        upsert_products(session, company.id, products, None)
        face_of = {p.location_code: p.sku for p in workload.products}
        upsert_locations(session, site, [
            {"code": loc.code, "kind": "pick_face", "aisle": f"{loc.aisle + 1:02d}", "bay": str(loc.bay),
             "level": str(loc.level), "x": loc.x, "y": loc.y, "fixed_sku": face_of.get(loc.code)}
            for loc in workload.locations
        ], None)
        demand: dict[str, int] = defaultdict(int)
        for order in workload.orders:
            for line in order.lines:
                demand[line.sku] += line.quantity
        product_ids = dict(session.exec(select(Product.sku, Product.id).where(Product.company_id == company.id)).all())
        location_ids = dict(session.exec(select(Location.code, Location.id).where(Location.site_id == site.id)).all())
        for p in workload.products:
            quantity = math.ceil(demand.get(p.sku, 0) * 1.1) + 5
            post_move(session, site_id=site.id, product_id=product_ids[p.sku], quantity=quantity, reason="initial",
                      destination=StockIdentity(product_ids[p.sku], location_ids[p.location_code]), reference="bench")
        session.commit()
        return site.id


def _order_rows(workload: Workload) -> list[dict]:
    # The workload's business day lies in the past; the same times tomorrow keep every cut-off ahead.
    tomorrow = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    shift = tomorrow - BUSINESS_DAY
    return [{
        "reference": o.reference, "carrier": o.carrier, "cut_off": o.cut_off + shift, "priority": 9 - o.priority,
        "lines": [{"line_no": n, "sku": line.sku, "quantity": line.quantity} for n, line in enumerate(o.lines, 1)],
    } for o in workload.orders]


def run(orders: int, database_url: str | None, layout: str, seed: int, dump: str | None,
        ortools_seconds: float = 0.5) -> dict:
    workload = generate_workload(orders, seed, multi_block=layout == "multi")
    db = _Database(database_url)
    try:
        runtime = build_runtime(Settings(database_url=db.url, environment="test"))
        upgrade(runtime.engine)
        site_id = _load_site(runtime, workload)
        rows = _order_rows(workload)
        seconds: dict[str, float] = {}
        today = datetime.now(timezone.utc).date()
        cart = workload.cart
        criteria = WaveCriteria(totes=cart.totes, tote_volume_l=cart.tote_volume_l, tote_weight_kg=cart.tote_weight_kg)

        start = time.perf_counter()
        with runtime.sessions() as session:
            site = session.get(Site, site_id)
            outcomes = import_orders(session, site, rows, partial=False, user_id=None)
            rejected = [o for o in outcomes if o.problems]
            if rejected:
                raise RuntimeError(f"{len(rejected)} bench orders were rejected: {rejected[0].problems}")
            session.commit()
        seconds["import"] = time.perf_counter() - start

        start = time.perf_counter()
        with runtime.sessions() as session:
            allocation = allocate_orders(session, site_id, None, today=today)
            session.commit()
        seconds["allocate"] = time.perf_counter() - start

        start = time.perf_counter()
        with runtime.sessions() as session:
            wave, _plan = create_wave(session, session.get(Site, site_id), criteria, today=today, user_id=None)
            session.commit()
            wave_id = wave.id
        seconds["plan"] = time.perf_counter() - start

        start = time.perf_counter()
        with runtime.sessions() as session:
            wave = session.get(Wave, wave_id)
            release_wave(session, session.get(Site, site_id), wave, today=today, user_id=None)
            session.commit()
        seconds["release"] = time.perf_counter() - start
        seconds["total"] = sum(seconds.values())

        travel = _travel(runtime, site_id, wave_id, criteria, cart, ortools_seconds, dump)
        lines = sum(len(o.lines) for o in workload.orders)
        runtime.engine.dispose()
        return {
            "orders": orders, "lines": lines, "database": db.kind,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "travel": travel,
            "allocated_units": allocation.allocated_units, "backordered_units": allocation.backordered_units,
        }
    finally:
        db.close()


def _travel(runtime, site_id: int, wave_id: int, criteria: WaveCriteria, cart, ortools_seconds: float,  # noqa: ANN001
            dump: str | None) -> dict:
    from backend.bench.ortools_ref import ortools_tour_length

    with runtime.sessions() as session:
        site = session.get(Site, site_id)
        wave = session.get(Wave, wave_id)
        orders = sorted(session.exec(select(Order).where(Order.wave_id == wave_id)).all(), key=release_order_key)
        picks = {f"r{res.id}": PlannedPick(f"r{res.id}", oid, res.order_line_id, res.pick_location_id, res.quantity)
                 for res, oid in _reservations_of(session, [o.id for o in orders], wave_id)}
        prepared = build_pick_orders(session, site, criteria, orders, picks)
        ours_m = wave.distance_m
    layout = prepared.geometry.layout
    ours = plan_tours(layout, prepared.pick_orders, cart, PlanSettings())
    baseline = plan_fcfs(layout, prepared.pick_orders, cart, PlanSettings())
    gaps = []
    for index in sample_tour_indices(len(ours.tours), OR_TOOLS_SAMPLE):
        tour = ours.tours[index]
        points = [stop.point for stop in tour.stops]
        reference = ortools_tour_length(layout, points, ortools_seconds)
        mine = route_tour(layout, points).length_m
        if reference > 0:
            gaps.append((mine - reference) / reference * 100.0)
    if dump:
        dump_tours(dump, layout, cart, prepared.pick_orders, ours, baseline)
    baseline_m = baseline.distance_m
    return {
        "ours_m": round(ours_m, 1),
        "baseline_m": round(baseline_m, 1),
        "reduction_pct": round((baseline_m - ours_m) / baseline_m * 100.0, 2) if baseline_m else 0.0,
        "ortools_gap_pct_mean": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "ortools_gap_pct_p95": round(percentile(gaps, 0.95), 3) if gaps else None,
        "tours": len(ours.tours),
        "tours_sampled": len(gaps),
        "replanned_m": round(ours.distance_m, 1),
    }


def main(args: argparse.Namespace) -> int:
    figures = run(args.orders, args.database_url, args.layout, args.seed, args.dump_tours, args.ortools_seconds)
    if args.json:
        print(json.dumps(figures))
        return 0
    s, t = figures["seconds"], figures["travel"]
    print(f"wes bench waves — {figures['orders']:,} orders, {figures['lines']:,} lines, {figures['database']}, "
          f"{args.layout} block")
    print(f"  import   {s['import']:7.3f} s")
    print(f"  allocate {s['allocate']:7.3f} s")
    print(f"  plan     {s['plan']:7.3f} s")
    print(f"  release  {s['release']:7.3f} s")
    print(f"  total    {s['total']:7.3f} s")
    print(f"  travel: ours {t['ours_m']:,.0f} m in {t['tours']} tours, FCFS + S-shape {t['baseline_m']:,.0f} m, "
          f"reduction {t['reduction_pct']:.2f} %")
    print(f"  OR-Tools gap on {t['tours_sampled']} tours: mean {t['ortools_gap_pct_mean']} %, "
          f"p95 {t['ortools_gap_pct_p95']} %")
    return 0
