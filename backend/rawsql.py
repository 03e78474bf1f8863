"""Hand-written SQL on the session's own connection, for the few paths a handheld waits on.

A confirmed pick is ~20 statements. Through the ORM each costs ~0.3–0.7 ms
of Python on this class of machine, through a prebuilt Core statement
~0.05 ms (SQLite) and through the DBAPI cursor ~0.015 ms; `wes bench
realtime` needs the last. Everything else keeps using SQLModel.

    db = Raw(session)                      # flushes pending ORM changes first
    row = db.one(TASK_SQL, id=7)           # a tuple or None
    db.run("UPDATE task SET state = :state WHERE id = :id", state="done", id=7)

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

from sqlalchemy import JSON
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.models import Task

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_LOCK_OF = re.compile(r"\{for_update_of (\w+)\}")
_RENDERED: dict[tuple[str, str], str] = {}
_KEY = "wes_raw"


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


class Raw:
    """The DBAPI cursor of a session's transaction, with ``:name`` parameters on both databases."""

    __slots__ = ("session", "dialect", "postgres", "_cursor", "_conv", "_transaction")

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
        self._cursor = connection.connection.driver_connection.cursor()
        self._conv = _Converters.of(self.dialect)
        session.info[_KEY] = self
        return self

    def _execute(self, sql: str, params: dict[str, Any]):  # noqa: ANN202
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
        return self._execute(sql, params).fetchone()

    def scalar(self, sql: str, **params: Any) -> Any:
        row = self._execute(sql, params).fetchone()
        return None if row is None else row[0]

    def all(self, sql: str, **params: Any) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """One statement for many parameter sets (executemany; pipelined by psycopg)."""
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


def in_params(prefix: str, values) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """``(:p0, :p1, …)`` and its parameters, for an IN list."""
    values = list(values)
    names = [f"{prefix}{n}" for n in range(len(values))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, values))
