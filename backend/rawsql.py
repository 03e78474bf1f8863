"""Hand-written SQL on the session's own connection, for the few paths a handheld waits on.

A confirmed pick is ~20 statements. Through the ORM each costs ~0.3–0.7 ms
of Python on this class of machine, through a prebuilt Core statement
~0.05 ms (SQLite) and through the DBAPI cursor ~0.015 ms; `wes bench
realtime` needs the last. Everything else keeps using SQLModel.

    db = Raw(session)                      # flushes pending ORM changes first
    row = db.one(TASK_SQL, id=7)           # a tuple or None
    db.run("UPDATE task SET state = :state WHERE id = :id", state="done", id=7)

On PostgreSQL every answer waited for is a round trip to the server, and
every round trip gives up the GIL and must win it back from the event loop;
the commands' batch thread waits for each answer while the server works:
what a handheld waits for is the number of round trips more than the
statements. So nothing waits for an answer before it is needed:

    db.later(MOVE_SQL, …)                  # a write whose outcome nobody reads
    found = db.soon(TOTE_SQL, code=…)      # a read whose rows are needed a little later
    db.ahead(GTIN_SQL, gtin=…)             # a read some code further on will make: its db.one(…) is answered from this
    found.one()                            # now: wait for the answers to everything sent so far (one round trip)

Statements go to the server in order, in one open psycopg pipeline, and the
server works on them while Python goes on; asking for an answer (or any ORM
statement on the connection, or the COMMIT) waits for everything sent so far.
(The device commands' connection holds them until then, or until a command
ends (`Raw.flush`): one write to the socket, not one per statement; see
backend.db.make_command_engine.) On SQLite (in-process, no round trips)
they simply run at once. Errors of a statement sent ahead surface where an
answer is next waited for, or sooner; the transaction is then lost
(`Raw.failed`) and rolled back as usual. `ahead` is only for rows this transaction does not
change before reading them; in a batch of commands, whose reads are sent
ahead together, `note_changed` and `changed_since_read` say what an earlier
command changed. Inside a SAVEPOINT writes wait with it (`PipelineDialect`).

Statements are written once with ``:name`` parameters and work on SQLite and
PostgreSQL (``{for_update}``, ``{for_update_of t}`` and ``{skip_locked}`` expand to
the row-locking clauses on PostgreSQL and to nothing on SQLite, whose writer lock is already
taken by BEGIN IMMEDIATE). Values that are not plain ints and strings go
through the column types' own converters: `db.json(…)`, `db.when(…)`, and
`db.loads(…)` / `db.date_text(…)` on the way back, so rows written here read
back through the ORM exactly like rows it wrote itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from psycopg.errors import PipelineAborted
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import JSON, event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend import pg_held
from backend.models import Task

_CHANGED = "wes_raw_changed"  # on session.info: what this transaction's earlier commands changed (a batch)
ANYTHING = ("anything",)  # … a command that does not say what it changed
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_LOCK_OF = re.compile(r"\{for_update_of (\w+)\}")
_RENDERED: dict[tuple[str, str], str] = {}
_KEY = "wes_raw"
IN_BATCH = "wes_in_batch"  # on session.info: several commands share this transaction (a batch)
_OWNER = "wes_raw_owner"  # on the DBAPI connection's info: the Raw of its transaction (whose answers may be out)
OWN_BEGIN = "wes_own_begin"  # … True: autocommit mode, each transaction sends its BEGIN (`watch(engine, begins=True)`)


def _render(sql: str, dialect: str) -> str:
    key = (sql, dialect)
    text = _RENDERED.get(key)
    if text is None:
        pg = dialect == "postgresql"
        text = sql.replace("{for_update}", " FOR UPDATE" if pg else "").replace(
            "{skip_locked}", " SKIP LOCKED" if pg else "")
        text = _LOCK_OF.sub(lambda m: f" FOR UPDATE OF {m[1]}" if pg else "", text)
        text = _PARAM.sub(r"%(\1)s" if pg else r":\1", text.replace("%", "%%") if pg else text)
        if len(_RENDERED) > 4096:  # IN lists of many lengths: keep the cache bounded
            _RENDERED.clear()
        _RENDERED[key] = text
    return text


def _same(value: Any) -> Any:
    return value


class _Converters:
    """The bind/result processors of the column types the raw statements touch, per dialect."""

    _cache: dict[str, "_Converters"] = {}

    def __init__(self, dialect) -> None:  # noqa: ANN001
        when = Task.__table__.c.updated_at.type.dialect_impl(dialect)
        self.when = when.bind_processor(dialect) or _same
        self.when_back = when.result_processor(dialect, None) or _same
        json_type = JSON().dialect_impl(dialect)
        self.json = json_type.bind_processor(dialect) or _same
        self.json_back = json_type.result_processor(dialect, None) or _same

    @classmethod
    def of(cls, dialect) -> "_Converters":  # noqa: ANN001
        found = cls._cache.get(dialect.name)
        if found is None:
            found = cls._cache[dialect.name] = cls(dialect)
        return found


class Pending:
    """The rows of a statement sent ahead (`Raw.soon`): asking for them waits for everything sent before."""

    __slots__ = ("_raw", "_cursor", "_rows", "rowcount")

    def __init__(self, raw: "Raw | None", rows: list[tuple] | None = None) -> None:
        self._raw = raw
        self._cursor = None
        self._rows = rows
        self.rowcount = -1

    def all(self) -> list[tuple]:
        if self._rows is None:
            if self._raw is None:
                raise RuntimeError("this statement was never answered: its transaction failed")
            self._raw.send()
        return self._rows

    def one(self) -> tuple | None:
        rows = self.all()
        return rows[0] if rows else None

    def scalar(self) -> Any:
        row = self.one()
        return None if row is None else row[0]

    fetchone, fetchall = one, all  # (what Raw reads off a cursor)


class Raw:
    """The DBAPI cursor of a session's transaction, with ``:name`` parameters on both databases."""

    __slots__ = ("session", "dialect", "postgres", "_cursor", "_conv", "_transaction", "_driver", "_queue",
                 "_pipeline", "_sent", "_ahead", "failed", "_begins")

    def __new__(cls, session: Session) -> "Raw":
        if session.new or session.dirty or session.deleted:
            session.flush()  # raw statements must see what the ORM has pending
        # One per transaction: asking the session for its connection costs more than most statements here.
        transaction = session.get_transaction()
        cached = session.info.get(_KEY)
        if cached is not None and transaction is not None and cached._transaction is transaction:
            return cached
        self = super().__new__(cls)
        self.session = session
        connection = session.connection()
        self._transaction = session.get_transaction()
        self.dialect = connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self._driver = connection.connection.driver_connection
        self._cursor = self._driver.cursor()
        self._conv = _Converters.of(self.dialect)
        self._queue: list[tuple[str, Any, None]] = []  # a SAVEPOINT not sent yet, and the writes after it
        self._pipeline = None  # psycopg's pipeline context, open while statements are out unanswered
        self._sent: list[tuple[str, Any, Pending | None]] = []  # … those statements
        self._ahead: dict[tuple, Pending] = {}
        self.failed = False  # a statement sent in this transaction failed: it can only be rolled back whole
        self._begins = False
        if self.postgres:
            watch(connection.engine)
            connection.info[_OWNER] = self
            self._begins = connection.info.get(OWN_BEGIN, False)
        session.info[_KEY] = self
        return self

    # --- sending ahead (one round trip for many statements on PostgreSQL) ---

    def later(self, sql: str, **params: Any) -> None:
        """A write whose outcome nobody reads: sent now, nobody waits for it (errors surface later)."""
        if not self.postgres:
            self._execute(sql, params)
            return
        self._enqueue(_render(sql, "postgresql"), params, None)

    def soon(self, sql: str, **params: Any) -> Pending:
        """A read (or a write … RETURNING) whose rows are wanted later: `.one()`, `.all()`, `.scalar()`."""
        if not self.postgres:
            return Pending(None, self._execute(sql, params).fetchall())
        pending = Pending(self)
        self._enqueue(_render(sql, "postgresql"), params, pending)
        return pending

    def ahead(self, sql: str, **params: Any) -> None:
        """Send a read now that code further on will make with exactly these arguments (answered from this)."""
        if self.postgres:
            key = (sql, frozenset(params.items()))
            if key not in self._ahead:  # (already on its way: once is enough)
                self._ahead[key] = self.soon(sql, **params)

    @property
    def waiting(self) -> bool:
        """Whether statements are out unanswered, or queued."""
        return self._pipeline is not None or bool(self._queue)

    def _enqueue(self, text: str, params: Any, pending: Pending | None) -> None:
        """Send the statement now, in the open pipeline: the server starts on it while Python goes on.

        Except inside a SAVEPOINT (`PipelineDialect`): the SAVEPOINT waits for the first
        statement whose answer someone wants after a write (reads before that need not be inside it),
        and the writes after it wait with it; at its RELEASE they go, and the SAVEPOINT never does.
        """
        queue = self._queue
        if text.startswith("SAVEPOINT "):
            queue.append((text, None, None))
        elif not queue:
            self._push(text, params, pending)
        elif text.startswith("SELECT ") and all(queued[0].startswith("SAVEPOINT ") for queued in queue):
            self._push(text, params, pending)  # a read passes the SAVEPOINTs
        elif pending is None:
            queue.append((text, params, None))
        else:  # an answer is wanted after writes: they go first, inside their SAVEPOINT
            self._send_queued()
            self._push(text, params, pending)

    def _send_queued(self) -> None:
        queue, self._queue = self._queue, []
        for text, params, _ in queue:
            self._push(text, params, None)

    def _push(self, text: str, params: Any, pending: Pending | None) -> None:
        if self.failed:
            raise TransactionFailed("a statement sent earlier in this transaction failed")
        if self._pipeline is None:
            self._pipeline = self._driver.pipeline()
            self._pipeline.__enter__()
            if self._begins and self._driver.info.transaction_status == TransactionStatus.IDLE:
                self._cursor.execute("BEGIN", prepare=False)  # (the transaction begins with what follows)
        entry = (text, params, pending)
        self._sent.append(entry)
        try:
            if pending is None:
                self._cursor.execute(text, params)
            else:
                pending._cursor = cursor = self._driver.cursor()
                cursor.execute(text, params)
        except self.dialect.loaded_dbapi.Error as exc:  # (an earlier statement's error, answered meanwhile)
            raise self._failed(entry, exc) from exc

    def send(self, *, hold: bool = True) -> None:
        """Wait for the answers to everything sent (one round trip); `hold=False`: what is queued goes too."""
        if not hold and self._queue:
            self._send_queued()
        pipeline = self._pipeline
        if pipeline is None:
            return
        self._pipeline = None
        sent, self._sent = self._sent, []
        try:
            pipeline.__exit__(None, None, None)  # a Sync, and every answer back
        except self.dialect.loaded_dbapi.Error as exc:
            self._sent = sent
            raise self._failed(sent[-1], exc) from exc
        for _text, _params, pending in sent:
            if pending is not None:
                cursor = pending._cursor
                result = cursor.pgresult
                pending._rows = (cursor.fetchall() if result is not None and result.status == ExecStatus.TUPLES_OK
                                 else [])
                pending.rowcount = cursor.rowcount
                pending._cursor = None

    def flush(self) -> None:
        """Let the server start on the statements a command connection holds (sent, nobody waits).

        (Its cursors only queue them: see backend.pg_held. Elsewhere each statement is on its way already.)
        """
        if self._pipeline is None or not pg_held.holds_statements(self._driver):
            return
        try:
            pg_held.send_held(self._driver)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._failed(self._sent[-1], exc) from exc

    def _failed(self, current: tuple, exc: Exception) -> Exception:
        """The transaction is lost: nothing more is sent in it, and nothing sent will be answered."""
        self.failed = True
        self._close()
        text, params, _ = current
        return self._wrapped(own_error(exc), text, params)

    def _close(self) -> None:
        """Leave pipeline mode, answers or not; whatever was out is never answered."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.__exit__(None, None, None)
            except Exception:  # noqa: BLE001, S110  (the statement's error was raised already, or the transaction is ending)
                pass
        for _text, _params, pending in self._sent:
            if pending is not None:
                pending._raw = None  # asking again must not send anything
        self._sent = []

    def discard(self) -> None:
        """Forget what was sent and not answered, what is queued, and reads sent ahead (a rollback)."""
        self._close()
        self._queue = []
        self._ahead.clear()

    def _execute(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        if self.postgres and (self.waiting or self._driver.info.transaction_status == TransactionStatus.IDLE):
            # Goes with what is out (and with the transaction's BEGIN): one round trip.
            pending = Pending(self)
            self._enqueue(_render(sql, "postgresql"), params, pending)
            self.send()
            return pending
        text = _render(sql, self.dialect.name)
        try:
            self._cursor.execute(text, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(exc, text, params) from exc
        return self._cursor

    def _wrapped(self, exc: Exception, text: str, params: Any) -> Exception:
        """The driver's error as SQLAlchemy's (IntegrityError, OperationalError…), as the ORM would raise it."""
        return DBAPIError.instance(text, params, exc, self.dialect.loaded_dbapi.Error, dialect=self.dialect)

    def run(self, sql: str, **params: Any) -> int:
        """Execute; the number of rows changed."""
        return self._execute(sql, params).rowcount

    def one(self, sql: str, **params: Any) -> tuple | None:
        return self._sent_ahead(sql, params).fetchone()

    def scalar(self, sql: str, **params: Any) -> Any:
        row = self.one(sql, **params)
        return None if row is None else row[0]

    def all(self, sql: str, **params: Any) -> list[tuple]:
        return self._sent_ahead(sql, params).fetchall()

    def forget_ahead(self, sql: str, **params: Any) -> None:
        """Drop a read sent ahead: its answer may be stale (`changed_since_read`); the next one is made anew."""
        self._ahead.pop((sql, frozenset(params.items())), None)

    def _sent_ahead(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        """The answer of the same read sent ahead (`ahead`), else the read made now."""
        if self._ahead and (found := self._ahead.pop((sql, frozenset(params.items())), None)) is not None:
            return found
        return self._execute(sql, params)

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement for many parameter sets: sent like `later` on PostgreSQL, executemany on SQLite."""
        if self.postgres:
            text = _render(sql, "postgresql")
            for row in rows:
                self._enqueue(text, row, None)
            return
        if rows:
            text = _render(sql, self.dialect.name)
            try:
                self._cursor.executemany(text, rows)
            except self.dialect.loaded_dbapi.Error as exc:
                raise self._wrapped(exc, text, rows[0]) from exc

    # --- values ---

    def json(self, value: Any) -> Any:
        """A dict or list for a JSON column."""
        return self._conv.json(value)

    def loads(self, value: Any) -> Any:
        """A JSON column's value as Python (PostgreSQL's driver already parsed it)."""
        return self._conv.json_back(value) if isinstance(value, str) else value

    def when(self, value: datetime | None) -> Any:
        """An aware datetime for a timestamp column."""
        return None if value is None else self._conv.when(value)

    def date_text(self, value: date | str | None) -> str:
        """A DATE column's value as ISO text ('' for NULL): SQLite hands back text, PostgreSQL a date."""
        if value is None:
            return ""
        return value if isinstance(value, str) else value.isoformat()

    def expire(self, model: type, ids) -> None:  # noqa: ANN001
        """Forget loaded ORM objects whose rows a raw statement changed, so the ORM reads them again."""
        session = self.session
        if not session.identity_map:
            return
        for key in [session.identity_key(model, i) for i in ids]:
            obj = session.identity_map.get(key)
            if obj is not None:
                session.expire(obj)


def insert_json_rows(table: str, columns: dict[str, str]) -> str:
    """PostgreSQL: ``INSERT`` of many rows as one statement, from ``:rows``, a JSON array of objects.

    `columns`: name → PostgreSQL type, as json_to_recordset reads them.
    """
    names = ", ".join(columns)
    typed = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
    return (f"INSERT INTO {table} ({names}) SELECT {names} "
            f"FROM json_to_recordset(CAST(:rows AS JSON)) AS r({typed})")


def own_error(exc: BaseException) -> BaseException:
    """The failed statement's own error, not the PipelineAborted of the statements after it.

    When a failed statement's answer arrives while psycopg is still sending, the answers it fetches
    afterwards (PipelineAborted, for each statement up to the Sync) raise from its `finally` and hide
    the first error, which is then their `__context__`: a duplicate key must still be an IntegrityError.
    """
    while isinstance(exc, PipelineAborted) and isinstance(exc.__context__, Exception):
        exc = exc.__context__
    return exc


class TransactionFailed(RuntimeError):
    """A statement sent earlier in this transaction failed: no savepoint can undo just a part of it."""


def track_changes(session: Session) -> None:
    """A batch of commands begins in this transaction: reads sent ahead for all of them may go stale.

    Each command notes what it changed (`note_changed`); a later one checks what it read ahead
    (`changed_since_read`) and reads again if one of its rows may have changed meanwhile.
    """
    session.info[_CHANGED] = set()


def note_changed(session: Session, keys: Iterable[tuple]) -> None:
    """Rows this command changed, as keys like ("task", 7) (nothing to do outside a batch)."""
    changed = session.info.get(_CHANGED)
    if changed is not None:
        changed.update(keys)


def changed_since_read(session: Session, keys: Iterable[tuple]) -> bool:
    """Whether an earlier command of this batch changed any of these (or said nothing of what it changed)."""
    changed = session.info.get(_CHANGED)
    return bool(changed) and (ANYTHING in changed or not changed.isdisjoint(keys))


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
    raw = conn.info.get(_OWNER)
    if raw is not None and raw.waiting:
        raw.send(hold=False)  # (it may write: a SAVEPOINT still held goes first)


def _send_or_begin_before_statement(conn, *_args) -> None:  # noqa: ANN001
    _send_before_statement(conn)
    if conn.info.get(OWN_BEGIN):
        driver = conn.connection.driver_connection
        if driver.info.transaction_status == TransactionStatus.IDLE:
            driver.execute("BEGIN", prepare=False)


def _send_with_commit(conn) -> None:  # noqa: ANN001
    raw = conn.info.get(_OWNER)
    if raw is None:
        return
    # (A SAVEPOINT never sent has nothing to keep; the writes after it go.)
    raw._queue = [queued for queued in raw._queue if not queued[0].startswith("SAVEPOINT ")]
    if raw.waiting or raw.failed:
        # The COMMIT goes in the same pipeline; psycopg's own commit() then finds nothing to do.
        raw._enqueue("COMMIT", None, None)
        raw.send(hold=False)


def _drop_on_rollback(conn) -> None:  # noqa: ANN001
    raw = conn.info.get(_OWNER)
    if raw is not None:
        raw.discard()


def _drop_on_checkin(_dbapi_connection, record) -> None:  # noqa: ANN001  (however the transaction ended)
    raw = record.info.pop(_OWNER, None)
    if raw is not None:
        raw.discard()


class PipelineDialect(PGDialect_psycopg):
    """The device commands' dialect (backend.db.make_command_engine): SAVEPOINTs without round trips of their own.

    For many commands in one transaction, a SAVEPOINT each.

    SAVEPOINT is queued, and the writes after it wait with it while reads pass it (`Raw._enqueue`):
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
            raw._enqueue(f"SAVEPOINT {name}", None, None)

    def do_release_savepoint(self, connection, name: str) -> None:  # noqa: ANN001
        raw = _owner(connection)
        if raw is None:
            super().do_release_savepoint(connection, name)
        elif (index := _queued_at(raw, name)) is not None:
            del raw._queue[index]  # never sent: neither is its RELEASE; the writes after it go now
            if not any(queued[0].startswith("SAVEPOINT ") for queued in raw._queue):
                raw._send_queued()
                raw.flush()  # (a command's end: the server works on its writes while the next one runs)
        else:
            raw._enqueue(f"RELEASE SAVEPOINT {name}", None, None)
            raw.flush()

    def do_rollback_to_savepoint(self, connection, name: str) -> None:  # noqa: ANN001
        raw = _owner(connection)
        if raw is not None:
            if raw.failed:
                raise TransactionFailed(f"a statement sent after SAVEPOINT {name} or before it failed")
            index = _queued_at(raw, name)
            if index is not None:
                del raw._queue[index:]  # the server never heard of it: nothing there to undo
                return
            # After all that was sent, and not in the pipeline: psycopg forgets its prepared statements when
            # it sees a ROLLBACK, while statements already in the pipeline still use them.
            raw.send()
        super().do_rollback_to_savepoint(connection, name)


def _owner(connection) -> Raw | None:  # noqa: ANN001
    """The Raw of the connection's current transaction, if any."""
    raw = connection.info.get(_OWNER)
    if raw is None or raw._transaction is None or raw.session.get_transaction() is not raw._transaction:
        return None
    return raw


def _queued_at(raw: Raw, name: str) -> int | None:
    """Where the SAVEPOINT `name` waits in the queue (None: it was sent)."""
    marker = (f"SAVEPOINT {name}", None, None)
    return raw._queue.index(marker) if marker in raw._queue else None


def in_params(prefix: str, values) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """``(:p0, :p1, …)`` and its parameters, for an IN list."""
    values = list(values)
    names = [f"{prefix}{n}" for n in range(len(values))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, values))
