"""SQLite writers take turns on a Python lock instead of SQLite's busy-wait.

Every transaction on the app's SQLite engine starts with BEGIN IMMEDIATE
(backend.db). When two threads want it at once, the loser gets SQLITE_BUSY
and sqlite's busy handler sleeps in steps of 1, 2, 5, 10, 15, 20, 25, 50 ms
before trying again, so a 1 ms wait easily becomes 25 ms. Queueing the
threads of this process on a lock first hands the writer lock over the
moment it is free (other processes still meet the busy handler as before).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine

_WAIT = 30.0  # the same patience as PRAGMA busy_timeout; after it, SQLite answers "database is locked"


class FairLock:
    """A lock handed to waiters in arrival order (threading.Lock lets the releasing thread barge back in)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait(timeout)
        with self._mutex:
            if turn.is_set():
                return True  # release() handed the lock over to us
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # still held: now by the next in line
            else:
                self._held = False


def serialize_writers(engine: Engine) -> Callable[[], None]:
    """Install the lock on a SQLite engine; returns the undo."""
    lock = FairLock()
    holders: set[int] = set()
    guard = threading.Lock()
    dialect = engine.dialect
    original_commit, original_rollback = dialect.do_commit, dialect.do_rollback

    def raw(connection) -> int:  # noqa: ANN001
        return id(getattr(connection, "dbapi_connection", connection))

    def release(connection) -> None:  # noqa: ANN001
        key = raw(connection)
        with guard:
            if key not in holders:
                return
            holders.discard(key)
        lock.release()

    active = [True]

    def before_begin(conn) -> None:  # noqa: ANN001
        if not active[0]:
            return
        key = raw(conn.connection)
        with guard:
            if key in holders:
                return
        if lock.acquire(timeout=_WAIT):
            with guard:
                holders.add(key)

    def do_commit(dbapi_connection) -> None:  # noqa: ANN001
        try:
            original_commit(dbapi_connection)
        finally:
            release(dbapi_connection)

    def do_rollback(dbapi_connection) -> None:  # noqa: ANN001
        try:
            original_rollback(dbapi_connection)
        finally:
            release(dbapi_connection)

    def on_gone(dbapi_connection, *_args) -> None:  # noqa: ANN001, ANN002
        release(dbapi_connection)

    # insert=True: before backend.db's listener issues BEGIN IMMEDIATE.
    event.listen(engine, "begin", before_begin, insert=True)
    event.listen(engine.pool, "close", on_gone)
    event.listen(engine.pool, "invalidate", on_gone)
    event.listen(engine.pool, "checkin", on_gone)
    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    def undo() -> None:
        # Listeners stay (removing them can race a checkin on another thread); they just stop taking the lock.
        active[0] = False
        dialect.do_commit, dialect.do_rollback = original_commit, original_rollback
        with guard:
            held = len(holders)
            holders.clear()
        for _ in range(held):
            lock.release()

    return undo
