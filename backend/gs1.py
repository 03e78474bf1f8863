"""GS1 identifiers: check digits, GTINs, SSCCs, and location check digits.

A thin typed layer over the one GS1 check digit, `printers.gs1.gs1_check_digit`
(printers is the lower layer: it renders the same keys). Everything here is pure and
strict: inputs are never trimmed or padded behind the caller's back, so a
value that passes `is_valid_*` is exactly the value that was checked.
"""

from __future__ import annotations

import hashlib
import hmac

from printers.gs1 import gs1_check_digit

__all__ = [
    "GS1ValueError",
    "GTIN_LENGTHS",
    "LOCATION_CHECK_DIGITS_RANGE",
    "SSCC_LENGTH",
    "check_digit",
    "is_valid_gtin",
    "is_valid_sscc",
    "location_check_digits",
    "make_sscc",
    "normalise_gtin",
]

GTIN_LENGTHS: tuple[int, ...] = (8, 12, 13, 14)
SSCC_LENGTH = 18
_SSCC_BODY_LENGTH = 16  # company prefix + serial reference, between extension and check digit
_COMPANY_PREFIX_LENGTHS = range(6, 13)

# Location check digits run "10".."99": never "00" (reads as "not set") and no
# leading zero, which spreadsheets and voice systems both drop ("07" -> "7").
LOCATION_CHECK_DIGITS_RANGE = range(10, 100)


class GS1ValueError(ValueError):
    """A value handed to a GS1 builder does not fit the GS1 rules."""


def _is_ascii_digits(value: str) -> bool:
    # str.isdecimal() also accepts Arabic-Indic and full-width digits.
    return value.isascii() and value.isdecimal()


def check_digit(payload: str) -> int:
    """Return the GS1 mod-10 check digit for a string of digits.

    Raises GS1ValueError for an empty or non-digit payload.
    """
    if not payload or not _is_ascii_digits(payload):
        msg = f"Expected a non-empty string of digits, got {payload!r:.40}."
        raise GS1ValueError(msg)
    return int(gs1_check_digit(payload))


def _has_valid_check_digit(value: str) -> bool:
    return check_digit(value[:-1]) == int(value[-1])


def is_valid_gtin(value: str) -> bool:
    """Return whether `value` is a GTIN-8, -12, -13 or -14 with a correct check digit.

    The value must be exactly the digits (no spaces). All-zero values pass
    the checksum but are what scanners and feeds emit for "no GTIN", so they
    are rejected.
    """
    if not isinstance(value, str) or len(value) not in GTIN_LENGTHS:
        return False
    if not _is_ascii_digits(value) or value.count("0") == len(value):
        return False
    return _has_valid_check_digit(value)


def normalise_gtin(value: str) -> str:
    """Return a valid GTIN-8/12/13/14 as its 14-digit form (left zero-padded).

    GTIN-14 is the one form to store and compare GTINs in; the padding keeps
    the check digit valid. Raises GS1ValueError if `value` is not a valid GTIN.
    """
    if not is_valid_gtin(value):
        msg = f"Not a valid GTIN-8/12/13/14: {value!r:.40}."
        raise GS1ValueError(msg)
    return value.zfill(14)


def is_valid_sscc(value: str) -> bool:
    """Return whether `value` is exactly 18 digits with a correct check digit.

    The AI prefix "00" is not accepted here; strip it first.
    """
    if not isinstance(value, str) or len(value) != SSCC_LENGTH:
        return False
    if not _is_ascii_digits(value):
        return False
    return _has_valid_check_digit(value)


def make_sscc(extension_digit: int, company_prefix: str, serial_reference: int | str) -> str:
    """Build an 18-digit SSCC: extension digit, company prefix, serial reference, check digit.

    `company_prefix` is the GS1 Company Prefix, 6 to 12 digits. The serial
    reference gets the remaining 16 - len(company_prefix) digits; it may be
    an int or a string of digits and is left zero-padded to that width.
    Raises GS1ValueError when a part does not fit.
    """
    if isinstance(extension_digit, bool) or not isinstance(extension_digit, int):
        msg = f"Extension digit must be an int 0-9, got {extension_digit!r:.40}."
        raise GS1ValueError(msg)
    if not 0 <= extension_digit <= 9:
        msg = f"Extension digit must be 0-9, got {extension_digit}."
        raise GS1ValueError(msg)
    if not isinstance(company_prefix, str) or not _is_ascii_digits(company_prefix):
        msg = f"Company prefix must be a string of digits, got {company_prefix!r:.40}."
        raise GS1ValueError(msg)
    if len(company_prefix) not in _COMPANY_PREFIX_LENGTHS:
        msg = f"Company prefix must be 6-12 digits, got {len(company_prefix)}."
        raise GS1ValueError(msg)

    width = _SSCC_BODY_LENGTH - len(company_prefix)
    serial = _serial_digits(serial_reference)
    if len(serial) > width:
        msg = (
            f"Serial reference {serial} does not fit in {width} digits "
            f"after a {len(company_prefix)}-digit company prefix."
        )
        raise GS1ValueError(msg)

    payload = f"{extension_digit}{company_prefix}{serial.zfill(width)}"
    return f"{payload}{check_digit(payload)}"


def _serial_digits(serial_reference: int | str) -> str:
    if isinstance(serial_reference, bool):
        msg = "Serial reference must be an int or a string of digits, got a bool."
        raise GS1ValueError(msg)
    if isinstance(serial_reference, int):
        if serial_reference < 0:
            msg = f"Serial reference must not be negative, got {serial_reference}."
            raise GS1ValueError(msg)
        return str(serial_reference)
    if isinstance(serial_reference, str) and serial_reference and _is_ascii_digits(serial_reference):
        return serial_reference
    msg = f"Serial reference must be an int or a string of digits, got {serial_reference!r:.40}."
    raise GS1ValueError(msg)


def location_check_digits(location_code: str, salt: str) -> str:
    """Return the two check digits printed on a location's label ("10".."99").

    Derived from HMAC-SHA256 keyed by the site's `salt`, so they are
    deterministic, evenly spread (neighbouring codes share digits only by
    chance, 1 in 90) and cannot be worked out from the code alone by a
    picker who has not walked to the bin. The code is used exactly as given:
    pass the canonical stored code. Raises GS1ValueError for an empty code
    or salt.
    """
    if not isinstance(location_code, str) or not location_code:
        msg = "Location code must be a non-empty string."
        raise GS1ValueError(msg)
    if not isinstance(salt, str) or not salt:
        msg = "Location check-digit salt must be a non-empty string."
        raise GS1ValueError(msg)
    digest = hmac.new(salt.encode(), location_code.encode(), hashlib.sha256).digest()
    # 64 bits mod 90: the modulo bias is below 1e-17.
    span = len(LOCATION_CHECK_DIGITS_RANGE)
    number = LOCATION_CHECK_DIGITS_RANGE.start + int.from_bytes(digest[:8], "big") % span
    return f"{number:02d}"
