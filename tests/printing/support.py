"""Helpers for the print spool tests: a site with printers, waiting for the spool, and a printer that hangs up."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import select

from backend.models import Company, Location, Printer, PrintJob, Site, Zone
from backend.printing import upsert_printer
from backend.runtime import Runtime
from printers.status import build_host_status
from printers.zpl import field_texts


@dataclass
class SpoolSite:
    site_id: int
    zone_id: int
    company_id: int


def seed_site(runtime: Runtime, code: str = "S1") -> SpoolSite:
    with runtime.sessions() as session:
        company = session.exec(select(Company).where(Company.code == "C1")).first()
        if company is None:
            company = Company(code="C1", name="Company one")
            session.add(company)
            session.flush()
        site = Site(company_id=company.id, code=code, name=f"Site {code}")
        session.add(site)
        session.flush()
        zone = Zone(site_id=site.id, code="PACK", name="Packing")
        session.add(zone)
        session.flush()
        session.add(Location(site_id=site.id, zone_id=zone.id, code="PACK-01", kind="pack", check_digits="12"))
        session.commit()
        return SpoolSite(site.id, zone.id, company.id)


def add_printer(runtime: Runtime, site_id: int, code: str, port: int, *, host: str = "127.0.0.1",
                profile: str = "zebra-zt411-203", station: str | None = None, enabled: bool = True) -> int:
    with runtime.sessions() as session:
        site = session.get(Site, site_id)
        printer, _ = upsert_printer(session, site, code=code, name=code, host=host, port=port, profile_id=profile,
                                    enabled=enabled, station=station, zone_code=None,
                                    profiles=runtime.firmware_profiles, user_id=None)
        session.commit()
        return printer.id


def jobs(runtime: Runtime, **where) -> list[PrintJob]:  # noqa: ANN003
    with runtime.sessions() as session:
        query = select(PrintJob).order_by(PrintJob.id)
        for name, value in where.items():
            query = query.where(getattr(PrintJob, name) == value)
        rows = session.exec(query).all()
        return list(rows)


def printer_row(runtime: Runtime, printer_id: int) -> Printer:
    with runtime.sessions() as session:
        printer = session.get(Printer, printer_id)
        return printer


async def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `check` (it may query the database) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(check):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def tote_codes(labels: list[bytes]) -> list[str]:
    """The tote code printed on each tote label, in arrival order."""
    return [next(text for text in field_texts(label) if text.startswith("T-")) for label in labels]


class HangingUpPrinter:
    """A TCP "printer" that answers ~HS as ready, and on its first label connection hangs up after a few bytes.

    Later connections behave: everything up to the client's close is kept in `received`.
    """

    def __init__(self, cut_after: int = 40) -> None:
        self.cut_after = cut_after
        self.label_connections = 0
        self.received: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = bytearray()
        try:
            while b"~HS" not in data:
                chunk = conn.recv(3 - len(data) if len(data) < 3 else 1)
                if not chunk:
                    return
                data += chunk
            conn.sendall(build_host_status())
            body = bytearray()
            if self.label_connections == 0:
                while len(body) < self.cut_after:
                    chunk = conn.recv(self.cut_after - len(body))
                    if not chunk:
                        break
                    body += chunk
                if body:
                    self.label_connections += 1
                    # hang up hard (RST), with the rest of the labels unread
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            if body:
                self.label_connections += 1
                self.received.append(bytes(body))
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
