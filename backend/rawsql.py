"""Hand-written SQL on the session's own connection, for the few paths a handheld waits on.

A confirmed pick is ~20 statements. Through the ORM each costs ~0.3–0.7 ms
of Python on this class of machine, through a prebuilt Core statement
~0.05 ms (SQLite) and through the DBAPI cursor ~0.015 ms; `wes bench
realtime` needs the last. Everything else keeps using SQLModel.

    db = Raw(session)                      # flushes pending ORM changes first
    row = db.one(TASK_SQL, id=7)           # a tuple or None
    db.run("UPDATE task SET state = :state WHERE id = :id", state="done", id=7)

On PostgreSQL every statement is a round trip to the server, and every
round trip gives up the GIL and must win it back from the event loop; the
commands' batch thread waits for each answer while the server works: what
a handheld waits for is the number of round trips more than the statements.
So statements can be sent ahead:

    db.later(MOVE_SQL, …)                  # a write whose outcome nobody reads
    found = db.soon(TOTE_SQL, code=…)      # a read whose rows are needed a little later
    db.ahead(GTIN_SQL, gtin=…)             # a read some code further on will make: its db.one(…) is answered from this
    found.one()                            # now: everything queued goes in one pipeline, one round trip

Whatever is queued is sent, in order, with the next statement that needs an
answer (or before any ORM statement on the connection, or with the COMMIT),
in one psycopg pipeline. On SQLite (in-process, no round trips) they simply
run at once. Errors of a queued statement surface where the queue is sent;
the transaction is then rolled back as usual. `ahead` is only for rows this
transaction does not change before reading them.

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
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.models import Task

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_LOCK_OF = re.compile(r"\{for_update_of (\w+)\}")
_RENDERED: dict[tuple[str, str], str] = {}
_KEY = "wes_raw"
IN_BATCH = "wes_in_batch"  # on session.info: several commands share this transaction (a batch)
_OWNER = "wes_raw_owner"  # on the DBAPI connection's info: the Raw of its transaction (whose queue waits to be sent)
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: the next statement begins a transaction
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK: a result with rows (cursor.description would build its columns)


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


class _Converters:
    """The bind/result processors of the column types the raw statements touch, per dialect."""

    _cache: dict[str, "_Converters"] = {}

    def __init__(self, dialect) -> None:  # noqa: ANN001
        when = Task.__table__.c.updated_at.type
        self.when = when._cached_bind_processor(dialect) or (lambda v: v)
        self.when_back = when._cached_result_processor(dialect, None) or (lambda v: v)
        json_type = JSON()
        self.json = json_type._cached_bind_processor(dialect) or (lambda v: v)
        self.json_back = json_type._cached_result_processor(dialect, None) or (lambda v: v)

    @classmethod
    def of(cls, dialect) -> "_Converters":  # noqa: ANN001
        found = cls._cache.get(dialect.name)
        if found is None:
            found = cls._cache[dialect.name] = cls(dialect)
        return found


class Pending:
    """The rows of a statement sent ahead (`Raw.soon`): asking for them sends whatever is queued."""

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
                 "_ahead", "failed")

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
        self._queue: list[tuple[str, Any, Pending | None]] = []
        self._ahead: dict[tuple, Pending] = {}
        self.failed = False  # a statement sent in this transaction failed: it can only be rolled back whole
        if self.postgres:
            _watch(connection.engine)
            connection.info[_OWNER] = self
        session.info[_KEY] = self
        return self

    # --- sending ahead (one round trip for many statements on PostgreSQL) ---

    def later(self, sql: str, **params: Any) -> None:
        """A write whose outcome nobody reads: sent with the next statement that needs an answer."""
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
            self._ahead[(sql, frozenset(params.items()))] = self.soon(sql, **params)

    def _enqueue(self, text: str, params: Any, pending: Pending | None) -> None:
        self._queue.append((text, params, pending))

    def send(self, *, hold: bool = True) -> None:
        """Send everything queued in one pipeline and wait for the answers (one round trip).

        A SAVEPOINT (backend.rawsql.queue_savepoints) waits for the first statement after it that may
        write: reads need not be inside it, so with `hold` one followed only by SELECTs stays queued.
        """
        queue = self._queue
        if not queue:
            return
        if self.failed:
            raise TransactionFailed("a statement sent earlier in this transaction failed")
        held: list = []
        if hold:
            queue, held = _hold_savepoints(queue)
            if not queue:
                return
        self._queue = held
        driver = self._driver
        current = None
        try:
            with driver.pipeline():
                for current in queue:
                    text, params, pending = current
                    if pending is None:
                        self._cursor.execute(text, params)
                    else:
                        pending._cursor = cursor = driver.cursor()
                        cursor.execute(text, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._failed(queue, current, exc) from exc
        for _text, _params, pending in queue:
            if pending is not None:
                cursor = pending._cursor
                result = cursor.pgresult
                pending._rows = cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []
                pending.rowcount = cursor.rowcount
                pending._cursor = None

    def _failed(self, queue: list, current, exc: Exception) -> Exception:  # noqa: ANN001
        self.failed = True
        for _text, _params, pending in queue:
            if pending is not None:
                pending._raw = None  # its transaction is lost: asking again must not send anything
        text, params, _ = current if current is not None else ("", None, None)
        return self._wrapped(exc, text, params)

    def discard(self) -> None:
        """Forget what is queued and what was read ahead (the transaction is being rolled back)."""
        self._forget_queued()
        self._ahead.clear()

    def _forget_queued(self, since: int = 0) -> None:
        """Forget the queued statements from position `since` on (rolled back to a savepoint before them)."""
        dropped, self._queue = self._queue[since:], self._queue[:since]
        lost = {id(pending) for _text, _params, pending in dropped if pending is not None}
        for _text, _params, pending in dropped:
            if pending is not None:
                pending._raw = None
        if lost:
            self._ahead = {key: found for key, found in self._ahead.items() if id(found) not in lost}

    def _execute(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        if self.postgres and (self._queue or self._driver.pgconn.transaction_status == _IDLE):
            # Goes with what is queued (and with the BEGIN psycopg sends first): one round trip.
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

    def _sent_ahead(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
        """The answer of the same read sent ahead (`ahead`), else the read made now."""
        if self._ahead and (found := self._ahead.pop((sql, frozenset(params.items())), None)) is not None:
            return found
        return self._execute(sql, params)

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement for many parameter sets: queued like `later` on PostgreSQL, executemany on SQLite."""
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


class TransactionFailed(RuntimeError):
    """A statement sent earlier in this transaction failed: no savepoint can undo just a part of it."""


def _hold_savepoints(queue: list) -> tuple[list, list]:
    """(what to send, what stays queued): SAVEPOINTs followed by nothing but SELECTs stay, in order."""
    send: list = []
    held: list = []
    for entry in queue:
        text = entry[0]
        if text.startswith("SAVEPOINT "):
            held.append(entry)
        elif held and not text.startswith("SELECT "):
            send += held
            held = []
            send.append(entry)
        else:
            send.append(entry)
    return send, held


def _watch(engine: Engine) -> None:
    """Send a connection's queued statements before anything else runs on it; drop them on rollback."""
    if not event.contains(engine, "commit", _send_with_commit):
        event.listen(engine, "before_cursor_execute", _send_before_statement)
        event.listen(engine, "commit", _send_with_commit)
        event.listen(engine, "rollback", _drop_on_rollback)
        event.listen(engine.pool, "checkin", _drop_on_checkin)


def _send_before_statement(conn, *_args) -> None:  # noqa: ANN001  (an ORM or Core statement)
    raw = conn.info.get(_OWNER)
    if raw is not None and raw._queue:
        raw.send(hold=False)  # (it may write: its SAVEPOINT goes first)


def _send_with_commit(conn) -> None:  # noqa: ANN001
    raw = conn.info.get(_OWNER)
    if raw is not None and raw._queue:
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


def queue_savepoints(engine: Engine) -> None:
    """PostgreSQL, for many commands in one transaction (a SAVEPOINT each): no round trips of their own.

    SAVEPOINT is queued like `Raw.later` and travels with the first statement after it that may write
    (reads pass it: `Raw.send`). RELEASE SAVEPOINT is queued too, and when its SAVEPOINT never left
    the queue neither is sent: what came between goes with the enclosing transaction, and if any of
    it fails there, the whole transaction fails (`Raw.failed`; the command dispatcher then undoes the
    batch and runs its commands one by one). ROLLBACK TO SAVEPOINT forgets whatever was queued after
    its SAVEPOINT, and is not sent at all when that SAVEPOINT never left the queue; after a failed
    statement it raises TransactionFailed. SQLAlchemy's own bookkeeping of the nested transaction
    (which ORM objects to expire) is unchanged: only the dialect's three statements are routed here,
    for this engine alone. Without a Raw in the transaction they run as usual.
    """
    dialect = engine.dialect
    if getattr(dialect, "_wes_queued_savepoints", False):
        return
    plain_rollback_to = dialect.do_rollback_to_savepoint

    def owner(connection) -> Raw | None:  # noqa: ANN001
        raw = connection.info.get(_OWNER)
        if raw is None or raw._transaction is None or raw.session.get_transaction() is not raw._transaction:
            return None
        return raw

    plain_savepoint = dialect.do_savepoint
    plain_release = dialect.do_release_savepoint

    def queued_at(raw: Raw, name: str) -> int | None:
        """Where the SAVEPOINT `name` waits in the queue (None: it was sent)."""
        marker = f"SAVEPOINT {name}"
        for index in range(len(raw._queue) - 1, -1, -1):
            if raw._queue[index][0] == marker:
                return index
        return None

    def do_savepoint(connection, name: str) -> None:  # noqa: ANN001
        raw = owner(connection)
        if raw is None:
            plain_savepoint(connection, name)
        else:
            raw._enqueue(f"SAVEPOINT {name}", None, None)

    def do_release_savepoint(connection, name: str) -> None:  # noqa: ANN001
        raw = owner(connection)
        if raw is None:
            plain_release(connection, name)
        elif (index := queued_at(raw, name)) is not None:
            del raw._queue[index]  # never sent: neither is its RELEASE
        else:
            raw._enqueue(f"RELEASE SAVEPOINT {name}", None, None)

    def do_rollback_to_savepoint(connection, name: str) -> None:  # noqa: ANN001
        raw = owner(connection)
        if raw is not None:
            if raw.failed:
                raise TransactionFailed(f"a statement sent after SAVEPOINT {name} or before it failed")
            index = queued_at(raw, name)
            if index is not None:
                raw._forget_queued(index)  # the server never heard of it: nothing there to undo
                return
            raw._forget_queued()  # all of it came after the savepoint, which the server has
        plain_rollback_to(connection, name)

    dialect.do_savepoint = do_savepoint
    dialect.do_release_savepoint = do_release_savepoint
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint
    dialect._wes_queued_savepoints = True


def in_params(prefix: str, values) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """``(:p0, :p1, …)`` and its parameters, for an IN list."""
    values = list(values)
    names = [f"{prefix}{n}" for n in range(len(values))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, values))
