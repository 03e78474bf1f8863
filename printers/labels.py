"""Label data: one frozen dataclass per template, validated on construction.

Text fields accept anything a user or ERP may type (it is escaped when
rendered); barcode fields are checked here, so a bad SSCC or lot fails with
a `LabelDataError` naming the field instead of printing an unscannable label.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal, Union

from printers.errors import LabelDataError
from printers.gs1 import normalize_gtin, validate_ai_text, validate_sscc

MAX_TEXT = 200
MAX_ADDRESS_LINES = 3


def _text(field: str, value: object, *, required: bool = True, max_length: int = MAX_TEXT) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise LabelDataError(field, "must be text")
    if required and not value.strip():
        raise LabelDataError(field, "must not be empty")
    if len(value) > max_length:
        raise LabelDataError(field, f"at most {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LabelDataError(field, "is not valid Unicode text") from exc


def _barcode_text(field: str, value: object, max_length: int = 40) -> None:
    _text(field, value, max_length=max_length)
    if not all(" " <= char <= "}" for char in str(value)) or "^" in str(value):
        raise LabelDataError(field, "printable ASCII only, without ^ and ~ (it is barcoded)")


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    lines: tuple[str, ...] = ()
    city: str = ""
    postcode: str = ""
    country: str = ""

    def __post_init__(self) -> None:
        _text("name", self.name)
        if not isinstance(self.lines, tuple):
            raise LabelDataError("lines", "must be a tuple of text lines")
        if len(self.lines) > MAX_ADDRESS_LINES:
            raise LabelDataError("lines", f"at most {MAX_ADDRESS_LINES} address lines")
        for index, line in enumerate(self.lines):
            _text(f"lines[{index}]", line, max_length=100)
        for name in ("city", "postcode", "country"):
            _text(name, getattr(self, name), required=False, max_length=100)

    @property
    def city_line(self) -> str:
        """Postcode and city on one line, the way most carriers print them."""
        return " ".join(part for part in (self.postcode, self.city) if part)


@dataclass(frozen=True, slots=True)
class LpnLabel:
    """Pallet or case licence plate: SSCC barcode plus what is on it."""

    sscc: str
    lpn: str
    sku: str | None = None
    description: str | None = None
    quantity: int | None = None
    unit: str | None = None
    lot: str | None = None

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)
        _text("lpn", self.lpn, max_length=40)
        _text("sku", self.sku, required=False, max_length=40)
        _text("description", self.description, required=False)
        _quantity("quantity", self.quantity)
        _text("unit", self.unit, required=False, max_length=10)
        _text("lot", self.lot, required=False, max_length=40)


@dataclass(frozen=True, slots=True)
class ShippingLabel:
    """GS1 logistic label for one shipping carton: "n of m", or just "n" while the order's carton count is open."""

    sscc: str
    ship_to: Address
    ship_from: Address
    carrier: str
    service: str
    order_reference: str
    carton_number: int
    weight_kg: Decimal
    # None leaves m off the label: a count that may still grow must not be printed
    carton_count: int | None = None

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)
        for name in ("ship_to", "ship_from"):
            if not isinstance(getattr(self, name), Address):
                raise LabelDataError(name, "must be an Address")
        _text("carrier", self.carrier, max_length=40)
        _text("service", self.service, max_length=40)
        _text("order_reference", self.order_reference, max_length=40)
        _quantity("carton_number", self.carton_number)
        _quantity("carton_count", self.carton_count)
        if self.carton_count is None:
            if self.carton_number is None or self.carton_number < 1:
                raise LabelDataError("carton_number", "must be 1 or more")
        elif self.carton_number is None or not 1 <= self.carton_number <= self.carton_count:
            raise LabelDataError("carton_number", "must be between 1 and carton_count")
        if not isinstance(self.weight_kg, Decimal) or not self.weight_kg.is_finite() or self.weight_kg < 0:
            raise LabelDataError("weight_kg", "must be a non-negative decimal")


@dataclass(frozen=True, slots=True)
class ToteLabel:
    tote_code: str

    def __post_init__(self) -> None:
        _barcode_text("tote_code", self.tote_code)


@dataclass(frozen=True, slots=True)
class LocationLabel:
    """Bin label: code, the check digits a picker reads back, and an arrow to the bin above or below."""

    code: str
    check_digits: str
    arrow: Literal["up", "down"] | None = None

    def __post_init__(self) -> None:
        _barcode_text("code", self.code)
        if not (isinstance(self.check_digits, str) and len(self.check_digits) == 2
                and self.check_digits.isascii() and self.check_digits.isdigit()):
            raise LabelDataError("check_digits", "must be two digits")
        if self.arrow not in (None, "up", "down"):
            raise LabelDataError("arrow", "must be 'up', 'down' or empty")


@dataclass(frozen=True, slots=True)
class ProductLabel:
    """GTIN with lot and expiry, as GS1-128 or GS1 DataMatrix."""

    gtin: str
    lot: str | None = None
    expiry: date | None = None
    description: str | None = None
    symbology: Literal["gs1-128", "gs1-datamatrix"] = "gs1-128"

    def __post_init__(self) -> None:
        normalize_gtin(self.gtin)
        if self.lot is not None:
            validate_ai_text(self.lot, "lot")
        if self.expiry is not None and not isinstance(self.expiry, date):
            raise LabelDataError("expiry", "must be a date")
        _text("description", self.description, required=False)
        if self.symbology not in ("gs1-128", "gs1-datamatrix"):
            raise LabelDataError("symbology", "must be 'gs1-128' or 'gs1-datamatrix'")


@dataclass(frozen=True, slots=True)
class EnrollmentLabel:
    """QR code a handheld scans to enrol itself; the URL carries the one-time token."""

    enrollment_url: str
    device_name: str | None = None
    site_name: str | None = None
    short_code: str | None = None

    def __post_init__(self) -> None:
        # 150 characters keep the QR code (version 8 at level M) inside its square on the label
        _text("enrollment_url", self.enrollment_url, max_length=150)
        if not all(" " < char <= "~" for char in self.enrollment_url):
            raise LabelDataError("enrollment_url", "must be a URL in printable ASCII (percent-encode the rest)")
        _text("device_name", self.device_name, required=False, max_length=60)
        _text("site_name", self.site_name, required=False, max_length=60)
        _text("short_code", self.short_code, required=False, max_length=20)


LabelData = Union[LpnLabel, ShippingLabel, ToteLabel, LocationLabel, ProductLabel, EnrollmentLabel]


def _quantity(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LabelDataError(field, "must be a whole number, 0 or more")


def label_from_mapping(label_type: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    """Build a label dataclass from JSON-like data (dates as ISO text, lists for tuples)."""
    if not isinstance(values, Mapping):
        raise LabelDataError(prefix.rstrip(".") or label_type.__name__, "must be an object")
    hints, known = _schema(label_type)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise LabelDataError(prefix + unknown[0], "unknown field")
    kwargs = {}
    for name, spec in known.items():
        if name not in values:
            if spec.default is MISSING:
                raise LabelDataError(prefix + name, "is required")
            continue
        kwargs[name] = _coerce(prefix + name, hints[name], values[name])
    try:
        return label_type(**kwargs)
    except LabelDataError as exc:
        if prefix:
            raise LabelDataError(prefix + exc.field, exc.problem) from None
        raise


@cache
def _schema(label_type: type) -> tuple[dict[str, Any], dict[str, Any]]:
    # resolving string annotations is slow; the classes never change at run time
    return typing.get_type_hints(label_type), {f.name: f for f in fields(label_type)}


def _coerce(field: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(option for option in options if option is not type(None))
        origin = typing.get_origin(hint)
    if origin is Literal:
        return value
    if hint is Address:
        return label_from_mapping(Address, value, prefix=f"{field}.")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise LabelDataError(field, "must be a list")
        return tuple(value)
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise LabelDataError(field, "must be a number")
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise LabelDataError(field, "must be a number") from exc
    if hint is date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError as exc:
                raise LabelDataError(field, "must be a date (YYYY-MM-DD)") from exc
        raise LabelDataError(field, "must be a date (YYYY-MM-DD)")
    return value
