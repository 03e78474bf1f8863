"""Websocket error codes and close codes."""

from __future__ import annotations

from typing import Any


class ProtocolError(Exception):
    """A message the server will not act on; answered with an error, the connection stays up."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


# Close codes (4000-4999 are the application's own).
CLOSE_AUTH_FAILED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_SLOW = 4429  # the client fell too far behind: it resumes by seq
CLOSE_REPLACED = 4409  # the same device connected again
CLOSE_REVOKED = 4403
CLOSE_SIGNED_OFF = 4410  # the user's tokens were revoked (disabled, signed out, password changed): sign in again
CLOSE_IDLE = 4002  # no message (not even a pong) within two heartbeats
CLOSE_TOO_LARGE = 1009
CLOSE_GOING_AWAY = 1001
