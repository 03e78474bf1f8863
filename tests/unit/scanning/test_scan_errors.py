"""Scan errors: junk input is refused, and messages echo it safely."""

from __future__ import annotations

import pytest

from backend.gs1 import location_check_digits
from backend.scanning import (
    LocationRef,
    MalformedScan,
    ScanError,
    ScanProfile,
    UnknownScan,
    classify_scan,
    confirms_location,
    safe_echo,
)


def _all_printable(text: str) -> bool:
    return all(char.isprintable() for char in text)


@pytest.mark.parametrize("scan", ["", "\n", "   ", " \r\n", "]C1", "]C0  "])
def test_empty_scan_is_malformed(scan: str) -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(scan)
    assert caught.value.code == "empty_scan"


def test_scan_longer_than_profile_limit_is_malformed_and_echo_is_truncated() -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan("A" * 513)
    assert caught.value.code == "scan_too_long"
    assert len(caught.value.message) < 200
    assert classify_scan("A" * 512).code == "A" * 512


@pytest.mark.parametrize(
    "scan",
    ["AB\x00C", "\x1b[2JA01", "A01\rB", "A01\x7f", "abc\u202edef", "A\u200bB", "]C0AB\x1dC", "]E0590123\x1d4123457"],
)
def test_non_printable_characters_are_malformed(scan: str) -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(scan)
    assert caught.value.code == "illegal_characters"


def test_malformed_message_escapes_control_characters() -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan("LOT\x00\x1b[31mRED")
    error = caught.value
    assert _all_printable(error.message)
    assert "\\x00" in error.message
    assert "\\x1b" in error.message
    assert _all_printable(str(error.details))


def test_bad_gs1_message_echoes_group_separator_escaped() -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan("]C1010950110102091\x1d10ABC")
    assert "\\x1d" in caught.value.message
    assert _all_printable(caught.value.message)
    assert all(_all_printable(str(value)) for value in caught.value.details.values())


def test_unknown_scan_message_escapes_and_truncates() -> None:
    class NothingKnown:
        def location_by_code(self, code: str) -> None: ...
        def lpn_by_code(self, code: str) -> None: ...
        def lpn_by_sscc(self, sscc: str) -> None: ...
        def tote_by_code(self, code: str) -> None: ...
        def product_by_gtin(self, gtin14: str) -> None: ...
        def product_by_code(self, code: str) -> None: ...

    with pytest.raises(UnknownScan) as caught:
        classify_scan("X" * 300, lookup=NothingKnown())
    assert "300 characters" in caught.value.message
    assert len(caught.value.message) < 200


def test_non_text_input_is_malformed() -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(b"A01-012-1")  # type: ignore[arg-type]
    assert caught.value.code == "not_text"


def test_unrecognised_symbology_identifier_is_malformed() -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan("]!0ABC")
    assert caught.value.code == "bad_symbology_identifier"


def test_errors_share_a_hierarchy_and_render_the_api_envelope() -> None:
    with pytest.raises(ScanError) as caught:
        classify_scan("5901234123458")
    body = caught.value.to_dict()
    assert body["code"] == "bad_check_digit"
    assert body["message"] == caught.value.message
    assert body["details"]["value"] == "'5901234123458'"
    assert issubclass(MalformedScan, ScanError) and issubclass(UnknownScan, ScanError)


def test_safe_echo_escapes_and_caps_length() -> None:
    assert safe_echo("A\x1dB") == "'A\\x1dB'"
    assert safe_echo("é") == "'é'"
    echoed = safe_echo("\x07" * 1000)
    assert _all_printable(echoed)
    assert "1000 characters" in echoed
    assert len(echoed) < 300


def test_profile_refuses_empty_gs_substitute() -> None:
    with pytest.raises(ValueError):
        ScanProfile(gs_substitutes=("",))
    with pytest.raises(ValueError):
        ScanProfile(gs_substitutes="~")  # type: ignore[arg-type]


def test_location_is_confirmed_by_code_check_digits_or_both() -> None:
    digits = location_check_digits("A01-012-1", "salt")
    location = LocationRef(id=1, code="A01-012-1", check_digits=digits)
    assert confirms_location("A01-012-1\n", location)
    assert confirms_location("]C0A01-012-1", location)
    assert confirms_location(digits, location)
    assert confirms_location(f"A01-012-1 {digits}", location)
    wrong = "11" if digits != "11" else "12"
    assert not confirms_location(wrong, location)
    assert not confirms_location("A01-012-2", location)
    with pytest.raises(MalformedScan):
        confirms_location("A01\x00", location)


@pytest.mark.parametrize("scan", ["00000000", "00000000000000", "]E00000000000000", "]E000000000"])
def test_all_zero_gtin_is_malformed_not_a_product(scan: str) -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(scan)
    assert caught.value.code == "malformed_gtin"
