"""`wes bench kpis`: GET /api/v1/kpis over a 24-hour, a 7-day and the whole window of a long, busy history.

A scratch database (a temporary SQLite file, or a database of its own created on the PostgreSQL server
named by --database-url and dropped afterwards) is migrated and filled with `--days` of history ending
now, `--picks` pick lines spread evenly over it — with everything the KPIs read and the rows a real floor
writes beside them:

- orders of 1-4 lines (2.5 on average), released in hourly waves; one pick task and one ``pick`` move per
  line (every 200th line short by one unit: a ``short_pick`` exception); ``pack``, ``load`` and ``ship``
  moves per line, the order shipped 2-3 hours after its last pick (those not shipped by now stay open);
  a shipping label per order (1 in 100 failed); an ``order.shipped`` audit row per order;
- a ``task.confirm_pick`` audit row and an applied ``device_command`` per pick; a refused scan every 500
  picks, a refused command every 300, a task conflict every 1,000;
- an LPN received and put away every 40 picks (``receipt`` and ``putaway`` moves), a count every 100
  picks (1 in 10 with a one-unit ``count_adjustment``);
- 60 pickers over 8 zones of 500 pick faces, 1,000 reserve locations.

It is written by set-based INSERT … SELECT over a numbers table (no Python loop per row), then
VACUUM ANALYZE (PostgreSQL: what autovacuum does to an insert-only table; it lets the KPI indexes answer
without reading the table). Then the app (create_app, through the TestClient, as a supervisor) is asked
for each window `--runs` times; the figures are the p50 and the max of those answers, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.bench.realtime import ScratchDatabase
from backend.config import Settings
from backend.db import make_engine
from backend.insights.kpis import refresh_rollups
from backend.migrate import upgrade

ZONES = 8
FACES_PER_ZONE = 500
RESERVES = 1000
PICKERS = 60
LINES_PER_BLOCK, ORDERS_PER_BLOCK = 10, 4  # orders of 1, 2, 3 and 4 lines in every block of 10 lines
PICKS_PER_RECEIPT, PICKS_PER_COUNT = 40, 100
SHORT_EVERY, REFUSED_SCAN_EVERY, REFUSED_COMMAND_EVERY, CONFLICT_EVERY = 200, 500, 300, 1000
TABLES = ("move", "task", "outbound_order", "order_line", "audit_entry", "device_command", "print_job",
          "receipt", "warehouse_exception")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: a fresh SQLite file; for PostgreSQL a fresh database is "
                                               "created on that server and dropped afterwards")
    parser.add_argument("--days", type=int, default=30, help="length of the history, ending now")
    parser.add_argument("--picks", type=int, default=1_000_000, help="pick lines in the history")
    parser.add_argument("--runs", type=int, default=5, help="requests per window")
    parser.add_argument("--json", action="store_true")


class _Sql:
    """The few pieces of the seed's SQL that differ between PostgreSQL and SQLite."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def at(self, seconds: str) -> str:
        """The history's start plus `seconds` (an integer SQL expression) as a timestamp column's value."""
        if self.postgres:
            return f"(CAST(:t0 AS TIMESTAMPTZ) + ({seconds}) * INTERVAL '1 second')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', :t0 + ({seconds}), 'unixepoch') || '.000000')"

    def before(self, column: str, seconds: int) -> str:
        """A timestamp column's value `seconds` earlier."""
        if self.postgres:
            return f"({column} - INTERVAL '{seconds} seconds')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '-{seconds} seconds') || '.000000')"

    def json(self, expression: str) -> str:
        """A JSON column's value from a text expression."""
        return f"CAST({expression} AS JSON)" if self.postgres else expression


def _text(value: str) -> str:
    """A SQL string literal (the seed's texts hold no quote)."""
    return f"'{value}'"


def _seed_statements(sql: _Sql, n: int) -> list[str]:
    """The seed, in order; `i` runs over bench_numbers. Line i belongs to order o (10 lines make 4 orders:
    of 1, 2, 3 and 4 lines); line i is picked at second t(i) of the history, evenly spread."""
    at, faces = sql.at, ZONES * FACES_PER_ZONE
    orders, receipts, counts = n // LINES_PER_BLOCK * ORDERS_PER_BLOCK, n // PICKS_PER_RECEIPT, n // PICKS_PER_COUNT
    dock, pack, ship_door = faces + RESERVES + 1, faces + RESERVES + 2, faces + RESERVES + 3
    # Line i: its place in its block, order, time, pick face (= product), zone, picker, quantity, what was found.
    place = "((i - 1) % 10)"
    first_of = "(CASE {k} WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 3 ELSE 6 END)"
    k = f"(CASE WHEN {place} < 1 THEN 0 WHEN {place} < 3 THEN 1 WHEN {place} < 6 THEN 2 ELSE 3 END)"
    order = f"(((i - 1) / 10) * 4 + {k} + 1)"
    line_no = f"({place} - {first_of.format(k=k)} + 1)"
    t = "(((i - 1) * :span) / :n)"
    face = f"(1 + ((i * 7919) % {faces}))"
    zone = f"(1 + ({face} - 1) / {FACES_PER_ZONE})"
    picker = f"(2 + ((i * 7) % {PICKERS}))"
    qty = "(1 + (i % 3))"
    found = f"({qty} - CASE WHEN i % {SHORT_EVERY} = 0 THEN 1 ELSE 0 END)"
    # Order i: its first and last line and their times; its wave (released on the hour before its first pick);
    # shipped 2-3 hours after its last pick, cut-off half an hour after that.
    first = f"(((i - 1) / 4) * 10 + {first_of.format(k='((i - 1) % 4)')} + 1)"
    last = f"({first} + (i - 1) % 4)"
    t_first, t_last = f"((({first} - 1) * :span) / :n)", f"((({last} - 1) * :span) / :n)"
    wave = f"({t_first} / 3600 + 1)"
    line_wave = f"((((i - {line_no}) * :span) / :n) / 3600 + 1)"  # (its order's: the wave of its first line)
    ship_s = f"({t_last} + 7200 + ((i * 37) % 60) * 60)"
    received = f"(((i - 1) * :span) / {receipts})"
    put_away = f"({received} + 600 + (i % 60) * 60)"
    counted = f"(((i - 1) * :span) / {counts} + 300)"
    count_face = f"(1 + (i * 31) % {faces})"
    empty = sql.json(_text("{}"))
    supervisor_roles, picker_roles = sql.json(_text('["supervisor"]')), sql.json(_text('["picker"]'))
    refusal = sql.json(_text('{"code": "wrong_location"}'))
    short = sql.json(_text('{"expected": ') + f" || {qty} || " + _text(', "found": ') + f" || {found} || "
                     + _text("}"))
    count_details = sql.json(_text('{"status": "posted", "variances": ') + " || CASE WHEN i % 10 = 0 THEN 1 ELSE 0 "
                             "END || " + _text("}"))
    move = ("INSERT INTO move (site_id, product_id, lot, quantity, from_location_id, to_location_id, "
            "from_container_id, to_container_id, reason, reference, user_id, created_at) ")
    audit = "INSERT INTO audit_entry (site_id, user_id, at, action, entity, entity_id) "
    command = ("INSERT INTO device_command (user_id, command_id, type, payload_hash, task_id, ok, result, "
               "created_at) ")
    exception = ("INSERT INTO warehouse_exception (site_id, kind, state, task_id, message, details, raised_by, "
                 "resolution_note, created_at) ")
    task = ("INSERT INTO task (id, site_id, kind, state, priority, product_id, quantity, lot, from_location_id, "
            "to_location_id, container_id, assigned_to, reference, details, wave_id, order_line_id, zone_id, version, "
            "created_at, updated_at, done_at) ")
    shipped = f"{ship_s} < :span"
    return [
        "INSERT INTO company (id, code, name, created_at) VALUES (1, 'BENCH', 'Bench Co', :now)",
        "INSERT INTO site (id, company_id, code, name, timezone, receipt_tolerance_pct, "
        "allow_blind_receipt_by_receivers, allow_typed_check_digits, count_tolerance_pct, count_tolerance_units, "
        "recount_variances, created_at) VALUES (1, 1, 'BENCH', 'Bench DC', 'UTC', 0, FALSE, FALSE, 2, 1, FALSE, :now)",
        f"INSERT INTO zone (id, site_id, code, name) SELECT i, 1, 'Z' || i, '' FROM bench_numbers WHERE i <= {ZONES}",
        "INSERT INTO product (id, company_id, sku, description, uom, lot_tracked, serial_tracked, expiry_tracked, "
        f"abc_class, updated_at) SELECT i, 1, 'P' || i, '', 'each', FALSE, FALSE, FALSE, 'B', :now FROM bench_numbers "
        f"WHERE i <= {faces}",
        "INSERT INTO location (id, site_id, zone_id, code, kind, check_digits, capacity, aisle, bay, level, x, y, "
        f"fixed_product_id, mixed_products, active) SELECT i, 1, 1 + (i - 1) / {FACES_PER_ZONE}, 'F' || i, "
        f"'pick_face', '00', 0, '', '', '', i % 50, i / 50, i, FALSE, TRUE FROM bench_numbers WHERE i <= {faces}",
        "INSERT INTO location (id, site_id, zone_id, code, kind, check_digits, capacity, aisle, bay, level, x, y, "
        f"mixed_products, active) SELECT {faces} + i, 1, 1 + (i - 1) % {ZONES}, 'R' || i, 'reserve', '00', 0, '', "
        f"'', '', i % 50, i / 50, TRUE, TRUE FROM bench_numbers WHERE i <= {RESERVES}",
        "INSERT INTO location (id, site_id, code, kind, check_digits, capacity, aisle, bay, level, x, y, "
        f"mixed_products, active) VALUES ({dock}, 1, 'DOCK', 'dock', '00', 0, '', '', '', 0, 0, TRUE, TRUE), "
        f"({pack}, 1, 'PACK', 'pack', '00', 0, '', '', '', 0, 0, TRUE, TRUE), "
        f"({ship_door}, 1, 'SHIP', 'ship', '00', 0, '', '', '', 0, 0, TRUE, TRUE)",
        "INSERT INTO app_user (id, username, full_name, password_hash, roles, all_sites, active, created_at) "
        f"SELECT i, CASE WHEN i = 1 THEN 'bench-sup' ELSE 'picker-' || i END, '', '!', "
        f"CASE WHEN i = 1 THEN {supervisor_roles} ELSE {picker_roles} END, "
        f"FALSE, TRUE, :now FROM bench_numbers WHERE i <= {PICKERS + 1}",
        f"INSERT INTO user_site (id, user_id, site_id) SELECT i, i, 1 FROM bench_numbers WHERE i <= {PICKERS + 1}",
        "INSERT INTO printer (id, site_id, code, name, host, port, profile_id, enabled, status, status_detail, "
        "failures, created_at, updated_at) SELECT i, 1, 'ZT' || i, '', '127.0.0.1', 9, 'zebra-zt411-203', TRUE, "
        "'ready', '', 0, :now, :now FROM bench_numbers WHERE i <= 4",
        "INSERT INTO wave (id, site_id, status, criteria, orders, lines, tours, distance_m, seconds, created_at, "
        f"released_at) SELECT i, 1, 'picked', {empty}, 0, 0, 0, 0, 0, {at('(i - 1) * 3600 - 600')}, "
        f"{at('(i - 1) * 3600')} FROM bench_numbers WHERE i <= :span / 3600 + 1",
        # Orders not shipped by now wait, picked, for packing (the backlog).
        "INSERT INTO outbound_order (id, site_id, reference, customer, priority, carrier, service, cut_off, status, "
        "backorder_policy, min_shelf_life_days, wave_id, created_at, updated_at) "
        f"SELECT i, 1, 'SO-' || i, '', 5, 'DHL', '', {at(ship_s + ' + 1800')}, "
        f"CASE WHEN {shipped} THEN 'shipped' ELSE 'picked' END, 'allow_partial', 0, {wave}, "
        f"{at(f'({wave} - 1) * 3600 - 3600')}, {at(f'CASE WHEN {shipped} THEN {ship_s} ELSE {t_last} END')} "
        f"FROM bench_numbers WHERE i <= {orders}",
        "INSERT INTO order_line (id, order_id, line_no, product_id, quantity, unit, unit_quantity, "
        f"quantity_allocated, quantity_picked) SELECT i, {order}, {line_no}, {face}, {qty}, 'each', {qty}, {qty}, "
        f"{found} FROM bench_numbers WHERE i <= :n",
        f"{task}SELECT i, 1, 'pick', 'done', 500, {face}, {qty}, '', {face}, NULL, NULL, {picker}, 'SO-' || {order}, "
        f"NULL, {line_wave}, i, {zone}, 3, {at(t + ' - 600')}, {at(t)}, {at(t)} FROM bench_numbers WHERE i <= :n",
        f"{move}SELECT 1, {face}, '', {found}, {face}, {face}, NULL, NULL, 'pick', 'task:' || i, {picker}, {at(t)} "
        f"FROM bench_numbers WHERE i <= :n AND {found} > 0",
        # Pack, load and ship moves of each line of a shipped order, at its ship time (updated_at) and before.
        *(f"{move}SELECT 1, l.product_id, '', l.quantity_picked, {source}, {destination}, NULL, NULL, '{reason}', "
          f"'order:' || o.reference, 1, {sql.before('o.updated_at', earlier) if earlier else 'o.updated_at'} "
          "FROM order_line AS l JOIN outbound_order AS o ON o.id = l.order_id "
          "WHERE o.status = 'shipped' AND l.quantity_picked > 0"
          for reason, source, destination, earlier in (("pack", pack, pack, 5400), ("load", pack, ship_door, 3600),
                                                       ("ship", ship_door, "NULL", 0))),
        "INSERT INTO print_job (id, site_id, printer_id, sequence, label_type, data, zpl, state, attempts, "
        f"last_error, created_by, created_at, updated_at) SELECT i, 1, 1 + i % 4, i, 'shipping', {empty}, '^XA^XZ', "
        f"CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'sent' END, 1, '', 1, {at(ship_s + ' - 3600')}, "
        f"{at(ship_s + ' - 3600')} FROM bench_numbers WHERE i <= {orders} AND {shipped}",
        f"{audit}SELECT 1, 1, {at(ship_s)}, 'order.shipped', 'order', CAST(i AS TEXT) FROM bench_numbers "
        f"WHERE i <= {orders} AND {shipped}",
        f"{audit}SELECT 1, {picker}, {at(t)}, 'task.confirm_pick', 'task', CAST(i AS TEXT) FROM bench_numbers "
        f"WHERE i <= :n",
        f"{audit}SELECT 1, {picker}, {at(t + ' - 30')}, 'scan.refused', 'task', CAST(i AS TEXT) FROM bench_numbers "
        f"WHERE i <= :n AND i % {REFUSED_SCAN_EVERY} = 0",
        f"{command}SELECT {picker}, 'c-' || i, 'confirm_pick', 'bench', i, (i > 0), {empty}, {at(t)} "
        "FROM bench_numbers WHERE i <= :n",
        f"{command}SELECT {picker}, 'r-' || i, 'confirm_pick', 'bench', i, (i < 0), "
        f"{refusal}, {at(t + ' - 20')} FROM bench_numbers "
        f"WHERE i <= :n AND i % {REFUSED_COMMAND_EVERY} = 0",
        f"{exception}SELECT 1, 'short_pick', 'open', i, '', {short}, {picker}, '', {at(t)} FROM bench_numbers "
        f"WHERE i <= :n AND i % {SHORT_EVERY} = 0",
        f"{exception}SELECT 1, 'task_conflict', 'open', i, '', NULL, {picker}, '', {at(t)} FROM bench_numbers "
        f"WHERE i <= :n AND i % {CONFLICT_EVERY} = 0",
        # Receiving: LPN i received at the dock, put away 10-70 minutes later into a reserve location.
        f"INSERT INTO container (id, site_id, code, kind, location_id, status, created_at) SELECT i, 1, 'LPN-' || i, "
        f"'pallet', {faces} + 1 + i % {RESERVES}, 'open', {at(received)} FROM bench_numbers WHERE i <= {receipts}",
        "INSERT INTO receipt (site_id, product_id, quantity, lot, container_id, location_id, damaged, blind, user_id, "
        f"created_at) SELECT 1, 1 + i % {faces}, 24, '', i, {dock}, FALSE, FALSE, 1, {at(received)} "
        f"FROM bench_numbers WHERE i <= {receipts}",
        f"{task}SELECT :n + i, 1, 'putaway', 'done', 500, 1 + i % {faces}, 24, '', {dock}, "
        f"{faces} + 1 + i % {RESERVES}, i, 1, 'lpn:LPN-' || i, NULL, NULL, NULL, 1 + i % {ZONES}, 2, {at(received)}, "
        f"{at(put_away)}, {at(put_away)} FROM bench_numbers WHERE i <= {receipts}",
        f"{move}SELECT 1, t.product_id, '', 24, NULL, {dock}, NULL, t.container_id, 'receipt', 'receipt', 1, "
        "t.created_at FROM task AS t WHERE t.kind = 'putaway'",
        f"{move}SELECT 1, t.product_id, '', 24, {dock}, t.to_location_id, t.container_id, t.container_id, "
        "'putaway', 'task:' || t.id, 1, t.done_at FROM task AS t WHERE t.kind = 'putaway'",
        # Counts: a pick face every 100 picks, 1 in 10 off by a unit (booked at once as a count_adjustment).
        f"{task}SELECT :n + {receipts} + i, 1, 'count', 'done', 100, NULL, NULL, '', {count_face}, NULL, NULL, "
        f"{picker}, 'cycle', {count_details}, NULL, NULL, 1 + ({count_face} - 1) / {FACES_PER_ZONE}, 2, "
        f"{at(counted + ' - 300')}, {at(counted)}, {at(counted)} FROM bench_numbers WHERE i <= {counts}",
        f"{move}SELECT 1, t.from_location_id, '', 1, t.from_location_id, NULL, NULL, NULL, 'count_adjustment', "
        f"'task:' || t.id, t.assigned_to, t.done_at FROM task AS t WHERE t.kind = 'count' "
        f"AND (t.id - :n - {receipts}) % 10 = 0",
    ]


def _numbers(conn, postgres: bool, upto: int) -> None:  # noqa: ANN001
    conn.execute(text("CREATE TABLE bench_numbers (i BIGINT PRIMARY KEY)"))
    if postgres:
        conn.execute(text("INSERT INTO bench_numbers SELECT generate_series(1, :m)"), {"m": upto})
    else:
        conn.execute(text("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :m) "
                          "INSERT INTO bench_numbers SELECT i FROM s"), {"m": upto})


# PostgreSQL: the big tables' secondary indexes are dropped for the seed and built again after it (faster
# than a million single-row index inserts each); those behind a constraint stay.
_BULK_TABLES = ("move", "task", "audit_entry", "device_command", "order_line", "outbound_order", "print_job")
_SECONDARY_INDEXES = (
    "SELECT i.indexname, i.indexdef FROM pg_indexes AS i JOIN pg_class AS c ON c.relname = i.indexname "
    "JOIN pg_index AS x ON x.indexrelid = c.oid WHERE i.schemaname = current_schema() "
    "AND i.tablename = ANY(:tables) AND NOT x.indisprimary AND NOT x.indisunique")


# The tables the seed gives ids to itself: PostgreSQL's sequences are moved past them.
_WITH_IDS = ("company", "site", "zone", "product", "location", "app_user", "user_site", "printer", "wave",
             "outbound_order", "order_line", "task", "print_job", "container")


def seed(database_url: str, *, days: int, picks: int, now: datetime) -> dict:
    """Migrate and fill the database with `days` of history ending at `now`; the row counts and how long it took."""
    engine = make_engine(database_url)
    upgrade(engine)
    postgres = engine.dialect.name == "postgresql"
    sql = _Sql(postgres)
    n = max(LINES_PER_BLOCK, picks // LINES_PER_BLOCK * LINES_PER_BLOCK)
    span = days * 86400
    start = now - timedelta(days=days)
    params = {"n": n, "span": span, "t0": start if postgres else int(start.timestamp()),
              "now": now if postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")}
    began = time.perf_counter()
    with engine.begin() as conn:
        indexes = conn.execute(text(_SECONDARY_INDEXES), {"tables": list(_BULK_TABLES)}).all() if postgres else []
        for name, _definition in indexes:
            conn.execute(text(f"DROP INDEX {name}"))
        _numbers(conn, postgres, max(n, ZONES * FACES_PER_ZONE, RESERVES, span // 3600 + 2))
        for statement in _seed_statements(sql, n):
            conn.execute(text(statement), params)
        conn.execute(text("DROP TABLE bench_numbers"))
        for _name, definition in indexes:
            conn.execute(text(definition))
        if postgres:
            for table in _WITH_IDS:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    seeded_s = time.perf_counter() - began
    with engine.connect() as conn:
        rows = {table: conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() for table in TABLES}
        picks_booked = conn.execute(text("SELECT COUNT(*) FROM move WHERE reason = 'pick'")).scalar_one()
    engine.dispose()
    return {"database": "postgresql" if postgres else "sqlite", "days": days, "pick_lines": n,
            "pick_moves": picks_booked, "rows": rows, "seed_s": round(seeded_s, 1)}


def roll_up(database_url: str) -> float:
    """The first refresh of the KPI rollups (the whole history), then VACUUM ANALYZE of them; its seconds."""
    engine = make_engine(database_url)
    began = time.perf_counter()
    with Session(engine) as session:
        refresh_rollups(session, 1, datetime.now(timezone.utc))
    took = time.perf_counter() - began
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("kpi_pick_hour", "kpi_shipped_order"):
            conn.execute(text(f"VACUUM ANALYZE {table}" if engine.dialect.name == "postgresql" else
                              f"ANALYZE {table}"))
    engine.dispose()
    return took


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def windows(days: int) -> list[tuple[str, timedelta]]:
    """24 hours, 7 days (if the history is longer) and the whole history."""
    spans = [("24 h", timedelta(hours=24))]
    if days > 7:
        spans.append(("7 days", timedelta(days=7)))
    if days > 1:
        spans.append((f"{days} days", timedelta(days=days)))
    return spans


def time_kpis(database_url: str, *, days: int, now: datetime, runs: int) -> list[dict]:
    """GET /api/v1/kpis for each window, `runs` times, through the app as the site's supervisor."""
    from fastapi.testclient import TestClient

    settings = Settings(database_url=database_url, environment="test", print_spool_enabled=False,
                        at_risk_sweep_seconds=0)
    app = create_app(settings)
    figures = []
    with TestClient(app) as client:
        token, _ttl = app.state.runtime.tokens.issue(1)
        headers = {"Authorization": f"Bearer {token}"}
        # One request first, not timed: the app's first compiles its statements and warms its pools.
        client.get("/api/v1/kpis", params={"site": "BENCH"}, headers=headers).raise_for_status()
        for name, span in windows(days):
            params = {"site": "BENCH", "from": _iso(now - span), "to": _iso(now)}
            elapsed, body = [], None
            for _ in range(runs):
                began = time.perf_counter()
                response = client.get("/api/v1/kpis", params=params, headers=headers)
                elapsed.append((time.perf_counter() - began) * 1000.0)
                if response.status_code != 200:
                    raise RuntimeError(f"GET /api/v1/kpis answered {response.status_code}: {response.text[:300]}")
                body = response.json()["tables"]
            (site_rate, *_rest) = body["pick_rate"]["rows"]
            figures.append({"window": name, "runs": runs, "p50_ms": round(statistics.median(elapsed), 1),
                            "max_ms": round(max(elapsed), 1), "pick_lines": site_rate["lines"],
                            "orders_shipped": body["cycle_time"]["rows"][0]["orders"],
                            "lines_per_hour": site_rate["lines_per_hour"],
                            "cycle_p90_s": body["cycle_time"]["rows"][0]["p90_s"]})
    return figures


def run(database_url: str | None, *, days: int, picks: int, runs: int) -> dict:
    db = ScratchDatabase(database_url)
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        result = seed(db.url, days=days, picks=picks, now=now)
        result["rollup_s"] = round(roll_up(db.url), 1)
        result["windows"] = time_kpis(db.url, days=days, now=now, runs=runs)
        return result
    finally:
        db.drop()


def table(result: dict) -> str:
    rows = result["rows"]
    lines = [f"wes bench kpis — {result['database']}, {result['days']} days of history, "
             f"{result['pick_lines']:,} pick lines (seeded in {result['seed_s']} s; its first rollup "
             f"took {result['rollup_s']} s)",
             "rows: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()), "",
             f"{'window':<10} {'pick lines':>11} {'orders shipped':>15} {'p50 ms':>8} {'max ms':>8}  runs"]
    for w in result["windows"]:
        lines.append(f"{w['window']:<10} {w['pick_lines']:>11,} {w['orders_shipped']:>15,} {w['p50_ms']:>8.1f} "
                     f"{w['max_ms']:>8.1f}  {w['runs']}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.days < 1 or args.picks < LINES_PER_BLOCK or args.runs < 1:
        print(f"--days and --runs must be 1 or more, --picks {LINES_PER_BLOCK} or more")
        return 2
    result = run(args.database_url, days=args.days, picks=args.picks, runs=args.runs)
    print(json.dumps(result) if args.json else table(result))
    return 0
