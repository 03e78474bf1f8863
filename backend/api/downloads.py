"""Content-Disposition for the API's downloads (PDFs, CSVs), whatever characters a reference holds."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

_UNSAFE_IN_ASCII_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]")


def content_disposition(filename: str, disposition: Literal["inline", "attachment"] = "inline") -> str:
    """The header value, as RFC 6266 recommends: `filename` for every client (ASCII, anything doubtful
    replaced by `_`, so a quote or a backslash cannot end the string early), and where that changed the
    name, `filename*` (RFC 5987, UTF-8, percent-encoded) with the exact one, which current browsers prefer."""
    fallback = _UNSAFE_IN_ASCII_NAME.sub("_", filename)
    if fallback == filename:
        return f'{disposition}; filename="{filename}"'
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
