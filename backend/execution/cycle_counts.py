"""Cycle counts that schedule themselves: every site's due ABC counts, at start-up and then every so often.

`schedule_due_counts(engine, today)` is one pass: for each site, in a transaction of its own, the
locations `due_for_cycle_count` names get a count task from `request_counts` (reason "cycle"), which
never makes a second open count for a location. Several replicas on one PostgreSQL may run a pass at
once: a site is scheduled under a transaction-scoped advisory lock, and a replica that finds it taken
skips the site, since the holder is scheduling it. On SQLite (one process) BEGIN IMMEDIATE serialises
the passes anyway. The `cycle_count_scheduler` component runs a pass when the app starts (in the
background) and every `cycle_count_every_minutes` (0: never); `wes counts schedule` runs one pass, for cron.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select

from backend import audit
from backend.db import is_postgres, make_session_factory, unit_of_work
from backend.execution.counting import COUNT_LOCK_NAMESPACE, due_for_cycle_count, request_counts
from backend.models import Site
from backend.periodic import every
from backend.runtime import Runtime

log = logging.getLogger("wes.cycle_counts")

# Scheduled counts are slack-time work: behind the rest (tasks default to 500, the lower the more urgent).
CYCLE_COUNT_PRIORITY = 900
# Locations per request_counts call: keeps the IN lists under SQLite's and PostgreSQL's bind-parameter limits.
BATCH = 1000


class SchedulingFailed(Exception):
    """Some sites could not be scheduled (each is logged); the others' counts are committed, in `created`."""

    def __init__(self, failed: list[str], created: dict[str, int]) -> None:
        super().__init__(f"cycle counts could not be scheduled for site {', '.join(failed)}")
        self.failed = failed
        self.created = created


def schedule_due_counts(engine: Engine, today: date, *, stopping: threading.Event | None = None) -> dict[str, int]:
    """One pass: site code → count tasks created, for each site this pass scheduled (not those another holds)."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        sites = session.exec(select(Site.id, Site.code).order_by(Site.code)).all()
    created: dict[str, int] = {}
    failed: list[str] = []
    for site_id, code in sites:
        if stopping is not None and stopping.is_set():
            break
        try:
            with unit_of_work(sessions) as session:
                if is_postgres(session) and not session.execute(
                        text("SELECT pg_try_advisory_xact_lock(CAST(:namespace AS integer), CAST(:site AS integer))"),
                        {"namespace": COUNT_LOCK_NAMESPACE, "site": site_id}).scalar_one():
                    log.info("site %s: another process is scheduling its cycle counts; skipped", code)
                    continue
                site = session.get(Site, site_id)
                due = due_for_cycle_count(session, site, today)
                tasks = []
                for start in range(0, len(due), BATCH):
                    tasks += request_counts(session, site, due[start:start + BATCH], reason="cycle",
                                            priority=CYCLE_COUNT_PRIORITY)
                if tasks:
                    audit.record(session, user_id=None, site_id=site.id, action="counts.schedule", entity="site",
                                 entity_id=site.id, after={"tasks": len(tasks), "due": len(due)})
            created[code] = len(tasks)
        except Exception:
            log.exception("site %s: scheduling its cycle counts failed", code)
            failed.append(code)
    if failed:
        raise SchedulingFailed(failed, created)
    return created


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


@asynccontextmanager
async def cycle_count_scheduler(runtime: Runtime) -> AsyncIterator[None]:
    """Component: a pass as the app starts serving, then one every WES_CYCLE_COUNT_EVERY_MINUTES (0: off).

    The first pass runs in the background (a large site never counted may have thousands of locations
    due): `runtime.cycle_counts_passed` is an asyncio.Event set when a pass has ended.
    """
    minutes = runtime.settings.cycle_count_every_minutes
    if not minutes:
        yield
        return
    passed = runtime.cycle_counts_passed = asyncio.Event()

    def one_pass(stopping: threading.Event) -> None:
        try:
            created = schedule_due_counts(runtime.engine, utc_today(), stopping=stopping)
        except SchedulingFailed as exc:
            log.error("%s", exc)  # each site's error is logged above
            return
        if any(created.values()):
            log.info("cycle counts scheduled: %s", ", ".join(f"{code} {n}" for code, n in created.items() if n))

    async with every(minutes * 60, one_pass, name="cycle-count-scheduler", at_start=True, log=log,
                     failed="scheduling the due cycle counts failed", after_each=passed.set):
        yield
