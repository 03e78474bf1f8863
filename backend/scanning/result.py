"""The outcome of classifying one scan."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from backend.scanning.lookup import LocationRef, LpnRef, ProductRef, ToteRef

__all__ = ["ScanKind", "ScanResult"]


class ScanKind(StrEnum):
    LOCATION = "location"
    LPN = "lpn"
    SSCC = "sscc"
    TOTE = "tote"
    PRODUCT = "product"
    GS1 = "gs1"  # a GS1 element string carrying more than a bare GTIN or SSCC
    UNKNOWN = "unknown"  # a well-formed plain code, not resolved (no lookup given)


@dataclass(frozen=True)
class ScanResult:
    """What a scan is, with its normalised fields.

    gtin is always GTIN-14; sscc always 18 digits without the "00" AI.
    gtin_ai says where a GS1 GTIN came from: "01" (the item itself) or "02"
    (the trade items inside a logistic unit). `elements` keeps every GS1
    element string by AI, so nothing in the barcode is lost. The refs are
    set only when a lookup resolved them.
    """

    kind: ScanKind
    raw: str
    symbology: str | None = None  # AIM symbology identifier, e.g. "]C1"
    code: str | None = None
    check_digits: str | None = None
    gtin: str | None = None
    gtin_ai: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    best_before: dt.date | None = None
    serial: str | None = None
    quantity: int | None = None
    net_weight_kg: Decimal | None = None
    sscc: str | None = None
    elements: tuple[tuple[str, str], ...] = ()
    location: LocationRef | None = None
    lpn: LpnRef | None = None
    tote: ToteRef | None = None
    product: ProductRef | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, decimals as strings, refs as dicts, None kept."""
        return {
            "kind": self.kind.value,
            "raw": self.raw,
            "symbology": self.symbology,
            "code": self.code,
            "check_digits": self.check_digits,
            "gtin": self.gtin,
            "gtin_ai": self.gtin_ai,
            "lot": self.lot,
            "expiry": _iso(self.expiry),
            "best_before": _iso(self.best_before),
            "serial": self.serial,
            "quantity": self.quantity,
            "net_weight_kg": None if self.net_weight_kg is None else str(self.net_weight_kg),
            "sscc": self.sscc,
            "elements": dict(self.elements),
            "location": _ref(self.location),
            "lpn": _ref(self.lpn),
            "tote": _ref(self.tote),
            "product": _ref(self.product),
        }


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _ref(ref: LocationRef | LpnRef | ToteRef | ProductRef | None) -> dict[str, Any] | None:
    return None if ref is None else dataclasses.asdict(ref)
