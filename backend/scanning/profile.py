"""How a scanner delivers a scan: the scanner half of a firmware profile."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SCAN_PROFILE", "GS", "ScanProfile"]

GS = "\x1d"  # ASCII group separator: what FNC1 becomes in a GS1 scan


@dataclass(frozen=True)
class ScanProfile:
    """Scanner delivery settings, like biip's ParseConfig but for the whole scan.

    gs_substitutes: strings the scanner sends in place of GS/FNC1 ("~", "^]",
        "<GS>"); each is read as GS in GS1 data. Longer ones are tried first.
    suffixes: keystroke terminators stripped from the end, repeatedly
        (DataWedge sends "\\n", some wedges "\\r\\n" or "\\t").
    prefix: a fixed prefix the scanner adds, stripped when present (a typed
        entry lacks it).
    aim_ids_expected: the scanner transmits AIM symbology identifiers ("]C1"),
        so a leading "]" starts one. When False a leading "]" is plain data.
    max_length: longer raw input is rejected before any parsing.
    """

    gs_substitutes: tuple[str, ...] = (GS,)
    suffixes: tuple[str, ...] = ("\r\n", "\n", "\r", "\t")
    prefix: str = ""
    aim_ids_expected: bool = True
    max_length: int = 512

    def __post_init__(self) -> None:
        if isinstance(self.gs_substitutes, str) or not all(isinstance(s, str) and s for s in self.gs_substitutes):
            msg = "gs_substitutes must be a tuple of non-empty strings."
            raise ValueError(msg)
        if isinstance(self.suffixes, str) or not all(isinstance(s, str) and s for s in self.suffixes):
            msg = "suffixes must be a tuple of non-empty strings."
            raise ValueError(msg)
        if not isinstance(self.prefix, str):
            msg = "prefix must be a string."
            raise ValueError(msg)
        if not isinstance(self.max_length, int) or self.max_length < 1:
            msg = "max_length must be a positive int."
            raise ValueError(msg)
        # Keep the tuples immutable even if a list was passed in.
        object.__setattr__(self, "gs_substitutes", tuple(self.gs_substitutes))
        object.__setattr__(self, "suffixes", tuple(self.suffixes))


DEFAULT_SCAN_PROFILE = ScanProfile()
