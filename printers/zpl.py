"""ZPL field-data escaping (^FH) and the helpers that read it back.

Every variable field we emit is `^FH_^FD<escaped>^FS`: the printer turns each
`_XX` back into the byte 0xXX before anything else looks at the data, so
escaping `^`, `~`, `_`, control characters and every non-ASCII byte means no
field can start or end a label, run a command, or break the UTF-8 (`^CI28`)
text. The output is pure printable ASCII.
"""

from __future__ import annotations

import re

HEX_INDICATOR = "_"

# ^ starts a format command, ~ a control command, _ is the ^FH indicator itself.
_SPECIAL = [ord("^"), ord("~"), ord(HEX_INDICATOR), 0x7F, *range(0x20)]
_ASCII_ESCAPES = {code: f"_{code:02X}" for code in _SPECIAL}


def escape_field(text: str) -> str:
    """Escape text for a `^FH_` field: the result contains no `^`, `~`, control or non-ASCII byte."""
    if text.isascii():
        return text.translate(_ASCII_ESCAPES)
    parts = []
    for char in text:
        if char < "\x80":
            parts.append(_ASCII_ESCAPES.get(ord(char), char))
        else:
            # surrogates cannot be encoded; the label data layer rejects them first
            parts.append("".join(f"_{byte:02X}" for byte in char.encode("utf-8")))
    return "".join(parts)


def decode_field_hex(data: str, indicator: str = HEX_INDICATOR) -> str:
    """Undo `^FH` escaping the way the printer does: `_XX` becomes the byte 0xXX, then UTF-8."""
    out = bytearray()
    i = 0
    end = len(data)
    while i < end:
        char = data[i]
        if char == indicator and _is_hex(data[i + 1 : i + 3]):
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8")


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


_FIELD = re.compile(r"\^FD(.*?)\^FS", re.DOTALL)
_FH = re.compile(r"\^FH([^\^~]?)")


def field_texts(zpl: bytes | str) -> list[str]:
    """The data of every `^FD…^FS` field in order, with `^FH` escapes decoded."""
    text = zpl.decode("ascii") if isinstance(zpl, bytes) else zpl
    results = []
    previous_end = 0
    for match in _FIELD.finditer(text):
        # ^FH applies to the field it sits in: look between the previous ^FS and this ^FD
        head = text[previous_end : match.start()]
        fh = None
        for fh in _FH.finditer(head):
            pass
        data = match.group(1)
        if fh is not None:
            data = decode_field_hex(data, fh.group(1) or HEX_INDICATOR)
        results.append(data)
        previous_end = match.end()
    return results


def count_commands(zpl: bytes | str, command: str) -> int:
    """How many times a command such as `^XA` occurs in raw ZPL (case-insensitive, as printers are)."""
    text = zpl.decode("latin-1") if isinstance(zpl, bytes) else zpl
    return text.upper().count(command.upper())
