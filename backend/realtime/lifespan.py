"""The realtime part of a running app: hub, event-stream hooks, command dispatcher and its workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlmodel import Session
from sqlalchemy.orm import sessionmaker

from backend.commands.dispatcher import CommandDispatcher
from backend.commands.handlers import build_registry
from backend.commands.runner import POSTGRES_MAX_BATCH, BatchRunner
from backend.db import make_command_engine, make_read_engine
from backend.devices import stream
from backend.realtime.hub import make_hub
from backend.realtime.wall import WALLS, Walls
from backend.runtime import Runtime
from backend.tasks.dispatch import DISPATCH_WEIGHT
from backend.tasks.views import NAMES_CACHE

log = logging.getLogger("wes.realtime")


def _read_sessions(runtime: Runtime):  # noqa: ANN202
    """Sessions for read-only work (stream catch-up, wall counts).

    On SQLite the app's sessions start every transaction with BEGIN IMMEDIATE
    (the writer lock); plain reads need no lock in WAL mode, so they get an
    engine of their own. On PostgreSQL the app's sessions are fine.
    """
    if runtime.engine.dialect.name != "sqlite":
        return runtime.sessions, None
    engine = make_read_engine(runtime.settings.database_url)
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False, autoflush=False), engine


@asynccontextmanager
async def realtime(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    hub = make_hub(settings.realtime_hub_url, settings.database_url)
    await hub.start()
    read_sessions, read_engine = _read_sessions(runtime)
    walls = Walls(hub, read_sessions, settings)  # the wall screens' shared state per site (backend.realtime.wall)
    walls.start()
    runtime.sessions.configure(info={**(runtime.sessions.kw.get("info") or {}),
                                     DISPATCH_WEIGHT: settings.dispatch_priority_per_metre, NAMES_CACHE: {},
                                     WALLS: walls})
    uninstall = stream.install(runtime.sessions, hub.announce)
    sqlite = runtime.engine.dialect.name == "sqlite"
    # Commands run in batches on one thread: whatever queued up while it worked on the last batch, in one
    # transaction (backend.commands.runner). On PostgreSQL on an engine of their own, whose SAVEPOINTs
    # travel with the next statement (backend.db.make_command_engine).
    command_engine = None
    if sqlite:
        dispatcher = CommandDispatcher(runtime, build_registry())
        runner = BatchRunner(dispatcher)
    else:
        command_engine = make_command_engine(settings.database_url, hold_statements=settings.pg_hold_statements)
        dispatcher = CommandDispatcher(runtime, build_registry(), bind=command_engine)
        runner = BatchRunner(dispatcher, max_batch=POSTGRES_MAX_BATCH)
    runtime.hub = hub
    runtime.commands = dispatcher
    runtime.command_runner = runner
    runtime.read_sessions = read_sessions
    runtime.walls = walls
    log.info("realtime hub %s, commands run by %s", type(hub.backend).__name__, type(runner).__name__)
    try:
        yield
    finally:
        for connection in list(runtime.device_connections.values()):
            connection.close(1001, "server stopping")
        walls.stop()
        uninstall()
        await runner.stop()
        if command_engine is not None:
            command_engine.dispose()
        await hub.stop()
        if read_engine is not None:
            read_engine.dispose()
