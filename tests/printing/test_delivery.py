"""One delivery attempt over real TCP: what may be retried, and what may have printed."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

from backend.printing.delivery import Timeouts, deliver
from printers.render import render_zpl
from printers.status import build_host_status
from printers.virtual import VirtualPrinter
from tests.printing.support import tote_codes

QUICK = Timeouts(connect=1.0, send=3.0, status=0.3)


def totes(*codes: str) -> list[bytes]:
    return [render_zpl("tote", {"tote_code": code}) for code in codes]


def serve_once(handler) -> int:  # noqa: ANN001
    server = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                handler(conn)

    threading.Thread(target=run, daemon=True).start()
    return server.getsockname()[1]


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


async def test_a_ready_printer_gets_every_label_and_delivery_is_confirmed():
    async with VirtualPrinter() as printer:
        outcome = await asyncio.to_thread(deliver, "127.0.0.1", printer.port, totes("T-1", "T-2"), QUICK)
        assert (outcome.outcome, outcome.labels_written) == ("printed", 2)
        assert tote_codes(printer.labels) == ["T-1", "T-2"]


async def test_a_printer_out_of_paper_is_asked_first_and_sent_nothing():
    async with VirtualPrinter() as printer:
        printer.set_paper_out(True)
        outcome = await asyncio.to_thread(deliver, "127.0.0.1", printer.port, totes("T-1"), QUICK)
        assert outcome.outcome == "not_ready" and outcome.reasons == ("paper_out",)
        assert outcome.labels_written == 0 and printer.labels == []


async def test_a_refused_connection_is_unreachable_with_nothing_written():
    outcome = await asyncio.to_thread(deliver, "127.0.0.1", free_port(), totes("T-1"), QUICK)
    assert (outcome.outcome, outcome.labels_written) == ("unreachable", 0)


async def test_a_printer_that_stays_silent_to_host_status_is_not_ready():
    received = bytearray()

    def silent(conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            while chunk := conn.recv(1024):
                received.extend(chunk)
        except OSError:
            pass

    port = serve_once(silent)
    outcome = await asyncio.to_thread(deliver, "127.0.0.1", port, totes("T-1"), QUICK)
    assert outcome.outcome == "not_ready" and outcome.reasons == ("no_response",)
    assert bytes(received) == b"~HS"


async def test_a_connection_reset_while_writing_counts_only_the_labels_written_so_far():
    def hang_up_early(conn: socket.socket) -> None:
        conn.recv(3)
        conn.sendall(build_host_status())
        conn.recv(10)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    port = serve_once(hang_up_early)
    # the first label is far larger than the socket buffers, so the reset arrives while it is being written
    huge = b"^XA^FD" + b"X" * (48 * 1024 * 1024) + b"^FS^XZ"
    outcome = await asyncio.to_thread(deliver, "127.0.0.1", port, [huge, *totes("T-2", "T-3")], QUICK)
    assert (outcome.outcome, outcome.labels_written) == ("uncertain", 1)


async def test_a_printer_that_closes_before_reading_everything_is_not_confirmed():
    def read_a_little_then_close(conn: socket.socket) -> None:
        conn.recv(3)
        conn.sendall(build_host_status())
        conn.recv(20)

    port = serve_once(read_a_little_then_close)
    outcome = await asyncio.to_thread(deliver, "127.0.0.1", port, totes("T-1", "T-2", "T-3"), QUICK)
    # the reset may reach us while we still write or after: either way nothing is confirmed
    assert outcome.outcome == "uncertain" and outcome.labels_written >= 1
