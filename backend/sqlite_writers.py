"""SQLite writers take turns on a Python lock instead of SQLite's busy-wait.

Every transaction on an SQLite engine of backend.db starts with BEGIN IMMEDIATE
(the writer lock). When two threads want it at once, the loser gets SQLITE_BUSY
and sqlite's busy handler sleeps in steps of 1, 2, 5, … 100 ms before trying
again: a 1 ms wait easily becomes 25 ms, and a thread that writes now and then
(the webhook sender recording deliveries) loses to busy request threads again
and again, for a second or more. Queueing the threads of this process on a fair
lock first, in the same `begin` listener that sends BEGIN IMMEDIATE, hands the
writer lock over in arrival order the moment it is free (other processes still
meet the busy handler as before).
"""

from __future__ import annotations

import threading
from collections import deque

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


class Writers:
    """The writer lock of one SQLite engine, installed by serialize_writers.

    The lock has one owner at a time: a pooled connection in a transaction (taken when it begins,
    given back when it commits, rolls back or returns to the pool). Only the owner's end gives it back.
    """

    def __init__(self, engine: Engine) -> None:
        self.lock = FairLock()
        self._owner: int | None = None
        self._guard = threading.Lock()
        dialect = engine.dialect
        original_commit, original_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection) -> None:  # noqa: ANN001
            try:
                original_commit(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        def do_rollback(dbapi_connection) -> None:  # noqa: ANN001
            try:
                original_rollback(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        event.listen(engine.pool, "close", self._on_gone)
        event.listen(engine.pool, "invalidate", self._on_gone)
        event.listen(engine.pool, "checkin", self._on_gone)
        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @staticmethod
    def _key(connection) -> int:  # noqa: ANN001
        return id(getattr(connection, "dbapi_connection", connection))

    def _give_back(self, owner: int) -> None:
        with self._guard:
            if self._owner != owner:
                return
            self._owner = None
        self.lock.release()

    def _release(self, connection) -> None:  # noqa: ANN001
        self._give_back(self._key(connection))

    def _on_gone(self, dbapi_connection, *_args) -> None:  # noqa: ANN001, ANN002
        self._release(dbapi_connection)

    def begin(self, conn) -> None:  # noqa: ANN001
        """Wait for this process's turn, then take SQLite's writer lock (BEGIN IMMEDIATE): a `begin` listener."""
        key = self._key(conn.connection)
        with self._guard:
            mine = self._owner == key
        if not mine and self.lock.acquire(timeout=_WAIT):
            with self._guard:
                self._owner = key
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._give_back(key)
            raise


def serialize_writers(engine: Engine) -> None:
    """Every transaction of this SQLite engine begins with the writer lock, taken in turn (backend.db)."""
    event.listen(engine, "begin", Writers(engine).begin)
