"""`wes bench webhooks`: events made through the real app, delivered to a local HTTP receiver.

A scratch database (a temporary SQLite file, or a database of its own on the given PostgreSQL server),
`wes serve` on a local port (a process of its own), and a `Receiver` (backend.bench.webhook_receiver) subscribed
to every event type of the site. Producers (threads, one HTTP client each) post blind receipts
(`POST /api/v1/receipts`), each one `receipt.completed` event, recorded and committed with the receipt.

Two phases:

- live: the receiver is up while `--events` events are made. The lag of an event is the time it
  arrived at the receiver minus its `occurred_at` (taken just before its transaction commits, so the
  lag is from a little before the commit). Reported: p50, p99, max; and events/s delivered.
- backlog: the receiver is down while `--events` more are made (the sender backs off), then comes
  back. Reported: how long until the first event arrives (the sender's backoff, at most
  `WES_WEBHOOK_RETRY_MAX_SECONDS`), and the drain rate from the first to the last arrival (one
  subscription, strictly in order).

Both phases check that every event arrived exactly once and in id order.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from backend.bench.realtime import ROOT, ScratchDatabase, _wait_for_health
from backend.bench.webhook_receiver import Receiver, free_port

PRODUCERS = 4
API = "/api/v1"
PASSWORD = "bench-password-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: a fresh SQLite file; for PostgreSQL a fresh database is "
                                               "created on that server and dropped afterwards")
    parser.add_argument("--events", type=int, default=1000, help="events per phase (default 1000)")
    parser.add_argument("--json", action="store_true")


class _Server:
    """`wes serve` in a process of its own (its own GIL, as in production), on a free local port."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        env = {**os.environ, "WES_ENVIRONMENT": "test", "WES_LOG_LEVEL": "warning", "WES_PRINT_SPOOL_ENABLED": "false",
               "WES_CYCLE_COUNT_EVERY_MINUTES": "0", "WES_AT_RISK_SWEEP_SECONDS": "0"}
        self.process = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--database-url", database_url,
                                         "--port", str(self.port)], cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def start(self) -> "_Server":
        try:
            _wait_for_health(self.base_url, self.process)
        except RuntimeError as exc:
            self.log.flush()
            raise RuntimeError(f"{exc}; server log (tail):\n{self.log_path.read_text(errors='replace')[-3000:]}") \
                from exc
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def _setup(server: _Server, database_url: str) -> dict[str, str]:
    """A site, a dock, a product and an admin (written straight to the database); the admin's bearer header."""
    from backend.auth.security import PasswordHashing
    from backend.db import make_engine, make_session_factory
    from backend.models import User

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add(User(username="bench-admin", roles=["admin"], all_sites=True,
                             password_hash=PasswordHashing().hash(PASSWORD)))
            session.commit()
    finally:
        engine.dispose()
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        token = http.post(f"{API}/auth/token", data={"username": "bench-admin", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for path, body in [
            ("/companies", {"code": "BENCH", "name": "Bench"}),
            ("/sites", {"code": "B1", "name": "Bench site", "company": "BENCH"}),
            ("/zones", {"site": "B1", "zones": [{"code": "DOCK"}]}),
            ("/products", {"products": [{"sku": "BENCH-1", "description": "Bench widget"}]}),
            ("/locations", {"site": "B1", "locations": [{"code": "DOCK-1", "kind": "dock", "zone": "DOCK",
                                                          "x": 0, "y": 0}]}),
        ]:
            r = http.post(API + path, json=body, headers=headers)
            if r.status_code >= 300:
                raise RuntimeError(f"setting up the bench site failed: {path}: {r.text}")
    return headers


def _produce(base_url: str, headers: dict[str, str], events: int) -> float:
    """`events` blind receipts from PRODUCERS threads; the rate (events/s) they were made at."""
    def work(share: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60, headers=headers) as http:
            for _ in range(share):
                r = http.post(f"{API}/receipts", json={"site": "B1", "dock": "DOCK-1", "sku": "BENCH-1",
                                                        "quantity": 1, "blind": True})
                if r.status_code != 201:
                    raise RuntimeError(f"a receipt failed: {r.text}")

    shares = [events // PRODUCERS + (1 if i < events % PRODUCERS else 0) for i in range(PRODUCERS)]
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return events / (time.perf_counter() - started)


def _check(received: list, expected: int, phase: str) -> None:
    ids = [r.event_id for r in received]
    if len(ids) != expected or len(set(ids)) != expected or ids != sorted(ids):
        raise RuntimeError(f"{phase}: {len(ids)} deliveries of {len(set(ids))} events (expected {expected}, "
                           "each once, in id order)")


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run(events: int = 1000, database_url: str | None = None) -> dict[str, Any]:
    scratch = ScratchDatabase(database_url)
    folder = tempfile.TemporaryDirectory(prefix="wes-bench-webhooks-")
    receiver = Receiver().start()
    server = None
    try:
        server = _Server(scratch.url, Path(folder.name)).start()
        headers = _setup(server, scratch.url)
        with httpx.Client(base_url=server.base_url, timeout=60, headers=headers) as http:
            r = http.post(f"{API}/webhooks", json={"site": "B1", "url": receiver.url})
            if r.status_code != 201:
                raise RuntimeError(f"subscribing failed: {r.text}")

        # live: the receiver up
        produce_rate = _produce(server.base_url, headers, events)
        if not receiver.wait_for(lambda got: len(got) >= events, timeout=600):
            raise RuntimeError(f"live: only {len(receiver.received)} of {events} events arrived")
        live = list(receiver.received)
        _check(live, events, "live")
        lags = [(r.at - datetime.fromisoformat(r.event["occurred_at"]).timestamp()) * 1000 for r in live]
        first_made = min(datetime.fromisoformat(r.event["occurred_at"]).timestamp() for r in live)
        live_rate = events / (max(r.at for r in live) - first_made)

        # backlog: the receiver down while events are made, then up
        receiver.stop()
        receiver.received.clear()
        _produce(server.base_url, headers, events)
        back = time.time()
        receiver.start()
        if not receiver.wait_for(lambda got: len(got) >= events, timeout=600):
            raise RuntimeError(f"backlog: only {len(receiver.received)} of {events} events arrived")
        backlog = list(receiver.received)
        _check(backlog, events, "backlog")
        first_back = min(r.at for r in backlog)
        drain_rate = (events - 1) / (max(r.at for r in backlog) - first_back)
        return {
            "database": scratch.kind, "events": events, "producers": PRODUCERS,
            "produced_events_per_s": round(produce_rate, 1),
            "live_delivered_events_per_s": round(live_rate, 1),
            "lag_p50_ms": round(_percentile(lags, 50), 1), "lag_p99_ms": round(_percentile(lags, 99), 1),
            "lag_max_ms": round(max(lags), 1),
            "backlog_drain_events_per_s": round(drain_rate, 1),
            "backlog_first_after_s": round(first_back - back, 2),
            "duplicates": 0, "lost": 0,
        }
    finally:
        if server is not None:
            server.stop()
        receiver.stop()
        scratch.drop()
        folder.cleanup()


def table(result: dict[str, Any]) -> str:
    rows = [
        ("database", result["database"]),
        ("events per phase", f"{result['events']}"),
        (f"made through the API, {result['producers']} clients (events/s)", f"{result['produced_events_per_s']}"),
        ("live: delivered (events/s)", f"{result['live_delivered_events_per_s']}"),
        ("live: lag commit → receiver p50 (ms)", f"{result['lag_p50_ms']}"),
        ("live: lag p99 (ms)", f"{result['lag_p99_ms']}"),
        ("live: lag max (ms)", f"{result['lag_max_ms']}"),
        ("backlog: first event after the receiver is back (s)", f"{result['backlog_first_after_s']}"),
        ("backlog: drained (events/s)", f"{result['backlog_drain_events_per_s']}"),
        ("lost / duplicated", f"{result['lost']} / {result['duplicates']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>10}" for name, value in rows)


def main(args: argparse.Namespace) -> int:
    result = run(args.events, args.database_url)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0
