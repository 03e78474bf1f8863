"""Typed errors of the printers package: one hierarchy for talking to printers, one for label data."""

from __future__ import annotations

from typing import Any


class PrinterError(Exception):
    """Anything that went wrong between us and a printer."""


class PrinterOffline(PrinterError):
    """The printer cannot be reached: connection refused, host unreachable or connect timed out."""


class PrinterTimeout(PrinterError):
    """Connected, but the printer stopped taking data before the job was sent."""


class PrinterFault(PrinterError):
    """The printer answered, and what it said means it will not print (paper out, head open...)."""

    def __init__(self, status: Any, message: str | None = None) -> None:
        self.status = status
        reasons = ", ".join(getattr(status, "reasons", ())) or "not ready"
        super().__init__(message or f"printer not ready: {reasons}")


class PrinterProtocolError(PrinterError):
    """The printer answered something that is not a valid reply."""


class LabelDataError(ValueError):
    """Label data that cannot be printed as given; `field` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class UnknownTemplate(LookupError):
    """No label template has that name."""
