"""`wes bench realtime`: the real server in one process, N simulated handhelds in another.

The parent prepares a scratch database (a temporary SQLite file, or a
database of its own created on the PostgreSQL server named by
--database-url and dropped afterwards), seeds a site with putaway work,
starts `wes serve` and the client process (backend.bench.realtime_clients),
and finally checks the database: no command may have been applied twice.

Each handheld logs in (device token + worker bearer token), claims work,
receives pushed tasks (task.assigned) and works each one: start_task, then
confirm_putaway at the suggested location: two real transactions that
change the task, post stock moves in the ledger, and write device events.
Finishing a task pushes the next one (task interleaving). Supervisors
reassign assigned tasks meanwhile over HTTP; a few commands are sent again
with the same id, as an outbox replay would.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from backend.auth.security import PasswordHashing, TokenIssuer
from backend.db import make_engine, make_session_factory
from backend.devices.tokens import digest
from backend.migrate import upgrade
from backend.models import (
    Company, Container, Device, Location, Move, Product, Quant, Site, Task, User, UserSite, Zone, utcnow,
)

SITE = "BENCH"
PASSWORD = "bench-password"
AISLES, BAYS = 10, 20
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScratchDatabase:
    """A database only this run uses: a temporary SQLite file, or CREATE DATABASE on the given server."""

    def __init__(self, server_url: str | None) -> None:
        self._tmp = None
        self._admin = None
        if not server_url or server_url.startswith("sqlite"):
            self._tmp = tempfile.TemporaryDirectory(prefix="wes-bench-")
            self.url = f"sqlite:///{self._tmp.name}/bench.db"
            self.kind = "sqlite"
            return
        import psycopg

        base = make_url(server_url)
        self.name = f"wes_bench_{uuid.uuid4().hex[:10]}"
        self._admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self.kind = "postgresql"

    def drop(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._admin is not None:
            import psycopg

            with psycopg.connect(self._admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def seed(database_url: str, secret: str, clients: int, tasks: int, supervisors: int) -> dict:
    """The bench site, its workers and devices (tokens issued here), and `tasks` pallets awaiting putaway."""
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    users = TokenIssuer(secret, 24 * 60)
    devices = TokenIssuer(secret, 24 * 60)
    password_hash = PasswordHashing().hash(PASSWORD)
    rng = random.Random(7)
    with sessions() as session:
        company = Company(code="BENCHCO", name="Bench company")
        session.add(company)
        session.flush()
        site = Site(company_id=company.id, code=SITE, name="Bench site")
        session.add(site)
        session.flush()
        zone = Zone(site_id=site.id, code="RES")
        dock_zone = Zone(site_id=site.id, code="DOCK")
        session.add_all([zone, dock_zone])
        product = Product(sku="BENCH-SKU", description="Bench widget")
        session.add(product)
        session.flush()
        docks = [Location(site_id=site.id, zone_id=dock_zone.id, code=f"DOCK-{n}", kind="dock", check_digits="00",
                          x=float(n * 8), y=0.0) for n in range(1, 6)]
        reserve = [Location(site_id=site.id, zone_id=zone.id, code=f"R{a:02d}-{b:02d}", kind="reserve",
                            check_digits=f"{(a * 31 + b * 7) % 100:02d}", x=4.0 * a, y=2.0 + 1.5 * b,
                            mixed_products=True)
                   for a in range(1, AISLES + 1) for b in range(1, BAYS + 1)]
        session.add_all(docks + reserve)
        session.flush()
        people = []
        for n in range(clients + supervisors):
            roles = ["picker"] if n < clients else ["supervisor"]
            user = User(username=f"w{n:04d}" if n < clients else f"sup{n - clients}", roles=roles,
                        password_hash=password_hash)
            session.add(user)
            people.append(user)
        session.flush()
        session.execute(insert(UserSite), [{"user_id": u.id, "site_id": site.id} for u in people])
        handhelds = []
        for n in range(clients):
            device = Device(site_id=site.id, name=f"HH-{n:04d}", kind="handheld", firmware_profile="zebra-tc52",
                            enrolled_at=utcnow())
            session.add(device)
            handhelds.append(device)
        session.flush()
        tokens = []
        for device, user in zip(handhelds, people[:clients]):
            device_token, _ = devices.issue(device.id, kind="device")
            device.token_hash = digest(device_token)
            tokens.append({"device_token": device_token, "access_token": users.issue(user.id)[0],
                           "username": user.username})
        session.flush()
        # Pallets at the docks, each with a putaway task to a reserve bin: bulk inserts, one ledger move each.
        now = utcnow()
        session.execute(insert(Container), [{"site_id": site.id, "code": f"LPN{n:07d}", "kind": "pallet",
                                             "location_id": docks[n % len(docks)].id, "status": "open",
                                             "created_at": now} for n in range(tasks)])
        containers = dict(session.execute(select(Container.code, Container.id).where(Container.site_id == site.id)).all())
        quantity = 10
        quants, moves, work = [], [], []
        for n in range(tasks):
            dock = docks[n % len(docks)]
            container_id = containers[f"LPN{n:07d}"]
            quants.append({"site_id": site.id, "product_id": product.id, "location_id": dock.id,
                           "container_id": container_id, "lot": "", "expiry": None, "on_hand": quantity,
                           "reserved": 0, "received_at": now,
                           "stock_key": f"{product.id}|{dock.id}|{container_id}||"})
            moves.append({"site_id": site.id, "product_id": product.id, "lot": "", "quantity": quantity,
                          "to_location_id": dock.id, "to_container_id": container_id, "reason": "receipt",
                          "reference": "bench", "created_at": now})
            work.append({"site_id": site.id, "kind": "putaway", "state": "pending", "priority": 500,
                         "product_id": product.id, "quantity": quantity, "lot": "", "from_location_id": dock.id,
                         "to_location_id": rng.choice(reserve).id, "container_id": container_id,
                         "reference": f"lpn:LPN{n:07d}", "version": 1, "created_at": now, "updated_at": now,
                         "zone_id": zone.id})
        session.execute(insert(Quant), quants)
        session.execute(insert(Move), moves)
        session.execute(insert(Task), work)
        session.commit()
        supervisor_tokens = [users.issue(u.id)[0] for u in people[clients:]]
    engine.dispose()
    return {"handhelds": tokens, "supervisors": supervisor_tokens}


def duplicate_applies(database_url: str) -> dict:
    """Commands applied more than once, from the database.

    A putaway is confirmed once per task: a second confirm audit row, or a second putaway move for
    the same task, would be a command applied twice. (A task may legitimately be started twice: by
    its first holder, then by the one a supervisor reassigned it to.)
    """
    engine = make_engine(database_url)
    with engine.connect() as conn:
        confirmed_twice = conn.execute(text(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT entity_id, COUNT(*) AS n FROM audit_entry "
            "WHERE action = 'task.confirm_putaway' GROUP BY entity_id HAVING COUNT(*) > 1) AS t")).scalar()
        moved_twice = conn.execute(text(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT reference, COUNT(*) AS n FROM move WHERE reason = 'putaway' "
            "GROUP BY reference HAVING COUNT(*) > 1) AS t")).scalar()
        done = conn.execute(text("SELECT COUNT(*) FROM task WHERE state = 'done'")).scalar()
        commands = conn.execute(text("SELECT COUNT(*) FROM device_command")).scalar()
        events = conn.execute(text("SELECT COUNT(*) FROM device_event")).scalar()
    engine.dispose()
    return {"duplicate_applies": int(confirmed_twice) + int(moved_twice), "tasks_done": int(done),
            "commands_stored": int(commands), "events_stored": int(events)}


def run(clients: int = 300, database_url: str | None = None, seconds: float = 30.0, *, think_ms: tuple[int, int] =
        (500, 1100), supervisors: int | None = None, echo_clients: int = 10, verbose: bool = False) -> dict:
    supervisors = supervisors if supervisors is not None else max(1, clients // 150)
    database = ScratchDatabase(database_url)
    secret = secrets.token_urlsafe(32)
    server = client = None
    work_dir = tempfile.TemporaryDirectory(prefix="wes-bench-run-")
    try:
        # Enough pallets for the whole run at the offered rate, plus a margin.
        per_second = clients / (sum(think_ms) / 2000.0) / 2.0
        tasks = int(max(clients * 4, per_second * (seconds + 30) * 1.3))
        if verbose:
            print(f"seeding {tasks} putaway tasks, {clients} handhelds on {database.kind} …", file=sys.stderr)
        seeded = seed(database.url, secret, clients, tasks, supervisors)
        port = _free_port()
        env = {**os.environ, "WES_SECRET_KEY": secret, "WES_ENVIRONMENT": "development", "WES_LOG_LEVEL": "warning",
               "WES_AUTO_MIGRATE": "false"}
        server_log = open(Path(work_dir.name) / "server.log", "wb")  # noqa: SIM115
        wrapper = os.environ.get("WES_BENCH_SERVER_WRAPPER", "").split()  # e.g. a sampling profiler
        server = subprocess.Popen([*wrapper, sys.executable, "-m", "backend.cli", "serve", "--database-url", database.url,
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=server_log,
                                  stderr=subprocess.STDOUT)
        _wait_for_health(f"http://127.0.0.1:{port}", server)
        config = {"base_url": f"http://127.0.0.1:{port}", "ws_url": f"ws://127.0.0.1:{port}", "seconds": seconds,
                  "think_ms": list(think_ms), "echo_clients": echo_clients, **seeded}
        config_path = Path(work_dir.name) / "clients.json"
        config_path.write_text(json.dumps(config))
        result_path = Path(work_dir.name) / "result.json"
        client = subprocess.Popen([sys.executable, "-m", "backend.bench.realtime_clients", str(config_path),
                                   str(result_path)], cwd=ROOT, env=os.environ.copy(),
                                  stderr=None if verbose else subprocess.DEVNULL)
        client.wait(timeout=seconds + 600)
        if client.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"the client process failed (exit {client.returncode})")
        measured = json.loads(result_path.read_text())
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        server_log.close()
        if verbose:
            log_text = (Path(work_dir.name) / "server.log").read_text(errors="replace")
            if log_text.strip():
                print("server log (tail):\n" + log_text[-3000:], file=sys.stderr)
        checks = duplicate_applies(database.url)
        return {
            "clients": clients,
            "database": database.kind,
            "seconds": round(measured["seconds"], 2),
            "commands": measured["commands"],
            "commands_per_s": round(measured["commands"] / measured["seconds"], 1),
            "command_rtt_ms": measured["command_rtt_ms"],
            "push_ms": measured["push_ms"],
            "echo_rtt_ms": measured["echo_rtt_ms"],
            "errors": measured["errors"],
            "lost_events": measured["lost_events"],
            "duplicate_applies": checks["duplicate_applies"],
            "details": {**measured["details"], **checks, "supervisors": supervisors, "think_ms": list(think_ms),
                        "tasks_seeded": tasks},
        }
    finally:
        for process in (client, server):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        work_dir.cleanup()
        database.drop()


def _wait_for_health(base_url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=5) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError("wes serve stopped while starting")
            try:
                if http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("wes serve did not answer /health")
            time.sleep(0.1)


def table(result: dict) -> str:
    rows = [
        ("clients", result["clients"]), ("database", result["database"]), ("seconds", result["seconds"]),
        ("commands", result["commands"]), ("commands/s", result["commands_per_s"]),
        ("command RTT p50 / p99 ms", "{p50} / {p99}".format(**result["command_rtt_ms"])),
        ("push p50 / p99 ms", "{p50} / {p99}".format(**result["push_ms"])),
        ("echo RTT p50 / p99 ms", "{p50} / {p99}".format(**result["echo_rtt_ms"])),
        ("errors", result["errors"]), ("lost events", result["lost_events"]),
        ("duplicate applies", result["duplicate_applies"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

