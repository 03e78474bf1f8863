"""`wes bench realtime`: the real server in one process, N simulated handhelds in another.

The parent prepares a scratch database (a temporary SQLite file, or a
database of its own created on the PostgreSQL server named by
--database-url and dropped afterwards), seeds a site with a released pick
wave (backend.bench.realtime_seed: the `wes bench waves` site and orders,
imported, allocated, planned and released through the service layer, plus a
tote per tote slot of every tour, the pickers, supervisors and handhelds),
starts `wes serve` and the client process (backend.bench.realtime_clients),
and finally checks the database: no command may have been applied twice.

Each handheld logs in (device token + worker bearer token), claims work (the
server assigns a whole tour: its pick tasks are pushed as task.assigned, in
walking order) and confirms each pick in turn: confirm_pick with the
location, the product's GTIN, the quantity and the tour's tote, one real
transaction that moves stock into the tote in the ledger, consumes the
reservation, moves the task, tour and order on and writes device events.
Finishing a tour pushes the next one. Supervisors reassign held tasks
meanwhile over HTTP (a pick confirmed on a task moved away meanwhile is
still booked, as a conflict); a few commands are sent again with the same
id, as an outbox replay would. With ``walls`` > 0, that many supervisor wall
screens watch the site on /ws/wall throughout (in a process of their own,
backend.bench.realtime_walls), and the run reports how long
a confirmed pick takes to show on them (``wall_update_ms``: from the pick's
acknowledgement at the handheld to the first wall.state with the picker's
done_today counted up).
"""

from __future__ import annotations

import json
import os
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
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend.bench.realtime_clients import summary
from backend.bench.realtime_seed import seed
from backend.bench.realtime_walls import wall_delays
from backend.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
EXTRA_SECONDS = 30  # picks seeded beyond the run and its warm-up, at the offered rate


def warm_up_seconds(think_ms: tuple[int, int]) -> float:
    """How long the clients run before measuring (everyone holds work by then)."""
    return max(2.0, sum(think_ms) / 1000.0 * 2)


def picks_needed(clients: int, seconds: float, think_ms: tuple[int, int]) -> int:
    """Pick tasks enough for the whole run: 1.3 × the offered rate (one pick a command) × its length."""
    offered_per_s = clients / (sum(think_ms) / 2000.0 or 0.001)
    return int(max(clients * 40, 1.3 * offered_per_s * (seconds + warm_up_seconds(think_ms) + EXTRA_SECONDS)))


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


def duplicate_applies(database_url: str) -> dict:
    """Commands applied more than once, from the database.

    A pick is confirmed once per task: a second confirm_pick audit row for a task, or a second
    pick move with the same task reference, would be a command applied twice.
    """
    engine = make_engine(database_url)
    with engine.connect() as conn:
        confirmed_twice = conn.execute(text(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT entity_id, COUNT(*) AS n FROM audit_entry "
            "WHERE action = 'task.confirm_pick' GROUP BY entity_id HAVING COUNT(*) > 1) AS t")).scalar()
        moved_twice = conn.execute(text(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT reference, COUNT(*) AS n FROM move WHERE reason = 'pick' "
            "GROUP BY reference HAVING COUNT(*) > 1) AS t")).scalar()
        done = conn.execute(text("SELECT COUNT(*) FROM task WHERE kind = 'pick' AND state = 'done'")).scalar()
        picks = conn.execute(text("SELECT COUNT(*) FROM move WHERE reason = 'pick'")).scalar()
        conflicts = conn.execute(text("SELECT COUNT(*) FROM warehouse_exception WHERE kind = 'task_conflict'")).scalar()
        commands = conn.execute(text("SELECT COUNT(*) FROM device_command")).scalar()
        events = conn.execute(text("SELECT COUNT(*) FROM device_event")).scalar()
    engine.dispose()
    return {"duplicate_applies": int(confirmed_twice) + int(moved_twice), "tasks_done": int(done),
            "picks": int(picks), "task_conflicts_raised": int(conflicts), "commands_stored": int(commands),
            "events_stored": int(events)}


def run(clients: int = 300, database_url: str | None = None, seconds: float = 30.0, *, think_ms: tuple[int, int] =
        (500, 1100), supervisors: int | None = None, echo_clients: int = 10, walls: int = 0,
        verbose: bool = False) -> dict:
    supervisors = supervisors if supervisors is not None else max(1, clients // 150)
    database = ScratchDatabase(database_url)
    secret = secrets.token_urlsafe(32)
    server = client = wall_process = None
    work_dir = tempfile.TemporaryDirectory(prefix="wes-bench-run-")
    try:
        picks = picks_needed(clients, seconds, think_ms)
        if verbose:
            print(f"seeding a released wave of ~{picks} picks, {clients} handhelds on {database.kind} …",
                  file=sys.stderr)
        started = time.perf_counter()
        seeded = seed(database.url, secret, clients, picks, supervisors)
        seeded_in = time.perf_counter() - started
        if verbose:
            print(f"seeded {seeded['seeded']['pick_tasks']} pick tasks ({seeded['seeded']['orders']} orders, "
                  f"{seeded['seeded']['totes']} totes) in {seeded_in:.1f} s", file=sys.stderr)
        port = _free_port()
        env = {**os.environ, "WES_SECRET_KEY": secret, "WES_ENVIRONMENT": "development", "WES_LOG_LEVEL": "warning",
               "WES_AUTO_MIGRATE": "false",
               "WES_ECHO_SOCKET_ENABLED": "true",  # the bare websocket round trip, measured beside the commands
               "WES_CYCLE_COUNT_EVERY_MINUTES": "0"}  # (a fresh site: every location would be due at once)
        server_log = open(Path(work_dir.name) / "server.log", "wb")  # noqa: SIM115
        wrapper = os.environ.get("WES_BENCH_SERVER_WRAPPER", "").split()  # e.g. a sampling profiler
        server = subprocess.Popen([*wrapper, sys.executable, "-m", "backend.cli", "serve", "--database-url", database.url,
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=server_log,
                                  stderr=subprocess.STDOUT)
        try:
            _wait_for_health(f"http://127.0.0.1:{port}", server)
        except RuntimeError as exc:
            server_log.flush()
            tail = (Path(work_dir.name) / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}; server log (tail):\n{tail}") from exc
        config = {"base_url": f"http://127.0.0.1:{port}", "ws_url": f"ws://127.0.0.1:{port}", "seconds": seconds,
                  "think_ms": list(think_ms), "warm_up_seconds": warm_up_seconds(think_ms),
                  "echo_clients": echo_clients, "walls": walls, "handhelds": seeded["handhelds"],
                  "supervisors": seeded["supervisors"], "gtins": seeded["gtins"]}
        config_path = Path(work_dir.name) / "clients.json"
        config_path.write_text(json.dumps(config))
        result_path = Path(work_dir.name) / "result.json"
        if walls:
            # The walls first, in a process of their own (their states are large: parsing them must not stall
            # the handhelds' measurements), each with its first state before the handhelds start.
            walls_result, ready = Path(work_dir.name) / "walls.json", Path(work_dir.name) / "walls.ready"
            wall_process = subprocess.Popen([sys.executable, "-m", "backend.bench.realtime_walls", str(config_path),
                                             str(walls_result), str(ready)], cwd=ROOT, env=os.environ.copy(),
                                            stderr=None if verbose else subprocess.DEVNULL)
            _wait_for_file(ready, wall_process)
        client = subprocess.Popen([sys.executable, "-m", "backend.bench.realtime_clients", str(config_path),
                                   str(result_path)], cwd=ROOT, env=os.environ.copy(),
                                  stderr=None if verbose else subprocess.DEVNULL)
        client.wait(timeout=seconds + 600)
        if client.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"the client process failed (exit {client.returncode})")
        measured = json.loads(result_path.read_text())
        wall_update, wall_details = None, {}
        if wall_process is not None:
            wall_process.send_signal(signal.SIGTERM)
            wall_process.wait(timeout=60)
            if wall_process.returncode != 0 or not walls_result.exists():
                raise RuntimeError(f"the wall process failed (exit {wall_process.returncode})")
            seen = json.loads(walls_result.read_text())
            window = tuple(measured["window"])
            # (JSON keys are text: the seqs back to numbers)
            counted = {int(seq): pickers for seq, pickers in seen["counted"].items()}
            arrivals = [{int(seq): at for seq, at in arrived.items()} for arrived in seen["arrivals"]]
            delays = wall_delays(measured["acks"], counted, arrivals, window)
            wall_update = summary(delays)
            wall_details = {"wall_samples": len(delays), "wall_update_max_ms": round(max(delays, default=0.0), 1),
                            "wall_states_per_wall_per_s": round(sum(
                                1 for arrived in arrivals for at in arrived.values() if window[0] <= at <= window[1])
                                / walls / measured["seconds"], 2),
                            "wall_errors": seen["errors"]}
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
            "walls": walls,
            "wall_update_ms": wall_update,
            "errors": measured["errors"],
            "lost_events": measured["lost_events"],
            "duplicate_applies": checks["duplicate_applies"],
            "details": {**measured["details"], **wall_details, **checks, "supervisors": supervisors,
                        "think_ms": list(think_ms),
                        "tasks_seeded": seeded["seeded"]["pick_tasks"], "orders_seeded": seeded["seeded"]["orders"],
                        "totes_seeded": seeded["seeded"]["totes"], "seed_seconds": round(seeded_in, 1)},
        }
    finally:
        for process in (wall_process, client, server):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        work_dir.cleanup()
        database.drop()


def _wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the wall process stopped while starting (exit {process.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError("the walls did not get their first state")
        time.sleep(0.1)


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
        *([("walls", result["walls"]), ("wall update p50 / p99 ms", "{p50} / {p99}".format(**result["wall_update_ms"]))]
          if result.get("wall_update_ms") else []),
        ("errors", result["errors"]), ("lost events", result["lost_events"]),
        ("duplicate applies", result["duplicate_applies"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def add_arguments(parser) -> None:  # noqa: ANN001
    parser.add_argument("--database-url", help="sqlite (default: a temporary file) or a PostgreSQL server, on which "
                                               "a scratch database is created and dropped")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--think-ms", default="500,1100",
                        help="MIN,MAX: a handheld's pause before each command (the offered load; default 500,1100)")
    parser.add_argument("--walls", type=int, default=0,
                        help="supervisor wall screens watching /ws/wall during the run; reports the wall's update "
                             "delay after a pick (default 0)")
    parser.add_argument("--verbose", action="store_true", help="progress and the server's log on stderr")


def main(args) -> int:  # noqa: ANN001
    """`wes bench realtime`: the table (or JSON); exit 1 on any error, lost event or duplicate apply."""
    if args.clients < 1 or args.seconds <= 0:
        print("--clients must be 1 or more and --seconds positive", file=sys.stderr)
        return 2
    try:
        think = tuple(int(v) for v in args.think_ms.split(","))
        if len(think) != 2 or not 0 <= think[0] <= think[1]:
            raise ValueError
    except ValueError:
        print("--think-ms takes MIN,MAX milliseconds, e.g. 500,1100", file=sys.stderr)
        return 2
    if args.walls < 0:
        print("--walls must be 0 or more", file=sys.stderr)
        return 2
    result = run(args.clients, args.database_url, args.seconds, think_ms=think, walls=args.walls, verbose=args.verbose)
    print(json.dumps(result) if args.json else table(result))
    return 0 if result["errors"] == result["lost_events"] == result["duplicate_applies"] == 0 else 1
