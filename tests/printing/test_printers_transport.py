"""Transports: memory, file, and TCP failure modes that need no printer."""

import socket
from pathlib import Path

import pytest

from printers import (
    FileTransport,
    MemoryTransport,
    PrinterFault,
    PrinterOffline,
    PrinterStatus,
    TcpTransport,
    ToteLabel,
    render_zpl,
    send_job,
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_memory_transport_keeps_every_job() -> None:
    transport = MemoryTransport()
    send_job(transport, b"^XA^XZ")
    send_job(transport, b"^XA^FDx^FS^XZ")
    assert transport.sent == [b"^XA^XZ", b"^XA^FDx^FS^XZ"]


def test_send_job_refuses_a_printer_that_reports_a_fault() -> None:
    transport = MemoryTransport(status=PrinterStatus(ready=False, reasons=("paper_out",), paper_out=True))
    with pytest.raises(PrinterFault) as caught:
        send_job(transport, b"^XA^XZ")
    assert caught.value.status.paper_out
    assert transport.sent == []
    send_job(transport, b"^XA^XZ", check_status=False)
    assert transport.sent == [b"^XA^XZ"]


def test_memory_transport_can_play_an_unreachable_printer() -> None:
    transport = MemoryTransport(failure=PrinterOffline("unplugged"))
    with pytest.raises(PrinterOffline):
        send_job(transport, b"^XA^XZ")


def test_file_transport_appends_jobs(tmp_path: Path) -> None:
    target = tmp_path / "spool.zpl"
    transport = FileTransport(target)
    first = render_zpl("tote", ToteLabel("T-1"))
    second = render_zpl("tote", ToteLabel("T-2"))
    send_job(transport, first)
    send_job(transport, second)
    assert target.read_bytes() == first + second


def test_file_transport_to_a_missing_folder_is_offline(tmp_path: Path) -> None:
    with pytest.raises(PrinterOffline):
        FileTransport(tmp_path / "no" / "such" / "device").send(b"^XA^XZ")


def test_tcp_to_a_closed_port_is_offline() -> None:
    transport = TcpTransport("127.0.0.1", closed_port(), connect_timeout=2)
    with pytest.raises(PrinterOffline):
        transport.send(b"^XA^XZ")
    with pytest.raises(PrinterOffline):
        transport.query_status()


def test_tcp_status_from_a_printer_that_never_answers_is_a_fault() -> None:
    # a listening socket that never accepts: the handshake succeeds, no reply ever comes
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        transport = TcpTransport("127.0.0.1", silent.getsockname()[1], status_timeout=0.2)
        status = transport.query_status()
    assert not status.ready
    assert status.reasons == ("no_response",)


def test_tcp_transport_holds_no_socket_between_jobs() -> None:
    transport = TcpTransport("printer.invalid")
    assert not any(isinstance(getattr(transport, name, None), socket.socket) for name in dir(transport))
