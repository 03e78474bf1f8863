"""Zebra host status (`~HS`): parse the three-line reply into a `PrinterStatus`, and build one.

The reply is three frames, each `<STX>…<ETX><CR><LF>` (ZPL II guide, ~HS):

1. `aaa,b,c,dddd,eee,f,g,h,iii,j,k,l`: interface settings, paper out, pause,
   label length (dots), formats in receive buffer, buffer full, diagnostic
   mode, partial format, unused, corrupt RAM, under temperature, over temperature
2. `mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www`: function settings, unused, head open,
   ribbon out, thermal transfer mode, print mode, print width mode, label
   waiting, labels remaining in batch, format while printing, graphics stored
3. `xxxx,y`: password, static RAM installed
"""

from __future__ import annotations

from dataclasses import dataclass

from printers.errors import PrinterFault, PrinterProtocolError

STX, ETX = b"\x02", b"\x03"
HOST_STATUS_QUERY = b"~HS"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What a printer said about itself. `ready` is False whenever `reasons` is not empty."""

    ready: bool
    reasons: tuple[str, ...] = ()
    paper_out: bool = False
    paused: bool = False
    head_open: bool = False
    ribbon_out: bool = False
    buffer_full: bool = False
    under_temperature: bool = False
    over_temperature: bool = False
    corrupt_ram: bool = False
    partial_format: bool = False
    thermal_transfer: bool | None = None
    label_length_dots: int | None = None
    formats_in_buffer: int = 0
    labels_remaining: int = 0

    @classmethod
    def no_response(cls) -> PrinterStatus:
        """A printer that accepted the connection but did not answer `~HS` in time: treat as a fault."""
        return cls(ready=False, reasons=("no_response",))

    @classmethod
    def assumed_ready(cls) -> PrinterStatus:
        """For transports that cannot ask (files, memory)."""
        return cls(ready=True)

    def raise_for_fault(self) -> None:
        if not self.ready:
            raise PrinterFault(self)


def _frames(reply: bytes) -> list[str]:
    frames = []
    rest = reply
    while True:
        start = rest.find(STX)
        if start < 0:
            break
        end = rest.find(ETX, start + 1)
        if end < 0:
            break
        frames.append(rest[start + 1 : end].decode("ascii", errors="replace"))
        rest = rest[end + 1 :]
    return frames


def _flag(fields: list[str], index: int, line: int) -> bool:
    value = fields[index].strip()
    if value not in ("0", "1"):
        raise PrinterProtocolError(f"~HS line {line} field {index + 1}: expected 0 or 1, got {value!r}")
    return value == "1"


def _number(fields: list[str], index: int, line: int) -> int:
    value = fields[index].strip()
    if not value.isdigit():
        raise PrinterProtocolError(f"~HS line {line} field {index + 1}: expected a number, got {value!r}")
    return int(value)


def parse_host_status(reply: bytes) -> PrinterStatus:
    """Parse a complete `~HS` reply; raises PrinterProtocolError if it is not one."""
    frames = _frames(reply)
    if len(frames) < 3:
        raise PrinterProtocolError(f"~HS reply has {len(frames)} of 3 frames")
    first, second = frames[0].split(","), frames[1].split(",")
    if len(first) < 12 or len(second) < 11:
        raise PrinterProtocolError("~HS reply lines are too short")
    paper_out = _flag(first, 1, 1)
    paused = _flag(first, 2, 1)
    label_length = _number(first, 3, 1)
    formats = _number(first, 4, 1)
    buffer_full = _flag(first, 5, 1)
    partial = _flag(first, 7, 1)
    corrupt_ram = _flag(first, 9, 1)
    under_temperature = _flag(first, 10, 1)
    over_temperature = _flag(first, 11, 1)
    head_open = _flag(second, 2, 2)
    ribbon_flag = _flag(second, 3, 2)
    thermal_transfer = _flag(second, 4, 2)
    remaining = _number(second, 8, 2)
    # a direct-thermal printer has no ribbon to run out of, whatever the sensor says
    ribbon_out = ribbon_flag and thermal_transfer
    reasons = tuple(
        name
        for name, active in (
            ("paper_out", paper_out),
            ("head_open", head_open),
            ("ribbon_out", ribbon_out),
            ("paused", paused),
            ("buffer_full", buffer_full),
            ("over_temperature", over_temperature),
            ("under_temperature", under_temperature),
            ("corrupt_ram", corrupt_ram),
        )
        if active
    )
    return PrinterStatus(
        ready=not reasons,
        reasons=reasons,
        paper_out=paper_out,
        paused=paused,
        head_open=head_open,
        ribbon_out=ribbon_out,
        buffer_full=buffer_full,
        under_temperature=under_temperature,
        over_temperature=over_temperature,
        corrupt_ram=corrupt_ram,
        partial_format=partial,
        thermal_transfer=thermal_transfer,
        label_length_dots=label_length,
        formats_in_buffer=formats,
        labels_remaining=remaining,
    )


def reply_complete(reply: bytes) -> bool:
    """True once all three frames of a `~HS` reply have arrived."""
    return len(_frames(reply)) >= 3


def build_host_status(
    *,
    paper_out: bool = False,
    paused: bool = False,
    head_open: bool = False,
    ribbon_out: bool = False,
    buffer_full: bool = False,
    partial_format: bool = False,
    thermal_transfer: bool = False,
    formats_in_buffer: int = 0,
    labels_remaining: int = 0,
    label_length_dots: int = 1218,
) -> bytes:
    """A `~HS` reply as a Zebra printer sends it (used by the virtual printer)."""

    def bit(value: bool) -> str:
        return "1" if value else "0"

    line1 = (
        f"030,{bit(paper_out)},{bit(paused)},{label_length_dots:04d},{min(formats_in_buffer, 999):03d},"
        f"{bit(buffer_full)},0,{bit(partial_format)},000,0,0,0"
    )
    line2 = (
        f"001,0,{bit(head_open)},{bit(ribbon_out)},{bit(thermal_transfer)},2,6,0,"
        f"{min(labels_remaining, 99_999_999):08d},1,000"
    )
    line3 = "1234,0"
    return b"".join(STX + line.encode("ascii") + ETX + b"\r\n" for line in (line1, line2, line3))
