from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime stores it as timestamptz (PostgreSQL) or UTC text (SQLite)."""
    return datetime.now(timezone.utc)
