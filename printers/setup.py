"""What the renderer needs to know about one printer: resolution, printable width, media, speed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Zebra's nominal resolutions are really 8, 12 and 24 dots per millimetre (backend.firmware checks profiles by it).
DOTS_PER_MM = {152: 6.0, 203: 8.0, 300: 12.0, 600: 24.0}
# Resident fonts are one letter or digit; downloaded ones live on a drive (E:TT0003M_.TTF).
_FONT = re.compile(r"[A-Z0-9]|[REBA]:[A-Z0-9_-]{1,16}\.(?:FNT|TTF|TTE)")

MediaType = Literal["thermal_transfer", "direct_thermal"]
MediaTracking = Literal["gap", "continuous", "mark"]


@dataclass(frozen=True, slots=True)
class PrinterSetup:
    """A printer as the label renderer sees it. Plain data; `backend.firmware` builds it from a profile."""

    dpi: int = 203
    print_width_dots: int = 832
    darkness: int = 15
    speed_ips: int = 4
    media_type: MediaType = "direct_thermal"
    media_tracking: MediaTracking = "gap"
    text_font: str = "0"

    def __post_init__(self) -> None:
        if self.dpi not in DOTS_PER_MM:
            raise ValueError(f"dpi must be one of {sorted(DOTS_PER_MM)}")
        if not 64 <= self.print_width_dots <= 4000:
            raise ValueError("print_width_dots out of range")
        if not 0 <= self.darkness <= 30:
            raise ValueError("darkness must be 0..30")
        if not 1 <= self.speed_ips <= 14:
            raise ValueError("speed_ips must be 1..14")
        if self.media_type not in ("thermal_transfer", "direct_thermal"):
            raise ValueError("media_type must be thermal_transfer or direct_thermal")
        if self.media_tracking not in ("gap", "continuous", "mark"):
            raise ValueError("media_tracking must be gap, continuous or mark")
        if not _FONT.fullmatch(self.text_font):
            raise ValueError("text_font must be a printer font name such as 0 or E:TT0003M_.TTF")

    @property
    def dots_per_mm(self) -> float:
        return DOTS_PER_MM[self.dpi]

    @property
    def print_width_mm(self) -> float:
        return self.print_width_dots / self.dots_per_mm

    @classmethod
    def for_dpi(cls, dpi: int, print_width_mm: float = 104.0, **options: object) -> PrinterSetup:
        """A 4-inch printer (104 mm printable, as ZT411/ZD421/ZQ520) at the given resolution."""
        width = int(print_width_mm * DOTS_PER_MM.get(dpi, dpi / 25.4) + 0.5)
        return cls(dpi=dpi, print_width_dots=width, **options)  # type: ignore[arg-type]
