"""Label layouts described once, in millimetres, and compiled to ZPL for a given printer.

A `Layout` is a tuple of elements placed from the top-left corner. Compiling
it for a `PrinterSetup` turns every static part into ZPL text once (cached
per layout and printer) and leaves small slots for the variable fields, so
rendering a label is mostly string joining. The PDF renderer reads the same
elements (see `printers.pdf`).

Scaling: millimetres become dots at the printer's dots-per-mm; if the label is
wider than the printable width, everything shrinks uniformly to fit.

The `zpl` package builds one label string per call, truncates millimetres to
dots, validates with `assert` and writes field data without `^FH`, so the
few ZPL commands we need are written here instead, each in one place.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from printers.setup import PrinterSetup
from printers.zpl import escape_field

# Text width estimate in character heights: font 0 is a condensed sans, CJK glyphs are square.
_ADVANCE_NARROW = 0.6
_ADVANCE_WIDE = 1.0
# Long text is condensed down to half width before it is cut.
MIN_WIDTH_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; `field` names a value, or `static` is fixed text. `width` is the box."""

    x: float
    y: float
    height: float
    width: float
    field: str = ""
    static: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A filled rectangle: lines and bars."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Barcode128:
    """Code 128 / GS1-128 bars, left-aligned at x; the module shrinks if the symbol would overflow `width`."""

    x: float
    y: float
    width: float
    height: float
    module: float
    field: str


@dataclass(frozen=True, slots=True)
class DataMatrixCode:
    x: float
    y: float
    module: float
    field: str


@dataclass(frozen=True, slots=True)
class QrCode:
    x: float
    y: float
    module: float
    field: str


@dataclass(frozen=True, slots=True)
class Arrow:
    """An arrow pointing up or down, chosen by the field value ('up', 'down' or nothing)."""

    x: float
    y: float
    width: float
    height: float
    field: str


Element = Text | Rule | Barcode128 | DataMatrixCode | QrCode | Arrow


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """Compared and hashed by identity: layouts are module constants, and hashing every element per render is slow."""

    name: str
    width: float
    height: float
    elements: tuple[Element, ...]


def text_advance(text: str) -> float:
    """Estimated width of text in character heights."""
    if text.isascii():
        return _ADVANCE_NARROW * len(text)
    return sum(_char_advance(char) for char in text)


def _char_advance(char: str) -> float:
    return _ADVANCE_WIDE if unicodedata.east_asian_width(char) in ("W", "F") else _ADVANCE_NARROW


def fit_text(text: str, height: float, width: float) -> tuple[str, float]:
    """Condense text to fit `width` (down to MIN_WIDTH_RATIO), cutting it only beyond that.

    Returns the text to print and the width ratio. Decided in millimetres, so
    every resolution and the PDF print the same characters.
    """
    needed = text_advance(text) * height
    if needed <= width:
        return text, 1.0
    ratio = width / needed
    if ratio >= MIN_WIDTH_RATIO:
        return text, ratio
    budget = width / (height * MIN_WIDTH_RATIO)
    used = 0.0
    kept = []
    for char in text:
        used += _char_advance(char)
        if used > budget:
            break
        kept.append(char)
    return "".join(kept), MIN_WIDTH_RATIO


def wrap_text(text: str, height: float, width: float, max_lines: int) -> list[str]:
    """Break text at spaces into at most `max_lines` lines; the last line keeps the rest."""
    if max_lines <= 1:
        return [text]
    budget = width / height
    lines: list[str] = []
    current = ""
    words = text.split(" ")
    for index, word in enumerate(words):
        candidate = f"{current} {word}" if current else word
        if current and text_advance(candidate) > budget:
            lines.append(current)
            if len(lines) == max_lines - 1:
                lines.append(" ".join(words[index:]))
                return lines
            current = word
        else:
            current = candidate
    if current or not lines:
        lines.append(current)
    return lines


Slot = Callable[[Mapping[str, Any]], str]


class CompiledLayout:
    """A layout turned into ZPL for one printer setup; `render` fills in the fields."""

    __slots__ = ("parts", "width_dots", "height_dots")

    def __init__(self, parts: tuple[str | Slot, ...], width_dots: int, height_dots: int) -> None:
        self.parts = parts
        self.width_dots = width_dots
        self.height_dots = height_dots

    def render(self, values: Mapping[str, Any]) -> bytes:
        return "".join(
            part if isinstance(part, str) else part(values) for part in self.parts
        ).encode("ascii")


@lru_cache(maxsize=256)
def compile_layout(layout: Layout, setup: PrinterSetup) -> CompiledLayout:
    """Compile once per (layout, printer): pure function of two frozen values, so caching is safe."""
    dots_per_mm = setup.dots_per_mm
    fit = min(1.0, setup.print_width_dots / (layout.width * dots_per_mm))
    scale = dots_per_mm * fit

    def dots(mm: float) -> int:
        return int(mm * scale + 0.5)

    width_dots = min(setup.print_width_dots, int(layout.width * scale))
    height_dots = int(layout.height * scale)
    parts: list[str | Slot] = [_header(setup, width_dots, height_dots)]
    for element in layout.elements:
        if isinstance(element, Text):
            parts.append(_text_part(element, dots, setup.text_font))
        elif isinstance(element, Rule):
            x, y = dots(element.x), dots(element.y)
            # a full-width rule must not run past ^PW after rounding
            width = max(1, min(dots(element.width), width_dots - x))
            height = max(1, min(dots(element.height), height_dots - y))
            parts.append(f"^FO{x},{y}^GB{width},{height},{min(width, height)}^FS\n")
        elif isinstance(element, Barcode128):
            parts.append(_code128_slot(element, dots))
        elif isinstance(element, DataMatrixCode):
            parts.append(_datamatrix_slot(element, dots))
        elif isinstance(element, QrCode):
            parts.append(_qr_slot(element, dots))
        elif isinstance(element, Arrow):
            parts.append(_arrow_slot(element, dots))
        else:
            raise TypeError(f"unknown layout element {element!r}")
    parts.append("^PQ1\n^XZ")  # nothing after ^XZ: the label is exactly ^XA…^XZ
    return CompiledLayout(tuple(_merge_static(parts)), width_dots, height_dots)


def _header(setup: PrinterSetup, width_dots: int, height_dots: int) -> str:
    media_type = "T" if setup.media_type == "thermal_transfer" else "D"
    tracking = {"gap": "Y", "continuous": "N", "mark": "M"}[setup.media_tracking]
    # ^CI28 first: every field after it is UTF-8
    return (
        "^XA\n^CI28\n"
        f"^PW{width_dots}^LL{height_dots}^LH0,0\n"
        f"^MT{media_type}^MN{tracking}^PR{setup.speed_ips}~SD{setup.darkness:02d}\n"
    )


def _font_command(font: str, height: int, width: int) -> str:
    if len(font) == 1:
        return f"^A{font}N,{height},{width}"
    return f"^A@N,{height},{width},{font}"


def _text_part(element: Text, dots: Callable[[float], int], font: str) -> str | Slot:
    x, y, height = dots(element.x), dots(element.y), max(1, dots(element.height))
    origin = f"^FO{x},{y}"

    def field_zpl(value: str) -> str:
        text, ratio = fit_text(value, element.height, element.width)
        command = _font_command(font, height, max(1, int(height * ratio)))
        return f"{origin}{command}^FH_^FD{escape_field(text)}^FS\n"

    if element.static:
        return field_zpl(element.static)
    name = element.field

    def slot(values: Mapping[str, Any]) -> str:
        value = values.get(name)
        return field_zpl(value) if value else ""

    return slot


def _code128_slot(element: Barcode128, dots: Callable[[float], int]) -> Slot:
    origin = f"^FO{dots(element.x)},{dots(element.y)}"
    height = max(1, dots(element.height))
    target = max(1, dots(element.module))
    box = dots(element.width)
    name = element.field

    def slot(values: Mapping[str, Any]) -> str:
        symbol = values.get(name)
        if symbol is None:
            return ""
        module = max(1, min(10, target, box // symbol.modules))
        return (
            f"{origin}^BY{module},3,{height}^BCN,{height},N,N,N,N"
            f"^FH_^FD{escape_field(symbol.zpl_data)}^FS\n"
        )

    return slot


def _datamatrix_slot(element: DataMatrixCode, dots: Callable[[float], int]) -> Slot:
    # quality 200, symbol size chosen by the printer, `_` as the escape character (FNC1 = _1)
    prefix = f"^FO{dots(element.x)},{dots(element.y)}^BXN,{max(1, dots(element.module))},200,,,,_^FH_^FD"
    name = element.field

    def slot(values: Mapping[str, Any]) -> str:
        symbol = values.get(name)
        return f"{prefix}{escape_field(symbol.zpl_data)}^FS\n" if symbol is not None else ""

    return slot


def _qr_slot(element: QrCode, dots: Callable[[float], int]) -> Slot:
    magnification = max(1, min(10, dots(element.module)))
    # model 2; "MA," = error correction M, automatic data mode
    prefix = f"^FO{dots(element.x)},{dots(element.y)}^BQN,2,{magnification}^FH_^FDMA,"
    name = element.field

    def slot(values: Mapping[str, Any]) -> str:
        data = values.get(name)
        return f"{prefix}{escape_field(data)}^FS\n" if data else ""

    return slot


def arrow_strokes(element: Arrow, direction: str) -> list[tuple[str, float, float, float, float]]:
    """The strokes of an arrow in mm: ('stem'|'/'|'\\', x, y, width, height) boxes."""
    half = element.width / 2
    stem = max(element.width / 8, 0.5)
    strokes = [("stem", element.x + half - stem / 2, element.y, stem, element.height)]
    head_y = element.y if direction == "up" else element.y + element.height - half
    if direction == "up":
        strokes += [("/", element.x, head_y, half, half), ("\\", element.x + half, head_y, half, half)]
    else:
        strokes += [("\\", element.x, head_y, half, half), ("/", element.x + half, head_y, half, half)]
    return strokes


def _arrow_slot(element: Arrow, dots: Callable[[float], int]) -> Slot:
    thickness = max(2, dots(max(element.width / 8, 0.5)))
    variants = {}
    for direction in ("up", "down"):
        commands = []
        for kind, x, y, width, height in arrow_strokes(element, direction):
            if kind == "stem":
                commands.append(f"^FO{dots(x)},{dots(y)}^GB{thickness},{dots(height)},{thickness}^FS\n")
            else:
                orientation = "R" if kind == "/" else "L"
                commands.append(
                    f"^FO{dots(x)},{dots(y)}^GD{dots(width)},{dots(height)},{thickness},B,{orientation}^FS\n"
                )
        variants[direction] = "".join(commands)
    name = element.field

    def slot(values: Mapping[str, Any]) -> str:
        return variants.get(values.get(name) or "", "")

    return slot


def _merge_static(parts: list[str | Slot]) -> list[str | Slot]:
    merged: list[str | Slot] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return merged
