"""A sheet of barcodes to scan from paper or from a second screen (the demo's scan sheet).

`scan_sheet_pdf` takes a `ScanSheet` (plain frozen dataclasses: sections of
`SheetCode` cards) and returns PDF bytes. Each card is a caption, the symbol
and a line of small print. Symbols are drawn as the labels on the floor carry
them, so a scanner reads the sheet as it reads the real labels:

* ``code128``: Code 128 (a scanner sending AIM ids marks it ``]C0``): totes,
  docks, user names, LPNs that are not SSCCs;
* ``gs1-128``: GS1-128 with FNC1 first (``]C1``), from GS1 element strings,
  e.g. ``(("00", sscc),)`` for a pallet or carton label;
* ``ean13``: EAN-13 (``]E0``), a product's unit GTIN as printed on the pack;
* ``qr``: QR code (``]Q1``), e.g. a device enrollment payload;
* ``location``: the location label itself (code as Code 128 and the check
  digits a picker reads back), drawn from the thermal label's own layout;
* ``none``: text only.

Barcodes keep ten modules of quiet zone on both sides; Code 128 shrinks its
module to the card's width (never under the scanner-friendly minimum the
card allows), so long codes stay readable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Literal

from barcode.ean import EAN13
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus import Table, TableStyle

from printers.code128 import Code128Symbol, encode_code128
from printers.errors import LabelDataError
from printers.fonts import paragraph_markup
from printers.gs1 import element_parts, human_readable, normalize_gtin, validate_sscc
from printers.labels import LocationLabel
from printers.pdf import qr_rows, draw_layout
from printers.templates import build_location

Symbology = Literal["code128", "gs1-128", "ean13", "qr", "location", "none"]
PageSize = Literal["A4", "Letter"]
_PAGE_SIZES = {"A4": A4, "Letter": letter}
_MARGIN = 12 * mm
_QUIET_MODULES = 10

_BODY = ParagraphStyle("sheet-body", fontName="Helvetica", fontSize=9, leading=11)
_NOTE = ParagraphStyle("sheet-note", parent=_BODY, fontSize=7.5, leading=9, textColor=colors.HexColor("#333333"))
_CAPTION = ParagraphStyle("sheet-caption", parent=_BODY, fontName="Helvetica-Bold", fontSize=10, leading=12)
_SECTION = ParagraphStyle("sheet-section", parent=_BODY, fontName="Helvetica-Bold", fontSize=13, leading=16,
                          spaceBefore=2)
_TITLE = ParagraphStyle("sheet-title", parent=_BODY, fontName="Helvetica-Bold", fontSize=17, leading=21)


@dataclass(frozen=True, slots=True)
class SheetCode:
    """One card: a caption, a symbol and small print."""

    caption: str
    data: str = ""  # what the symbol carries (code128, ean13: the GTIN, qr, location: its code)
    symbology: Symbology = "code128"
    note: str = ""
    check_digits: str | None = None  # location labels: the two digits printed beside the barcode
    gs1: tuple[tuple[str, str], ...] = ()  # gs1-128: element strings, e.g. (("00", "340123450000001017"),)

    def __post_init__(self) -> None:
        if self.symbology == "gs1-128" and not self.gs1:
            raise LabelDataError("gs1", "a GS1-128 card needs its element strings")
        if self.symbology == "location" and self.check_digits is None:
            raise LabelDataError("check_digits", "a location card needs the location's check digits")
        if self.symbology in ("code128", "ean13", "qr", "location") and not self.data:
            raise LabelDataError("data", f"a {self.symbology} card needs data")
        for ai, value in self.gs1:  # a wrong check digit on the sheet would teach the wrong thing
            if ai == "00":
                validate_sscc(value)
            elif ai in ("01", "02"):
                normalize_gtin(value)

    @property
    def human_readable(self) -> str:
        """What the symbol carries, as printed under it."""
        if self.symbology == "gs1-128":
            return human_readable(self.gs1)
        return self.data


@dataclass(frozen=True, slots=True)
class SheetSection:
    title: str
    codes: tuple[SheetCode, ...]
    intro: str = ""
    columns: int = 3
    new_page: bool = False


@dataclass(frozen=True, slots=True)
class ScanSheet:
    title: str
    sections: tuple[SheetSection, ...]
    intro: tuple[str, ...] = ()
    footer: str = ""


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(paragraph_markup(text, bold=style.fontName.endswith("Bold")), style)


class _Bars(Flowable):
    """Code 128 / GS1-128 bars with quiet zones; the module shrinks to the width given, down to `min_module`."""

    def __init__(self, symbol: Code128Symbol, module_mm: float = 0.33, min_module_mm: float = 0.19,
                 height_mm: float = 11.0) -> None:
        super().__init__()
        self.symbol = symbol
        self.module = module_mm * mm
        self.min_module = min_module_mm * mm
        self.bar_height = height_mm * mm
        self.module_used = self.module

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        total = self.symbol.modules + 2 * _QUIET_MODULES
        self.module_used = max(self.min_module, min(self.module, available_width / total))
        self.width = self.module_used * total
        self.height = self.bar_height
        return self.width, self.height

    def draw(self) -> None:
        path = self.canv.beginPath()
        position = _QUIET_MODULES
        for module, run in groupby(self.symbol.pattern()):
            length = len(list(run))
            if module == "1":
                path.rect(position * self.module_used, 0, length * self.module_used, self.bar_height)
            position += length
        self.canv.drawPath(path, stroke=0, fill=1)


class _LocationLabel(Flowable):
    """The location label's own layout (code, Code 128, check digits), scaled to the card."""

    def __init__(self, code: str, check_digits: str, width_mm: float = 62.0) -> None:
        super().__init__()
        self.layout, self.values = build_location(LocationLabel(code=code, check_digits=check_digits))
        self.target_width = width_mm * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.scale = min(self.target_width, available_width) / (self.layout.width * mm)
        self.width = self.layout.width * mm * self.scale
        self.height = self.layout.height * mm * self.scale
        return self.width, self.height

    def draw(self) -> None:
        # a thin frame, as the label's edge: the check digits read as part of the label
        self.canv.setStrokeColor(colors.HexColor("#999999"))
        self.canv.setLineWidth(0.4)
        self.canv.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        draw_layout(self.canv, self.layout, self.values, left=0, top=self.height, scale=self.scale)


class _Ean13(Flowable):
    """EAN-13 (python-barcode's module pattern, as `printers.code128` uses its Code 128 table), guard bars
    longer, the digits under the bars; 11 modules of quiet zone left, 7 right."""

    def __init__(self, gtin: str, module_mm: float = 0.33, height_mm: float = 15.0) -> None:
        super().__init__()
        digits = normalize_gtin(gtin)
        if not digits.startswith("0"):
            raise LabelDataError("gtin", f"GTIN {gtin} is a GTIN-14: print it as GS1-128 (01), not EAN-13")
        self.ean = digits[1:]
        self.pattern = EAN13(self.ean[:12]).build()[0]
        self.module = module_mm * mm
        self.bar_height = height_mm * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.module_used = min(self.module, available_width / (len(self.pattern) + 18))
        self.width = self.module_used * (len(self.pattern) + 18)
        self.height = self.bar_height
        return self.width, self.height

    def draw(self) -> None:
        m = self.module_used
        digit_height = 8 * m * 1.25
        guards = {0, 1, 2, 45, 46, 47, 48, 49, 92, 93, 94}
        path = self.canv.beginPath()
        for index, bit in enumerate(self.pattern):
            if bit == "1":
                bottom = 0 if index in guards else digit_height
                path.rect((11 + index) * m, bottom, m, self.bar_height - bottom)
        self.canv.drawPath(path, stroke=0, fill=1)
        self.canv.setFont("Helvetica", digit_height * 0.95)
        self.canv.drawString(4 * m, 0.5, self.ean[0])
        self.canv.drawCentredString((11 + 3 + 21) * m, 0.5, self.ean[1:7])
        self.canv.drawCentredString((11 + 50 + 21) * m, 0.5, self.ean[7:])


class _Qr(Flowable):
    """QR code (level M, 4 modules of quiet zone) of a fixed size, drawn from reportlab's encoder."""

    def __init__(self, data: str, size_mm: float = 34.0) -> None:
        super().__init__()
        self.rows = qr_rows(data)
        self.size = size_mm * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = self.height = min(self.size, available_width)
        return self.width, self.height

    def draw(self) -> None:
        count = len(self.rows)
        module = self.width / (count + 8)
        path = self.canv.beginPath()
        for row_index, row in enumerate(self.rows):
            column = 0
            for dark, run in groupby(row):
                length = len(list(run))
                if dark:
                    path.rect((4 + column) * module, self.height - (4 + row_index + 1) * module, length * module,
                              module)
                column += length
        self.canv.drawPath(path, stroke=0, fill=1)


def _symbol(code: SheetCode) -> Flowable | None:
    if code.symbology == "code128":
        return _Bars(encode_code128([code.data], field="data"))
    if code.symbology == "gs1-128":
        # logistic labels: X from 0.495 mm on a pallet; a sheet keeps it scannable at arm's length
        return _Bars(encode_code128(element_parts(code.gs1), field="gs1"), module_mm=0.38, height_mm=14.0)
    if code.symbology == "ean13":
        return _Ean13(code.data)
    if code.symbology == "qr":
        return _Qr(code.data)
    if code.symbology == "location":
        return _LocationLabel(code.data, code.check_digits or "")
    return None


def _card(code: SheetCode) -> list[Flowable]:
    parts: list[Flowable] = [_p(code.caption, _CAPTION)]
    symbol = _symbol(code)
    if symbol is not None:
        parts += [Spacer(1, 1 * mm), symbol, Spacer(1, 0.8 * mm)]
    small = [line for line in (code.human_readable if code.symbology in ("code128", "gs1-128") else "", code.note)
             if line]
    for line in small:
        parts.append(_p(line, _NOTE))
    return parts


_GRID = TableStyle([
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 2 * mm),
    ("RIGHTPADDING", (0, 0), (-1, -1), 2 * mm),
    ("TOPPADDING", (0, 0), (-1, -1), 1.5 * mm),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * mm),
    ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
])


def _section(section: SheetSection, usable_width: float) -> list[Flowable]:
    head: list[Flowable] = [_p(section.title, _SECTION)]
    if section.intro:
        head.append(_p(section.intro, _BODY))
    head.append(Spacer(1, 2 * mm))
    if not section.codes:
        return [KeepTogether(head + [_p("Nothing here right now.", _NOTE)]), Spacer(1, 5 * mm)]
    columns = max(1, section.columns)
    cells = [_card(code) for code in section.codes]
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    rows[-1] += [""] * (columns - len(rows[-1]))
    table = Table(rows, colWidths=[usable_width / columns] * columns, repeatRows=0, hAlign="LEFT")
    table.setStyle(_GRID)
    # the heading stays with the first row of cards
    return [CondPageBreak(45 * mm), *head, table, Spacer(1, 5 * mm)]


def scan_sheet_pdf(sheet: ScanSheet, page_size: PageSize = "A4") -> bytes:
    """The sheet as PDF: title, a few lines of how-to, then each section's cards in a grid."""
    if page_size not in _PAGE_SIZES:
        raise ValueError("page_size must be 'A4' or 'Letter'")
    page_width, _ = _PAGE_SIZES[page_size]
    usable = page_width - 2 * _MARGIN
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=_PAGE_SIZES[page_size], leftMargin=_MARGIN, rightMargin=_MARGIN,
                                 topMargin=_MARGIN, bottomMargin=_MARGIN + 4 * mm, title=sheet.title, author="WES",
                                 creator="WES printers", invariant=1)
    story: list[Flowable] = [_p(sheet.title, _TITLE), Spacer(1, 2 * mm)]
    story += [_p(line, _BODY) for line in sheet.intro]
    story.append(Spacer(1, 4 * mm))
    for index, section in enumerate(sheet.sections):
        if section.new_page and index:
            story.append(PageBreak())
        story += _section(section, usable)

    def footer(canvas, doc) -> None:  # noqa: ANN001
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(_MARGIN, _MARGIN - 2 * mm, f"{sheet.footer or sheet.title} · page {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def codes_of(sheet: ScanSheet) -> Sequence[SheetCode]:
    """Every card of the sheet, in order (for tests and for checking a sheet before printing it)."""
    return [code for section in sheet.sections for code in section.codes]
