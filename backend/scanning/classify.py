"""Classify one raw scan: location, LPN, SSCC, tote, product, GS1 element string.

Decision order (first match wins):

1. Clean up: reject non-text and over-long input; strip the profile's
   keystroke suffixes, its prefix and surrounding spaces; reject empty.
2. AIM symbology identifier (when the profile expects them) decides:
   - ]C1 ]e0 ]d2 ]Q3 ]J1 (GS1 symbologies): a GS1 element string, strictly.
   - ]E0 ]E3 ]E4 and ITF (]I…) carrying 14 digits: a GTIN, strictly
     (]E0 with 6-8 digits is UPC-E and is expanded).
   - anything else (]C0 Code 128, ]A0 Code 39, ]Q1 QR …): a plain code, taken
     at its word, so "]C010D9T" is the code "10D9T", never AI (10).
3. Without an AIM id:
   - a leading or embedded GS (or profile substitute): GS1, strictly;
   - "(NN)…" human-readable form: GS1, strictly;
   - all digits: GTIN-8/12/13/14, SSCC (18) or "00"+SSCC (20) by length;
   - begins with "00"/"01"/"02" and parses completely: GS1;
   - otherwise a plain code. A lone "10D9T" is therefore a plain code.
4. Plain codes resolve through the lookup in this order: location (the code,
   or "<code> <2 check digits>"), LPN, tote, product code. Without a lookup
   the result is kind `unknown` carrying the code.

A check-digit failure on something shaped like a GTIN/SSCC is a
MalformedScan unless the lookup knows the string as a plain code. With a
lookup, a GTIN that names no product and a plain code that names nothing
raise UnknownScan; an SSCC is returned whether or not an LPN carries it
(inbound pallets carry foreign SSCCs).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NoReturn

from biip import ParseConfig, ParseError
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, ISOSymbology, SymbologyIdentifier
from biip.upc import Upc

from backend.gs1 import GTIN_LENGTHS, SSCC_LENGTH, is_valid_gtin, is_valid_sscc, normalise_gtin
from backend.scanning.errors import MalformedScan, UnknownScan, safe_echo
from backend.scanning.lookup import LocationRef, ScanLookup
from backend.scanning.profile import DEFAULT_SCAN_PROFILE, GS, ScanProfile
from backend.scanning.result import ScanKind, ScanResult

__all__ = ["classify_scan", "confirms_location", "split_location_check_digits"]

_GS1_PARSE_CONFIG = ParseConfig(separator_chars=(GS,))
_GS1_SYMBOLOGIES = GS1Symbology.with_gs1_messages()
_EAN_SYMBOLOGIES = {
    GS1Symbology.EAN_13,
    GS1Symbology.EAN_13_WITH_ADD_ON,
    GS1Symbology.EAN_8,
    GS1Symbology.ITF_14,
}
_EAN_ADD_ON_LENGTHS = (2, 5)
_GS1_LEADING_AIS = ("00", "01", "02")
_HRI_START = re.compile(r"\(\d{2,4}\)")
_HRI_FULL = re.compile(r"(?:\(\d{2,4}\)[^()]+)+")
_LOCATION_WITH_CHECK_DIGITS = re.compile(r"(?P<code>\S+) (?P<check_digits>\d{2})")
_REASON_LIMIT = 200


def classify_scan(
    raw: str,
    profile: ScanProfile = DEFAULT_SCAN_PROFILE,
    lookup: ScanLookup | None = None,
) -> ScanResult:
    """Classify a raw scan as received from the scanner (AIM id, GS characters, suffix and all).

    Raises MalformedScan for input that is not well formed and UnknownScan
    (only with a lookup) for well-formed input that names nothing.
    """
    text = _clean(raw, profile)
    if profile.aim_ids_expected and text.startswith("]"):
        symbology, data = _split_symbology(raw, text)
        return _classify_marked(raw, symbology, data, profile, lookup)
    return _classify_unmarked(raw, text, profile, lookup)


def split_location_check_digits(text: str) -> tuple[str, str] | None:
    """Split "<code> <2 digits>" (one space) into code and check digits, else None."""
    match = _LOCATION_WITH_CHECK_DIGITS.fullmatch(text)
    if match is None:
        return None
    return match["code"], match["check_digits"]


def confirms_location(
    raw: str,
    expected: LocationRef,
    profile: ScanProfile = DEFAULT_SCAN_PROFILE,
) -> bool:
    """Whether a scan or typed entry confirms the picker is at `expected`.

    Accepts the location barcode (its code, with or without an AIM id), the
    code followed by a space and the check digits, or the two check digits
    alone (said or typed). Raises MalformedScan for junk input.
    """
    text = _clean(raw, profile)
    if profile.aim_ids_expected and text.startswith("]"):
        _, text = _split_symbology(raw, text)
        text = text.strip(" ")
    _reject_control_characters(raw, text, allow_gs=False)
    return text in (expected.code, expected.check_digits, f"{expected.code} {expected.check_digits}")


# --- clean-up -----------------------------------------------------------------


def _clean(raw: object, profile: ScanProfile) -> str:
    if not isinstance(raw, str):
        _malformed("not_text", f"A scan must be text, got {type(raw).__name__}.", raw)
    if len(raw) > profile.max_length:
        _malformed(
            "scan_too_long",
            f"Scan is {len(raw)} characters long, more than {profile.max_length}: {safe_echo(raw)}",
            raw,
        )
    text = raw
    while True:
        before = text
        text = text.strip(" ")
        for suffix in profile.suffixes:
            text = text.removesuffix(suffix)
        if text == before:
            break
    if profile.prefix:
        text = text.removeprefix(profile.prefix).strip(" ")
    if not text:
        _malformed("empty_scan", "The scan is empty.", raw)
    return text


def _split_symbology(raw: str, text: str) -> tuple[SymbologyIdentifier, str]:
    try:
        symbology = SymbologyIdentifier.extract(text)
    except (ParseError, ValueError, IndexError):
        symbology = None
    if symbology is None or not (symbology.modifiers.isascii() and symbology.modifiers.isalnum()):
        _malformed(
            "bad_symbology_identifier",
            f"Unrecognised symbology identifier at the start of {safe_echo(raw)}.",
            raw,
        )
    data = text[len(symbology) :]
    if not data.strip(" " + GS):
        _malformed("empty_scan", f"The scan holds a symbology identifier but no data: {safe_echo(raw)}.", raw)
    return symbology, data


def _substitute_gs(text: str, profile: ScanProfile) -> str:
    for substitute in sorted(profile.gs_substitutes, key=len, reverse=True):
        if substitute != GS:
            text = text.replace(substitute, GS)
    return text


def _reject_control_characters(raw: str, text: str, *, allow_gs: bool) -> None:
    for position, char in enumerate(text):
        if char == GS and allow_gs:
            continue
        if not char.isprintable():
            _malformed(
                "illegal_characters",
                f"Scan contains the non-printable character {char!r} at position {position}: {safe_echo(raw)}",
                raw,
                character=repr(char),
                position=position,
            )


def _malformed(code: str, message: str, raw: object, **details: object) -> NoReturn:
    raise MalformedScan(message, code=code, value=raw, **details)


# --- routing --------------------------------------------------------------------


def _classify_marked(
    raw: str,
    symbology: SymbologyIdentifier,
    data: str,
    profile: ScanProfile,
    lookup: ScanLookup | None,
) -> ScanResult:
    aim = symbology.value
    if symbology.gs1_symbology in _GS1_SYMBOLOGIES:
        text = _substitute_gs(data, profile)
        _reject_control_characters(raw, text, allow_gs=True)
        return _gs1_result(raw, aim, _parse_gs1_strict(raw, text.lstrip(GS)), lookup)

    is_itf_14 = symbology.iso_symbology == ISOSymbology.ITF and len(data) == 14
    if symbology.gs1_symbology in _EAN_SYMBOLOGIES or is_itf_14:
        _reject_control_characters(raw, data, allow_gs=False)
        return _product_result(raw, aim, _gtin_from_ean(raw, symbology, data), lookup)

    code = data.strip(" ")
    _reject_control_characters(raw, code, allow_gs=False)
    return _plain_result(raw, aim, code, lookup)


def _classify_unmarked(raw: str, text: str, profile: ScanProfile, lookup: ScanLookup | None) -> ScanResult:
    text = _substitute_gs(text, profile)
    _reject_control_characters(raw, text, allow_gs=True)

    if GS in text:
        return _gs1_result(raw, None, _parse_gs1_strict(raw, text.lstrip(GS)), lookup)
    if _HRI_START.match(text):
        return _gs1_result(raw, None, _parse_gs1_hri(raw, text), lookup)
    if text.isascii() and text.isdecimal():
        return _numeric_result(raw, text, lookup)
    if text.startswith(_GS1_LEADING_AIS):
        message = _parse_gs1_lenient(text)
        if message is not None:
            return _gs1_or_plain(raw, text, message, lookup)
    return _plain_result(raw, None, text, lookup)


def _numeric_result(raw: str, text: str, lookup: ScanLookup | None) -> ScanResult:
    if len(text) in GTIN_LENGTHS:
        if is_valid_gtin(text):
            return _gtin_or_plain(raw, text, lookup)
        if _is_all_zeros(text):
            return _plain_or_malformed(raw, text, "malformed_gtin", f"{safe_echo(text)} is not a GTIN.", lookup)
        return _plain_or_bad_check_digit(raw, text, "GTIN", lookup)
    if len(text) == SSCC_LENGTH:
        if is_valid_sscc(text):
            return _sscc_result(raw, None, text, lookup)
        return _plain_or_bad_check_digit(raw, text, "SSCC", lookup)
    if len(text) == SSCC_LENGTH + 2 and text.startswith("00"):
        if is_valid_sscc(text[2:]):
            return _sscc_result(raw, None, text[2:], lookup)
        return _plain_or_bad_check_digit(raw, text, "SSCC", lookup)
    if text.startswith(_GS1_LEADING_AIS):
        message = _parse_gs1_lenient(text)
        if message is not None:
            return _gs1_or_plain(raw, text, message, lookup)
    return _plain_result(raw, None, text, lookup)


def _gtin_or_plain(raw: str, text: str, lookup: ScanLookup | None) -> ScanResult:
    gtin = normalise_gtin(text)
    if lookup is None:
        return ScanResult(kind=ScanKind.PRODUCT, raw=raw, gtin=gtin)
    product = lookup.product_by_gtin(gtin)
    if product is not None:
        return ScanResult(kind=ScanKind.PRODUCT, raw=raw, gtin=gtin, product=product)
    # A numeric internal code can pass a GTIN checksum by chance (1 in 10).
    resolved = _resolve_plain(raw, None, text, lookup)
    if resolved is not None:
        return resolved
    raise UnknownScan(f"No product has GTIN {gtin}.", code="unknown_product", value=raw, gtin=gtin)


def _plain_or_bad_check_digit(raw: str, text: str, what: str, lookup: ScanLookup | None) -> ScanResult:
    message = f"Bad {what} check digit in {safe_echo(text)}."
    return _plain_or_malformed(raw, text, "bad_check_digit", message, lookup, identifier=what.lower())


def _plain_or_malformed(
    raw: str, text: str, code: str, message: str, lookup: ScanLookup | None, **details: object
) -> ScanResult:
    if lookup is not None:
        resolved = _resolve_plain(raw, None, text, lookup)
        if resolved is not None:
            return resolved
    _malformed(code, message, raw, **details)


def _is_all_zeros(text: str) -> bool:
    return text.count("0") == len(text)


def _gs1_or_plain(raw: str, text: str, message: GS1Message, lookup: ScanLookup | None) -> ScanResult:
    """An unmarked string that parses as GS1: a check-digit failure yields to a known plain code."""
    if _check_digit_problem(message) is not None and lookup is not None:
        resolved = _resolve_plain(raw, None, text, lookup)
        if resolved is not None:
            return resolved
    return _gs1_result(raw, None, message, lookup)


# --- GTIN and SSCC ----------------------------------------------------------------


def _gtin_from_ean(raw: str, symbology: SymbologyIdentifier, data: str) -> str:
    """The GTIN-14 in an EAN/UPC/ITF-14 symbol's data, or MalformedScan."""
    if not (data.isascii() and data.isdecimal()):
        _malformed("malformed_gtin", f"A {symbology.value} scan must be digits only: {safe_echo(raw)}.", raw)
    if symbology.gs1_symbology == GS1Symbology.EAN_13_WITH_ADD_ON and len(data) - 13 in _EAN_ADD_ON_LENGTHS:
        data = data[:13]  # the add-on (issue number, price) is not part of the GTIN
    if symbology.gs1_symbology == GS1Symbology.EAN_13 and len(data) in (6, 7, 8):
        return _upc_e_to_gtin(raw, data)
    if len(data) not in GTIN_LENGTHS:
        _malformed(
            "malformed_gtin",
            f"A {symbology.value} scan must hold 8, 12, 13 or 14 digits, got {len(data)}: {safe_echo(raw)}.",
            raw,
        )
    if _is_all_zeros(data):
        _malformed("malformed_gtin", f"{safe_echo(data)} is not a GTIN.", raw)
    if not is_valid_gtin(data):
        _malformed("bad_check_digit", f"Bad GTIN check digit in {safe_echo(data)}.", raw, identifier="gtin")
    return normalise_gtin(data)


def _upc_e_to_gtin(raw: str, data: str) -> str:
    try:
        gtin = Upc.parse(data).as_gtin_14()
    except ParseError:
        _malformed("bad_check_digit", f"Not a valid UPC-E: {safe_echo(data)}.", raw, identifier="gtin")
    if not is_valid_gtin(gtin):
        _malformed("malformed_gtin", f"{safe_echo(data)} is not a GTIN.", raw)
    return gtin


def _product_result(raw: str, aim: str | None, gtin: str, lookup: ScanLookup | None) -> ScanResult:
    product = None
    if lookup is not None:
        product = lookup.product_by_gtin(gtin)
        if product is None:
            raise UnknownScan(f"No product has GTIN {gtin}.", code="unknown_product", value=raw, gtin=gtin)
    return ScanResult(kind=ScanKind.PRODUCT, raw=raw, symbology=aim, gtin=gtin, product=product)


def _sscc_result(raw: str, aim: str | None, sscc: str, lookup: ScanLookup | None) -> ScanResult:
    lpn = None if lookup is None else lookup.lpn_by_sscc(sscc)
    return ScanResult(kind=ScanKind.SSCC, raw=raw, symbology=aim, sscc=sscc, lpn=lpn)


# --- GS1 element strings ------------------------------------------------------------


def _parse_gs1_strict(raw: str, text: str) -> GS1Message:
    try:
        return GS1Message.parse(text, config=_GS1_PARSE_CONFIG)
    except (ParseError, ValueError) as exc:
        _malformed(
            "malformed_gs1",
            f"Not a complete GS1 element string: {safe_echo(raw)}.",
            raw,
            reason=str(exc)[:_REASON_LIMIT],
        )


def _parse_gs1_lenient(text: str) -> GS1Message | None:
    try:
        return GS1Message.parse(text, config=_GS1_PARSE_CONFIG)
    except (ParseError, ValueError):
        return None


def _parse_gs1_hri(raw: str, text: str) -> GS1Message:
    compact = "".join(text.split())
    # biip skips text it cannot match; insist the whole string is (AI)value pairs.
    if not _HRI_FULL.fullmatch(compact):
        _malformed("malformed_gs1", f"Not a complete GS1 human-readable string: {safe_echo(raw)}.", raw)
    try:
        return GS1Message.parse_hri(compact, config=_GS1_PARSE_CONFIG)
    except (ParseError, ValueError) as exc:
        _malformed(
            "malformed_gs1",
            f"Not a complete GS1 human-readable string: {safe_echo(raw)}.",
            raw,
            reason=str(exc)[:_REASON_LIMIT],
        )


def _check_digit_problem(message: GS1Message) -> tuple[str, str] | None:
    """(AI, value) of the first element string whose GTIN/SSCC/GLN check digit is wrong."""
    for element in message.element_strings:
        if element.gtin_error or element.sscc_error or element.gln_error:
            return element.ai.ai, element.value
    return None


def _gs1_result(raw: str, aim: str | None, message: GS1Message, lookup: ScanLookup | None) -> ScanResult:
    problem = _check_digit_problem(message)
    if problem is not None:
        ai, value = problem
        _malformed(
            "bad_check_digit",
            f"Bad check digit in GS1 ({ai}) {safe_echo(value)}.",
            raw,
            identifier=f"ai_{ai}",
        )
    elements = message.element_strings

    gtin_ai, gtin = None, None
    for ai in ("01", "02"):
        element = elements.get(ai=ai)
        if element is not None and element.gtin is not None:
            gtin_ai, gtin = ai, element.gtin.as_gtin_14()
            break
    sscc_element = elements.get(ai="00")
    sscc = sscc_element.sscc.value if sscc_element is not None and sscc_element.sscc is not None else None
    quantity_element = elements.get(ai="37") or elements.get(ai="30")
    if quantity_element is not None and not quantity_element.value.isdigit():  # (an empty count: "30" then GS)
        _malformed("bad_quantity", f"GS1 ({quantity_element.ai.ai}) has no count of units.", raw,
                   identifier=f"ai_{quantity_element.ai.ai}")
    weight_element = elements.get(ai="310")

    ais = {element.ai.ai for element in elements}
    if ais == {"00"}:
        kind = ScanKind.SSCC
    elif ais in ({"01"}, {"02"}):
        kind = ScanKind.PRODUCT
    else:
        kind = ScanKind.GS1

    product = None
    lpn = None
    if lookup is not None:
        if gtin is not None:
            product = lookup.product_by_gtin(gtin)
            if product is None:
                raise UnknownScan(f"No product has GTIN {gtin}.", code="unknown_product", value=raw, gtin=gtin)
        if sscc is not None:
            lpn = lookup.lpn_by_sscc(sscc)

    return ScanResult(
        kind=kind,
        raw=raw,
        symbology=aim,
        gtin=gtin,
        gtin_ai=gtin_ai,
        lot=_value(elements.get(ai="10")),
        expiry=_date(elements.get(ai="17")),
        best_before=_date(elements.get(ai="15")),
        serial=_value(elements.get(ai="21")),
        quantity=None if quantity_element is None else int(quantity_element.value),
        net_weight_kg=None if weight_element is None else weight_element.decimal,
        sscc=sscc,
        elements=tuple((element.ai.ai, element.value) for element in elements),
        product=product,
        lpn=lpn,
    )


def _value(element: GS1ElementString | None) -> str | None:
    return None if element is None else element.value


def _date(element: GS1ElementString | None) -> dt.date | None:
    return None if element is None else element.date


# --- plain codes ----------------------------------------------------------------------


def _plain_result(raw: str, aim: str | None, code: str, lookup: ScanLookup | None) -> ScanResult:
    if lookup is None:
        split = split_location_check_digits(code)
        if split is not None:
            return ScanResult(kind=ScanKind.UNKNOWN, raw=raw, symbology=aim, code=split[0], check_digits=split[1])
        return ScanResult(kind=ScanKind.UNKNOWN, raw=raw, symbology=aim, code=code)
    resolved = _resolve_plain(raw, aim, code, lookup)
    if resolved is not None:
        return resolved
    raise UnknownScan(f"Nothing on this site has the code {safe_echo(code)}.", code="unknown_code", value=raw)


def _resolve_plain(raw: str, aim: str | None, code: str, lookup: ScanLookup) -> ScanResult | None:
    """Look a plain code up: location, location with check digits, LPN, tote, product code."""
    location = lookup.location_by_code(code)
    if location is not None:
        return ScanResult(kind=ScanKind.LOCATION, raw=raw, symbology=aim, code=location.code, location=location)
    split = split_location_check_digits(code)
    if split is not None:
        location_code, check_digits = split
        location = lookup.location_by_code(location_code)
        if location is not None:
            if check_digits != location.check_digits:
                _malformed(
                    "bad_check_digit",
                    f"Check digits {check_digits} do not match location {safe_echo(location.code)}.",
                    raw,
                    identifier="location",
                )
            return ScanResult(
                kind=ScanKind.LOCATION,
                raw=raw,
                symbology=aim,
                code=location.code,
                check_digits=check_digits,
                location=location,
            )
    lpn = lookup.lpn_by_code(code)
    if lpn is not None:
        return ScanResult(kind=ScanKind.LPN, raw=raw, symbology=aim, code=lpn.code, sscc=lpn.sscc, lpn=lpn)
    tote = lookup.tote_by_code(code)
    if tote is not None:
        return ScanResult(kind=ScanKind.TOTE, raw=raw, symbology=aim, code=tote.code, tote=tote)
    product = lookup.product_by_code(code)
    if product is not None:
        return ScanResult(kind=ScanKind.PRODUCT, raw=raw, symbology=aim, code=product.sku, product=product)
    return None
