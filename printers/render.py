"""Render a label by template name: ZPL for a thermal printer, PDF for preview and laser printers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from printers.labels import LabelData
from printers.layout import compile_layout
from printers.pdf import render_layout_pdf
from printers.setup import PrinterSetup
from printers.templates import prepare

DEFAULT_SETUP = PrinterSetup()


def render_zpl(template: str, data: LabelData | Mapping[str, Any], setup: PrinterSetup | None = None) -> bytes:
    """One label as ZPL bytes (pure ASCII), scaled to the printer. Same input, same bytes."""
    layout, values = prepare(template, data)
    return compile_layout(layout, setup or DEFAULT_SETUP).render(values)


def render_pdf(template: str, data: LabelData | Mapping[str, Any]) -> bytes:
    """One label as a one-page PDF the size of the label."""
    layout, values = prepare(template, data)
    return render_layout_pdf(layout, values)
