"""Printers only inside WES_PRINTER_NETWORKS, and a status that tells a printer's own report, never a port's state.

Real TCP on loopback: a virtual Zebra printer, an open port that is not a printer, and a closed port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator

import pytest

from backend.app import build_runtime
from backend.errors import Invalid
from backend.migrate import upgrade
from backend.models import Site
from backend.printing import firmware_profiles, print_spool, upsert_printer
from backend.printing.networks import resolve
from backend.printing.spool import NO_ANSWER
from backend.runtime import Runtime
from printers.virtual import VirtualPrinter
from tests.conftest import make_settings
from tests.printing.conftest import FAST
from tests.printing.support import add_printer, jobs, printer_row, seed_site, tote_codes, wait_until
from tests.printing.test_spool import open_faults, queue_totes


class SilentPort:
    """An open TCP port that is not a printer: it accepts, counts the connections and never says a word."""

    def __init__(self) -> None:
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._open.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._server.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
async def office_runtime(database_url: str) -> AsyncIterator[Runtime]:
    """Printers allowed only in 10.0.0.0/8: loopback, where the test's printers listen, is outside."""
    built = build_runtime(make_settings(database_url, printer_networks="10.0.0.0/8", **FAST))
    upgrade(built.engine)
    async with firmware_profiles(built):
        yield built
    built.engine.dispose()


def _create(runtime: Runtime, site_id: int, code: str, host: str, port: int = 9100) -> int:
    with runtime.sessions() as session:
        printer, _ = upsert_printer(session, session.get(Site, site_id), code=code, name=code, host=host, port=port,
                                    profile_id="zebra-zt411-203", enabled=True, station=None, zone_code=None,
                                    profiles=runtime.firmware_profiles, user_id=None,
                                    networks=runtime.settings.printer_networks)
        session.commit()
        return printer.id


def test_hosts_resolve_into_the_networks_or_are_refused() -> None:
    private = [n for n in make_settings("sqlite://").printer_networks]
    assert [str(a) for a in resolve("127.0.0.1", private).allowed] == ["127.0.0.1"]
    assert [str(a) for a in resolve("10.1.2.3", private).allowed] == ["10.1.2.3"]
    assert len(resolve("::ffff:192.168.1.9", private).allowed) == 1  # an IPv4-mapped address counts as IPv4
    assert [str(a) for a in resolve("8.8.8.8", private).refused] == ["8.8.8.8"]
    assert "127.0.0.1" in [str(a) for a in resolve("localhost", private).allowed]
    assert resolve("no-such-printer.invalid", private).error


async def test_a_virtual_printer_inside_the_networks_still_prints(runtime: Runtime) -> None:
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        _create(runtime, site.site_id, "ZT-1", "127.0.0.1", printer.port)  # loopback: in the default networks
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-0001", "T-0002"])
            await printer.wait_for_labels(2)
    assert tote_codes(printer.labels) == ["T-0001", "T-0002"]


async def test_a_host_outside_the_networks_is_refused_on_create_and_update(office_runtime: Runtime) -> None:
    site = seed_site(office_runtime)
    printer_id = _create(office_runtime, site.site_id, "ZT-1", "10.0.0.5")
    for host in ("127.0.0.1", "192.168.1.20", "8.8.8.8", "localhost"):
        with pytest.raises(Invalid) as refused:
            _create(office_runtime, site.site_id, "ZT-1", host)
        assert refused.value.code == "printer_host_not_allowed" and refused.value.details["field"] == "host"
        assert refused.value.details["networks"] == ["10.0.0.0/8"]
    with pytest.raises(Invalid) as refused:
        _create(office_runtime, site.site_id, "ZT-2", "no-such-printer.invalid")
    assert refused.value.code == "printer_host_unresolvable"
    assert printer_row(office_runtime, printer_id).host == "10.0.0.5"


async def test_the_spool_never_connects_to_a_printer_outside_the_networks(office_runtime: Runtime) -> None:
    """A printer row whose host left the networks (WES_PRINTER_NETWORKS narrowed since): checked before connecting."""
    site = seed_site(office_runtime)
    port = SilentPort()
    try:
        async with VirtualPrinter() as printer:
            inside_before = add_printer(office_runtime, site.site_id, "ZT-OLD", printer.port)  # no check: old row
            silent = add_printer(office_runtime, site.site_id, "ZT-PORT", port.port)
            async with print_spool(office_runtime):
                await asyncio.to_thread(queue_totes, office_runtime, site.site_id, "ZT-OLD", ["T-0001"])
                await asyncio.to_thread(queue_totes, office_runtime, site.site_id, "ZT-PORT", ["T-0002"])
                await wait_until(lambda: all(printer_row(office_runtime, p).failures >= 3
                                             for p in (inside_before, silent)), what="several tries each")
            assert printer.labels == [] and port.accepted == 0
            for printer_id in (inside_before, silent):
                row = printer_row(office_runtime, printer_id)
                assert (row.status, row.status_detail) == ("offline", NO_ANSWER)
            assert {(job.state, job.error_code, job.last_error) for job in jobs(office_runtime)} == {
                ("queued", "printer_offline", NO_ANSWER)}
    finally:
        port.close()


async def test_the_status_does_not_tell_an_open_port_from_a_closed_one(runtime: Runtime) -> None:
    site = seed_site(runtime)
    port = SilentPort()
    try:
        open_id = add_printer(runtime, site.site_id, "P-OPEN", port.port)
        closed_id = add_printer(runtime, site.site_id, "P-SHUT", closed_port())
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "P-OPEN", ["T-0001"])
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "P-SHUT", ["T-0002"])
            await wait_until(lambda: all(printer_row(runtime, p).failures >= 3 for p in (open_id, closed_id)),
                             what="several tries each")
        assert port.accepted >= 1  # the spool did reach the open port (and asked ~HS)
        seen = {}
        for printer_id, code in ((open_id, "P-OPEN"), (closed_id, "P-SHUT")):
            row = printer_row(runtime, printer_id)
            job = jobs(runtime, printer_id=printer_id)[0]
            faults = open_faults(runtime, printer_id)
            assert len(faults) == 1
            seen[code] = (row.status, row.status_detail, job.state, job.error_code, job.last_error,
                          faults[0].message.replace(code, "<printer>"), faults[0].details["error"],
                          faults[0].details["condition"])
        assert seen["P-OPEN"] == seen["P-SHUT"]
        assert seen["P-OPEN"][:5] == ("offline", NO_ANSWER, "queued", "printer_offline", NO_ANSWER)
    finally:
        port.close()


async def test_a_printer_s_own_report_still_reaches_the_caller(runtime: Runtime) -> None:
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        printer_id = add_printer(runtime, site.site_id, "ZT-1", printer.port)
        printer.set_head_open(True)
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-0001"])
            await wait_until(lambda: jobs(runtime)[0].attempts >= 1, what="a status check")
            row = printer_row(runtime, printer_id)
            assert row.status == "not_ready" and "head_open" in row.status_detail
            assert jobs(runtime)[0].error_code == "printer_not_ready" and "head_open" in jobs(runtime)[0].last_error
