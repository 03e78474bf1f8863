"""The scan sheet renderer: cards of Code 128, GS1-128, EAN-13, QR and location labels on A4 or Letter."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from printers.code128 import FNC1, encode_code128
from printers.errors import LabelDataError
from printers.scan_sheet import ScanSheet, SheetCode, SheetSection, _Bars, _Ean13, codes_of, scan_sheet_pdf

SSCC = "340123450000000017"
GTIN13 = "5012300000029"


def _sheet() -> ScanSheet:
    return ScanSheet(
        title="Test sheet",
        intro=("Scan from paper or a second screen.",),
        sections=(
            SheetSection("Sign in", (SheetCode("picker1 · picker", "picker1", note="password demo-picker"),
                                     SheetCode("Enroll handheld-1", '{"wes":"enroll","token":"T0K3N"}', "qr",
                                               note="token T0K3N"))),
            SheetSection("Places", (SheetCode("PACK-01", "PACK-01", "location", check_digits="42"),)),
            SheetSection("Receive", (SheetCode("ASN-1 pallet", symbology="gs1-128", gs1=(("00", SSCC),)),),
                         columns=2),
            SheetSection("Products", (SheetCode("SKU-00002", "0" + GTIN13, "ean13", note="Household item 2"),),
                         columns=4),
            SheetSection("Ship", (), intro="Closed cartons."),
            SheetSection("Totes", tuple(SheetCode(f"TOTE-{i:04d}", f"TOTE-{i:04d}") for i in range(1, 31)),
                         columns=5, new_page=True),
        ),
    )


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.parametrize("page_size", ["A4", "Letter"])
def test_a_sheet_is_a_pdf_with_every_code_readable_as_text(page_size: str) -> None:
    pdf = scan_sheet_pdf(_sheet(), page_size)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages, text = _text(pdf)
    assert pages == 2  # the totes start a new page
    for expected in ("Test sheet", "picker1", "password demo-picker", "token T0K3N", "PACK-01", "42",
                     f"(00) {SSCC}", "012300 000029", "TOTE-0001", "TOTE-0030", "Nothing here right now"):
        assert expected in text, expected


def test_the_same_sheet_gives_the_same_bytes() -> None:
    assert scan_sheet_pdf(_sheet()) == scan_sheet_pdf(_sheet())


def test_codes_of_lists_every_card_in_order() -> None:
    codes = codes_of(_sheet())
    assert [c.caption for c in codes[:3]] == ["picker1 · picker", "Enroll handheld-1", "PACK-01"]
    assert codes[3].human_readable == f"(00) {SSCC}"


def test_bars_keep_their_quiet_zones_and_a_readable_module() -> None:
    symbol = encode_code128([FNC1, "00" + SSCC])
    bars = _Bars(symbol, module_mm=0.38, min_module_mm=0.19)
    width, _ = bars.wrap(10_000, 100)
    assert width == pytest.approx(bars.module * (symbol.modules + 20))  # 10 modules each side
    width, _ = bars.wrap(10, 100)  # far too narrow: the module stops at the minimum rather than vanish
    assert bars.module_used == pytest.approx(bars.min_module)


def test_ean13_draws_the_unit_gtin() -> None:
    ean = _Ean13("0" + GTIN13)
    assert ean.ean == GTIN13 and len(ean.pattern) == 95
    with pytest.raises(LabelDataError):
        _Ean13("15012300000026")  # a case GTIN-14 is not an EAN-13


@pytest.mark.parametrize("card", [
    dict(caption="x", symbology="gs1-128"),
    dict(caption="x", data="PACK-01", symbology="location"),
    dict(caption="x", symbology="code128"),
    dict(caption="x", symbology="qr"),
    dict(caption="x", symbology="gs1-128", gs1=(("00", "340123450000000012"),)),  # wrong check digit
])
def test_a_card_without_what_its_symbol_needs_is_refused(card: dict) -> None:
    with pytest.raises(LabelDataError):
        SheetCode(**card)


def test_an_unknown_page_size_is_refused() -> None:
    with pytest.raises(ValueError):
        scan_sheet_pdf(_sheet(), "A5")  # type: ignore[arg-type]
