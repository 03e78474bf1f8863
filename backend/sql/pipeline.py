"""How engines carry hand-written statements (backend.sql.raw): what is out goes before any other statement on
the connection and with the COMMIT, and is dropped at a rollback; the device commands' engine
(backend.db.make_command_engine) also sends each transaction's BEGIN and queues its SAVEPOINTs."""

from __future__ import annotations

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Engine

from backend.sql.raw import OWN_BEGIN, OWNER, Raw, TransactionFailed


def watch(engine: Engine, *, begins: bool = False) -> None:
    """Wait for a connection's statements out before anything else runs on it; drop them on rollback.

    `begins`: the engine's connections are in autocommit mode and mark themselves OWN_BEGIN (the command
    engine's, backend.db.make_command_engine): each transaction's BEGIN is sent by Raw with its first
    statements, else here before the first ORM one. (Not for a connection merely executing with
    isolation_level AUTOCOMMIT: its statements must not be wrapped in a transaction.)
    """
    if not event.contains(engine, "commit", _send_with_commit):
        event.listen(engine, "before_cursor_execute", _send_or_begin_before_statement if begins
                     else _send_before_statement)
        event.listen(engine, "commit", _send_with_commit)
        event.listen(engine, "rollback", _drop_on_rollback)
        event.listen(engine.pool, "checkin", _drop_on_checkin)


def _send_before_statement(conn, *_args) -> None:  # noqa: ANN001  (an ORM or Core statement)
    raw = conn.info.get(OWNER)
    if raw is not None and raw.has_unanswered:
        raw.wait_for_answers(hold=False)  # (it may write: a SAVEPOINT still held goes first)


def _send_or_begin_before_statement(conn, *_args) -> None:  # noqa: ANN001
    _send_before_statement(conn)
    if conn.info.get(OWN_BEGIN):
        driver = conn.connection.driver_connection
        if driver.info.transaction_status == TransactionStatus.IDLE:
            driver.execute("BEGIN", prepare=False)


def _send_with_commit(conn) -> None:  # noqa: ANN001
    raw = conn.info.get(OWNER)
    if raw is None:
        return
    # (A SAVEPOINT never sent has nothing to keep; the writes after it go.)
    raw.queued = [queued for queued in raw.queued if not queued[0].startswith("SAVEPOINT ")]
    if raw.has_unanswered or raw.failed:
        # The COMMIT goes in the same pipeline; psycopg's own commit() then finds nothing to do.
        raw.enqueue("COMMIT", None, None)
        raw.wait_for_answers(hold=False)


def _drop_on_rollback(conn) -> None:  # noqa: ANN001
    raw = conn.info.get(OWNER)
    if raw is not None:
        raw.discard()


def _drop_on_checkin(_dbapi_connection, record) -> None:  # noqa: ANN001  (however the transaction ended)
    raw = record.info.pop(OWNER, None)
    if raw is not None:
        raw.discard()


class PipelineDialect(PGDialect_psycopg):
    """The device commands' dialect (backend.db.make_command_engine): SAVEPOINTs without round trips of their own.

    For many commands in one transaction, a SAVEPOINT each.

    SAVEPOINT is queued, and the writes after it wait with it while reads pass it (`Raw.enqueue`):
    they go when an answer is wanted after one of those writes, or before an ORM statement. At
    RELEASE SAVEPOINT, a SAVEPOINT still queued is dropped and neither it nor the RELEASE is sent;
    the writes after it go now, with the enclosing transaction, and if one of them fails the whole
    transaction fails (`Raw.failed`; the command dispatcher then undoes the batch and runs its
    commands one by one). ROLLBACK TO SAVEPOINT forgets a queued SAVEPOINT and what waits after it;
    one that was sent is rolled back on its own, after every answer is in (psycopg forgets its
    prepared statements when it sees a ROLLBACK, while statements in the pipeline still use them);
    after a failed statement it raises TransactionFailed. SQLAlchemy's own bookkeeping of the
    nested transaction (which ORM objects to expire) is unchanged: only the dialect's three
    statements are overridden here. Without a Raw in the transaction they run as usual.
    """

    supports_statement_cache = True  # (it compiles as its base does)

    def do_savepoint(self, connection, name: str) -> None:  # noqa: ANN001
        raw = _owner(connection)
        if raw is None:
            super().do_savepoint(connection, name)
        else:
            raw.enqueue(f"SAVEPOINT {name}", None, None)

    def do_release_savepoint(self, connection, name: str) -> None:  # noqa: ANN001
        raw = _owner(connection)
        if raw is None:
            super().do_release_savepoint(connection, name)
        elif (index := _queued_at(raw, name)) is not None:
            del raw.queued[index]  # never sent: neither is its RELEASE; the writes after it go now
            if not any(queued[0].startswith("SAVEPOINT ") for queued in raw.queued):
                raw.send_queued()
                raw.send_held()  # (a command's end: the server works on its writes while the next one runs)
        else:
            raw.enqueue(f"RELEASE SAVEPOINT {name}", None, None)
            raw.send_held()

    def do_rollback_to_savepoint(self, connection, name: str) -> None:  # noqa: ANN001
        raw = _owner(connection)
        if raw is not None:
            if raw.failed:
                raise TransactionFailed(f"a statement sent after SAVEPOINT {name} or before it failed")
            index = _queued_at(raw, name)
            if index is not None:
                del raw.queued[index:]  # the server never heard of it: nothing there to undo
                return
            # After all that was sent, and not in the pipeline: psycopg forgets its prepared statements when
            # it sees a ROLLBACK, while statements already in the pipeline still use them.
            raw.wait_for_answers()
        super().do_rollback_to_savepoint(connection, name)


def _owner(connection) -> Raw | None:  # noqa: ANN001
    """The Raw of the connection's current transaction, if any."""
    raw = connection.info.get(OWNER)
    if raw is None or raw._transaction is None or raw.session.get_transaction() is not raw._transaction:
        return None
    return raw


def _queued_at(raw: Raw, name: str) -> int | None:
    """Where the SAVEPOINT `name` waits in the queue (None: it was sent)."""
    marker = (f"SAVEPOINT {name}", None, None)
    return raw.queued.index(marker) if marker in raw.queued else None
