"""Data Matrix ECC 200 encoder (square symbols 10x10 to 48x48, ASCII encodation, FNC1).

reportlab's own Data Matrix draws one fixed size without FNC1, and GS1 Data
Matrix needs FNC1 first, so the PDF side encodes here (ISO/IEC 16022). The
printer encodes the same data itself from the ZPL `^BX` field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from printers.code128 import FNC1, Part
from printers.errors import LabelDataError

# size -> (data codewords, error correction codewords, data region side, regions per side)
_SQUARE_SIZES = {
    10: (3, 5, 8, 1),
    12: (5, 7, 10, 1),
    14: (8, 10, 12, 1),
    16: (12, 12, 14, 1),
    18: (18, 14, 16, 1),
    20: (22, 18, 18, 1),
    22: (30, 20, 20, 1),
    24: (36, 24, 22, 1),
    26: (44, 28, 24, 1),
    32: (62, 36, 14, 2),
    36: (86, 42, 16, 2),
    40: (114, 48, 18, 2),
    44: (144, 56, 20, 2),
    48: (174, 68, 22, 2),
}

_FNC1_CODEWORD = 232
_PAD = 129
_UPPER_SHIFT = 235


@dataclass(frozen=True, slots=True)
class DataMatrixSymbol:
    """Encoded symbol: `rows[y][x]` is True for a dark module, row 0 at the top."""

    size: int
    rows: tuple[tuple[bool, ...], ...]
    zpl_data: str


def encode_datamatrix(parts: Sequence[Part], field: str = "datamatrix") -> DataMatrixSymbol:
    """Encode text and FNC1 markers into the smallest square symbol that holds them."""
    data = _ascii_encode(parts, field)
    for size, (capacity, ecc_count, region, regions) in _SQUARE_SIZES.items():
        if len(data) <= capacity:
            break
    else:
        raise LabelDataError(field, "too much data for a Data Matrix symbol")
    codewords = _pad(data, capacity)
    codewords += _reed_solomon(codewords, ecc_count)
    mapping = place_codewords(codewords, region * regions, region * regions)
    rows = _add_finder_patterns(mapping, region, regions)
    return DataMatrixSymbol(size=size, rows=rows, zpl_data=_zpl_data(parts))


def _ascii_encode(parts: Sequence[Part], field: str) -> list[int]:
    codewords: list[int] = []
    for part in parts:
        if part is FNC1:
            codewords.append(_FNC1_CODEWORD)
            continue
        raw = part.encode("latin-1", errors="strict") if part.isascii() else _latin1(part, field)
        i = 0
        while i < len(raw):
            byte = raw[i]
            if 0x30 <= byte <= 0x39 and i + 1 < len(raw) and 0x30 <= raw[i + 1] <= 0x39:
                codewords.append(130 + (byte - 0x30) * 10 + (raw[i + 1] - 0x30))
                i += 2
                continue
            if byte > 127:
                codewords.extend((_UPPER_SHIFT, byte - 127))
            else:
                codewords.append(byte + 1)
            i += 1
    return codewords


def _latin1(text: str, field: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise LabelDataError(field, "Data Matrix data must be Latin-1") from exc


def _pad(data: list[int], capacity: int) -> list[int]:
    padded = list(data)
    if len(padded) < capacity:
        padded.append(_PAD)
    while len(padded) < capacity:
        position = len(padded) + 1
        value = _PAD + ((149 * position) % 253) + 1
        padded.append(value - 254 if value > 254 else value)
    return padded


@cache
def _gf_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    exp = [0] * 512
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x12D  # the Data Matrix field polynomial x^8+x^5+x^3+x^2+1
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return tuple(exp), tuple(log)


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    exp, log = _gf_tables()
    return exp[log[a] + log[b]]


@cache
def _generator(degree: int) -> tuple[int, ...]:
    exp, _ = _gf_tables()
    poly = [1]
    for root in range(1, degree + 1):
        # multiply by (x + a^root); highest power first
        poly = [
            (poly[i] if i < len(poly) else 0) ^ (_gf_mul(poly[i - 1], exp[root]) if i > 0 else 0)
            for i in range(len(poly) + 1)
        ]
    return tuple(poly)


def _reed_solomon(data: Sequence[int], ecc_count: int) -> list[int]:
    generator = _generator(ecc_count)
    remainder = list(data) + [0] * ecc_count
    for i in range(len(data)):
        factor = remainder[i]
        if factor:
            for j in range(1, ecc_count + 1):
                remainder[i + j] ^= _gf_mul(generator[j], factor)
    return remainder[len(data) :]


def place_codewords(codewords: Sequence[int], nrow: int, ncol: int) -> list[list[int]]:
    """ISO/IEC 16022 Annex F placement of codeword bits into the mapping matrix (no finders)."""
    grid = [[-1] * ncol for _ in range(nrow)]

    def module(row: int, col: int, index: int, bit: int) -> None:
        if row < 0:
            row += nrow
            col += 4 - ((nrow + 4) % 8)
        if col < 0:
            col += ncol
            row += 4 - ((ncol + 4) % 8)
        grid[row][col] = (codewords[index] >> (8 - bit)) & 1

    def utah(row: int, col: int, index: int) -> None:
        module(row - 2, col - 2, index, 1)
        module(row - 2, col - 1, index, 2)
        module(row - 1, col - 2, index, 3)
        module(row - 1, col - 1, index, 4)
        module(row - 1, col, index, 5)
        module(row, col - 2, index, 6)
        module(row, col - 1, index, 7)
        module(row, col, index, 8)

    def corner(index: int, cells: Sequence[tuple[int, int]]) -> None:
        for bit, (row, col) in enumerate(cells, start=1):
            module(row, col, index, bit)

    index = 0
    row, col = 4, 0
    while True:
        if row == nrow and col == 0:
            corner(index, [(nrow - 1, 0), (nrow - 1, 1), (nrow - 1, 2), (0, ncol - 2),
                           (0, ncol - 1), (1, ncol - 1), (2, ncol - 1), (3, ncol - 1)])
            index += 1
        if row == nrow - 2 and col == 0 and ncol % 4:
            corner(index, [(nrow - 3, 0), (nrow - 2, 0), (nrow - 1, 0), (0, ncol - 4),
                           (0, ncol - 3), (0, ncol - 2), (0, ncol - 1), (1, ncol - 1)])
            index += 1
        if row == nrow - 2 and col == 0 and ncol % 8 == 4:
            corner(index, [(nrow - 3, 0), (nrow - 2, 0), (nrow - 1, 0), (0, ncol - 2),
                           (0, ncol - 1), (1, ncol - 1), (2, ncol - 1), (3, ncol - 1)])
            index += 1
        if row == nrow + 4 and col == 2 and ncol % 8 == 0:
            corner(index, [(nrow - 1, 0), (nrow - 1, ncol - 1), (0, ncol - 3), (0, ncol - 2),
                           (0, ncol - 1), (1, ncol - 3), (1, ncol - 2), (1, ncol - 1)])
            index += 1
        while True:  # sweep up and to the right
            if row < nrow and col >= 0 and grid[row][col] == -1:
                utah(row, col, index)
                index += 1
            row -= 2
            col += 2
            if not (row >= 0 and col < ncol):
                break
        row += 1
        col += 3
        while True:  # sweep down and to the left
            if row >= 0 and col < ncol and grid[row][col] == -1:
                utah(row, col, index)
                index += 1
            row += 2
            col -= 2
            if not (row < nrow and col >= 0):
                break
        row += 3
        col += 1
        if not (row < nrow or col < ncol):
            break
    if grid[nrow - 1][ncol - 1] == -1:
        # the fixed pattern for sizes whose mapping leaves the corner empty
        grid[nrow - 1][ncol - 1] = grid[nrow - 2][ncol - 2] = 1
        grid[nrow - 1][ncol - 2] = grid[nrow - 2][ncol - 1] = 0
    return grid


def _add_finder_patterns(
    mapping: list[list[int]], region: int, regions: int
) -> tuple[tuple[bool, ...], ...]:
    block = region + 2
    size = block * regions
    rows = []
    for y in range(size):
        region_row, inner_y = divmod(y, block)
        row = []
        for x in range(size):
            region_col, inner_x = divmod(x, block)
            if inner_x == 0 or inner_y == block - 1:
                dark = True  # the solid L: left column and bottom row
            elif inner_y == 0:
                dark = inner_x % 2 == 0  # clock track along the top
            elif inner_x == block - 1:
                dark = inner_y % 2 == 1  # clock track down the right
            else:
                dark = bool(mapping[region_row * region + inner_y - 1][region_col * region + inner_x - 1])
            row.append(dark)
        rows.append(tuple(row))
    return tuple(rows)


def _zpl_data(parts: Sequence[Part]) -> str:
    """Field data for ^BX quality 200 with `_` as escape character: FNC1 is `_1`, `_` is `__`."""
    return "".join("_1" if part is FNC1 else part.replace("_", "__") for part in parts)
