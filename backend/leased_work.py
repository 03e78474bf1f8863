"""Background senders that share their work between replicas by leases: the print spool, the webhook sender.

Each has rows it works through one at a time per row (a printer's queue, a subscription's events), and
several API replicas may run it at once. The shape they share lives here:

- an asyncio task looks for rows with work (`due`, in a worker thread) whenever a commit of this process
  says there may be some (`wake`, from an `after_commit` listener on the app's sessions) or the poll
  interval has passed, and hands each to a worker thread (`drain`): different rows proceed in parallel,
  at most `max_rows` at once, one row never twice;
- a row is worked only by the holder of its lease (`lease_owner`/`lease_until` on the row), taken with one
  conditional UPDATE, "free, expired, or mine" (`lease_free`); on SQLite there is one process, and a new
  start clears the leases a killed one left.

A subclass says which table holds the leases (`lease_model`), how long one lasts and how often to poll, and
writes `due`, `drain` and its own `after_commit`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import event, or_, update
from sqlmodel import Session

from backend.models import utcnow
from backend.runtime import Runtime

GATHER_SECONDS = 0.02  # a burst of commits wakes the sender once: let it finish before looking


class LeasedWork:
    """Start with `await start()`, stop with `await stop()`; `wake()` may be called from any thread."""

    name: ClassVar[str]  # in log lines and thread names
    lease_model: ClassVar[Any]  # the table whose rows carry lease_owner / lease_until

    def __init__(self, runtime: Runtime, *, owner: str | None, max_rows: int, log: logging.Logger) -> None:
        self.sessions = runtime.sessions
        self.settings = runtime.settings
        self.dialect = runtime.engine.dialect.name
        self.owner = owner or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.max_rows = max_rows
        self.log = log
        self._pool = ThreadPoolExecutor(max_workers=max_rows + 1, thread_name_prefix=self.name)
        self._stopping = threading.Event()
        self._draining: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._on_commit = self.after_commit  # (event.remove needs the very same callable)

    # what a subclass provides

    def lease_seconds(self) -> float:
        raise NotImplementedError

    def poll_seconds(self) -> float:
        raise NotImplementedError

    def due(self) -> tuple[list[int], datetime | None]:
        """(In a worker thread.) Rows with work this worker could take now, and the earliest retry time."""
        raise NotImplementedError

    def drain(self, row_id: int) -> Any:
        """(In a worker thread.) Work the row while holding its lease; the result goes to `drained`."""
        raise NotImplementedError

    def after_commit(self, session: Session) -> None:
        """A commit of the app's sessions: `wake()` if it may have made work."""
        raise NotImplementedError

    def drain_starting(self, row_id: int) -> None:
        """Hook: a drain of the row is about to start."""

    def drained(self, row_id: int, result: Any) -> None:
        """Hook: a drain of the row ended with this result."""

    def stopping(self) -> None:
        """Hook: stop() has begun (wake anything the drains wait on)."""

    def stopped(self) -> None:
        """Hook: every drain has ended."""

    # lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        if self.dialect == "sqlite":
            await self._loop.run_in_executor(self._pool, self.clear_leases)
        event.listen(self.sessions, "after_commit", self._on_commit)
        self._runner = asyncio.create_task(self._run(), name=self.name)
        self.log.info("%s %s started", self.name, self.owner)

    async def stop(self) -> None:
        self._stopping.set()
        self.wake()
        self.stopping()
        event.remove(self.sessions, "after_commit", self._on_commit)
        if self._runner is not None:
            await self._runner
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pool.shutdown(wait=True)
        self.stopped()
        self.log.info("%s %s stopped", self.name, self.owner)

    def wake(self) -> None:
        loop, wake_event = self._loop, self._wake_event
        if loop is None or wake_event is None:
            return
        try:
            loop.call_soon_threadsafe(wake_event.set)
        except RuntimeError:  # loop already closed
            pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake_event is not None
        while not self._stopping.is_set():
            delay = self.poll_seconds()
            try:
                due, next_retry = await loop.run_in_executor(self._pool, self.due)
                for row_id in due:
                    if row_id in self._draining or len(self._draining) >= self.max_rows:
                        continue
                    self._draining.add(row_id)
                    self.drain_starting(row_id)
                    task = asyncio.create_task(self._drain_in_thread(row_id))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if next_retry is not None:
                    delay = min(delay, max(0.005, (next_retry - utcnow()).total_seconds()))
            except Exception:
                self.log.exception("%s %s: looking for work failed", self.name, self.owner)
            try:
                await asyncio.wait_for(self._wake_event.wait(), delay)
                await asyncio.sleep(GATHER_SECONDS)
            except TimeoutError:
                pass
            self._wake_event.clear()

    async def _drain_in_thread(self, row_id: int) -> None:
        loop = asyncio.get_running_loop()
        failed = False
        try:
            self.drained(row_id, await loop.run_in_executor(self._pool, self.drain, row_id))
        except Exception:
            failed = True
            self.log.exception("%s %s: %s %s: draining failed", self.name, self.owner,
                               self.lease_model.__tablename__, row_id)
        finally:
            self._draining.discard(row_id)
            if not failed:  # look again now (more may have come); after an error, wait for the poll
                self.wake()

    # leases

    def lease_free(self, now: datetime):  # noqa: ANN201
        """The row's lease is free, expired, or this worker's."""
        model = self.lease_model
        return or_(model.lease_owner.is_(None), model.lease_until < now, model.lease_owner == self.owner)

    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds())

    def clear_leases(self) -> None:
        """SQLite, at start: this process is the only worker; leases left by a killed one are void."""
        model = self.lease_model
        with self.sessions() as session:
            session.execute(update(model).where(model.lease_owner.is_not(None))
                            .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
            session.commit()
