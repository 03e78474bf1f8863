"""The executor of hand-written statements: the DBAPI cursor of a session's transaction (see backend.sql)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from psycopg.errors import PipelineAborted
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.sql import held
from backend.sql.text import Write, render
from backend.sql.values import Values

_OF_SESSION = "wes_raw"  # on session.info: the Raw of the session's current transaction
OWNER = "wes_raw_owner"  # on the DBAPI connection's info: the Raw of its transaction (whose answers may be out)
OWN_BEGIN = "wes_own_begin"  # … True: autocommit mode, each transaction sends its BEGIN (pipeline.watch)


class Pending:
    """The rows of a statement sent ahead (`Raw.send_read`): asking for them waits for everything sent before."""

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
            self._raw.wait_for_answers()
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

    __slots__ = ("session", "dialect", "postgres", "values", "_cursor", "_transaction", "_driver", "queued",
                 "_pipeline", "_sent", "_prefetched", "failed", "_begins")

    @classmethod
    def of(cls, session: Session) -> "Raw":
        """The executor of the session's current transaction (made at its first use, then kept: asking the
        session for its connection costs more than most statements here). Pending ORM changes are flushed."""
        if session.new or session.dirty or session.deleted:
            session.flush()  # raw statements must see what the ORM has pending
        transaction = session.get_transaction()
        found = session.info.get(_OF_SESSION)
        if found is not None and transaction is not None and found._transaction is transaction:
            return found
        raw = session.info[_OF_SESSION] = cls(session)
        return raw

    def __init__(self, session: Session) -> None:
        self.session = session
        connection = session.connection()
        self._transaction = session.get_transaction()
        self.dialect = connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self._driver = connection.connection.driver_connection
        self._cursor = self._driver.cursor()
        self.values = Values.of(self.dialect)
        self.queued: list[tuple[str, Any, None]] = []  # a SAVEPOINT not sent yet, and the writes after it
        self._pipeline = None  # psycopg's pipeline context, open while statements are out unanswered
        self._sent: list[tuple[str, Any, Pending | None]] = []  # … those statements
        self._prefetched: dict[tuple, Pending] = {}
        self.failed = False  # a statement sent in this transaction failed: it can only be rolled back whole
        self._begins = False
        if self.postgres:
            from backend.sql.pipeline import watch

            watch(connection.engine)
            connection.info[OWNER] = self
            self._begins = connection.info.get(OWN_BEGIN, False)

    # --- sending ahead (one round trip for many statements on PostgreSQL) ---

    def send_write(self, sql: str, **params: Any) -> None:
        """A write whose outcome nobody reads: sent now, nobody waits for it (errors surface later)."""
        if not self.postgres:
            self._execute(sql, params)
        else:
            self.enqueue(render(sql, "postgresql"), params, None)
        if type(sql) is Write:
            self._expire_changed(sql, params)

    def send_read(self, sql: str, **params: Any) -> Pending:
        """A read (or a write … RETURNING) whose rows are wanted later: `.one()`, `.all()`, `.scalar()`."""
        if not self.postgres:
            pending = Pending(None, self._execute(sql, params).fetchall())
        else:
            pending = Pending(self)
            self.enqueue(render(sql, "postgresql"), params, pending)
        if type(sql) is Write:
            self._expire_changed(sql, params)
        return pending

    def prefetch(self, sql: str, **params: Any) -> None:
        """Send a read now that code further on will make with exactly these arguments (answered from this)."""
        if self.postgres:
            key = (sql, frozenset(params.items()))
            if key not in self._prefetched:  # (already on its way: once is enough)
                self._prefetched[key] = self.send_read(sql, **params)

    def forget_prefetch(self, sql: str, **params: Any) -> None:
        """Drop a read sent ahead whose answer may be stale; the next one is made anew."""
        self._prefetched.pop((sql, frozenset(params.items())), None)

    @property
    def has_unanswered(self) -> bool:
        """Whether statements are out unanswered, or queued."""
        return self._pipeline is not None or bool(self.queued)

    def enqueue(self, text: str, params: Any, pending: Pending | None) -> None:
        """Send the statement now, in the open pipeline: the server starts on it while Python goes on.

        Except inside a SAVEPOINT (backend.sql.pipeline.PipelineDialect): the SAVEPOINT waits for the
        first statement whose answer someone wants after a write (reads before that need not be inside
        it), and the writes after it wait with it; at its RELEASE they go, and the SAVEPOINT never does.
        """
        queue = self.queued
        if text.startswith("SAVEPOINT "):
            queue.append((text, None, None))
        elif not queue:
            self._push(text, params, pending)
        elif text.startswith("SELECT ") and all(queued[0].startswith("SAVEPOINT ") for queued in queue):
            self._push(text, params, pending)  # a read passes the SAVEPOINTs
        elif pending is None:
            queue.append((text, params, None))
        else:  # an answer is wanted after writes: they go first, inside their SAVEPOINT
            self.send_queued()
            self._push(text, params, pending)

    def send_queued(self) -> None:
        """Send what waits for a SAVEPOINT (which is dropped: see PipelineDialect)."""
        queue, self.queued = self.queued, []
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

    def wait_for_answers(self, *, hold: bool = True) -> None:
        """Wait for the answers to everything sent (one round trip); `hold=False`: what is queued goes too."""
        if not hold and self.queued:
            self.send_queued()
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

    def send_held(self) -> None:
        """Let the server start on the statements the connection holds (sent, nobody waits).

        (The command engine's cursors only queue them: backend.sql.held. Elsewhere each statement is on
        its way already.)
        """
        if self._pipeline is None or not held.holds_statements(self._driver):
            return
        try:
            held.send_held(self._driver)
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
        self.queued = []
        self._prefetched.clear()

    # --- statements answered now ---

    def _execute(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        if self.postgres and (self.has_unanswered
                              or self._driver.info.transaction_status == TransactionStatus.IDLE):
            # Goes with what is out (and with the transaction's BEGIN): one round trip.
            pending = Pending(self)
            self.enqueue(render(sql, "postgresql"), params, pending)
            self.wait_for_answers()
            return pending
        text = render(sql, self.dialect.name)
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
        count = self._execute(sql, params).rowcount
        if type(sql) is Write:
            self._expire_changed(sql, params)
        return count

    def one(self, sql: str, **params: Any) -> tuple | None:
        return self._prefetched_or_now(sql, params).fetchone()

    def scalar(self, sql: str, **params: Any) -> Any:
        row = self.one(sql, **params)
        return None if row is None else row[0]

    def all(self, sql: str, **params: Any) -> list[tuple]:
        return self._prefetched_or_now(sql, params).fetchall()

    def _prefetched_or_now(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        """The answer of the same read sent ahead (`prefetch`), else the read made now."""
        if self._prefetched and (found := self._prefetched.pop((sql, frozenset(params.items())), None)) is not None:
            return found
        return self._execute(sql, params)

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement for many parameter sets: sent like `send_write` on PostgreSQL, executemany on SQLite."""
        if self.postgres:
            text = render(sql, "postgresql")
            for row in rows:
                self.enqueue(text, row, None)
        elif rows:
            text = render(sql, self.dialect.name)
            try:
                self._cursor.executemany(text, rows)
            except self.dialect.loaded_dbapi.Error as exc:
                raise self._wrapped(exc, text, rows[0]) from exc
        if type(sql) is Write:
            for row in rows:
                self._expire_changed(sql, row)

    # --- values (backend.sql.values) ---

    def json(self, value: Any) -> Any:
        """A dict or list for a JSON column."""
        return self.values.json(value)

    def loads(self, value: Any) -> Any:
        """A JSON column's value as Python (PostgreSQL's driver already parsed it)."""
        return self.values.loads(value)

    def when(self, value: datetime | None) -> Any:
        """An aware datetime for a timestamp column."""
        return self.values.when(value)

    def date_text(self, value: date | str | None) -> str:
        """A DATE column's value as ISO text ('' for NULL)."""
        return self.values.date_text(value)

    # --- the ORM's copies of rows written here ---

    def _expire_changed(self, statement: Write, params: dict[str, Any]) -> None:
        """Expire the loaded ORM objects of the rows `statement` changes (Write.changes)."""
        session = self.session
        if not session.identity_map:
            return
        for model, key in statement.changes:
            if key is None:
                for obj in [o for o in session.identity_map.values() if isinstance(o, model)]:
                    session.expire(obj)
            else:
                ident = params[key] if isinstance(key, str) else tuple(params[k] for k in key)
                if ident is not None:  # (a pick without a tour)
                    self.expire(model, [ident])

    def expire(self, model: type, ids: Iterable) -> None:
        """Forget loaded ORM objects whose rows a statement changed, so the ORM reads them again (for rows known
        only from a statement's answer; a `Write` says what it changes itself)."""
        session = self.session
        if not session.identity_map:
            return
        for key in [session.identity_key(model, i) for i in ids]:
            obj = session.identity_map.get(key)
            if obj is not None:
                session.expire(obj)


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
