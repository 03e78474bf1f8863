"""`wes bench logins`: a login flood against a real `wes serve` while other users read their task lists.

The parent makes a scratch database (backend.bench.realtime.ScratchDatabase: a temporary SQLite file, or a
database of its own on the PostgreSQL server named by --database-url), seeds a site with `tasks` open tasks, one
user per flooding client and a few readers, and starts `wes serve` in a process of its own. Then, in this process:

1. baseline: the readers call ``GET /api/v1/tasks?site=S1&limit=50`` one after another (each with a short pause)
   for `baseline_seconds`, nobody logging in;
2. flood: the same readers go on while `clients` clients (in a process of their own) post to ``/api/v1/auth/token`` as fast as they are
   answered, each from its own loopback address (127.0.0.x, so the per-address backoff sees N clients), each as
   its own user with the wrong password in `wrong_share` of its attempts and the right one otherwise.

It prints the logins answered per second by outcome (200, 401, 429 `too_many_attempts`, 429 `login_busy`) and the
readers' latency p50/p99 in both phases. Nothing here asserts: the figures are for docs/performance.md.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from backend.bench.realtime import ROOT, ScratchDatabase, _free_port, _wait_for_health
from backend.bench.realtime_clients import summary

SITE = "S1"
PASSWORD = "flood-bench-pass-2026"
READERS = 4
READER_PAUSE_S = 0.05


def seed(database_url: str, secret: str, clients: int, tasks: int) -> None:
    """A site with `tasks` open tasks, users flood-0… (pickers) and reader-0… (supervisors)."""
    from backend.app import build_runtime
    from backend.config import Settings
    from backend.migrate import upgrade
    from backend.models import Company, Site, Task, User, UserSite

    runtime = build_runtime(Settings(database_url=database_url, secret_key=secret, environment="development"))
    upgrade(runtime.engine)
    password_hash = runtime.passwords.hash(PASSWORD)  # one hash for everyone: seeding N users costs one argon2 run
    with runtime.sessions() as session:
        company = Company(code="BENCH", name="Bench company")
        session.add(company)
        session.flush()
        site = Site(company_id=company.id, code=SITE, name="Bench site")
        session.add(site)
        session.flush()
        users = [User(username=f"flood-{n}", password_hash=password_hash, roles=["picker"]) for n in range(clients)]
        users += [User(username=f"reader-{n}", password_hash=password_hash, roles=["supervisor"])
                  for n in range(READERS)]
        session.add_all(users)
        session.flush()
        session.add_all([UserSite(user_id=u.id, site_id=site.id) for u in users])
        session.add_all([Task(site_id=site.id, kind="move", priority=100 + n % 800) for n in range(tasks)])
        session.commit()
    runtime.engine.dispose()


async def _reader(base_url: str, token: str, stop: asyncio.Event, samples: list[tuple[float, float]],
                  errors: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        while not stop.is_set():
            started = time.perf_counter()
            r = await http.get("/api/v1/tasks", params={"site": SITE, "limit": 50})
            done = time.perf_counter()
            if r.status_code == 200:
                samples.append((time.time(), (done - started) * 1000))
            else:
                errors.append(f"GET /tasks {r.status_code}")
            await asyncio.sleep(READER_PAUSE_S)


async def _flooder(base_url: str, n: int, wrong_share: float, stop: asyncio.Event, answers: list[tuple[float, str]],
                   rng: random.Random) -> None:
    # Each client from its own loopback address: the server's per-address backoff sees N clients, not one.
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.{n // 250}.{n % 250 + 2}")
    async with httpx.AsyncClient(base_url=base_url, timeout=60, transport=transport) as http:
        while not stop.is_set():
            wrong = rng.random() < wrong_share
            r = await http.post("/api/v1/auth/token", data={"username": f"flood-{n}",
                                                           "password": "wrong-" + PASSWORD if wrong else PASSWORD})
            outcome = str(r.status_code)
            if r.status_code == 429:
                outcome = r.json()["error"]["code"]
                # A well-behaved client waits as told; a flood does not: it only pauses a little.
                await asyncio.sleep(0.01)
            answers.append((time.time(), outcome))


def _flood_process(base_url: str, clients: int, seconds: float, wrong_share: float, seed_value: int,
                   result_path: str) -> None:
    """The flood, in a process of its own: its client work must not slow the readers' measurements."""

    async def flood() -> list[tuple[float, str]]:
        answers: list[tuple[float, str]] = []
        stop = asyncio.Event()
        rng = random.Random(seed_value)
        tasks = [asyncio.create_task(_flooder(base_url, n, wrong_share, stop, answers, random.Random(rng.random())))
                 for n in range(clients)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        return answers

    started = time.time()
    answers = asyncio.run(flood())
    Path(result_path).write_text(json.dumps({"started": started, "ended": started + seconds, "answers": answers}))


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def _measure(base_url: str, clients: int, seconds: float, baseline_seconds: float, wrong_share: float,
                   seed_value: int, work_dir: str, server_pid: int) -> dict:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        tokens = []
        for n in range(READERS):
            r = await http.post("/api/v1/auth/token", data={"username": f"reader-{n}", "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json()["access_token"])
    samples: list[tuple[float, float]] = []
    errors: list[str] = []
    stop_readers = asyncio.Event()
    readers = [asyncio.create_task(_reader(base_url, t, stop_readers, samples, errors)) for t in tokens]
    baseline_start = time.time()
    cpu_at_start = _cpu_seconds(server_pid)
    await asyncio.sleep(baseline_seconds)
    cpu_at_flood = _cpu_seconds(server_pid)
    result_path = str(Path(work_dir) / "flood.json")
    flood = multiprocessing.get_context("spawn").Process(
        target=_flood_process, args=(base_url, clients, seconds, wrong_share, seed_value, result_path))
    flood.start()
    while flood.is_alive():
        await asyncio.sleep(0.2)
    cpu_at_end = _cpu_seconds(server_pid)
    flood_wall = time.time() - baseline_start - baseline_seconds
    stop_readers.set()
    await asyncio.gather(*readers)
    if flood.exitcode != 0:
        raise RuntimeError(f"the flood process failed (exit {flood.exitcode})")
    flooded = json.loads(Path(result_path).read_text())
    flood_start, flood_end = flooded["started"], flooded["ended"]
    baseline = [ms for at, ms in samples if baseline_start <= at < flood_start]
    during = [ms for at, ms in samples if flood_start <= at <= flood_end]
    in_window = [outcome for at, outcome in flooded["answers"] if at <= flood_end]
    by_outcome: dict[str, int] = {}
    for outcome in in_window:
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    elapsed = flood_end - flood_start
    return {"logins": len(in_window), "logins_per_s": round(len(in_window) / elapsed, 1),
            "hashed_per_s": round((by_outcome.get("200", 0) + by_outcome.get("401", 0)) / elapsed, 1),
            "by_outcome": dict(sorted(by_outcome.items())), "tasks_ms_baseline": summary(baseline),
            "tasks_ms_flood": summary(during), "reads_baseline": len(baseline), "reads_flood": len(during),
            "errors": errors[:20], "error_count": len(errors), "seconds": round(elapsed, 2),
            # the server's CPU use (cores busy on average) without and with the flood
            "server_cores_baseline": None if cpu_at_start is None else round(
                (cpu_at_flood - cpu_at_start) / baseline_seconds, 2),
            "server_cores_flood": None if cpu_at_end is None else round((cpu_at_end - cpu_at_flood) / flood_wall, 2)}


def run(clients: int = 50, database_url: str | None = None, seconds: float = 20.0, *, tasks: int = 500,
        baseline_seconds: float = 5.0, wrong_share: float = 0.5, verbose: bool = False) -> dict:
    database = ScratchDatabase(database_url)
    secret = secrets.token_urlsafe(32)
    server = None
    work_dir = tempfile.TemporaryDirectory(prefix="wes-bench-logins-")
    try:
        seed(database.url, secret, clients, tasks)
        port = _free_port()
        env = {**os.environ, "WES_SECRET_KEY": secret, "WES_ENVIRONMENT": "development", "WES_LOG_LEVEL": "warning",
               "WES_AUTO_MIGRATE": "false", "WES_CYCLE_COUNT_EVERY_MINUTES": "0", "WES_AT_RISK_SWEEP_SECONDS": "0"}
        log_path = Path(work_dir.name) / "server.log"
        with open(log_path, "wb") as server_log:
            server = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--database-url", database.url,
                                       "--port", str(port)], cwd=ROOT, env=env, stdout=server_log,
                                      stderr=subprocess.STDOUT)
            _wait_for_health(f"http://127.0.0.1:{port}", server)
            measured = asyncio.run(_measure(f"http://127.0.0.1:{port}", clients, seconds, baseline_seconds,
                                            wrong_share, 16, work_dir.name, server.pid))
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        if verbose:
            print("server log (tail):\n" + log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        return {"clients": clients, "database": database.kind, "wrong_share": wrong_share, "cores": os.cpu_count(),
                **measured}
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        work_dir.cleanup()
        database.drop()


def table(result: dict) -> str:
    outcomes = ", ".join(f"{k}: {v}" for k, v in result["by_outcome"].items())
    rows = [
        ("clients flooding", result["clients"]), ("database", result["database"]),
        ("wrong passwords", f"{result['wrong_share']:.0%}"), ("seconds", result["seconds"]),
        ("logins answered", result["logins"]), ("logins answered/s", result["logins_per_s"]),
        ("passwords checked/s", result["hashed_per_s"]), ("answers", outcomes),
        ("GET /tasks p50 / p99 ms, no flood", "{p50} / {p99}".format(**result["tasks_ms_baseline"])),
        ("GET /tasks p50 / p99 ms, flood", "{p50} / {p99}".format(**result["tasks_ms_flood"])),
        ("GET /tasks errors", result["error_count"]),
        ("server CPU (cores), no flood / flood", f"{result['server_cores_baseline']} / {result['server_cores_flood']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def add_arguments(parser) -> None:  # noqa: ANN001
    parser.add_argument("--database-url", help="sqlite (default: a temporary file) or a PostgreSQL server, on which "
                                               "a scratch database is created and dropped")
    parser.add_argument("--clients", type=int, default=50, help="clients flooding /auth/token (default 50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the flood (default 20)")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="readers alone first (default 5)")
    parser.add_argument("--wrong-share", type=float, default=0.5,
                        help="share of the flood's attempts with a wrong password (default 0.5)")
    parser.add_argument("--tasks", type=int, default=500, help="open tasks at the site (default 500)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="the server's log on stderr")


def main(args) -> int:  # noqa: ANN001
    import json

    if args.clients < 1 or args.clients > 60000 or args.seconds <= 0 or not 0 <= args.wrong_share <= 1:
        print("--clients 1…60000, --seconds > 0, --wrong-share 0…1", file=sys.stderr)
        return 2
    result = run(args.clients, args.database_url, args.seconds, tasks=args.tasks,
                 baseline_seconds=args.baseline_seconds, wrong_share=args.wrong_share, verbose=args.verbose)
    print(json.dumps(result) if args.json else table(result))
    return 0 if result["error_count"] == 0 else 1
