"""GS1 keys and element strings: check digits, SSCC/GTIN validation, barcode parts, HRI text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from printers.code128 import FNC1, Part
from printers.errors import LabelDataError

# AIs whose data has a fixed length: no FNC1 needed after them (GS1 General Specifications 5.10.1)
_FIXED_LENGTH_PREFIXES = ("00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17",
                          "18", "19", "20", "31", "32", "33", "34", "35", "36", "41")
_SET_82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*")


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for a key given without it (GTIN, SSCC, GLN...)."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("digits only")
    total = 0
    for position, char in enumerate(reversed(digits)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def _has_valid_check_digit(key: str) -> bool:
    return key.isascii() and key.isdigit() and gs1_check_digit(key[:-1]) == key[-1]


def validate_sscc(sscc: str, field: str = "sscc") -> str:
    """Return the 18-digit SSCC if its check digit is right, else raise LabelDataError."""
    if len(sscc) != 18 or not _has_valid_check_digit(sscc):
        raise LabelDataError(field, "an SSCC is 18 digits with a valid GS1 check digit")
    return sscc


def normalize_gtin(gtin: str, field: str = "gtin") -> str:
    """Return a GTIN-8/12/13/14 as 14 digits, after checking its check digit."""
    if len(gtin) not in (8, 12, 13, 14) or not _has_valid_check_digit(gtin):
        raise LabelDataError(field, "a GTIN is 8, 12, 13 or 14 digits with a valid GS1 check digit")
    return gtin.zfill(14)


def validate_ai_text(value: str, field: str, max_length: int = 20) -> str:
    """Variable-length AI data (lot, serial) must use GS1 character set 82."""
    if not value or len(value) > max_length or not _SET_82.fullmatch(value):
        raise LabelDataError(
            field, f"1 to {max_length} characters from the GS1 set (letters, digits, !\"%&'()*+,-./:;<=>?_)"
        )
    return value


def yymmdd(day: date) -> str:
    """A date as GS1 AI (17)/(15) data."""
    return day.strftime("%y%m%d")


def element_parts(elements: Sequence[tuple[str, str]]) -> list[Part]:
    """Barcode parts for GS1 element strings: FNC1 first, and after every variable-length field but the last."""
    parts: list[Part] = [FNC1]
    for index, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        last = index == len(elements) - 1
        if not last and not ai.startswith(_FIXED_LENGTH_PREFIXES):
            parts.append(FNC1)
    return parts


def human_readable(elements: Sequence[tuple[str, str]]) -> str:
    """The HRI line printed with a GS1 barcode: `(01) 05012345678900 (10) LOT7`."""
    return " ".join(f"({ai}) {value}" for ai, value in elements)
