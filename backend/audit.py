"""Every state change appends an audit row: who, when, what, before/after."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from sqlmodel import Session, SQLModel

from backend.models import AuditEntry
from backend.sql import insert_json_rows


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


INSERT = ("INSERT INTO audit_entry (site_id, user_id, at, action, entity, entity_id, before, after) "
          "VALUES (:site_id, :user_id, :at, :action, :entity, :entity_id, :before, :after)")


def _row(entry: dict[str, Any], at: Any) -> dict[str, Any]:
    return {"site_id": entry["site_id"], "user_id": entry["user_id"], "at": at, "action": entry["action"],
            "entity": entry["entity"], "entity_id": str(entry["entity_id"]), "before": entry.get("before"),
            "after": entry.get("after")}


def params(db, entry: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    """INSERT's parameters for one entry (a dict with record()'s arguments), through a raw connection."""
    row = _row(entry, db.when(datetime.now(timezone.utc)))
    for side in ("before", "after"):
        if row[side] is not None:
            row[side] = db.json(row[side])
    return row


# PostgreSQL: many rows as one statement (a tour's claim writes one per task: ~50 executes otherwise).
_INSERT_ROWS = insert_json_rows("audit_entry", {
    "site_id": "BIGINT", "user_id": "BIGINT", "at": "TIMESTAMPTZ", "action": "TEXT", "entity": "TEXT",
    "entity_id": "TEXT", "before": "JSON", "after": "JSON"})


def record_many(db, entries: list[dict[str, Any]]) -> None:  # noqa: ANN001
    """Append audit rows through a raw connection (backend.sql.Raw): dicts with record()'s arguments."""
    if not entries:
        return
    if db.postgres and len(entries) > 1:
        at = datetime.now(timezone.utc).isoformat()
        db.send_write(_INSERT_ROWS, rows=json.dumps([_row(e, at) for e in entries], separators=(",", ":"),
                                                    default=_jsonable))
        return
    db.many(INSERT, [params(db, e) for e in entries])
