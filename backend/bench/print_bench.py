"""`wes bench print`: label rendering throughput, and the print spool end to end into a virtual printer.

Three figures:

- `zpl_labels_per_s`: GS1 shipping labels rendered to ZPL (203 dpi) from
  JSON-like data, each label different.
- `pdf_labels_per_s`: the same labels rendered to one-page PDFs.
- `spool_labels_per_s`: labels through the real spool (database rows →
  worker → TCP → `VirtualPrinter` on 127.0.0.1). While the printer is
  switched off, four producer threads queue the labels with `enqueue_label`
  (one transaction per label, routed by station as a pack bench would; the
  rate is `enqueue_labels_per_s`) and the spool keeps trying and backing off.
  Then the printer comes back and the clock runs until the last label is
  received — the backlog a printer finds when it returns. During that drain
  the printer is switched off and on again (at 20 % of the labels received)
  and runs out of paper for a while (at 55 %).

Every label carries a unique order reference, so at the end the labels the
virtual printer received are matched to the jobs: `lost` counts labels never
received (including jobs marked sent that did not arrive) and `duplicated`
counts extra copies. A job whose delivery was cut by the outage is
`failed`/`uncertain_delivery` and never resent automatically; the bench then
does what the supervisor does with the exception: it checks the printer's
output and explicitly reprints the ones that did not arrive (`uncertain` and
`reprinted` report how many).
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import func, select

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from printers.virtual import VirtualPrinter

log = logging.getLogger("wes.bench.print")

STATION = "BENCH-PACK-1"
PRODUCERS = 4


def _shipping(serial: int, run: str) -> dict[str, Any]:
    from backend.gs1 import make_sscc

    return {
        "sscc": make_sscc(3, "0614141", serial % 10**9),
        "ship_to": {"name": f"Customer {serial}", "lines": ["Kaiserstraße 5", f"Unit {serial % 97}"],
                    "city": "Frankfurt am Main", "postcode": "60311", "country": "DE"},
        "ship_from": {"name": "Northwind Fulfilment B.V.", "lines": ["Havenweg 12"], "city": "Rotterdam",
                      "postcode": "3089 JB", "country": "NL"},
        "carrier": "DHL Freight",
        "service": "EuroConnect",
        "order_reference": f"B{run}-{serial:07d}",
        "carton_number": 1 + serial % 3,
        "carton_count": 3,
        "weight_kg": f"{(serial % 5000) / 100:.2f}",
    }


def _rate(count: int, work: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(count):
        work(index)
    return count / (time.perf_counter() - started)


def measure_rendering(labels: int) -> tuple[float, float]:
    from printers.render import render_pdf, render_zpl
    from printers.setup import PrinterSetup

    setup = PrinterSetup.for_dpi(203)
    run = "R"
    mappings = [_shipping(index, run) for index in range(labels)]
    zpl = _rate(labels, lambda i: render_zpl("shipping", mappings[i], setup))
    pdf_count = max(1, min(labels, 300))  # a PDF takes ~10x longer; a few hundred give a steady figure
    pdf = _rate(pdf_count, lambda i: render_pdf("shipping", mappings[i]))
    return zpl, pdf


_REFERENCE = re.compile(r"B[0-9a-f]{6}-\d{7}")


def _references(label: bytes) -> list[str]:
    from printers.zpl import field_texts

    return sorted({found for text in field_texts(label) for found in _REFERENCE.findall(text)})


async def measure_spool(labels: int, database_url: str | None) -> dict[str, Any]:
    """The spool's figures: labels queued while the printer is off, then the backlog drained (module docstring)."""
    from backend.printing import firmware_profiles, print_spool
    from printers.virtual import VirtualPrinter

    with tempfile.TemporaryDirectory(prefix="wes-bench-print-") as folder:
        runtime = _bench_runtime(database_url or f"sqlite:///{Path(folder) / 'bench.db'}")
        run = uuid.uuid4().hex[:6]
        printer = VirtualPrinter("127.0.0.1", 0)
        await printer.start()
        try:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(firmware_profiles(runtime))
                site_id = _bench_site(runtime, run, printer.port)
                await stack.enter_async_context(print_spool(runtime))
                payloads = [_shipping(index, run) for index in range(labels)]
                enqueue_rate = await _queue_while_offline(runtime, printer, site_id, payloads)
                elapsed, uncertain, reprinted = await _drain(runtime, printer, site_id, labels)
                await asyncio.sleep(0.2)  # anything still on its way would show up as a duplicate
                return {
                    "spool_labels_per_s": labels / elapsed,
                    "enqueue_labels_per_s": enqueue_rate,
                    **_delivery_counts(runtime, printer, site_id, payloads),
                    "uncertain": uncertain,
                    "reprinted": reprinted,
                    "database": runtime.engine.dialect.name,
                }
        finally:
            await printer.stop()
            runtime.engine.dispose()


def _bench_runtime(url: str) -> Runtime:
    """A runtime on a migrated database whose spool retries fast (the bench's outages last a fraction of a second)."""
    from backend.app import build_runtime
    from backend.config import Settings
    from backend.migrate import upgrade

    settings = Settings(database_url=url, environment="test", print_poll_seconds=0.25,
                        print_retry_initial_seconds=0.05, print_retry_max_seconds=0.5)
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def _bench_site(runtime: Runtime, run: str, printer_port: int) -> int:
    """A site whose shipping labels from the bench's station go to the virtual printer; its id."""
    from backend.models import Company, Site
    from backend.printing import replace_routes, upsert_printer

    with runtime.sessions() as session:
        company = Company(code=f"BENCH-{run}", name="Bench company")
        session.add(company)
        session.flush()
        site = Site(company_id=company.id, code=f"BENCH-{run}", name="Bench site")
        session.add(site)
        session.flush()
        upsert_printer(session, site, code="ZT-BENCH", name="bench printer", host="127.0.0.1",
                       port=printer_port, profile_id="zebra-zt411-203", enabled=True, station=None,
                       zone_code=None, profiles=runtime.firmware_profiles, user_id=None)
        replace_routes(session, site, [{"station": STATION, "label_type": "shipping",
                                        "printer": "ZT-BENCH"}], user_id=None)
        session.commit()
        return site.id


async def _queue_while_offline(runtime: Runtime, printer: VirtualPrinter, site_id: int,
                               payloads: list[dict[str, Any]]) -> float:
    """The printer is off while the producers queue the labels (the spool keeps trying and backing off); labels/s."""
    await printer.set_offline(True)
    queuing = time.perf_counter()
    producers = [threading.Thread(target=_produce, args=(runtime, site_id, payloads, worker))
                 for worker in range(PRODUCERS)]
    for thread in producers:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in producers])
    return len(payloads) / (time.perf_counter() - queuing)


def _produce(runtime: Runtime, site_id: int, payloads: list[dict[str, Any]], worker: int) -> None:
    """One producer's share of the labels, one transaction each."""
    from backend.printing import enqueue_label

    for index in range(worker, len(payloads), PRODUCERS):
        with runtime.sessions() as session:
            enqueue_label(session, site_id, "shipping", payloads[index], station=STATION)
            session.commit()


async def _drain(runtime: Runtime, printer: VirtualPrinter, site_id: int, labels: int) -> tuple[float, int, int]:
    """The printer comes back: the backlog drains through one more outage and a paper-out, then the supervisor
    reprints the uncertain jobs that did not arrive. The seconds it took, the uncertain jobs and the reprints."""
    disruptions = asyncio.create_task(_disrupt(printer, labels))
    started = time.perf_counter()
    await printer.set_offline(False)
    await _until_spooled(runtime, site_id)
    await disruptions
    uncertain, reprinted = _reprint_missing(runtime, printer, site_id)
    await _until_spooled(runtime, site_id)
    return time.perf_counter() - started, uncertain, reprinted


async def _until_spooled(runtime: Runtime, site_id: int) -> None:
    """Until no job of the site is queued or sending."""
    from backend.models import PrintJob

    def unfinished() -> int:
        with runtime.sessions() as session:
            return session.exec(select(func.count()).select_from(PrintJob).where(
                PrintJob.site_id == site_id, PrintJob.state.in_(("queued", "sending")))).one()

    while await asyncio.to_thread(unfinished):
        await asyncio.sleep(0.02)


def _reprint_missing(runtime: Runtime, printer: VirtualPrinter, site_id: int) -> tuple[int, int]:
    """Uncertain jobs that did not arrive are reprinted, explicitly, once; (uncertain, reprinted)."""
    from backend.models import PrintJob
    from backend.printing import reprint_job

    received = Tally(ref for label in printer.labels for ref in _references(label))
    with runtime.sessions() as session:
        uncertain = session.exec(select(PrintJob).where(
            PrintJob.site_id == site_id, PrintJob.error_code == "uncertain_delivery")).all()
        missing = [job for job in uncertain if job.data["order_reference"] not in received]
        for job in missing:
            reprint_job(session, job, user_id=None)
        session.commit()
    return len(uncertain), len(missing)


def _delivery_counts(runtime: Runtime, printer: VirtualPrinter, site_id: int,
                     payloads: list[dict[str, Any]]) -> dict[str, int]:
    """The labels never received, the extra copies, and the jobs marked sent that did not arrive."""
    from backend.models import PrintJob

    received = Tally(ref for label in printer.labels for ref in _references(label))
    expected = {payload["order_reference"] for payload in payloads}
    with runtime.sessions() as session:
        sent_refs = [data["order_reference"] for data in session.exec(
            select(PrintJob.data).where(PrintJob.site_id == site_id, PrintJob.state == "sent")).all()]
    return {
        "lost": sum(1 for ref in expected if ref not in received),
        "duplicated": sum(count - 1 for count in received.values() if count > 1),
        "sent_not_received": sum(1 for ref in set(sent_refs) if ref not in received),
    }


async def _disrupt(printer: VirtualPrinter, labels: int) -> None:
    """Printer off and on again at 20 % received, paper out for a while at 55 %."""
    await printer.wait_for(lambda: len(printer.labels) >= labels // 5, timeout=600)
    await printer.set_offline(True)
    await asyncio.sleep(0.4)
    await printer.set_offline(False)
    await printer.wait_for(lambda: len(printer.labels) >= labels * 55 // 100, timeout=600)
    printer.set_paper_out(True)
    await asyncio.sleep(0.4)
    printer.set_paper_out(False)


def run_print_bench(labels: int = 2000, database_url: str | None = None) -> dict[str, Any]:
    zpl, pdf = measure_rendering(labels)
    spool = asyncio.run(measure_spool(labels, database_url))
    return {"labels": labels, "zpl_labels_per_s": zpl, "pdf_labels_per_s": pdf, **spool}


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("labels", f"{result['labels']}"),
        ("database", result["database"]),
        ("ZPL render (labels/s)", f"{result['zpl_labels_per_s']:.0f}"),
        ("PDF render (labels/s)", f"{result['pdf_labels_per_s']:.0f}"),
        ("queue labels, 4 threads (labels/s)", f"{result['enqueue_labels_per_s']:.0f}"),
        ("spool end to end (labels/s)", f"{result['spool_labels_per_s']:.0f}"),
        ("lost", f"{result['lost']}"),
        ("duplicated", f"{result['duplicated']}"),
        ("marked sent, not received", f"{result['sent_not_received']}"),
        ("uncertain (cut by the outage)", f"{result['uncertain']}"),
        ("reprinted by the 'supervisor'", f"{result['reprinted']}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>10}")


def add_arguments(parser) -> None:  # noqa: ANN001
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--json", action="store_true")


def main(args) -> int:  # noqa: ANN001
    """`wes bench print`: the table (or JSON); exit 1 if a label was lost or printed twice."""
    import json
    import logging
    import sys

    if args.labels < 1:
        print("--labels must be 1 or more", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("wes.print_spool").setLevel(logging.ERROR)  # the outages are on purpose
    result = run_print_bench(args.labels, database_url=args.database_url)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1
