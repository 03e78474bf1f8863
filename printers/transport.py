"""Ways to get ZPL to a printer: raw TCP (port 9100), a file or device node, or memory for tests.

Transports are plain values: nothing is opened until `send` or
`query_status`, and every socket or file is closed before they return.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from printers.errors import PrinterError, PrinterOffline, PrinterTimeout
from printers.status import HOST_STATUS_QUERY, PrinterStatus, parse_host_status, reply_complete

RAW_PORT = 9100
_MAX_STATUS_REPLY = 4096


def exchange_host_status(sock: socket.socket, timeout: float) -> bytes:
    """Send `~HS` on an open connection and read until a whole reply, end of stream or `timeout` seconds.

    Silence is not an error (the reply is then incomplete, see `reply_complete`);
    a broken connection raises OSError.
    """
    reply = bytearray()
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        sock.sendall(HOST_STATUS_QUERY)
        while not reply_complete(reply) and len(reply) < _MAX_STATUS_REPLY:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            chunk = sock.recv(1024)
            if not chunk:
                break
            reply += chunk
    except TimeoutError:
        pass
    return bytes(reply)


class Transport(Protocol):
    def send(self, payload: bytes) -> None:
        """Deliver the bytes or raise a PrinterError."""

    def query_status(self) -> PrinterStatus:
        """Ask the printer how it is; raises PrinterOffline if it cannot be reached."""


@dataclass(frozen=True, slots=True)
class TcpTransport:
    """Zebra raw printing on TCP port 9100, one connection per job."""

    host: str
    port: int = RAW_PORT
    connect_timeout: float = 3.0
    send_timeout: float = 10.0
    status_timeout: float = 2.0

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise PrinterOffline(f"cannot connect to printer {self.host}:{self.port}: {exc}") from exc

    def send(self, payload: bytes) -> None:
        with self._connect() as sock:
            sock.settimeout(self.send_timeout)
            try:
                sock.sendall(payload)
            except TimeoutError as exc:
                raise PrinterTimeout(f"printer {self.host}:{self.port} stopped taking data") from exc
            except OSError as exc:
                raise PrinterOffline(f"printer {self.host}:{self.port} dropped the connection: {exc}") from exc

    def query_status(self) -> PrinterStatus:
        """Send `~HS` and parse the reply; silence within `status_timeout` is a fault, not an error."""
        with self._connect() as sock:
            try:
                reply = exchange_host_status(sock, self.status_timeout)
            except OSError as exc:
                raise PrinterOffline(f"printer {self.host}:{self.port} dropped the connection: {exc}") from exc
        if not reply_complete(reply):
            return PrinterStatus.no_response()
        return parse_host_status(reply)


@dataclass(frozen=True, slots=True)
class FileTransport:
    """Append each job to a file or device node (a USB printer's /dev/usb/lp0, or a spool file)."""

    path: Path

    def send(self, payload: bytes) -> None:
        try:
            with open(self.path, "ab") as target:
                target.write(payload)
        except OSError as exc:
            raise PrinterOffline(f"cannot write to {self.path}: {exc}") from exc

    def query_status(self) -> PrinterStatus:
        return PrinterStatus.assumed_ready()


@dataclass
class MemoryTransport:
    """Keeps what it is sent. Set `status` or `failure` to play a sick printer in tests."""

    sent: list[bytes] = field(default_factory=list)
    status: PrinterStatus = field(default_factory=PrinterStatus.assumed_ready)
    failure: PrinterError | None = None

    def send(self, payload: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(bytes(payload))

    def query_status(self) -> PrinterStatus:
        if self.failure is not None:
            raise self.failure
        return self.status


def send_job(transport: Transport, payload: bytes, *, check_status: bool = True) -> None:
    """Send a job, first asking the printer and raising PrinterFault if it says it cannot print."""
    if check_status:
        transport.query_status().raise_for_fault()
    transport.send(payload)
