"""The ``wes`` command: serve, demo, migrate, create-user, counts, printer-sim, secret, bench."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from backend.config import Settings
from backend.roles import ROLES


def _settings(args: argparse.Namespace, **overrides) -> Settings:  # noqa: ANN003
    values = dict(overrides)
    if getattr(args, "database_url", None):
        values["database_url"] = args.database_url
    if getattr(args, "host", None):
        values["host"] = args.host
    if getattr(args, "port", None):
        values["port"] = args.port
    return Settings(**values)


def _serve(settings: Settings, app=None) -> None:  # noqa: ANN001
    import uvicorn

    from backend.app import create_app

    # No permessage-deflate: frames are small JSON (a task, a result), where compressing costs both the
    # server and the handheld more CPU than it saves bytes.
    uvicorn.run(app or create_app(settings, tune_gc=True), host=settings.host, port=settings.port,
                log_level=settings.log_level,
                ws_max_size=1 << 20, ws_per_message_deflate=False)


def cmd_serve(args: argparse.Namespace) -> int:
    _serve(_settings(args))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from backend.db import make_engine
    from backend.migrate import upgrade

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")
    engine.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from backend import demo
    from backend.app import build_runtime
    from backend.migrate import upgrade

    if os.environ.get("WES_ENVIRONMENT", "").strip().lower() == "production":
        print("wes demo refuses to run with WES_ENVIRONMENT=production", file=sys.stderr)
        return 2
    # The demo is a development server, said explicitly (its users' passwords are printed on its scan sheet).
    # Its own SQLite file unless a database is named (--database-url, else WES_DATABASE_URL).
    database_url = args.database_url or os.environ.get("WES_DATABASE_URL") or "sqlite:///./var/demo.db"
    settings = _settings(args, database_url=database_url, environment="development")
    if args.reset and settings.is_sqlite:
        path = settings.database_url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions() as session:
        seeded = demo.site_exists(session)
    if not seeded:
        print(f"seeding demo site {demo.SITE_CODE} (seed {args.seed}) …", flush=True)
        demo.seed(runtime, seed=args.seed, printer_port=args.printer_port or 9100)
    enrollments = demo.handheld_enrollments(runtime)
    server = f"http://{settings.host}:{settings.port}"
    sheet_path = args.scan_sheet
    os.makedirs(os.path.dirname(os.path.abspath(sheet_path)), exist_ok=True)
    with open(sheet_path, "wb") as sheet:
        sheet.write(demo.scan_sheet_pdf(runtime, server=server, enrollments=enrollments))
    runtime.engine.dispose()
    print(f"\nWES demo at {server}/  (API docs at /docs, wall screen at /app/wall/)")
    print(f"scan sheet (barcodes of the users, places, totes, products and the work): {sheet_path}; "
          f"the current one at {server}/demo/scan-sheet.pdf (linked on the handheld's sign-in screen)")
    print(f"handheld enrollment tokens for {demo.SITE_CODE} (one device each, valid "
          f"{settings.device_enrollment_minutes} minutes; QR codes on the scan sheet):")
    for enrollment in enrollments:
        print(f"  {enrollment.device:10s} {enrollment.token}")
    print("demo users (username / password / roles):")
    for user in demo.DEMO_USERS:
        print(f"  {user.username:11s} {user.password:18s} {', '.join(user.roles)}")
    print(flush=True)
    if args.no_serve:
        return 0
    if args.printer_port:
        _start_demo_printer(args.printer_port, "./var/printer")
        print(f"virtual printer listening on 127.0.0.1:{args.printer_port}, labels in ./var/printer/")
    from backend.app import create_app

    app = create_app(settings, tune_gc=True)
    app.state.demo_enrollments = enrollments  # the served scan sheet shows those still unused
    _serve(settings, app)
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from backend.app import build_runtime
    from backend.migrate import upgrade
    from backend.models import Site, User, UserSite

    settings = _settings(args)
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    from backend.auth.passwords import check_password
    from backend.errors import Invalid

    password = args.password or os.environ.get("WES_NEW_USER_PASSWORD")
    if not password:
        print("give --password or WES_NEW_USER_PASSWORD", file=sys.stderr)
        return 2
    try:
        check_password(password, username=args.username, site_codes=filter(None, (args.sites or "").split(",")))
    except Invalid as exc:
        print(f"password refused: {exc.message}", file=sys.stderr)
        return 2
    with runtime.sessions() as session:
        if session.exec(select(User).where(User.username == args.username)).first():
            print(f"user {args.username!r} exists", file=sys.stderr)
            return 1
        user = User(username=args.username, password_hash=runtime.passwords.hash(password),
                    roles=args.roles.split(","), all_sites=args.all_sites)
        session.add(user)
        session.flush()
        for code in filter(None, (args.sites or "").split(",")):
            site = session.exec(select(Site).where(Site.code == code)).first()
            if site is None:
                print(f"unknown site {code!r}", file=sys.stderr)
                return 1
            session.add(UserSite(user_id=user.id, site_id=site.id))
        session.commit()
    print(f"created user {args.username}")
    return 0


def cmd_counts_schedule(args: argparse.Namespace) -> int:
    import logging

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from backend.db import make_engine
    from backend.execution.cycle_counts import SchedulingFailed, schedule_due_counts, utc_today

    settings = _settings(args)
    try:
        url = make_url(settings.database_url)
        # (make_engine would create an empty database at a mistyped path)
        if url.get_backend_name() == "sqlite" and not (url.database and os.path.isfile(url.database)):
            print(f"no SQLite database at {url.database or ':memory:'!r}", file=sys.stderr)
            return 2
        engine = make_engine(settings.database_url)
    except ArgumentError as exc:
        print(f"not a usable database URL {settings.database_url!r}: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # skipped and failed sites, on stderr
    failed: list[str] = []
    try:
        created = schedule_due_counts(engine, utc_today())
    except SchedulingFailed as exc:
        created, failed = exc.created, exc.failed
    except SQLAlchemyError as exc:
        print(f"cannot schedule cycle counts: {getattr(exc, 'orig', None) or exc}\n"
              "is the database reachable and migrated (wes migrate)?", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for code, n in created.items():
        print(f"{code}: {n} count task{'' if n == 1 else 's'} created")
    if not created and not failed:
        print("no site was scheduled")
    for code in failed:
        print(f"{code}: failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_secret(args: argparse.Namespace) -> int:
    """A new WES_SECRET_KEY (or WES_METRICS_TOKEN): 48 random bytes, URL-safe base64 (64 characters, 384 bits)."""
    import secrets

    print(secrets.token_urlsafe(48))
    return 0


def cmd_printer_sim(args: argparse.Namespace) -> int:
    from printers.virtual import run_virtual_printer

    run_virtual_printer(args.host or "127.0.0.1", args.port, args.dir, control_port=args.control_port)
    return 0


# `wes bench <name>`: backend.bench.<module> has add_arguments(parser) and main(args) -> exit code.
BENCHES = (
    ("waves", "waves_bench", "import → allocate → plan → release of N orders through the service layer, with "
                             "travel against FCFS + S-shape and OR-Tools"),
    ("batching", "batching_bench", "order batching on Henn & Wäscher instances: ours against FCFS and savings "
                                   "batching with S-shape, optimal and OR-Tools routing"),
    ("print", "print_bench", "ZPL/PDF rendering and the print spool end to end into a virtual printer"),
    ("realtime", "realtime", "N handhelds on websockets against a real `wes serve`: command round trip, push "
                             "latency, commands/s"),
    ("kpis", "kpis_bench", "GET /api/v1/kpis over 24 h, 7 days and a whole history of N pick lines (default 30 "
                           "days, 1,000,000)"),
    ("logins", "logins", "a login flood from N clients against a real `wes serve` while others read "
                         "GET /api/v1/tasks: logins/s by answer, the readers' p50/p99"),
    ("webhooks", "webhooks_bench", "events made through the app, delivered to a local HTTP receiver: events/s and "
                                   "the lag from commit to delivery"),
)


def _start_demo_printer(port: int, out_dir: str) -> None:
    """The demo's virtual Zebra printer, in a daemon thread beside the server."""
    import threading

    from printers.virtual import run_virtual_printer

    threading.Thread(target=run_virtual_printer, args=("127.0.0.1", port, out_dir), daemon=True,
                     name="demo-printer").start()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wes", description="Warehouse execution system")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", help="overrides WES_DATABASE_URL")

    def net_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host")
        p.add_argument("--port", type=int)

    p = sub.add_parser("serve", help="run the API, PWA and wall screen")
    db_opts(p)
    net_opts(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="seed a demo site (first run) and serve it")
    db_opts(p)
    net_opts(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reset", action="store_true", help="start from an empty demo database")
    p.add_argument("--no-serve", action="store_true", help="seed and exit")
    p.add_argument("--printer-port", type=int, default=9100, help="the demo's virtual printer (0 = none)")
    p.add_argument("--scan-sheet", default="./var/demo-scan-sheet.pdf",
                   help="where to write the PDF of barcodes to scan (default ./var/demo-scan-sheet.pdf)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("printer-sim", help="run a virtual Zebra printer on TCP (ZPL in, one file per label)")
    p.add_argument("--host")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--dir", required=True, help="folder for the received labels")
    p.add_argument("--control-port", type=int, help="TCP port for state switches (paper-out, paused, offline)")
    p.set_defaults(func=cmd_printer_sim)

    p = sub.add_parser("secret", help="print a new random secret for WES_SECRET_KEY or WES_METRICS_TOKEN")
    p.set_defaults(func=cmd_secret)

    p = sub.add_parser("migrate", help="apply database migrations")
    db_opts(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create a user (e.g. the first admin)")
    db_opts(p)
    p.add_argument("--username", required=True)
    p.add_argument("--password")
    p.add_argument("--roles", required=True, help=f"comma separated: {','.join(ROLES)}")
    p.add_argument("--sites", help="comma separated site codes")
    p.add_argument("--all-sites", action="store_true")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("counts", help="count tasks")
    counts_sub = p.add_subparsers(dest="counts", required=True)
    p = counts_sub.add_parser("schedule", help="create the cycle count tasks that are due at every site (for cron)")
    db_opts(p)
    p.set_defaults(func=cmd_counts_schedule)

    # `wes bench <what>`: each benchmark adds its own subcommand to bench_sub.
    p = sub.add_parser("bench", help="benchmarks: print figures (or JSON with --json)")
    bench_sub = p.add_subparsers(dest="bench", required=True)

    for name, module_name, help_ in BENCHES:
        module = importlib.import_module(f"backend.bench.{module_name}")
        p = bench_sub.add_parser(name, help=help_)
        module.add_arguments(p)
        p.set_defaults(func=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        # Settings refused (a weak secret in production, a malformed WES_… value): say why and stop.
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            print(f"wes: {'WES_' + where.upper() + ': ' if where else ''}{message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
