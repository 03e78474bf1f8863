"""Font choice for PDFs: the base-14 Helvetica where it covers the text, Unicode fonts elsewhere.

Helvetica only knows Windows-1252, so text is split into runs: Latin-1-ish
runs use Helvetica, CJK runs a CID font every PDF viewer has (not embedded),
and the rest (Polish, Greek, Cyrillic...) DejaVu Sans when the machine has it.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

HELVETICA = "Helvetica"
HELVETICA_BOLD = "Helvetica-Bold"
CJK = "HeiseiKakuGo-W5"
UNICODE = "WES-DejaVuSans"
UNICODE_BOLD = "WES-DejaVuSans-Bold"

_DEJAVU_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)


@cache
def _unicode_fonts() -> tuple[str, str] | None:
    """Register DejaVu Sans once per process (reportlab keeps a global font registry)."""
    for folder in _DEJAVU_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file():
            pdfmetrics.registerFont(TTFont(UNICODE, str(regular)))
            bold_name = UNICODE
            if bold.is_file():
                pdfmetrics.registerFont(TTFont(UNICODE_BOLD, str(bold)))
                bold_name = UNICODE_BOLD
            return UNICODE, bold_name
    return None


@cache
def _cjk_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return CJK


def _font_for_char(char: str, bold: bool) -> str:
    if _in_cp1252(char):
        return HELVETICA_BOLD if bold else HELVETICA
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return _cjk_font()
    unicode_fonts = _unicode_fonts()
    if unicode_fonts is None:
        return HELVETICA_BOLD if bold else HELVETICA
    return unicode_fonts[1] if bold else unicode_fonts[0]


@cache
def _in_cp1252(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """Control characters have no glyph: show them as spaces in PDFs."""
    return "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)


def font_runs(text: str, bold: bool = False) -> list[tuple[str, str]]:
    """Split text into (font name, text) runs that each font can draw."""
    runs: list[tuple[str, str]] = []
    for char in printable(text):
        font = _font_for_char(char, bold)
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return runs


def runs_width(runs: list[tuple[str, str]], size: float) -> float:
    return sum(pdfmetrics.stringWidth(text, font, size) for font, text in runs)


def paragraph_markup(text: str, bold: bool = False) -> str:
    """reportlab Paragraph markup with each run in a font that has its glyphs."""
    return "".join(
        f'<font face="{font}">{escape(run)}</font>' for font, run in font_runs(text, bold)
    )
