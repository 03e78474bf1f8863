"""Bulk writes for the hot paths (order import, allocation, wave release).

On PostgreSQL, rows go in with COPY and bulk updates are one `UPDATE … FROM
unnest(arrays)` statement: tens of thousands of rows in one round trip,
where multi-row INSERTs spend seconds in driver-side query parsing and
executemany pays a round trip per row. SQLite gets plain executemany, which
is fast in-process. Everything runs on the session's connection, inside its
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlmodel import Session

from backend.db import is_postgres


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys); no ids come back."""
    if not rows:
        return
    conn = session.connection()
    if not is_postgres(session):
        conn.execute(insert(table), list(rows))
        return
    from psycopg.types.json import Jsonb

    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([Jsonb(row[c]) if c in json_columns and row[c] is not None else row[c]
                                for c in columns])


_PG_TYPES = {int: "bigint", str: "text", float: "double precision", datetime: "timestamptz"}


def update_rows(
    session: Session,
    table: Table,
    key: str,
    rows: Sequence[dict[str, Any]],
    *,
    add: Sequence[str] = (),
    guard: str | None = None,
) -> int:
    """Per-row updates by `key`; columns in `add` are incremented, the others set. Returns rows updated.

    `guard` is an extra SQL condition on the target row written with `t.` for
    the table and `v.` for the row's values (e.g. "t.reserved + v.reserved <= t.on_hand").
    """
    if not rows:
        return 0
    columns = [c for c in rows[0] if c != key]
    conn = session.connection()
    if not is_postgres(session):
        t = table.c
        values = {c: (t[c] + bindparam(f"v_{c}")) if c in add else bindparam(f"v_{c}") for c in columns}
        stmt = update(table).where(t[key] == bindparam("v_key")).values(**values)
        if guard:
            stmt = stmt.where(text(guard.replace("t.", f"{table.name}.").replace("v.", ":v_")))
        params = [{"v_key": r[key], **{f"v_{c}": r[c] for c in columns}} for r in rows]
        return conn.execute(stmt, params).rowcount
    arrays, selects = {}, []
    for name in [key, *columns]:
        sample = rows[0][name]
        pg_type = _PG_TYPES[type(sample)]
        arrays[f"a_{name}"] = [r[name] for r in rows]
        selects.append(f"unnest(CAST(:a_{name} AS {pg_type}[])) AS {name}")
    assignments = ", ".join(f"{c} = t.{c} + v.{c}" if c in add else f"{c} = v.{c}" for c in columns)
    sql = (f'UPDATE "{table.name}" AS t SET {assignments} FROM (SELECT {", ".join(selects)}) AS v '
           f"WHERE t.{key} = v.{key}" + (f" AND {guard}" if guard else ""))
    return conn.execute(text(sql), arrays).rowcount
