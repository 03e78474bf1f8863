"""What a scan can resolve to, and the lookup the classifier resolves through.

The database-backed `ScanLookup` lives with the models; `InMemoryScanLookup`
is the stand-in for tests and demos.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from backend.gs1 import normalise_gtin

__all__ = [
    "InMemoryScanLookup",
    "LocationRef",
    "LpnRef",
    "ProductRef",
    "RefId",
    "ScanLookup",
    "ToteRef",
]

RefId = int | str  # the row id as the database hands it out; opaque here


@dataclass(frozen=True)
class LocationRef:
    """A location (bin) and the two check digits printed on its label."""

    id: RefId
    code: str
    check_digits: str


@dataclass(frozen=True)
class LpnRef:
    """A container / license plate; pallets and shipping cartons may carry an SSCC."""

    id: RefId
    code: str
    sscc: str | None = None


@dataclass(frozen=True)
class ToteRef:
    id: RefId
    code: str


@dataclass(frozen=True)
class ProductRef:
    id: RefId
    sku: str


@runtime_checkable
class ScanLookup(Protocol):
    """Resolves scanned identifiers to site entities. Each returns None when nothing matches.

    Codes arrive exactly as scanned (after profile clean-up); whether
    matching ignores case is the implementation's choice. GTINs arrive as
    14 digits; SSCCs as 18 digits without the "00" AI.
    """

    def location_by_code(self, code: str) -> LocationRef | None: ...

    def lpn_by_code(self, code: str) -> LpnRef | None: ...

    def lpn_by_sscc(self, sscc: str) -> LpnRef | None: ...

    def tote_by_code(self, code: str) -> ToteRef | None: ...

    def product_by_gtin(self, gtin14: str) -> ProductRef | None: ...

    def product_by_code(self, code: str) -> ProductRef | None: ...


class InMemoryScanLookup:
    """A `ScanLookup` over dicts, filled with `add_*`; codes match exactly."""

    def __init__(self) -> None:
        self._locations: dict[str, LocationRef] = {}
        self._lpns: dict[str, LpnRef] = {}
        self._lpns_by_sscc: dict[str, LpnRef] = {}
        self._totes: dict[str, ToteRef] = {}
        self._products_by_code: dict[str, ProductRef] = {}
        self._products_by_gtin: dict[str, ProductRef] = {}

    def add_location(self, location: LocationRef) -> InMemoryScanLookup:
        self._locations[location.code] = location
        return self

    def add_lpn(self, lpn: LpnRef) -> InMemoryScanLookup:
        self._lpns[lpn.code] = lpn
        if lpn.sscc is not None:
            self._lpns_by_sscc[lpn.sscc] = lpn
        return self

    def add_tote(self, tote: ToteRef) -> InMemoryScanLookup:
        self._totes[tote.code] = tote
        return self

    def add_product(self, product: ProductRef, *, gtins: tuple[str, ...] = ()) -> InMemoryScanLookup:
        """Register a product under its SKU and its GTINs (any of GTIN-8/12/13/14)."""
        self._products_by_code[product.sku] = product
        for gtin in gtins:
            self._products_by_gtin[normalise_gtin(gtin)] = product
        return self

    def location_by_code(self, code: str) -> LocationRef | None:
        return self._locations.get(code)

    def lpn_by_code(self, code: str) -> LpnRef | None:
        return self._lpns.get(code)

    def lpn_by_sscc(self, sscc: str) -> LpnRef | None:
        return self._lpns_by_sscc.get(sscc)

    def tote_by_code(self, code: str) -> ToteRef | None:
        return self._totes.get(code)

    def product_by_gtin(self, gtin14: str) -> ProductRef | None:
        return self._products_by_gtin.get(gtin14)

    def product_by_code(self, code: str) -> ProductRef | None:
        return self._products_by_code.get(code)
