"""Layouts scale to the printer's resolution and width, and render deterministically."""

import re

import pytest

from printers import LabelDataError, PrinterSetup, ToteLabel, UnknownTemplate, field_texts, render_zpl
from printers.layout import fit_text, wrap_text
from printers.samples import SAMPLE_LABELS


def origins(zpl: bytes) -> list[tuple[int, int]]:
    return [(int(x), int(y)) for x, y in re.findall(rb"\^FO(\d+),(\d+)", zpl)]


def test_same_label_and_printer_give_identical_bytes() -> None:
    label = SAMPLE_LABELS["shipping"]
    assert render_zpl("shipping", label) == render_zpl("shipping", label)


def test_300_dpi_places_every_field_one_and_a_half_times_further() -> None:
    label = SAMPLE_LABELS["shipping"]
    low = origins(render_zpl("shipping", label, PrinterSetup.for_dpi(203)))
    high = origins(render_zpl("shipping", label, PrinterSetup.for_dpi(300)))
    assert len(low) == len(high) > 20
    for (x8, y8), (x12, y12) in zip(low, high):
        assert abs(x12 - x8 * 1.5) <= 1.5 and abs(y12 - y8 * 1.5) <= 1.5


def test_600_dpi_sets_print_width_and_label_length_in_its_own_dots() -> None:
    zpl = render_zpl("tote", ToteLabel("T-1"), PrinterSetup.for_dpi(600))
    assert b"^PW2438^LL1219" in zpl


def test_label_wider_than_the_printhead_shrinks_to_fit() -> None:
    narrow = PrinterSetup(dpi=203, print_width_dots=448)  # a 2.2 inch printer
    zpl = render_zpl("shipping", SAMPLE_LABELS["shipping"], narrow)
    assert b"^PW448^" in zpl
    widths = [int(w) for w in re.findall(rb"\^GB(\d+),", zpl)]
    assert max(widths) <= 448
    assert all(x < 448 for x, _ in origins(zpl))
    # the SSCC module drops to what fits: 156 modules in 47 mm at 8 dots/mm
    assert b"^BY2,3," in zpl


def test_header_carries_media_speed_darkness_and_utf8() -> None:
    setup = PrinterSetup(dpi=203, media_type="thermal_transfer", media_tracking="mark", speed_ips=8, darkness=25)
    zpl = render_zpl("tote", ToteLabel("T-1"), setup)
    assert zpl.startswith(b"^XA\n^CI28\n^PW812^LL406^LH0,0\n^MTT^MNM^PR8~SD25\n")
    continuous = render_zpl("tote", ToteLabel("T-1"), PrinterSetup(media_tracking="continuous"))
    assert b"^MTD^MNN" in continuous


def test_a_printer_truetype_font_is_used_for_text_when_configured() -> None:
    zpl = render_zpl("tote", ToteLabel("T-1"), PrinterSetup(text_font="E:TT0003M_.TTF"))
    assert b"^A@N,88,88,E:TT0003M_.TTF^FH_^FDT-1^FS" in zpl
    assert b"^A0N" not in zpl


@pytest.mark.parametrize("font", ["0^XA", "E:FONT.TTF~", "arial.ttf", ""])
def test_a_font_name_that_could_inject_commands_is_refused(font: str) -> None:
    with pytest.raises(ValueError):
        PrinterSetup(text_font=font)


def test_long_text_is_condensed_before_it_is_cut() -> None:
    assert fit_text("SHORT", 5, 50) == ("SHORT", 1.0)
    text, ratio = fit_text("A" * 20, 5, 45)  # needs 60 mm at full width
    assert text == "A" * 20 and ratio == pytest.approx(0.75)
    text, ratio = fit_text("A" * 100, 5, 45)
    assert text == "A" * 30 and ratio == 0.5


def test_condensed_text_gets_a_narrower_zpl_font_width() -> None:
    zpl = render_zpl("shipping", SAMPLE_LABELS["shipping"])
    assert b"^A0N,56,43^FH_^FDDHL Freight^FS" in zpl


def test_descriptions_wrap_at_spaces_into_at_most_the_lines_there_are() -> None:
    # 30 mm at 5 mm high holds about ten characters
    assert wrap_text("one two three four", 5, 30, 2) == ["one two", "three four"]
    assert wrap_text("one two three four five six seven", 5, 30, 2) == ["one two", "three four five six seven"]
    assert wrap_text("single", 5, 30, 1) == ["single"]


def test_optional_fields_and_their_captions_are_left_out_when_empty() -> None:
    zpl = render_zpl("lpn", {"sscc": "376123450000000016", "lpn": "LPN-7"})
    texts = field_texts(zpl)
    assert "LPN-7" in texts and "(00) 376123450000000016" in texts
    assert not {"SKU", "QTY", "LOT"} & set(texts)


def test_location_arrow_points_the_way_the_data_says() -> None:
    up = render_zpl("location", {"code": "A-1", "check_digits": "12", "arrow": "up"})
    down = render_zpl("location", {"code": "A-1", "check_digits": "12", "arrow": "down"})
    none = render_zpl("location", {"code": "A-1", "check_digits": "12"})
    assert up.count(b"^GD") == down.count(b"^GD") == 2
    assert b"^GD" not in none
    # the head sits at the top of the arrow for up, at the bottom for down
    assert min(y for _, y in origins(up)[-2:]) < min(y for _, y in origins(down)[-2:])


def test_unknown_template_is_a_lookup_error_naming_the_choices() -> None:
    with pytest.raises(UnknownTemplate, match="shipping"):
        render_zpl("pallet-xl", {})


def test_gs1_128_product_label_with_a_lot_too_long_for_the_width_asks_for_datamatrix() -> None:
    data = {"gtin": "05012345678900", "lot": "ABCDEFGHIJKLMNOPQRST", "expiry": "2025-01-31"}
    with pytest.raises(LabelDataError, match="gs1-datamatrix") as caught:
        render_zpl("product", data)
    assert caught.value.field == "lot"
    assert b"^BXN" in render_zpl("product", {**data, "symbology": "gs1-datamatrix"})
