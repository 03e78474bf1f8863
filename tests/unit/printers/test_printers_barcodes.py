"""Barcode encoders: Code 128 / GS1-128, Data Matrix ECC 200, GS1 keys."""

import pytest
from barcode.charsets.code128 import CODES
from reportlab.graphics.barcode.ecc200datamatrix import ECC200DataMatrix

from printers import FNC1, LabelDataError, encode_code128, encode_datamatrix, gs1_check_digit
from printers.datamatrix import _ascii_encode, _pad, _reed_solomon, place_codewords
from printers.gs1 import element_parts, human_readable, normalize_gtin, validate_sscc

STOP = "1100011101011"


def read_zpl_code128(data: str) -> list[object]:
    """Interpret ^BC mode N field data the way the printer does: invocation codes and subsets."""
    out: list[object] = []
    subset = "B"
    i = 0
    while i < len(data):
        if data[i] == ">":
            code = data[i + 1]
            i += 2
            if code == "<":
                out.append(">")
            elif code == "8":
                out.append(FNC1)
            elif code in ":6":
                subset = "B"
            elif code in ";5":
                subset = "C"
            continue
        if subset == "C":
            out.append(data[i : i + 2])
            i += 2
        else:
            out.append(data[i])
            i += 1
    return out


def decode_pattern(pattern: str) -> list[int]:
    assert pattern.endswith(STOP)
    body = pattern[: -len(STOP)]
    return [CODES.index(body[i : i + 11]) for i in range(0, len(body), 11)]


def test_gs1_check_digits_match_published_examples() -> None:
    assert gs1_check_digit("0061414112345") == "2"  # GTIN 00614141123452
    assert gs1_check_digit("10614141123456789") == "7"  # SSCC (00) 106141411234567897
    assert validate_sscc("106141411234567897") == "106141411234567897"
    with pytest.raises(LabelDataError):
        validate_sscc("106141411234567896")
    assert normalize_gtin("4006381333931") == "04006381333931"


def test_sscc_barcode_is_start_c_fnc1_and_digit_pairs() -> None:
    symbol = encode_code128(element_parts([("00", "106141410000000003")]))
    assert symbol.zpl_data == ">;>800106141410000000003"
    assert symbol.values[:3] == (105, 102, 0)
    assert symbol.modules == 156


def test_symbol_pattern_carries_its_values_and_a_valid_check_character() -> None:
    symbol = encode_code128(["A-01-02-03"])
    values = decode_pattern(symbol.pattern())
    assert tuple(values) == symbol.values
    checksum = values[0] + sum(position * value for position, value in enumerate(values[1:-1], start=1))
    assert checksum % 103 == values[-1]


@pytest.mark.parametrize(
    "parts",
    [
        ["T-000123"],
        ["12345678"],
        ["1234567"],
        ["ABC123456789X"],
        ["a>b>"],
        [FNC1, "0105012345678900", "17250131", "10LOT>_1"],
        [FNC1, "01050123456789001725013110", "7"],
    ],
)
def test_zpl_field_data_spells_the_same_text_as_the_parts(parts: list[object]) -> None:
    symbol = encode_code128(parts)
    expected: list[object] = []
    for part in parts:
        expected.extend([FNC1] if part is FNC1 else list(part))
    read = read_zpl_code128(symbol.zpl_data)
    flat: list[object] = []
    for token in read:
        flat.extend([token] if token is FNC1 else list(token))
    assert flat == expected


def test_subset_c_is_used_for_long_digit_runs_only() -> None:
    assert encode_code128(["AB12CD"]).zpl_data == ">:AB12CD"
    assert encode_code128(["AB123456"]).zpl_data == ">:AB>5123456"
    assert encode_code128(["AB12345"]).zpl_data == ">:AB1>52345"


@pytest.mark.parametrize("text", ["^XA", "~JR", "é", "a\nb", ""])
def test_code128_refuses_what_zpl_cannot_carry(text: str) -> None:
    with pytest.raises(LabelDataError):
        encode_code128([text])


def test_gs1_element_strings_get_fnc1_after_variable_fields_but_not_at_the_end() -> None:
    assert element_parts([("10", "L1"), ("21", "S9")]) == [FNC1, "10L1", FNC1, "21S9"]
    assert element_parts([("01", "05012345678900"), ("10", "L1")]) == [FNC1, "0105012345678900", "10L1"]
    assert human_readable([("01", "05012345678900"), ("10", "L1")]) == "(01) 05012345678900 (10) L1"


def test_datamatrix_reed_solomon_matches_the_iso_16022_example() -> None:
    # ISO/IEC 16022 annex: "123456" -> data 142 164 186, check 114 25 5 88 102
    assert _ascii_encode(["123456"], "x") == [142, 164, 186]
    assert _reed_solomon([142, 164, 186], 5) == [114, 25, 5, 88, 102]


def test_datamatrix_gs1_data_starts_with_fnc1_and_picks_the_smallest_square() -> None:
    parts = [FNC1, "0105012345678900", "10LOT7_B"]
    codewords = _ascii_encode(parts, "x")
    assert codewords[0] == 232
    symbol = encode_datamatrix(parts)
    # FNC1 + 8 digit pairs + "10" + 6 characters = 16 codewords: more than 12, so 18x18
    assert len(codewords) == 16
    assert symbol.size == 18
    assert len(symbol.rows) == 18 and all(len(row) == 18 for row in symbol.rows)
    assert symbol.zpl_data == "_10105012345678900" + "10LOT7__B"


def test_datamatrix_finder_pattern_is_an_l_with_clock_tracks() -> None:
    rows = encode_datamatrix(["WES"]).rows
    size = len(rows)
    assert all(row[0] for row in rows)
    assert all(rows[-1])
    assert [rows[0][x] for x in range(size)] == [x % 2 == 0 for x in range(size)]
    assert [rows[y][-1] for y in range(size)] == [y % 2 == 1 for y in range(size)]


def test_datamatrix_placement_matches_reportlab_for_a_44_by_44_symbol() -> None:
    data = _pad(_ascii_encode(["WAREHOUSE EXECUTION SYSTEM 0123456789"], "x"), 144)
    codewords = data + _reed_solomon(data, 56)
    reference = ECC200DataMatrix(value="x")
    matrix = reference._create_matrix(list(codewords))  # it consumes its argument
    regions = reference._merge_data_regions(
        reference._wrap_data_regions_with_finders(reference._create_data_regions(matrix))
    )
    ours = place_codewords(codewords, 40, 40)
    assert [[bool(cell) for cell in row] for row in ours] == [[bool(cell) for cell in row] for row in matrix]
    assert len(regions) == 44
