"""Bounded input types: what every id, count, quantity, measure, text and flag a caller sends may be.

One place says how big a number and how odd a string may get, so that no input reaches the database
that the database cannot hold: ids and counts fit PostgreSQL's `integer` (SQLite's limit is far
above), quantities stay far enough below it that a sum of a few cannot overflow, floats are finite
and within a physical range, texts hold no NUL (PostgreSQL refuses it in `text`) nor other control
characters, and booleans are JSON `true`/`false` (not `0`, `"no"`). The API's request models, its
path and query parameters and the device commands' payloads (over /ws/device and HTTP) use these;
a value outside them is a 422 `validation_failed` (`invalid_payload` for a command) naming the field.

Each type carries all of its bounds: a field must not add `ge`/`le` of its own on top of one (pydantic
lets the type's bound win), it picks the type whose bounds it means or declares its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StringConstraints, WithJsonSchema

__all__ = [
    "MAX_ID", "MAX_QUANTITY", "Id", "Count", "PositiveCount", "LineNo", "Quantity", "QuantityOrZero", "Metres",
    "Millimetres", "Grams", "Litres", "Kilograms", "Text", "MultilineText", "ScanText", "Reference", "StrictBool",
    "QueryBool",
]

MAX_ID = 2**31 - 1
"""The largest id, count or offset: PostgreSQL's `integer`."""
MAX_QUANTITY = 1_000_000_000
"""The most units one action moves, orders or counts: a few of them summed still fit an `integer`."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row's id (task, wave, tour, device, print job, exception …)."""
Count = Annotated[int, Field(ge=0, le=MAX_ID)]
"""A count, an offset or an "after this id" cursor: 0 and up."""
PositiveCount = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A count that must be at least one (a wave's most orders or lines)."""
LineNo = Annotated[int, Field(ge=1, le=MAX_ID)]
"""The caller's own line number within an order or ASN."""
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
"""Units moved, ordered or received: at least one."""
QuantityOrZero = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
"""Units counted or found (zero is an answer), a capacity, a minimum."""

Metres = Annotated[float, Field(ge=-1_000_000, le=1_000_000, allow_inf_nan=False)]
"""A coordinate on a site's plan."""
Millimetres = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
"""A product's length, width or height."""
Grams = Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False)]
"""A product's weight."""
Litres = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
"""A tote's or a wave's volume."""
Kilograms = Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
"""A tote's or a cart's load."""

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
# Multi-line text keeps tab, line feed and carriage return.
_NO_CONTROL_BUT_LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# A scan keeps GS/RS/EOT (GS1 and ISO 15434 separators): the classifier judges the rest; NUL is never data.
_NO_NUL = r"^[^\x00]*$"

Text = Annotated[str, StringConstraints(pattern=_NO_CONTROL)]
"""One line of text: a code, a reference, a name, a reason. No control characters."""
MultilineText = Annotated[str, StringConstraints(pattern=_NO_CONTROL_BUT_LINES)]
"""Text that may span lines (a message to a device, a note)."""
ScanText = Annotated[str, StringConstraints(pattern=_NO_NUL)]
"""A scan as received: separators kept for the classifier, which refuses what is not a barcode."""


def _not_a_dot_segment(value: str) -> str:
    if value in (".", ".."):
        raise ValueError("must not be '.' or '..' (a URL cannot name it)")
    return value


# Printable ASCII (what Code 128 encodes: references are barcoded on slips, lists and labels) but `/` and
# `\`, which would split the URL path (`%2F` is decoded before routing).
_REFERENCE = r"^[ -.0-\[\]-~]*$"
Reference = Annotated[str, StringConstraints(pattern=_REFERENCE), AfterValidator(_not_a_dot_segment)]
"""A caller's reference that becomes part of a URL and a barcode (an order's or ASN's reference, a SKU):
printable ASCII without `/` and `\\`, and not "." or "..", so `/orders/{reference}` always reaches it."""


def _query_bool(value: Any) -> Any:
    # A query string has no types: only the words `true` and `false` are booleans ("0", "no", "on" are not).
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


QueryBool = Annotated[bool, BeforeValidator(_query_bool), WithJsonSchema({"type": "boolean"})]
"""A flag in a query string: `true` or `false`."""
