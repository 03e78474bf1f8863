"""Every state change appends an audit row: who, when, what, before/after."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, SQLModel

from backend.models import AuditEntry


def snapshot(row: SQLModel | None, fields: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = row.model_dump(include=set(fields) if fields else None)
    return {k: _jsonable(v) for k, v in data.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def record(
    session: Session,
    *,
    user_id: int | None,
    site_id: int | None,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    session.add(
        AuditEntry(
            user_id=user_id,
            site_id=site_id,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )
