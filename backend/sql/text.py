"""The text of hand-written statements: written once with ``:name`` parameters, for SQLite and PostgreSQL.

``{for_update}``, ``{for_update_of t}`` and ``{skip_locked}`` expand to the row-locking clauses on
PostgreSQL and to nothing on SQLite, whose writer lock is already taken by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import re
from typing import Any

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_LOCK_OF = re.compile(r"\{for_update_of (\w+)\}")
_RENDERED: dict[tuple[str, str], str] = {}


def render(sql: str, dialect: str) -> str:
    """The statement as the dialect's driver takes it (cached)."""
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


class Write(str):
    """A write's text that says which ORM rows it changes: `Raw` expires those loaded in the session, so the
    ORM reads them again.

    `changes`: (model, key) pairs; key names the parameter holding the row's primary key, a tuple of
    names for a composite one, or is None for every loaded row of the model (rows found by another key).
    """

    changes: tuple[tuple[type, str | tuple[str, ...] | None], ...]

    def __new__(cls, sql: str, *changes: tuple[type, str | tuple[str, ...] | None]) -> "Write":
        self = super().__new__(cls, sql)
        self.changes = changes
        return self


def in_params(prefix: str, values) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """``(:p0, :p1, …)`` and its parameters, for an IN list."""
    values = list(values)
    names = [f"{prefix}{n}" for n in range(len(values))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, values))


def insert_json_rows(table: str, columns: dict[str, str]) -> str:
    """PostgreSQL: ``INSERT`` of many rows as one statement, from ``:rows``, a JSON array of objects.

    `columns`: name → PostgreSQL type, as json_to_recordset reads them.
    """
    names = ", ".join(columns)
    typed = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
    return (f"INSERT INTO {table} ({names}) SELECT {names} "
            f"FROM json_to_recordset(CAST(:rows AS JSON)) AS r({typed})")
