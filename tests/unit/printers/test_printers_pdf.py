"""PDF labels and documents, read back with pypdf."""

import io
from datetime import date, datetime

import pytest
from pypdf import PdfReader

from printers import (
    LABEL_SHEETS,
    LocationLabel,
    PackingLine,
    PackingSlip,
    PickStop,
    PickTour,
    WaveOrder,
    WaveSummary,
    location_sheet_pdf,
    packing_slip_pdf,
    pick_list_pdf,
    render_pdf,
    wave_summary_pdf,
)
from printers.fonts import _unicode_fonts
from printers.samples import SAMPLE_LABELS, WAREHOUSE, sample_template

MM = 72 / 25.4


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("lpn", ["LPN-000042", "SKU-10045", "(00) 376123450000000016", "48 CS"]),
        ("shipping", ["SHIP TO", "Frankfurt am Main", "SO-2024-001873", "2 of 3", "12.50 kg", "(00) 376123450000000023"]),
        ("shipping-open-count", ["SHIP TO", "SO-2024-001873", "CARTON", "12.50 kg", "(00) 376123450000000023"]),
        ("tote", ["T-000123"]),
        ("location", ["A-01-02-03", "47"]),
        ("product", ["(01) 05012345678900 (17) 250131 (10) LOT7_B", "2025-01-31"]),
        ("product-datamatrix", ["(01) 05012345678900", "(10) LOT7_B"]),
        ("enrollment", ["TC52 picker 07", "K7Q-93M"]),
    ],
)
def test_label_pdf_is_one_page_of_label_size_with_its_text(sample: str, expected: list[str]) -> None:
    pdf = render_pdf(sample_template(sample), SAMPLE_LABELS[sample])
    reader = read(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert round(float(box.width) / MM, 1) == 101.6
    assert round(float(box.height) / MM, 1) in (50.8, 152.4)
    text = reader.pages[0].extract_text()
    for fragment in expected:
        assert fragment in text


def test_label_pdf_bytes_are_deterministic() -> None:
    label = SAMPLE_LABELS["shipping"]
    assert render_pdf("shipping", label) == render_pdf("shipping", label)


@pytest.mark.skipif(_unicode_fonts() is None, reason="needs DejaVu Sans for non-Latin-1 text")
def test_label_pdf_keeps_non_latin_text() -> None:
    data = {"sscc": "376123450000000016", "lpn": "Łódź Ελλάδα"}
    assert "Łódź Ελλάδα" in text_of(render_pdf("lpn", data))


def locations(count: int) -> list[LocationLabel]:
    return [LocationLabel(f"B-{n:03d}-01", f"{n % 100:02d}", "up" if n % 2 else None) for n in range(count)]


@pytest.mark.parametrize(("count", "a4_pages", "letter_pages"), [(1, 1, 1), (10, 1, 1), (21, 1, 3), (22, 2, 3), (50, 3, 5)])
def test_location_sheet_has_the_right_number_of_pages(count: int, a4_pages: int, letter_pages: int) -> None:
    assert LABEL_SHEETS["A4"].per_page == 21 and LABEL_SHEETS["Letter"].per_page == 10
    a4 = read(location_sheet_pdf(locations(count), "A4"))
    letter = read(location_sheet_pdf(locations(count), "Letter"))
    assert len(a4.pages) == a4_pages
    assert len(letter.pages) == letter_pages
    assert round(float(a4.pages[0].mediabox.width)) == 595
    assert round(float(letter.pages[0].mediabox.width)) == 612


def test_location_sheet_carries_every_code_and_check_digit_pair() -> None:
    labels = locations(30)
    text = text_of(location_sheet_pdf(labels, "A4"))
    for label in labels:
        assert label.code in text
    assert text.count("B-0") == 30


def test_location_sheet_needs_labels_and_a_known_page_size() -> None:
    with pytest.raises(ValueError):
        location_sheet_pdf([], "A4")
    with pytest.raises(ValueError):
        location_sheet_pdf(locations(1), "A3")  # type: ignore[arg-type]


def make_tour(stops: int) -> PickTour:
    return PickTour(
        tour_code="TR-0042",
        wave_code="W-0007",
        picker="Ana",
        zone="A",
        created_at=datetime(2024, 6, 1, 8, 15),
        stops=tuple(
            PickStop(n, f"A-{n:02d}-01", f"{(n * 37) % 100:02d}", f"SKU-{1000 + n}", "Green tea, 500 g tin", n, "T-000123")
            for n in range(1, stops + 1)
        ),
    )


def test_pick_list_lists_stops_in_walking_order_with_check_digits() -> None:
    tour = make_tour(5)
    text = text_of(pick_list_pdf(tour))
    assert "Pick list · tour TR-0042" in text
    positions = [text.index(stop.location_code) for stop in tour.stops]
    assert positions == sorted(positions)
    for stop in tour.stops:
        assert stop.check_digits in text and stop.sku in text
    assert "W-0007" in text and "Ana" in text


def test_long_pick_list_runs_onto_more_pages_on_letter_and_a4() -> None:
    for page_size in ("A4", "Letter"):
        pdf = pick_list_pdf(make_tour(60), page_size)
        assert len(read(pdf).pages) >= 2
        assert "A-60-01" in text_of(pdf)


def test_pick_list_is_deterministic() -> None:
    assert pick_list_pdf(make_tour(3)) == pick_list_pdf(make_tour(3))


def test_packing_slip_shows_addresses_lines_and_shorts() -> None:
    slip = PackingSlip(
        order_reference="SO-2024-001873",
        ship_to=SAMPLE_LABELS["shipping"].ship_to,
        ship_from=WAREHOUSE,
        lines=(PackingLine("SKU-1", "Beans", 3, 3, lot="L1"), PackingLine("SKU-2", "Tea", 2, 1)),
        carrier="DHL",
        cartons=2,
        shipped_on=date(2024, 6, 1),
    )
    text = text_of(packing_slip_pdf(slip, "Letter"))
    for fragment in ("SO-2024-001873", "Café Müller GmbH", "Northwind Fulfilment B.V.", "SKU-2", "1 EA (short)", "2024-06-01"):
        assert fragment in text


def test_wave_summary_totals_orders_by_carrier() -> None:
    wave = WaveSummary(
        wave_code="W-0007",
        status="released",
        orders=tuple(
            WaveOrder(f"SO-{n}", ("DHL", "UPS")[n % 2], lines=2, units=5, status="allocated",
                      cut_off=datetime(2024, 6, 1, 15 + n % 2, 0))
            for n in range(6)
        ),
    )
    text = text_of(wave_summary_pdf(wave))
    assert "Wave summary · W-0007" in text
    assert "SO-5" in text and "2024-06-01 15:00" in text and "2024-06-01 16:00" in text
    assert "30" in text  # units in the wave
