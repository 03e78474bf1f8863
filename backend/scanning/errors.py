"""Scan errors: a typed hierarchy with snake_case codes and safe messages.

Messages are shown in API error envelopes and on a handheld's screen, so the
scanned value is echoed through `safe_echo`: control characters escaped,
length capped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ECHO_LIMIT", "MalformedScan", "ScanError", "UnknownScan", "safe_echo"]

ECHO_LIMIT = 64


def safe_echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """Quote a scanned value for a message: repr-escaped, at most `limit` characters of it.

    repr escapes every character that is not printable (control characters,
    bidi overrides, zero-width marks), so the result is one safe line.
    """
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


class ScanError(Exception):
    """A scan that could not be classified. `code` is a stable snake_case id."""

    code: str = "scan_error"

    def __init__(self, message: str, *, code: str | None = None, value: object = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.value_echo = None if value is None else safe_echo(value)
        self.details: dict[str, Any] = dict(details)
        if self.value_echo is not None:
            self.details.setdefault("value", self.value_echo)

    def to_dict(self) -> dict[str, Any]:
        """The inner part of the API error envelope: code, message, details."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}


class MalformedScan(ScanError):
    """The scan is not well formed: empty, too long, junk characters, bad check digit, truncated."""

    code = "malformed_scan"


class UnknownScan(ScanError):
    """The scan is well formed but names nothing the site knows."""

    code = "unknown_scan"
