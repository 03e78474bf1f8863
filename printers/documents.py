"""PDF documents for laser printers: pick list, packing slip, wave summary, sheets of location labels.

Each function takes plain frozen dataclasses and returns PDF bytes; A4 or
US Letter. Barcodes are Code 128 from `printers.code128`, the same encoder
the thermal labels use.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import Literal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from printers.code128 import Code128Symbol, encode_code128
from printers.fonts import paragraph_markup
from printers.labels import Address, LocationLabel
from printers.pdf import PT_PER_MM, draw_layout, new_canvas
from printers.templates import build_location

PageSize = Literal["A4", "Letter"]
_PAGE_SIZES = {"A4": A4, "Letter": letter}
_MARGIN = 12 * mm

_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=11)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=9, textColor=colors.HexColor("#444444"))
_HEAD = ParagraphStyle("head", parent=_BODY, fontName="Helvetica-Bold")
_TITLE = ParagraphStyle("title", parent=_BODY, fontName="Helvetica-Bold", fontSize=16, leading=20)
_BIG = ParagraphStyle("big", parent=_BODY, fontName="Helvetica-Bold", fontSize=16, leading=18)


@dataclass(frozen=True, slots=True)
class PickStop:
    """One stop of a tour, in walking order."""

    sequence: int
    location_code: str
    check_digits: str
    sku: str
    description: str
    quantity: int
    tote_code: str
    unit: str = "EA"


@dataclass(frozen=True, slots=True)
class PickTour:
    tour_code: str
    stops: tuple[PickStop, ...]
    wave_code: str | None = None
    picker: str | None = None
    zone: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PackingLine:
    sku: str
    description: str
    quantity_ordered: int
    quantity_packed: int
    unit: str = "EA"
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class PackingSlip:
    order_reference: str
    ship_to: Address
    ship_from: Address
    lines: tuple[PackingLine, ...]
    carrier: str | None = None
    service: str | None = None
    cartons: int | None = None
    customer_reference: str | None = None
    shipped_on: date | None = None


@dataclass(frozen=True, slots=True)
class WaveOrder:
    order_reference: str
    carrier: str
    lines: int
    units: int
    status: str
    priority: int | None = None
    cut_off: datetime | None = None


@dataclass(frozen=True, slots=True)
class WaveSummary:
    wave_code: str
    orders: tuple[WaveOrder, ...]
    status: str | None = None
    released_at: datetime | None = None
    cut_off: datetime | None = None


class BarcodeFlowable(Flowable):
    """Code 128 bars that shrink their module to the width they are given."""

    def __init__(self, symbol: Code128Symbol, module_mm: float = 0.3, height_mm: float = 9.0) -> None:
        super().__init__()
        self.symbol = symbol
        self.module = module_mm * mm
        self.bar_height = height_mm * mm
        self.width = 0.0
        self.height = self.bar_height

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.module_used = min(self.module, available_width / self.symbol.modules)
        self.width = self.module_used * self.symbol.modules
        return self.width, self.bar_height

    def draw(self) -> None:
        path = self.canv.beginPath()
        position = 0
        for module, run in groupby(self.symbol.pattern()):
            length = len(list(run))
            if module == "1":
                path.rect(position * self.module_used, 0, length * self.module_used, self.bar_height)
            position += length
        self.canv.drawPath(path, stroke=0, fill=1)


def _p(text: object, style: ParagraphStyle = _BODY) -> Paragraph:
    bold = style.fontName.endswith("Bold")
    return Paragraph(paragraph_markup("" if text is None else str(text), bold=bold), style)


def _when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.isoformat()


def _barcode(text: str, module_mm: float = 0.3, height_mm: float = 9.0) -> Flowable:
    return BarcodeFlowable(encode_code128([text]), module_mm, height_mm)


def _document(title: str, page_size: PageSize) -> tuple[io.BytesIO, SimpleDocTemplate]:
    if page_size not in _PAGE_SIZES:
        raise ValueError("page_size must be 'A4' or 'Letter'")
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=_PAGE_SIZES[page_size],
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=title,
        author="WES",
        creator="WES printers",
        invariant=1,
    )
    return buffer, document


def _footer(label: str):  # type: ignore[no-untyped-def]
    def draw(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(_MARGIN, _MARGIN - 2 * mm, f"{label} · page {document.page}")
        canvas.restoreState()

    return draw


_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
)
_PLAIN = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])


def _widths(fractions: Sequence[float], page_size: PageSize) -> list[float]:
    usable = _PAGE_SIZES[page_size][0] - 2 * _MARGIN
    return [usable * fraction for fraction in fractions]


def _facts(pairs: Sequence[tuple[str, object]], page_size: PageSize) -> Flowable:
    """A row of small captions over values (wave, picker, date...); nothing when every value is missing."""
    shown = [(caption, value) for caption, value in pairs if value not in (None, "")]
    if not shown:
        return Spacer(1, 0)  # (a table of no columns cannot be drawn)
    table = Table(
        [[_p(caption, _SMALL) for caption, _ in shown], [_p(value, _HEAD) for _, value in shown]],
        colWidths=_widths([1 / len(shown)] * len(shown), page_size),
        hAlign="LEFT",
    )
    table.setStyle(_PLAIN)
    return table


def _pick_list_story(tour: PickTour, page_size: PageSize) -> list[Flowable]:
    total_units = sum(stop.quantity for stop in tour.stops)
    story: list[Flowable] = [
        Table([[_p(f"Pick list · tour {tour.tour_code}", _TITLE), _barcode(tour.tour_code, 0.33, 10)]],
              colWidths=_widths([0.6, 0.4], page_size), style=_PLAIN),
        Spacer(1, 3 * mm),
        _facts(
            [("Wave", tour.wave_code), ("Zone", tour.zone), ("Picker", tour.picker),
             ("Created", _when(tour.created_at)), ("Stops", len(tour.stops)), ("Units", total_units)],
            page_size,
        ),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[object]] = [[_p(h, _HEAD) for h in ("#", "Location", "Chk", "SKU", "Description", "Qty", "Tote")]]
    for stop in tour.stops:
        rows.append(
            [
                _p(stop.sequence),
                [_p(stop.location_code, _HEAD), _barcode(stop.location_code, 0.25, 7)],
                _p(stop.check_digits, _BIG),
                [_p(stop.sku), _barcode(stop.sku, 0.25, 7)],
                _p(stop.description),
                _p(f"{stop.quantity} {stop.unit}", _HEAD),
                _p(stop.tote_code, _HEAD),
            ]
        )
    table = Table(rows, colWidths=_widths([0.05, 0.25, 0.07, 0.21, 0.24, 0.08, 0.10], page_size), repeatRows=1)
    table.setStyle(_GRID)
    story.append(table)
    return story


def pick_list_pdf(tour: PickTour, page_size: PageSize = "A4") -> bytes:
    """One tour's stops in walking order, with location and SKU barcodes to scan from the sheet."""
    buffer, document = _document(f"Pick list {tour.tour_code}", page_size)
    footer = _footer(f"Tour {tour.tour_code}")
    document.build(_pick_list_story(tour, page_size), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def pick_lists_pdf(tours: Sequence[PickTour], title: str, page_size: PageSize = "A4") -> bytes:
    """Several tours (a wave's) in one document, each starting on a new page."""
    if not tours:
        raise ValueError("no tours to print")
    buffer, document = _document(title, page_size)
    story: list[Flowable] = []
    for index, tour in enumerate(tours):
        if index:
            story.append(PageBreak())
        story += _pick_list_story(tour, page_size)
    footer = _footer(title)
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _address_block(caption: str, address: Address) -> list[Flowable]:
    lines = [address.name, *address.lines, address.city_line, address.country]
    return [_p(caption, _SMALL)] + [_p(line, _HEAD if index == 0 else _BODY)
                                    for index, line in enumerate(line for line in lines if line)]


def packing_slip_pdf(slip: PackingSlip, page_size: PageSize = "A4") -> bytes:
    buffer, document = _document(f"Packing slip {slip.order_reference}", page_size)
    story: list[Flowable] = [
        Table([[_p(f"Packing slip · {slip.order_reference}", _TITLE), _barcode(slip.order_reference, 0.33, 10)]],
              colWidths=_widths([0.6, 0.4], page_size), style=_PLAIN),
        Spacer(1, 4 * mm),
        Table([[_address_block("Ship to", slip.ship_to), _address_block("From", slip.ship_from)]],
              colWidths=_widths([0.5, 0.5], page_size), style=_PLAIN),
        Spacer(1, 4 * mm),
        _facts(
            [("Customer reference", slip.customer_reference), ("Carrier", slip.carrier),
             ("Service", slip.service), ("Cartons", slip.cartons), ("Shipped", _when(slip.shipped_on))],
            page_size,
        ),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[object]] = [[_p(h, _HEAD) for h in ("SKU", "Description", "Lot", "Ordered", "Packed")]]
    for line in slip.lines:
        short = line.quantity_packed < line.quantity_ordered
        rows.append(
            [
                _p(line.sku),
                _p(line.description),
                _p(line.lot),
                _p(f"{line.quantity_ordered} {line.unit}"),
                _p(f"{line.quantity_packed} {line.unit}" + (" (short)" if short else ""), _HEAD),
            ]
        )
    packed = sum(line.quantity_packed for line in slip.lines)
    rows.append([_p("Total", _HEAD), "", "", _p(sum(line.quantity_ordered for line in slip.lines)), _p(packed, _HEAD)])
    table = Table(rows, colWidths=_widths([0.2, 0.42, 0.14, 0.12, 0.12], page_size), repeatRows=1)
    table.setStyle(_GRID)
    story.append(table)
    footer = _footer(f"Packing slip {slip.order_reference}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def wave_summary_pdf(wave: WaveSummary, page_size: PageSize = "A4") -> bytes:
    buffer, document = _document(f"Wave {wave.wave_code}", page_size)
    story: list[Flowable] = [
        Table([[_p(f"Wave summary · {wave.wave_code}", _TITLE), _barcode(wave.wave_code, 0.33, 10)]],
              colWidths=_widths([0.6, 0.4], page_size), style=_PLAIN),
        Spacer(1, 3 * mm),
        _facts(
            [("Status", wave.status), ("Released", _when(wave.released_at)), ("Cut-off", _when(wave.cut_off)),
             ("Orders", len(wave.orders)), ("Lines", sum(o.lines for o in wave.orders)),
             ("Units", sum(o.units for o in wave.orders))],
            page_size,
        ),
        Spacer(1, 4 * mm),
        _p("By carrier", _HEAD),
        Spacer(1, 1.5 * mm),
    ]
    carriers: dict[str, list[WaveOrder]] = {}
    for order in wave.orders:
        carriers.setdefault(order.carrier, []).append(order)
    carrier_rows: list[list[object]] = [[_p(h, _HEAD) for h in ("Carrier", "Orders", "Lines", "Units", "Earliest cut-off")]]
    for carrier, orders in sorted(carriers.items()):
        cut_offs = [order.cut_off for order in orders if order.cut_off is not None]
        carrier_rows.append([_p(carrier), _p(len(orders)), _p(sum(o.lines for o in orders)),
                             _p(sum(o.units for o in orders)), _p(_when(min(cut_offs)) if cut_offs else "")])
    carrier_table = Table(carrier_rows, colWidths=_widths([0.36, 0.14, 0.14, 0.14, 0.22], page_size), repeatRows=1)
    carrier_table.setStyle(_GRID)
    story += [carrier_table, Spacer(1, 5 * mm), _p("Orders", _HEAD), Spacer(1, 1.5 * mm)]
    order_rows: list[list[object]] = [[_p(h, _HEAD) for h in ("Order", "Carrier", "Priority", "Cut-off", "Lines", "Units", "Status")]]
    for order in wave.orders:
        order_rows.append([_p(order.order_reference), _p(order.carrier), _p(order.priority), _p(_when(order.cut_off)),
                           _p(order.lines), _p(order.units), _p(order.status)])
    order_table = Table(order_rows, colWidths=_widths([0.2, 0.18, 0.1, 0.18, 0.09, 0.09, 0.16], page_size), repeatRows=1)
    order_table.setStyle(_GRID)
    story.append(order_table)
    footer = _footer(f"Wave {wave.wave_code}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class LabelSheet:
    """A sheet of self-adhesive labels: grid geometry in millimetres from the top-left of the page."""

    page: tuple[float, float]
    columns: int
    rows: int
    cell_width: float
    cell_height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


LABEL_SHEETS = {
    # 21 per sheet, 63.5 x 38.1 mm (the common A4 address-label sheet, e.g. Avery L7160)
    "A4": LabelSheet(A4, 3, 7, 63.5, 38.1, 7.2, 15.15, 66.0, 38.1),
    # 10 per sheet, 4 x 2 in (e.g. Avery 5163): the thermal label's own size
    "Letter": LabelSheet(letter, 2, 5, 101.6, 50.8, 3.97, 12.7, 106.36, 50.8),
}


def location_sheet_pdf(labels: Sequence[LocationLabel], page_size: PageSize = "A4") -> bytes:
    """Location labels laid out on label sheets, drawn from the thermal label's own layout."""
    if not labels:
        raise ValueError("no location labels to print")
    if page_size not in LABEL_SHEETS:
        raise ValueError("page_size must be 'A4' or 'Letter'")
    sheet = LABEL_SHEETS[page_size]
    buffer = io.BytesIO()
    page_width, page_height = sheet.page
    canvas = new_canvas(buffer, page_width, page_height, "Location labels")
    pages = math.ceil(len(labels) / sheet.per_page)
    for page in range(pages):
        for slot, label in enumerate(labels[page * sheet.per_page : (page + 1) * sheet.per_page]):
            layout, values = build_location(label)
            row, column = divmod(slot, sheet.columns)
            # 1.5 mm inside each cell: die-cut sheets are never placed exactly
            scale = min((sheet.cell_width - 3) / layout.width, (sheet.cell_height - 3) / layout.height)
            cell_left = (sheet.left + column * sheet.pitch_x) * PT_PER_MM
            cell_top = page_height - (sheet.top + row * sheet.pitch_y) * PT_PER_MM
            left = cell_left + (sheet.cell_width - layout.width * scale) / 2 * PT_PER_MM
            top = cell_top - (sheet.cell_height - layout.height * scale) / 2 * PT_PER_MM
            draw_layout(canvas, layout, values, left, top, scale)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
