"""PostgreSQL: cursors that queue a pipeline's statements instead of writing each to the socket.

The one place that reaches into psycopg's private API, behind the setting `pg_hold_statements`
(WES_PG_HOLD_STATEMENTS, on by default) and a check of the driver at start-up.

In pipeline mode psycopg writes every statement to the socket as it is executed: a poll and a release
of the GIL per statement (~12 for a confirmed pick). The command batch thread then waits to win the GIL
back from the event loop each time, which is what a handheld's command p99 is made of under load. A
held cursor only queues the statement; the queue goes when an answer is waited for (the pipeline's
Sync), or at `send_held` (`Raw.send_held`, at a command's end). `wes bench realtime` measures the two paths:
docs/performance.md.

`held_cursor_class()` is None (with a warning, once) on a psycopg whose internals this module was
not read against: the plain path then runs, correct and a little slower. tests/unit/test_sql_held.py
fails on a driver bump, so that this file is read again before the new version is allowed.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("wes.db")

# psycopg minor versions whose Cursor._execute_gen this module copies (3.2.0–3.3.9 read, 2026-12).
CHECKED_VERSIONS = ("3.2", "3.3")
_INTERNALS = {  # the methods the held path calls, by class: a renamed one means the copy is stale
    "Cursor": ("_execute_gen", "_start_query", "_convert_query", "_maybe_prepare_gen"),
    "Connection": ("wait",),
    "Pipeline": ("_communicate_gen",),
}

_checked: dict[str, Any] = {}


def supported(version: str | None = None) -> str | None:
    """Why this psycopg cannot hold statements, or None if it can."""
    import psycopg

    version = version or psycopg.__version__
    if ".".join(version.split(".")[:2]) not in CHECKED_VERSIONS:
        return f"psycopg {version} is newer than the versions backend/sql/held.py was checked against"
    probes = {"Cursor": psycopg.Cursor, "Connection": psycopg.Connection, "Pipeline": psycopg.Pipeline}
    for name, methods in _INTERNALS.items():
        for method in methods:
            if not callable(getattr(probes[name], method, None)):
                return f"psycopg {version}: {name}.{method} is gone"
    return None


def held_cursor_class() -> type | None:
    """The cursor class that queues statements in pipeline mode, or None (plain path; warned once)."""
    if "cursor" in _checked:
        return _checked["cursor"]
    reason = supported()
    if reason is not None:
        log.warning("device commands: statements are written one by one (%s); set WES_PG_HOLD_STATEMENTS=false "
                    "to silence this, or check backend/sql/held.py against it", reason)
        _checked["cursor"] = None
        return None
    import psycopg

    class HeldCursor(psycopg.Cursor):
        """psycopg's Cursor._execute_gen without its last step in a pipeline: writing to the socket."""

        def _execute_gen(self, query, params=None, *, prepare=None, binary=None):  # noqa: ANN001, ANN202
            if self._conn._pipeline is None:
                yield from super()._execute_gen(query, params, prepare=prepare, binary=binary)
                return
            yield from self._start_query(query)
            pgq = self._convert_query(query, params)
            yield from self._maybe_prepare_gen(pgq, prepare=prepare, binary=binary)
            self._last_query = query
            yield from self._conn._prepared.maintain_gen(self._conn)

    _checked["cursor"] = HeldCursor
    return HeldCursor


def holds_statements(connection: Any) -> bool:
    """Whether this psycopg connection's cursors queue their statements (`send_held` has work to do)."""
    held = _checked.get("cursor")
    return held is not None and connection.cursor_factory is held


def send_held(connection: Any) -> None:
    """Send what the connection's pipeline holds (nobody waits for the answers)."""
    pipeline = connection._pipeline
    if pipeline is not None and pipeline.command_queue:
        with connection.lock:
            connection.wait(pipeline._communicate_gen())
