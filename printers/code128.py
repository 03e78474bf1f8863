"""Code 128 encoding (subsets B and C, FNC1), kept apart from drawing.

One `Code128Symbol` feeds both renderers: ZPL gets the field data for
`^BC…,N` (mode N, with Zebra's `>` invocation codes choosing the subsets we
chose), PDF gets the bar pattern. So the printer and the preview encode the
same symbol character for character.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from barcode.charsets.code128 import CODES

from printers.errors import LabelDataError


class _Fnc1:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FNC1"


FNC1 = _Fnc1()
"""Marker for the FNC1 function character (GS1 start and field separator)."""

# python-barcode keeps the final two-module bar apart from its stop pattern
_STOP = "1100011101011"
_START_B, _START_C = 104, 105
_CODE_B, _CODE_C, _FNC1_VALUE = 100, 99, 102
# Zebra ^BC mode N invocation codes
_ZPL_START = {_START_B: ">:", _START_C: ">;"}
_ZPL_SWITCH = {_CODE_B: ">6", _CODE_C: ">5"}
_ZPL_FNC1 = ">8"


@dataclass(frozen=True, slots=True)
class Code128Symbol:
    """An encoded symbol: symbol values from start to check character (stop implied)."""

    values: tuple[int, ...]
    zpl_data: str

    @property
    def modules(self) -> int:
        """Width in modules, without quiet zones (11 per character, 13 for stop)."""
        return 11 * len(self.values) + 13

    def pattern(self) -> str:
        """Bars as '1' and spaces as '0', one character per module."""
        return "".join(CODES[value] for value in self.values) + _STOP


Part = str | _Fnc1


def encode_code128(parts: Sequence[Part], field: str = "barcode") -> Code128Symbol:
    """Encode text and FNC1 markers; digits go in subset C when that is shorter, the rest in B.

    Only printable ASCII is accepted, minus `^` and `~`, which ZPL cannot carry
    reliably inside a ^BC field.
    """
    tokens: list[str | _Fnc1] = []
    for part in parts:
        if part is FNC1:
            tokens.append(FNC1)
            continue
        for char in part:
            if not (" " <= char <= "}") or char in "^~":
                raise LabelDataError(field, f"character {char!r} cannot be encoded in Code 128 here")
            tokens.append(char)
    if not tokens:
        raise LabelDataError(field, "nothing to encode")

    values: list[int] = []
    zpl: list[str] = []
    count = len(tokens)

    # runs[i]: how many digits follow from position i (computed once, right to left)
    runs = [0] * (count + 1)
    for index in range(count - 1, -1, -1):
        token = tokens[index]
        runs[index] = runs[index + 1] + 1 if token is not FNC1 and "0" <= token <= "9" else 0

    def digit_run(start: int) -> int:
        return runs[start]

    first_data = 0
    while first_data < count and tokens[first_data] is FNC1:
        first_data += 1
    lead = digit_run(first_data)
    subset_c = lead >= 4 or (lead >= 2 and lead % 2 == 0 and first_data + lead == count)
    start = _START_C if subset_c else _START_B
    values.append(start)
    zpl.append(_ZPL_START[start])

    i = 0
    while i < count:
        token = tokens[i]
        if token is FNC1:
            values.append(_FNC1_VALUE)
            zpl.append(_ZPL_FNC1)
            i += 1
            continue
        if subset_c:
            if digit_run(i) >= 2:
                values.append(int(tokens[i] + tokens[i + 1]))
                zpl.append(tokens[i] + tokens[i + 1])
                i += 2
                continue
            subset_c = False
            values.append(_CODE_B)
            zpl.append(_ZPL_SWITCH[_CODE_B])
            continue
        run = digit_run(i)
        # switching costs one character each way: worth it for 4 digits at the end, 6 inside
        if run >= 6 or (run >= 4 and i + run == count):
            if run % 2:
                _append_b(values, zpl, token)
                i += 1
            subset_c = True
            values.append(_CODE_C)
            zpl.append(_ZPL_SWITCH[_CODE_C])
            continue
        _append_b(values, zpl, token)
        i += 1

    checksum = values[0]
    for position, value in enumerate(values[1:], start=1):
        checksum += position * value
    values.append(checksum % 103)
    return Code128Symbol(values=tuple(values), zpl_data="".join(zpl))


def _append_b(values: list[int], zpl: list[str], char: str) -> None:
    values.append(ord(char) - 32)
    # '>' starts an invocation code in ^BC data; '><' is the literal
    zpl.append("><" if char == ">" else char)
