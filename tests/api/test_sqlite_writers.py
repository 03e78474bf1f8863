"""SQLite writers of one process queue on a fair lock before BEGIN IMMEDIATE (backend.sqlite_writers)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from backend.db import make_engine
from backend.sqlite_writers import FairLock


def test_fair_lock_hands_over_in_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []
    queued = threading.Semaphore(0)
    threads = []
    for n in range(4):
        def wait(n: int = n) -> None:
            queued.release()
            assert lock.acquire(timeout=10)
            order.append(n)
            lock.release()
        thread = threading.Thread(target=wait)
        thread.start()
        queued.acquire()
        while len(lock._waiters) < n + 1:  # (the thread has queued itself)
            threading.Event().wait(0.001)
        threads.append(thread)
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3]


def test_fair_lock_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(timeout=1)
    assert lock.acquire(timeout=0.01) is False
    assert not lock._waiters
    lock.release()
    assert lock.acquire(timeout=0.01)


def test_a_second_writer_waits_its_turn_instead_of_meeting_sqlite_busy(tmp_path) -> None:  # noqa: ANN001
    """With SQLite's own busy handler switched off, a BEGIN IMMEDIATE while another connection holds the
    writer lock fails at once ("database is locked"); the engine's writers queue first, so it succeeds."""
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=0"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE n (v INTEGER)"))
    second_waiting = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            second_waiting.set()
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO n VALUES (2)"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO n VALUES (1)"))
        thread = threading.Thread(target=second)
        thread.start()
        second_waiting.wait(10)
        conn.execute(text("INSERT INTO n VALUES (3)"))  # still the writer, while the other waits
    thread.join(10)
    assert not thread.is_alive()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM n ORDER BY rowid")).scalars().all() == [1, 3, 2]
    engine.dispose()


def test_a_failed_begin_gives_the_turn_back(tmp_path) -> None:  # noqa: ANN001
    """A BEGIN IMMEDIATE refused by another process's writer leaves the queue free for the next writer."""
    path = tmp_path / "writers.db"
    engine = make_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=0"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE n (v INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, as far as the engine knows
    with pytest.raises(OperationalError, match="locked"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO n VALUES (1)"))
    other.execute("ROLLBACK")
    other.close()
    with engine.begin() as conn:  # not stuck behind the failed attempt's turn
        conn.execute(text("INSERT INTO n VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM n")).scalars().all() == [2]
    engine.dispose()
