"""classify_scan: real-world GS1, EAN/UPC, SSCC and internal-code scans."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from backend.gs1 import location_check_digits
from backend.scanning import (
    InMemoryScanLookup,
    LocationRef,
    LpnRef,
    MalformedScan,
    ProductRef,
    ScanKind,
    ScanProfile,
    ToteRef,
    UnknownScan,
    classify_scan,
)

GS = "\x1d"
GS1_BODY = f"01095011010209171719050810ABCD1234{GS}2110"
SALT = "test-site-salt"
PICK_FACE = LocationRef(id=1, code="A01-012-1", check_digits=location_check_digits("A01-012-1", SALT))
WIDGET = ProductRef(id=10, sku="WIDGET-1")


@pytest.fixture
def lookup() -> InMemoryScanLookup:
    return (
        InMemoryScanLookup()
        .add_location(PICK_FACE)
        .add_lpn(LpnRef(id=20, code="LPN000123"))
        .add_lpn(LpnRef(id=21, code="LPN000124", sscc="376130321109103420"))
        .add_lpn(LpnRef(id=22, code="12345670"))  # numeric LPN that happens to pass a GTIN-8 checksum
        .add_tote(ToteRef(id=30, code="T-0042"))
        .add_product(WIDGET, gtins=("09501101020917", "5901234123457", "96385074"))
    )


def assert_sample_gs1(result) -> None:  # noqa: ANN001 - ScanResult
    assert result.kind is ScanKind.GS1
    assert result.gtin == "09501101020917"
    assert result.gtin_ai == "01"
    assert result.expiry == dt.date(2019, 5, 8)
    assert result.lot == "ABCD1234"
    assert result.serial == "10"


# --- GS1 element strings -----------------------------------------------------------


def test_reads_gs1_128_with_aim_id_and_group_separator() -> None:
    result = classify_scan(f"]C1{GS1_BODY}")
    assert_sample_gs1(result)
    assert result.symbology == "]C1"


def test_reads_gs1_with_profile_substitute_for_group_separator() -> None:
    for substitute in ("~", "^]", "<GS>"):
        profile = ScanProfile(gs_substitutes=(GS, substitute))
        result = classify_scan(f"]C1{GS1_BODY.replace(GS, substitute)}", profile)
        assert_sample_gs1(result)


def test_reads_gs1_human_readable_parenthesised_form() -> None:
    result = classify_scan("(01)09501101020917(17)190508(10)ABCD1234(21)10")
    assert_sample_gs1(result)
    assert result.symbology is None


def test_reads_gs1_human_readable_form_with_spaces() -> None:
    assert_sample_gs1(classify_scan("(01) 09501101020917 (17) 190508 (10) ABCD1234 (21) 10"))


def test_reads_gs1_without_aim_id_when_it_holds_a_group_separator() -> None:
    result = classify_scan(GS1_BODY)
    assert_sample_gs1(result)
    assert result.symbology is None


def test_reads_gs1_without_aim_id_after_leading_fnc1() -> None:
    assert_sample_gs1(classify_scan(f"{GS}{GS1_BODY}"))


@pytest.mark.parametrize("aim", ["]d2", "]Q3"])
def test_reads_gs1_datamatrix_and_gs1_qr(aim: str) -> None:
    result = classify_scan(f"{aim}{GS1_BODY}")
    assert_sample_gs1(result)
    assert result.symbology == aim


def test_reads_gs1_databar_as_a_product() -> None:
    result = classify_scan("]e00109501101020917")
    assert result.kind is ScanKind.PRODUCT
    assert result.gtin == "09501101020917"


def test_unmarked_string_beginning_with_ai_01_that_parses_completely_is_gs1() -> None:
    result = classify_scan("0109501101020917172502001042")
    assert result.kind is ScanKind.GS1
    assert result.lot == "42"
    assert result.expiry == dt.date(2025, 2, 28)


def test_expiry_day_00_means_last_day_of_month() -> None:
    assert classify_scan("]C1010950110102091717250200").expiry == dt.date(2025, 2, 28)
    assert classify_scan("]C1010950110102091717240200").expiry == dt.date(2024, 2, 29)
    assert classify_scan("]C1010950110102091717241100").expiry == dt.date(2024, 11, 30)


def test_reads_best_before_separately_from_expiry() -> None:
    result = classify_scan("]C1010950110102091715260331")
    assert result.best_before == dt.date(2026, 3, 31)
    assert result.expiry is None


def test_reads_variable_count_ai_30() -> None:
    result = classify_scan(f"]C101095011010209173012{GS}10LOT7")
    assert result.quantity == 12
    assert result.lot == "LOT7"


def test_reads_pallet_label_with_sscc_content_gtin_and_count_ai_37() -> None:
    result = classify_scan("]C100376130321109103420020950110102091737240")
    assert result.kind is ScanKind.GS1
    assert result.sscc == "376130321109103420"
    assert result.gtin == "09501101020917"
    assert result.gtin_ai == "02"
    assert result.quantity == 240


def test_reads_net_weight_in_kg() -> None:
    result = classify_scan("]C101095011010209173103001250")
    assert result.net_weight_kg == Decimal("1.250")


def test_keeps_every_element_string_by_ai() -> None:
    result = classify_scan(f"]C1010950110102091711250101{GS}240ABC-1")
    assert result.to_dict()["elements"] == {"01": "09501101020917", "11": "250101", "240": "ABC-1"}


# --- the 10D9T case ----------------------------------------------------------------------


def test_lot_like_code_scanned_alone_is_a_plain_code_not_ai_10() -> None:
    result = classify_scan("10D9T")
    assert result.kind is ScanKind.UNKNOWN
    assert result.code == "10D9T"
    assert result.lot is None


def test_code_128_aim_id_makes_10D9T_a_plain_code() -> None:  # noqa: N802
    result = classify_scan("]C010D9T")
    assert result.kind is ScanKind.UNKNOWN
    assert result.code == "10D9T"
    assert result.symbology == "]C0"
    assert result.lot is None


def test_gs1_128_aim_id_makes_10D9T_ai_10_lot_D9T() -> None:  # noqa: N802
    result = classify_scan("]C110D9T")
    assert result.kind is ScanKind.GS1
    assert result.lot == "D9T"
    assert result.code is None


def test_plain_code_128_resolves_through_lookup(lookup: InMemoryScanLookup) -> None:
    result = classify_scan("]C0T-0042", lookup=lookup)
    assert result.kind is ScanKind.TOTE
    assert result.tote == ToteRef(id=30, code="T-0042")


def test_plain_code_128_is_never_read_as_gs1_even_if_it_looks_like_one() -> None:
    result = classify_scan("]C00109501101020917")
    assert result.kind is ScanKind.UNKNOWN
    assert result.gtin is None


# --- GTIN product scans ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scan", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("5901234123457", "05901234123457"),
        ("10012345678902", "10012345678902"),
        ("]E05901234123457", "05901234123457"),
        ("]E00036000291452", "00036000291452"),  # UPC-A sent as 13 digits
        ("]E4" + "96385074", "00000096385074"),
        ("]E004252614", "00042100005264"),  # UPC-E, expanded
        ("]E3590123412345712", "05901234123457"),  # EAN-13 with a 2-digit add-on
        ("]I110012345678902", "10012345678902"),  # ITF-14
    ],
)
def test_reads_product_gtin_with_and_without_ean_aim_id(scan: str, gtin14: str) -> None:
    result = classify_scan(scan)
    assert result.kind is ScanKind.PRODUCT
    assert result.gtin == gtin14


def test_product_gtin_resolves_to_product(lookup: InMemoryScanLookup) -> None:
    assert classify_scan("]E05901234123457", lookup=lookup).product == WIDGET
    assert classify_scan("96385074", lookup=lookup).product == WIDGET
    assert classify_scan(f"]C1{GS1_BODY}", lookup=lookup).product == WIDGET


def test_unknown_gtin_with_lookup_is_unknown_scan(lookup: InMemoryScanLookup) -> None:
    with pytest.raises(UnknownScan) as caught:
        classify_scan("]E04007249902511", lookup=lookup)
    assert caught.value.code == "unknown_product"


def test_numeric_code_passing_gtin_checksum_falls_back_to_plain_code(lookup: InMemoryScanLookup) -> None:
    result = classify_scan("12345670", lookup=lookup)
    assert result.kind is ScanKind.LPN
    assert result.lpn is not None and result.lpn.id == 22


# --- SSCC -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scan", ["376130321109103420", "00376130321109103420", "]C100376130321109103420", "(00)376130321109103420"]
)
def test_reads_sscc_with_and_without_ai_00(scan: str) -> None:
    result = classify_scan(scan)
    assert result.kind is ScanKind.SSCC
    assert result.sscc == "376130321109103420"


def test_sscc_attaches_the_lpn_that_carries_it(lookup: InMemoryScanLookup) -> None:
    result = classify_scan("]C100376130321109103420", lookup=lookup)
    assert result.kind is ScanKind.SSCC
    assert result.lpn is not None and result.lpn.code == "LPN000124"


def test_foreign_sscc_is_still_an_sscc_with_lookup(lookup: InMemoryScanLookup) -> None:
    result = classify_scan("106141411234567897", lookup=lookup)
    assert result.kind is ScanKind.SSCC
    assert result.lpn is None


# --- bad check digits and malformed GS1 ----------------------------------------------------------


@pytest.mark.parametrize(
    "scan",
    [
        "5901234123458",  # GTIN-13
        "96385075",  # GTIN-8
        "]E05901234123458",
        "376130321109103421",  # SSCC
        "00376130321109103421",
        "]C100376130321109103421",  # SSCC inside (00)
        "]C10109501101020918",  # GTIN inside (01)
        f"0109501101020918{GS}10ABC",
        "0109501101020918",
        "(01)09501101020918",
        "]E004252615",  # UPC-E
    ],
)
def test_bad_check_digit_is_malformed(scan: str) -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(scan)
    assert caught.value.code == "bad_check_digit"


@pytest.mark.parametrize(
    "scan",
    [
        "]C1010950110102091",  # (01) truncated
        f"]C1{GS1_BODY[:-3]}{GS}",  # (21) with no data
        "]C199",  # AI with no data
        "]C1ABC",  # no AI
        "]C10109501101020917171313",  # truncated date
        "]C1010950110102091717251301",  # month 13
        "(01)09501101020917(17",  # truncated HRI
        "(01)0950110102091",
        f"ABC{GS}DEF",  # GS but not GS1
    ],
)
def test_truncated_or_invalid_gs1_is_malformed(scan: str) -> None:
    with pytest.raises(MalformedScan) as caught:
        classify_scan(scan)
    assert caught.value.code == "malformed_gs1"


def test_bad_check_digit_yields_to_a_known_plain_code(lookup: InMemoryScanLookup) -> None:
    lookup.add_lpn(LpnRef(id=23, code="5901234123458"))
    assert classify_scan("5901234123458", lookup=lookup).kind is ScanKind.LPN
    with pytest.raises(MalformedScan):
        classify_scan("]E05901234123458", lookup=lookup)  # the AIM id says it is an EAN-13


# --- locations and plain codes ----------------------------------------------------------------------


def test_location_code_alone_resolves_to_location(lookup: InMemoryScanLookup) -> None:
    result = classify_scan("A01-012-1\n", lookup=lookup)
    assert result.kind is ScanKind.LOCATION
    assert result.location == PICK_FACE
    assert result.check_digits is None


def test_location_code_with_check_digits_resolves_and_keeps_the_digits(lookup: InMemoryScanLookup) -> None:
    result = classify_scan(f"A01-012-1 {PICK_FACE.check_digits}", lookup=lookup)
    assert result.kind is ScanKind.LOCATION
    assert result.code == "A01-012-1"
    assert result.check_digits == PICK_FACE.check_digits


def test_location_code_with_wrong_check_digits_is_malformed(lookup: InMemoryScanLookup) -> None:
    wrong = "11" if PICK_FACE.check_digits != "11" else "12"
    with pytest.raises(MalformedScan) as caught:
        classify_scan(f"A01-012-1 {wrong}", lookup=lookup)
    assert caught.value.code == "bad_check_digit"


def test_location_with_check_digits_splits_without_lookup() -> None:
    result = classify_scan("A01-012-1 47")
    assert result.kind is ScanKind.UNKNOWN
    assert (result.code, result.check_digits) == ("A01-012-1", "47")


@pytest.mark.parametrize(
    ("scan", "kind"),
    [("LPN000123", ScanKind.LPN), ("T-0042", ScanKind.TOTE), ("WIDGET-1", ScanKind.PRODUCT)],
)
def test_plain_codes_resolve_through_lookup(lookup: InMemoryScanLookup, scan: str, kind: ScanKind) -> None:
    result = classify_scan(scan, lookup=lookup)
    assert result.kind is kind
    assert result.code == scan


def test_location_wins_over_lpn_with_the_same_code(lookup: InMemoryScanLookup) -> None:
    lookup.add_lpn(LpnRef(id=99, code="A01-012-1"))
    assert classify_scan("A01-012-1", lookup=lookup).kind is ScanKind.LOCATION


def test_unknown_code_with_lookup_is_unknown_scan(lookup: InMemoryScanLookup) -> None:
    with pytest.raises(UnknownScan) as caught:
        classify_scan("ZZ-999", lookup=lookup)
    assert caught.value.code == "unknown_code"
    assert "'ZZ-999'" in caught.value.message


def test_unknown_code_without_lookup_is_kind_unknown() -> None:
    result = classify_scan("ZZ-999")
    assert result.kind is ScanKind.UNKNOWN
    assert result.code == "ZZ-999"


# --- profile clean-up ---------------------------------------------------------------------------


def test_strips_profile_prefix_and_suffix() -> None:
    profile = ScanProfile(prefix="#", suffixes=("\r\n",))
    result = classify_scan("#]E05901234123457\r\n", profile)
    assert result.gtin == "05901234123457"


def test_leading_bracket_is_data_when_profile_expects_no_aim_ids() -> None:
    result = classify_scan("]X-1", ScanProfile(aim_ids_expected=False))
    assert result.kind is ScanKind.UNKNOWN
    assert result.code == "]X-1"


def test_result_to_dict_is_json_ready() -> None:
    result = classify_scan(f"]C1{GS1_BODY}")
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["kind"] == "gs1"
    assert payload["expiry"] == "2019-05-08"
    assert payload["symbology"] == "]C1"
    assert payload["raw"] == f"]C1{GS1_BODY}"


def test_result_to_dict_carries_resolved_refs(lookup: InMemoryScanLookup) -> None:
    payload = classify_scan("A01-012-1", lookup=lookup).to_dict()
    assert payload["location"] == {"id": 1, "code": "A01-012-1", "check_digits": PICK_FACE.check_digits}
    json.dumps(payload)


def test_a_quantity_element_without_a_count_is_malformed() -> None:
    """AI 30 ended by a GS at once (hypothesis found it: it raised a ValueError, a 500 at the API)."""
    with pytest.raises(MalformedScan) as caught:
        classify_scan("]C130\x1d10ABC")
    assert caught.value.code == "bad_quantity"
    assert classify_scan("]C13010").quantity == 10
