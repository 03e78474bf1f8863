"""Draw a label layout with reportlab, from the same elements and values the ZPL uses.

Barcodes are drawn from our own encoders' module patterns, so the preview
carries the very symbol the printer will print. Output is byte-stable:
canvases are made with `invariant=1` (no timestamps or random ids).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel
from reportlab.pdfgen.canvas import Canvas

from printers.fonts import font_runs, runs_width
from printers.layout import (
    Arrow,
    Barcode128,
    DataMatrixCode,
    Layout,
    QrCode,
    Rule,
    Text,
    arrow_strokes,
    fit_text,
)

PT_PER_MM = 72 / 25.4
# Where the baseline sits in a ZPL character cell, as a fraction of its height
_BASELINE = 0.78


def new_canvas(buffer: io.BytesIO, width_pt: float, height_pt: float, title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=(width_pt, height_pt), invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("WES printers")
    canvas.setAuthor("WES")
    return canvas


def render_layout_pdf(layout: Layout, values: Mapping[str, Any]) -> bytes:
    """One page the size of the label."""
    buffer = io.BytesIO()
    width, height = layout.width * PT_PER_MM, layout.height * PT_PER_MM
    canvas = new_canvas(buffer, width, height, layout.name)
    draw_layout(canvas, layout, values, left=0, top=height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def draw_layout(
    canvas: Canvas, layout: Layout, values: Mapping[str, Any], left: float, top: float, scale: float = 1.0
) -> None:
    """Draw a layout with its top-left corner at (left, top) points, scaled by `scale`."""
    k = PT_PER_MM * scale
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setStrokeColorRGB(0, 0, 0)
    for element in layout.elements:
        if isinstance(element, Text):
            text = element.static or values.get(element.field)
            if text:
                _draw_text(canvas, element, text, left, top, k)
        elif isinstance(element, Rule):
            canvas.rect(left + element.x * k, top - (element.y + element.height) * k,
                        element.width * k, element.height * k, stroke=0, fill=1)
        elif isinstance(element, Barcode128):
            symbol = values.get(element.field)
            if symbol is not None:
                _draw_code128(canvas, element, symbol, left, top, k)
        elif isinstance(element, DataMatrixCode):
            symbol = values.get(element.field)
            if symbol is not None:
                _draw_matrix(canvas, symbol.rows, element.x, element.y, element.module, left, top, k)
        elif isinstance(element, QrCode):
            data = values.get(element.field)
            if data:
                _draw_matrix(canvas, qr_rows(data), element.x, element.y, element.module, left, top, k)
        elif isinstance(element, Arrow):
            direction = values.get(element.field)
            if direction in ("up", "down"):
                _draw_arrow(canvas, element, direction, left, top, k)
    canvas.restoreState()


def _draw_text(canvas: Canvas, element: Text, value: str, left: float, top: float, k: float) -> None:
    text, _ = fit_text(value, element.height, element.width)
    size = element.height * k
    runs = font_runs(text, bold=True)  # ZPL font 0 is a bold face
    width = runs_width(runs, size)
    box = element.width * k
    text_object = canvas.beginText()
    text_object.setTextOrigin(left + element.x * k, top - (element.y + element.height * _BASELINE) * k)
    if width > box:
        text_object.setHorizScale(100 * box / width)
    for font, run in runs:
        text_object.setFont(font, size)
        text_object.textOut(run)
    canvas.drawText(text_object)


def _draw_code128(canvas: Canvas, element: Barcode128, symbol: Any, left: float, top: float, k: float) -> None:
    module = min(element.module, element.width / symbol.modules) * k
    x = left + element.x * k
    bottom = top - (element.y + element.height) * k
    height = element.height * k
    position = 0
    path = canvas.beginPath()
    for is_bar, run in groupby(symbol.pattern()):
        length = len(list(run))
        if is_bar == "1":
            path.rect(x + position * module, bottom, length * module, height)
        position += length
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_matrix(canvas: Canvas, rows: Any, x_mm: float, y_mm: float, module_mm: float,
                 left: float, top: float, k: float) -> None:
    module = module_mm * k
    x0 = left + x_mm * k
    y0 = top - y_mm * k
    path = canvas.beginPath()
    for row_index, row in enumerate(rows):
        column = 0
        for dark, run in groupby(row):
            length = len(list(run))
            if dark:
                path.rect(x0 + column * module, y0 - (row_index + 1) * module, length * module, module)
            column += length
    canvas.drawPath(path, stroke=0, fill=1)


def qr_rows(data: str) -> list[list[bool]]:
    qr = QRCode(None, QRErrorCorrectLevel.M)
    qr.addData(data)
    qr.make()
    return [[bool(cell) for cell in row] for row in qr.modules]


def _draw_arrow(canvas: Canvas, element: Arrow, direction: str, left: float, top: float, k: float) -> None:
    thickness = max(element.width / 8, 0.5)
    canvas.setLineWidth(thickness * k)
    canvas.setLineCap(2)
    for kind, x, y, width, height in arrow_strokes(element, direction):
        if kind == "stem":
            canvas.rect(left + x * k, top - (y + height) * k, width * k, height * k, stroke=0, fill=1)
        elif kind == "/":
            canvas.line(left + x * k, top - (y + height) * k, left + (x + width) * k, top - y * k)
        else:
            canvas.line(left + x * k, top - y * k, left + (x + width) * k, top - (y + height) * k)
