"""backend.sql on PostgreSQL: statements sent ahead travel together, in order, and never go astray."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlmodel import Session

from backend.db import make_command_engine, make_engine
from backend.commands.batch_reads import ANYTHING, changed_since_read, note_changed, track_changes
from backend.sql import Raw, TransactionFailed, Write, own_error

pytestmark = pytest.mark.postgres


def _with_bins(engine, rows: tuple[tuple[int, int], ...] = ((1, 10), (2, 20))):  # noqa: ANN001, ANN202
    """The engine, with a table `bin` (id, qty) holding `rows`."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bin (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)")
        for row in rows:
            conn.exec_driver_sql("INSERT INTO bin VALUES (%s, %s)" % row)
    return engine


@pytest.fixture(params=["app", "commands"])
def engine(request: pytest.FixtureRequest, postgres_url: str):  # noqa: ANN201
    """The app's engine and the device commands' own (prepared statements, generic plans): both must behave."""
    engine = _with_bins(make_engine(postgres_url) if request.param == "app" else make_command_engine(postgres_url))
    yield engine
    engine.dispose()


def _quantities(engine) -> dict[int, int]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, qty FROM bin ORDER BY id").all())


def test_queued_statements_run_in_order_and_answer_together(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw.of(session)
        db.send_write("UPDATE bin SET qty = qty - :n WHERE id = :id", n=3, id=1)
        first = db.send_read("SELECT qty FROM bin WHERE id = :id", id=1)
        db.send_write("UPDATE bin SET qty = qty - :n WHERE id = :id", n=4, id=1)
        second = db.send_read("UPDATE bin SET qty = qty + 1 WHERE id = :id RETURNING qty", id=1)
        assert first.scalar() == 7  # the update before it, not the one after
        assert second.scalar() == 4
        db.prefetch("SELECT qty FROM bin WHERE id = :id", id=2)
        db.send_write("UPDATE bin SET qty = 0 WHERE id = :id", id=2)
        # Answered from the read sent ahead, before the update queued after it.
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=2) == 20
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=2) == 0  # asked again: read now
        session.commit()
    assert _quantities(engine) == {1: 4, 2: 0}


def test_an_orm_statement_sees_what_was_queued_before_it(engine):  # noqa: ANN001
    with Session(engine) as session:
        Raw.of(session).send_write("UPDATE bin SET qty = 99 WHERE id = :id", id=1)
        assert session.execute(text("SELECT qty FROM bin WHERE id = 1")).scalar() == 99
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}


def test_the_commit_sends_what_is_still_queued(engine):  # noqa: ANN001
    with Session(engine) as session:
        Raw.of(session).send_write("INSERT INTO bin VALUES (:id, :qty)", id=3, qty=30)
        session.commit()
    assert _quantities(engine) == {1: 10, 2: 20, 3: 30}


def test_a_rollback_forgets_the_queue_and_the_connection_starts_clean(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw.of(session)
        db.send_write("UPDATE bin SET qty = 0 WHERE id = :id", id=1)
        session.rollback()
    with Session(engine) as session:  # (the same pooled connection for the command engine: pool of one)
        Raw.of(session).send_write("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=2)
        session.commit()
    with Session(engine) as session:
        Raw.of(session).send_write("UPDATE bin SET qty = 0 WHERE id = :id", id=2)
        # closed without commit or rollback: the pool's reset must drop it too
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        session.commit()
    assert _quantities(engine) == {1: 10, 2: 21}


def test_orm_statements_alone_are_one_transaction_on_either_engine(engine):  # noqa: ANN001
    # (The command engine's connections are in autocommit mode: its transactions send their own BEGIN.)
    with Session(engine) as session:
        session.execute(text("UPDATE bin SET qty = 0 WHERE id = 1"))
        session.execute(text("UPDATE bin SET qty = 0 WHERE id = 2"))
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}
    with Session(engine) as session:
        session.execute(text("UPDATE bin SET qty = 11 WHERE id = 1"))
        Raw.of(session).send_write("UPDATE bin SET qty = 21 WHERE id = :id", id=2)
        with engine.connect() as other:  # nothing is visible before the COMMIT
            assert dict(other.exec_driver_sql("SELECT id, qty FROM bin").all()) == {1: 10, 2: 20}
        session.commit()
    assert _quantities(engine) == {1: 11, 2: 21}


def test_a_connection_executing_with_autocommit_is_not_wrapped_in_a_transaction(postgres_url: str) -> None:
    # On the app's engine, once Raw watches it. ANALYZE on such a connection (backend.bench.realtime_seed)
    # inside a BEGIN that the pool's reset rolls back would leave the planner without statistics.
    engine = _with_bins(make_engine(postgres_url), rows=())
    try:
        with Session(engine) as session:
            Raw.of(session).send_write("INSERT INTO bin VALUES (:id, :qty)", id=1, qty=10)
            session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("INSERT INTO bin VALUES (3, 30)")
            assert conn.connection.driver_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            conn.rollback()
        assert _quantities(engine) == {1: 10, 3: 30}
    finally:
        engine.dispose()


class _Base(DeclarativeBase):
    pass


class Bin(_Base):
    __tablename__ = "bin"
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]


def _expires_what_it_says(engine) -> None:  # noqa: ANN001
    with Session(engine) as session:
        first, second = session.get(Bin, 1), session.get(Bin, 2)
        assert (first.qty, second.qty) == (10, 20)
        db = Raw.of(session)
        db.send_write(Write("UPDATE bin SET qty = qty + 1 WHERE id = :id", (Bin, "id")), id=1)
        db.send_write("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=2)  # (says nothing: nothing expired)
        assert first.qty == 11  # read again
        assert second.qty == 20  # the ORM's copy, as loaded
        db.send_write(Write("UPDATE bin SET qty = 0", (Bin, None)))  # (every row: every loaded one)
        assert (first.qty, second.qty) == (0, 0)
        session.rollback()


def test_a_write_expires_the_loaded_rows_it_says_it_changes(engine):  # noqa: ANN001
    _expires_what_it_says(engine)


def test_a_write_expires_the_loaded_rows_it_says_it_changes_on_sqlite(sqlite_url: str) -> None:
    engine = _with_bins(make_engine(sqlite_url))
    try:
        _expires_what_it_says(engine)
    finally:
        engine.dispose()


def test_a_failing_statement_sent_ahead_fails_by_its_answer_and_nothing_stays(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw.of(session)
        db.send_write("UPDATE bin SET qty = 5 WHERE id = :id", id=1)
        before = db.send_read("SELECT qty FROM bin WHERE id = :id", id=2)
        db.send_write("INSERT INTO bin VALUES (:id, :qty)", id=2, qty=1)  # the key exists
        with pytest.raises(IntegrityError):  # where an answer is awaited, or sooner (with a later statement)
            db.send_read("SELECT qty FROM bin WHERE id = :id", id=1).one()
        with pytest.raises(RuntimeError, match="never answered"):
            before.one()
        with pytest.raises(TransactionFailed):  # nothing more goes out in this transaction
            db.send_read("SELECT qty FROM bin WHERE id = :id", id=1)
        session.rollback()
        assert Raw.of(session).scalar("SELECT qty FROM bin WHERE id = :id", id=1) == 10
    with Session(engine) as session:
        Raw.of(session).send_write("INSERT INTO bin VALUES (:id, :qty)", id=1, qty=1)
        with pytest.raises(IntegrityError):
            session.commit()  # (sent with the COMMIT: the commit fails)
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}


def test_a_command_connection_holds_its_statements_until_an_answer_is_wanted(postgres_url: str) -> None:
    engine = _with_bins(make_command_engine(postgres_url))
    try:
        with Session(engine) as session:
            db = Raw.of(session)
            db.send_write("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=1)
            db.send_write("UPDATE bin SET qty = qty + 2 WHERE id = :id", id=2)
            pipeline = db._driver._pipeline
            held = [command.args[0] for command in pipeline.command_queue if hasattr(command, "args")]
            assert held.count(b"BEGIN") == 1 and held[0] == b"BEGIN"  # one BEGIN, with them: no round trip of its own
            db.send_held()
            assert not pipeline.command_queue and pipeline.result_queue  # on their way, nobody waited
            assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=1) == 11
            session.commit()
        with Session(engine) as session:  # the next transaction begins anew
            Raw.of(session).send_write("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=1)
            session.rollback()
        assert _quantities(engine) == {1: 11, 2: 22}
    finally:
        engine.dispose()


def test_a_failed_statement_keeps_its_own_error_when_the_aborted_ones_after_it_are_raised_last() -> None:
    # (As psycopg raises them when the failed statement's answer came while it was still sending.)
    try:
        try:
            raise psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
        finally:
            raise psycopg.errors.PipelineAborted("pipeline aborted")  # noqa: B012
    except psycopg.Error as raised:
        assert isinstance(own_error(raised), psycopg.errors.UniqueViolation)
    assert isinstance(own_error(psycopg.errors.PipelineAborted("alone")), psycopg.errors.PipelineAborted)


@pytest.fixture
def batch_engine(postgres_url: str):  # noqa: ANN201
    """The device commands' engine as the app sets it up for batches: SAVEPOINTs go with the queue."""
    engine = _with_bins(make_command_engine(postgres_url))
    sent_alone: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: sent_alone.append(statement))
    yield engine, sent_alone
    engine.dispose()


@contextmanager
def _recorded(session: Session, sent: list[str]) -> Iterator[None]:
    """Every statement the session's connection sends through psycopg cursors (pipelines too) into `sent`."""
    driver = session.connection().connection.driver_connection

    class Recording(driver.cursor_factory):
        def execute(self, query, params=None, **kwargs):  # noqa: ANN001, ANN201
            sent.append(query if isinstance(query, str) else str(query))
            return super().execute(query, params, **kwargs)

    plain, driver.cursor_factory = driver.cursor_factory, Recording
    try:
        yield
    finally:
        driver.cursor_factory = plain


def _command(session: Session, qty: int, *, refuse: bool, read_first: bool = False,
             write_first: bool = False) -> None:
    """One command of a batch: a SAVEPOINT, writes, and (maybe) a refusal that undoes them."""
    savepoint = session.begin_nested()
    session.connection()
    db = Raw.of(session)
    if read_first:
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=2) is not None  # a read: the SAVEPOINT waits
    if write_first:
        assert db.run("UPDATE bin SET qty = qty + 1000 WHERE id = :id", id=2) == 1  # the SAVEPOINT goes first
    db.send_write("UPDATE bin SET qty = :qty WHERE id = :id", qty=qty, id=1)
    db.send_write("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=2)
    if refuse:
        savepoint.rollback()
    else:
        savepoint.commit()


def test_savepoints_travel_with_the_queue_and_a_rolled_back_one_undoes_only_its_own(batch_engine):  # noqa: ANN001
    engine, sent_alone = batch_engine
    sent: list[str] = []
    with Session(engine) as session, _recorded(session, sent):
        Raw.of(session).send_write("UPDATE bin SET qty = qty + 100 WHERE id = :id", id=2)  # before any savepoint
        _command(session, 11, refuse=False)
        _command(session, 12, refuse=True)  # its SAVEPOINT never left the queue: nothing is sent for it
        _command(session, 13, refuse=True, read_first=True)  # reads pass a SAVEPOINT: still nothing sent
        _command(session, 14, refuse=True, write_first=True)  # its SAVEPOINT was sent: rolled back there
        _command(session, 15, refuse=False, read_first=True)
        _command(session, 16, refuse=False, write_first=True)
        session.commit()
    assert _quantities(engine) == {1: 16, 2: 1123}
    assert not [s for s in sent_alone if "SAVEPOINT" in s and not s.startswith("ROLLBACK")]
    assert len([s for s in sent_alone if s.startswith("ROLLBACK TO SAVEPOINT")]) == 1  # the refused one that wrote
    # Only the two commands that wrote before their end sent a SAVEPOINT; only the one kept, a RELEASE.
    assert len([s for s in sent if s.startswith("SAVEPOINT")]) == 2
    assert len([s for s in sent if s.startswith("RELEASE SAVEPOINT")]) == 1


def test_a_savepoint_rollback_after_a_failed_statement_leaves_the_transaction_failed(batch_engine):  # noqa: ANN001
    """A statement of an earlier command failing where the queue is sent can't be blamed on the next one."""
    engine, _sent = batch_engine
    with Session(engine) as session:
        db = Raw.of(session)
        db.send_write("INSERT INTO bin VALUES (:id, :qty)", id=1, qty=1)  # an earlier command's write: the key exists
        savepoint = session.begin_nested()
        session.connection()
        with pytest.raises(IntegrityError):
            db.scalar("SELECT qty FROM bin WHERE id = :id", id=2)
        with pytest.raises(TransactionFailed):  # the batch must be undone whole
            savepoint.rollback()
        with pytest.raises(TransactionFailed):  # and nothing more goes to the server in it, the COMMIT least
            db.send_write("UPDATE bin SET qty = 0 WHERE id = :id", id=2)
            session.commit()
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}


def test_a_read_sent_ahead_twice_goes_once_and_answers_once(batch_engine):  # noqa: ANN001
    engine, _sent_alone = batch_engine
    sent: list[str] = []
    with Session(engine) as session, _recorded(session, sent):
        db = Raw.of(session)
        db.prefetch("SELECT qty FROM bin WHERE id = :id", id=1)
        db.prefetch("SELECT qty FROM bin WHERE id = :id", id=1)  # (already on its way)
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=1) == 10  # answered from the one sent ahead
        db.run("UPDATE bin SET qty = 11 WHERE id = :id", id=1)
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=1) == 11  # consumed: read anew
        session.commit()
    assert len([s for s in sent if s.startswith("SELECT qty")]) == 2


def test_a_batch_says_which_reads_sent_ahead_an_earlier_command_changed(batch_engine):  # noqa: ANN001
    engine, _sent = batch_engine
    with Session(engine) as session:
        note_changed(session, [("task", 1)])  # outside a batch: nothing is tracked
        assert not changed_since_read(session, [("task", 1)])
        track_changes(session)
        assert not changed_since_read(session, [("task", 1)])
        note_changed(session, [("task", 1), ("tour", 3)])
        assert changed_since_read(session, [("task", 1)]) and changed_since_read(session, [("tour", 3), ("task", 9)])
        assert not changed_since_read(session, [("task", 2), ("tour", 4)])
        note_changed(session, [ANYTHING])  # a command that does not say what it changed
        assert changed_since_read(session, [("task", 2)])
