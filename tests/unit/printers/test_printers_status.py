"""Parsing Zebra `~HS` host status replies."""

import pytest

from printers import PrinterFault, PrinterProtocolError, PrinterStatus, build_host_status, parse_host_status


def reply(line1: str, line2: str, line3: str = "1234,0") -> bytes:
    return b"".join(b"\x02" + line.encode() + b"\x03\r\n" for line in (line1, line2, line3))


READY = reply("030,0,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000")


def test_idle_printer_is_ready() -> None:
    status = parse_host_status(READY)
    assert status.ready and status.reasons == ()
    assert status.label_length_dots == 1218
    assert status.thermal_transfer is True


def test_paper_out_and_paused_are_reasons_not_to_print() -> None:
    status = parse_host_status(reply("030,1,1,1218,002,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000002,1,000"))
    assert not status.ready
    assert status.reasons == ("paper_out", "paused")
    assert status.paper_out and status.paused
    assert status.formats_in_buffer == 2 and status.labels_remaining == 2


def test_head_open_and_ribbon_out_on_a_thermal_transfer_printer() -> None:
    status = parse_host_status(reply("030,0,0,1218,000,0,0,0,000,0,0,0", "001,0,1,1,1,2,6,0,00000000,1,000"))
    assert status.reasons == ("head_open", "ribbon_out")


def test_ribbon_sensor_is_ignored_on_a_direct_thermal_printer() -> None:
    status = parse_host_status(reply("030,0,0,1218,000,0,0,0,000,0,0,0", "001,0,0,1,0,2,6,0,00000000,1,000"))
    assert status.ready and not status.ribbon_out


def test_buffer_full_and_temperature_faults() -> None:
    status = parse_host_status(reply("030,0,0,1218,999,1,0,0,000,0,1,1", "001,0,0,0,1,2,6,0,00000000,1,000"))
    assert status.reasons == ("buffer_full", "over_temperature", "under_temperature")


def test_partial_format_alone_does_not_stop_printing() -> None:
    status = parse_host_status(reply("030,0,0,1218,000,0,0,1,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000"))
    assert status.ready and status.partial_format


def test_reply_split_with_extra_noise_still_parses() -> None:
    assert parse_host_status(b"\r\n" + READY + b"\r\n").ready


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        READY[:30],
        reply("030,0,0", "001,0,0,0,1,2,6,0,00000000,1,000"),
        reply("030,X,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000"),
    ],
)
def test_malformed_replies_are_protocol_errors(bad: bytes) -> None:
    with pytest.raises(PrinterProtocolError):
        parse_host_status(bad)


def test_built_reply_parses_back_to_the_same_conditions() -> None:
    built = build_host_status(paper_out=True, head_open=True, formats_in_buffer=3, thermal_transfer=True)
    status = parse_host_status(built)
    assert status.reasons == ("paper_out", "head_open")
    assert status.formats_in_buffer == 3
    assert built.count(b"\x02") == 3 and built.count(b"\x03") == 3


def test_silence_is_a_fault() -> None:
    status = PrinterStatus.no_response()
    assert not status.ready
    with pytest.raises(PrinterFault, match="no_response"):
        status.raise_for_fault()
