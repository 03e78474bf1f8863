"""Operational figures, also served as Prometheus text at /metrics."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from backend.models import Move, Task, WarehouseException
from backend.runtime import Runtime


def prometheus_text(runtime: Runtime) -> str:
    lines = [
        "# HELP wes_tasks Tasks by kind and state.",
        "# TYPE wes_tasks gauge",
    ]
    with runtime.sessions() as session:
        for kind, state, count in session.exec(
            select(Task.kind, Task.state, func.count()).group_by(Task.kind, Task.state)
        ).all():
            lines.append(f'wes_tasks{{kind="{kind}",state="{state}"}} {count}')
        open_exceptions = session.exec(
            select(func.count()).select_from(WarehouseException).where(WarehouseException.state == "open")
        ).one()
        moves = session.exec(select(func.count()).select_from(Move)).one()
    lines += [
        "# HELP wes_open_exceptions Exceptions waiting for a supervisor.",
        "# TYPE wes_open_exceptions gauge",
        f"wes_open_exceptions {open_exceptions}",
        "# HELP wes_moves_total Ledger moves recorded.",
        "# TYPE wes_moves_total counter",
        f"wes_moves_total {moves}",
    ]
    return "\n".join(lines) + "\n"
