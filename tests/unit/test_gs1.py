"""GS1 identifiers: check digits, GTINs, SSCCs, location check digits."""

from __future__ import annotations

import collections

import pytest

from backend.gs1 import (
    GS1ValueError,
    check_digit,
    is_valid_gtin,
    is_valid_sscc,
    location_check_digits,
    make_sscc,
    normalise_gtin,
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("590123412345", 7),  # GTIN-13 5901234123457
        ("03600029145", 2),  # UPC-A 036000291452
        ("9638507", 4),  # GTIN-8 96385074
        ("0950110102091", 7),  # GTIN-14 from the GS1 General Specifications
        ("37613032110910342", 0),  # SSCC 376130321109103420
    ],
)
def test_check_digit_of_known_identifiers(payload: str, expected: int) -> None:
    assert check_digit(payload) == expected


@pytest.mark.parametrize("payload", ["", "12a4", "１２３", " 123"])
def test_check_digit_refuses_non_digits(payload: str) -> None:
    with pytest.raises(GS1ValueError):
        check_digit(payload)


@pytest.mark.parametrize("gtin", ["96385074", "036000291452", "5901234123457", "09501101020917", "10012345678902"])
def test_accepts_valid_gtin_of_every_length(gtin: str) -> None:
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize(
    "value",
    [
        "96385075",  # wrong check digit
        "5901234123458",
        "09501101020918",
        "590123412345",  # 12 digits, but not a valid GTIN-12
        "1234567",  # wrong length
        "123456789",
        "5901234 123457",
        " 5901234123457",
        "00000000",  # all zeros: "no GTIN"
        "00000000000000",
        "５９０１２３４１２３４５７",  # full-width digits
    ],
)
def test_rejects_invalid_gtin(value: str) -> None:
    assert not is_valid_gtin(value)


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("5901234123457", "05901234123457"),
        ("10012345678902", "10012345678902"),
    ],
)
def test_normalises_gtin_to_14_digits_keeping_check_digit(gtin: str, gtin14: str) -> None:
    assert normalise_gtin(gtin) == gtin14
    assert is_valid_gtin(gtin14)


def test_normalise_gtin_refuses_bad_check_digit() -> None:
    with pytest.raises(GS1ValueError):
        normalise_gtin("5901234123458")


def test_accepts_valid_sscc() -> None:
    assert is_valid_sscc("376130321109103420")
    assert is_valid_sscc("106141411234567897")


@pytest.mark.parametrize(
    "value",
    ["376130321109103421", "00376130321109103420", "37613032110910342", "37613032110910342X"],
)
def test_rejects_invalid_sscc(value: str) -> None:
    assert not is_valid_sscc(value)


@pytest.mark.parametrize(
    ("extension", "prefix", "serial", "expected"),
    [
        (3, "7613032", 110910342, "376130321109103420"),
        (1, "0614141", "123456789", "106141411234567897"),
        (0, "123456", 1, "012345600000000012"),  # 6-digit prefix: 10-digit serial
        (9, "123456789012", "9999", "912345678901299999"),  # 12-digit prefix: 4-digit serial
    ],
)
def test_makes_sscc_for_prefix_lengths_6_to_12(extension: int, prefix: str, serial: int | str, expected: str) -> None:
    sscc = make_sscc(extension, prefix, serial)
    assert sscc == expected
    assert is_valid_sscc(sscc)


@pytest.mark.parametrize("prefix", ["12345", "1234567890123", "12345a7", "", "７６１３０３２"])
def test_make_sscc_refuses_company_prefix_not_6_to_12_digits(prefix: str) -> None:
    with pytest.raises(GS1ValueError):
        make_sscc(0, prefix, 1)


def test_make_sscc_refuses_serial_that_does_not_fit_after_prefix() -> None:
    assert make_sscc(0, "123456789012", 9999)  # fits: 4 digits
    with pytest.raises(GS1ValueError, match="does not fit in 4 digits"):
        make_sscc(0, "123456789012", 10000)
    with pytest.raises(GS1ValueError):
        make_sscc(0, "1234567", "1234567890")  # 10 digits, only 9 free


@pytest.mark.parametrize("extension", [-1, 10, True, "3"])
def test_make_sscc_refuses_bad_extension_digit(extension: object) -> None:
    with pytest.raises(GS1ValueError):
        make_sscc(extension, "7613032", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", [-1, "12a", "", True])
def test_make_sscc_refuses_bad_serial_reference(serial: object) -> None:
    with pytest.raises(GS1ValueError):
        make_sscc(0, "7613032", serial)  # type: ignore[arg-type]


def test_location_check_digits_are_deterministic_two_digits_10_to_99() -> None:
    digits = location_check_digits("A01-012-1", "site-salt")
    assert digits == location_check_digits("A01-012-1", "site-salt")
    assert len(digits) == 2 and digits.isdigit()
    assert 10 <= int(digits) <= 99


def test_location_check_digits_depend_on_salt() -> None:
    codes = [f"A{aisle:02d}-{bay:03d}-1" for aisle in range(1, 6) for bay in range(1, 21)]
    same = sum(location_check_digits(code, "salt-a") == location_check_digits(code, "salt-b") for code in codes)
    assert same < len(codes) // 5  # chance agreement is 1 in 90


def test_location_check_digits_spread_over_all_90_values() -> None:
    counts = collections.Counter(location_check_digits(f"R{n:05d}", "salt") for n in range(9000))
    assert set(counts) == {f"{n}" for n in range(10, 100)}
    assert max(counts.values()) < 2 * min(counts.values())


def test_neighbouring_locations_rarely_share_check_digits() -> None:
    codes = [f"B01-{bay:03d}-{level}" for bay in range(1, 101) for level in range(1, 6)]
    digits = [location_check_digits(code, "salt") for code in codes]
    clashes = sum(a == b for a, b in zip(digits, digits[1:], strict=False))
    assert clashes < len(codes) // 20


@pytest.mark.parametrize(("code", "salt"), [("", "salt"), ("A01", "")])
def test_location_check_digits_refuse_empty_code_or_salt(code: str, salt: str) -> None:
    with pytest.raises(GS1ValueError):
        location_check_digits(code, salt)
