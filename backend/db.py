"""Engine and session construction. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
import time

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine


def make_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
            # The most recently used connection first: its page cache is warm. SQLite drops a connection's
            # cache whenever another connection has written since, so a round-robin pool reads cold pages.
            pool_use_lifo=True,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def make_read_engine(database_url: str, *, pool_size: int = 4) -> Engine:
    """An engine for reads only (stream catch-up, the wall screens).

    SQLite: plain transactions, without make_engine's BEGIN IMMEDIATE (the writer lock): in WAL mode a
    reader needs no lock and never waits for the writer.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, max_overflow=8, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size,
                           max_overflow=8)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    return engine


# A command connection idle this long is pinged at checkout; one in steady use is not (a round trip per batch).
COMMAND_PING_AFTER_IDLE_S = 5.0


def make_command_engine(database_url: str, *, hold_statements: bool = True) -> Engine:
    """PostgreSQL: the engine device commands run on (a few statements, over and over, all day).

    Every statement is prepared at its first use, with a generic plan: planned once per connection,
    not for each of its first executions as by default (the confirm's task read takes ~3 ms to
    plan and ~0.1 ms to run). psycopg forgets its prepared statements at every ROLLBACK (a
    refused command), so the threshold matters as much as the plan cache mode.

    Its connections are in autocommit mode and each transaction sends its own BEGIN, in the pipeline
    with its first statements (backend.sql.watch): psycopg would send it with a Sync of its own and
    wait for the answer, a round trip at the start of every batch of commands that buys nothing here.
    SAVEPOINTs travel with the statements after them (backend.sql.pipeline.PipelineDialect). With
    `hold_statements` a pipeline's statements wait for the next answer wanted (backend.sql.held).

    The commands' batch thread holds one connection, the run-them-one-by-one fallback of a failed
    batch a second. Instead of pinging at every checkout, a connection is pinged only after it sat
    idle (the database may have restarted meanwhile); one psycopg knows is broken is replaced.
    """
    from sqlalchemy.dialects import registry

    from backend.sql import held, pipeline
    from backend.sql.raw import OWN_BEGIN

    registry.register("postgresql.wes_pipeline", "backend.sql.pipeline", "PipelineDialect")
    engine = create_engine(make_url(database_url).set(drivername="postgresql+wes_pipeline"), pool_size=2,
                           max_overflow=2, isolation_level="AUTOCOMMIT",
                           connect_args={"prepare_threshold": 0, "options": "-c plan_cache_mode=force_generic_plan"})
    held_cursor = held.held_cursor_class() if hold_statements else None
    pipeline.watch(engine, begins=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):  # noqa: ANN001
        record.info[OWN_BEGIN] = True  # (AUTOCOMMIT: each transaction's BEGIN goes with its first statements)
        dbapi_conn.prepared_max = 256  # every command's statements (the default, 100, would evict some)
        if held_cursor is not None:
            dbapi_conn.cursor_factory = held_cursor

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):  # noqa: ANN001
        record.info["wes_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):  # noqa: ANN001
        if dbapi_conn.broken or dbapi_conn.closed:
            raise DisconnectionError("connection lost")
        idle_since = record.info.get("wes_idle_since")
        if idle_since is not None and time.monotonic() - idle_since > COMMAND_PING_AFTER_IDLE_S:
            try:
                dbapi_conn.execute("SELECT 1")  # (autocommit: no transaction, no ROLLBACK; prepared statements stay)
            except dbapi_conn.Error as exc:
                raise DisconnectionError(f"connection lost: {exc}") from exc

    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # pysqlite's own transaction handling is switched off so that we can
        # issue BEGIN IMMEDIATE: SQLite has one writer, and taking the write
        # lock up front avoids read-then-write deadlocks between sessions.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # Reads come from memory-mapped pages and a larger cache instead of read() calls.
        cur.execute("PRAGMA cache_size=-32000")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.close()

    from backend.sqlite_writers import serialize_writers

    serialize_writers(engine)  # BEGIN IMMEDIATE, after this process's writers before it


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    from backend.webhooks.outbox import watch

    factory = sessionmaker(bind=engine, class_=Session, expire_on_commit=False, autoflush=False)
    watch(factory)  # business events recorded in a transaction are numbered at its COMMIT
    return factory


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One business action, one transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def dialect_insert(session: Session):  # noqa: ANN201
    """The INSERT construct with ON CONFLICT support for the session's database."""
    return postgresql.insert if is_postgres(session) else sqlite.insert
