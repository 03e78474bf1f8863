"""Scan classification: from a raw scanner string to what it names on the site.

Pure: no database or web imports. The database-backed `ScanLookup` is
supplied by the caller.
"""

from backend.scanning.classify import classify_scan, confirms_location, split_location_check_digits
from backend.scanning.errors import MalformedScan, ScanError, UnknownScan, safe_echo
from backend.scanning.lookup import InMemoryScanLookup, LocationRef, LpnRef, ProductRef, RefId, ScanLookup, ToteRef
from backend.scanning.profile import DEFAULT_SCAN_PROFILE, GS, ScanProfile
from backend.scanning.result import ScanKind, ScanResult

__all__ = [
    "DEFAULT_SCAN_PROFILE",
    "GS",
    "InMemoryScanLookup",
    "LocationRef",
    "LpnRef",
    "MalformedScan",
    "ProductRef",
    "RefId",
    "ScanError",
    "ScanKind",
    "ScanLookup",
    "ScanProfile",
    "ScanResult",
    "ToteRef",
    "UnknownScan",
    "classify_scan",
    "confirms_location",
    "safe_echo",
    "split_location_check_digits",
]
