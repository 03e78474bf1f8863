"""Values to and from the columns hand-written statements touch, through the column types' own converters,
so that rows written by `Raw` read back through the ORM exactly like rows it wrote itself."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON

from backend.models import Task


def _same(value: Any) -> Any:
    return value


class Values:
    """The bind/result processors of a dialect's timestamp and JSON columns."""

    _of_dialect: dict[str, "Values"] = {}

    def __init__(self, dialect) -> None:  # noqa: ANN001
        when = Task.__table__.c.updated_at.type.dialect_impl(dialect)
        self._when = when.bind_processor(dialect) or _same
        json_type = JSON().dialect_impl(dialect)
        self.json = json_type.bind_processor(dialect) or _same
        self._json_back = json_type.result_processor(dialect, None) or _same

    @classmethod
    def of(cls, dialect) -> "Values":  # noqa: ANN001
        found = cls._of_dialect.get(dialect.name)
        if found is None:
            found = cls._of_dialect[dialect.name] = cls(dialect)
        return found

    def loads(self, value: Any) -> Any:
        """A JSON column's value as Python (PostgreSQL's driver already parsed it)."""
        return self._json_back(value) if isinstance(value, str) else value

    def when(self, value: datetime | None) -> Any:
        """An aware datetime for a timestamp column."""
        return None if value is None else self._when(value)

    @staticmethod
    def date_text(value: date | str | None) -> str:
        """A DATE column's value as ISO text ('' for NULL): SQLite hands back text, PostgreSQL a date."""
        if value is None:
            return ""
        return value if isinstance(value, str) else value.isoformat()
