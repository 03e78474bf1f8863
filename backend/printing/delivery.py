"""One delivery attempt: a batch of labels to one printer over one TCP 9100 connection, and what became of it.

`PrinterLink.open()` connects and asks `~HS`; only a printer that says it
can print gives a link, and `link.send()` writes the labels, half-closes, and
waits for the printer to read them all and close its side (`deliver()` does
both). The answer says which labels may have reached the printer, which is
what the spool needs to never print a label twice:

- ``unreachable``: no connection, or it broke before a label byte was
  written. Nothing was printed; the labels may be sent again.
- ``not_ready``: the printer answered `~HS` with paper out, head open,
  paused…, or did not answer at all (silence is a fault). No label byte was
  written; the labels may be sent again once it recovers.
- ``printed``: every byte was written, the printer's TCP stack acknowledged
  every byte (Linux SIOCOUTQ), and the printer closed its side after reading
  to our end of stream (or merely kept the connection open).
- ``uncertain``: the connection broke or timed out after label bytes were
  written. The first `labels_written` labels may or may not have been
  received: they must not be sent again automatically. Labels after those
  were never written and may be sent again.

Blocking sockets; the spool calls this from worker threads. No database here.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from backend.printing.networks import Network, resolve
from printers.errors import PrinterProtocolError

try:  # Linux: bytes written but not yet acknowledged by the peer (SIOCOUTQ)
    import fcntl
    import termios

    _HAS_OUTQ = hasattr(termios, "TIOCOUTQ")
except ImportError:  # pragma: no cover - not Linux
    _HAS_OUTQ = False
from printers.status import PrinterStatus, parse_host_status, reply_complete
from printers.transport import exchange_host_status

Outcome = Literal["printed", "not_ready", "unreachable", "uncertain"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    send: float = 10.0
    status: float = 2.0


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: Outcome
    # Labels whose bytes were (at least partly) written to the connection.
    labels_written: int = 0
    status: PrinterStatus | None = None
    error: str = ""

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.status.reasons if self.status is not None else ()


class PrinterLink:
    """A connection to a printer that has just answered `~HS` with "ready". Use as a context manager."""

    def __init__(self, sock: socket.socket, where: str, status: PrinterStatus, timeouts: Timeouts) -> None:
        self._sock = sock
        self.where = where
        self.status = status
        self.timeouts = timeouts

    @classmethod
    def open(cls, host: str, port: int, timeouts: Timeouts = Timeouts(),
             networks: Sequence[Network] | None = None) -> PrinterLink | Delivery:
        """Connect and ask `~HS`; a Delivery (unreachable / not_ready, nothing written) when it cannot print.

        With `networks`, only an address of `host` inside them is connected to (`backend.printing.networks`);
        a host with none is unreachable.
        """
        where = f"{host}:{port}"
        try:
            sock = _connect(host, port, timeouts.connect, networks)
        except OSError as exc:  # refused, unreachable, connect timed out, not allowed: nothing left us
            return Delivery("unreachable", error=f"cannot connect to {where}: {_describe(exc)}")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            status, problem = _ask_status(sock, timeouts.status)
        except BaseException:
            sock.close()
            raise
        if problem or not status.ready:
            sock.close()
            if problem:
                return Delivery("unreachable", error=f"{where}: {problem}")
            return Delivery("not_ready", status=status, error=f"{where} not ready: {', '.join(status.reasons)}")
        return cls(sock, where, status, timeouts)

    def send(self, labels: Sequence[bytes]) -> Delivery:
        """Write the labels, half-close, and wait for the printer to confirm it read them all; never raises for I/O."""
        sock, where = self._sock, self.where
        sock.settimeout(self.timeouts.send)
        written = 0
        try:
            for label in labels:
                written += 1  # counted before the write: a failing write may still have sent part of it
                sock.sendall(label)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            return Delivery("uncertain", labels_written=written, status=self.status,
                            error=f"{where} broke off while taking label {written} of {len(labels)}: {_describe(exc)}")
        confirmed, problem = _await_close(sock, self.timeouts.send)
        if confirmed:
            return Delivery("printed", labels_written=written, status=self.status)
        return Delivery("uncertain", labels_written=written, status=self.status,
                        error=f"{where} took {len(labels)} label(s) but {problem}")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> PrinterLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def deliver(host: str, port: int, labels: Sequence[bytes], timeouts: Timeouts = Timeouts(),
            networks: Sequence[Network] | None = None) -> Delivery:
    """Send `labels` (complete ZPL formats) in one connection after a `~HS` check; never raises for I/O."""
    link = PrinterLink.open(host, port, timeouts, networks)
    if isinstance(link, Delivery):
        return link
    with link:
        return link.send(labels)


class HostNotAllowed(OSError):
    """The printer's host has no address inside the allowed printer networks."""


def _connect(host: str, port: int, timeout: float, networks: Sequence[Network] | None) -> socket.socket:
    if networks is None:
        return socket.create_connection((host, port), timeout=timeout)
    found = resolve(host, networks)
    if not found.allowed:
        raise HostNotAllowed(found.error or f"no address of {host!r} is inside WES_PRINTER_NETWORKS")
    last: OSError | None = None
    for address in found.allowed:  # the checked address itself: the name is not looked up again
        try:
            return socket.create_connection((str(address), port), timeout=timeout)
        except OSError as exc:
            last = exc
    raise last  # type: ignore[misc]


def _ask_status(sock: socket.socket, timeout: float) -> tuple[PrinterStatus, str]:
    """`~HS` on the open connection: (status, "") or (no status, why the connection failed)."""
    try:
        reply = exchange_host_status(sock, timeout)
    except OSError as exc:
        return PrinterStatus.no_response(), f"connection lost while asking ~HS: {_describe(exc)}"
    if not reply_complete(reply):
        return PrinterStatus.no_response(), ""
    try:
        return parse_host_status(reply), ""
    except PrinterProtocolError:
        # It answered, but not with a status we can read: as good as silence.
        return PrinterStatus(ready=False, reasons=("bad_status_reply",)), ""


def _await_close(sock: socket.socket, timeout: float) -> tuple[bool, str]:
    """After our half-close: True once the printer has read everything we wrote.

    The printer closing its side is not enough on its own (a printer that
    gives up half-way closes too): every byte must also have been
    acknowledged by its TCP stack (Linux SIOCOUTQ reaches 0). A printer that
    keeps the connection open is confirmed by the acknowledgements alone.
    """
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        if _all_acknowledged(sock, deadline):
            return True, ""
        return False, f"did not confirm receipt within {timeout:g} s"
    except OSError as exc:
        return False, f"the connection broke before the printer confirmed receipt: {_describe(exc)}"
    if _all_acknowledged(sock, deadline):
        return True, ""
    return False, "closed the connection before acknowledging every byte"


def _all_acknowledged(sock: socket.socket, deadline: float) -> bool:
    if not _HAS_OUTQ:
        return True  # no way to ask: the printer's close is the best evidence there is
    while True:
        try:
            raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        except OSError:
            return False
        if struct.unpack("i", raw)[0] == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def _describe(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, HostNotAllowed):
        return str(exc)
    return exc.strerror or exc.__class__.__name__
