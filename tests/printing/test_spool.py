"""The print spool end to end: database rows → worker → TCP → virtual printer, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import update
from sqlmodel import select

from backend.models import Printer, PrintJob, WarehouseException
from backend.printing import PrintSpool, cancel_job, enqueue_label, print_spool, reprint_job
from backend.printing.delivery import Delivery
from printers.virtual import VirtualPrinter
from tests.printing.support import (
    HangingUpPrinter,
    add_printer,
    jobs,
    printer_row,
    seed_site,
    tote_codes,
    wait_until,
)


def queue_totes(runtime, site_id: int, printer: str, codes: list[str], *, one_transaction: bool = False) -> None:  # noqa: ANN001
    if one_transaction:
        with runtime.sessions() as session:
            for code in codes:
                enqueue_label(session, site_id, "tote", {"tote_code": code}, printer_code=printer)
            session.commit()
        return
    for code in codes:
        with runtime.sessions() as session:
            enqueue_label(session, site_id, "tote", {"tote_code": code}, printer_code=printer)
            session.commit()


def open_faults(runtime, printer_id: int) -> list[WarehouseException]:  # noqa: ANN001
    with runtime.sessions() as session:
        rows = session.exec(select(WarehouseException).where(WarehouseException.kind == "printer_fault",
                                                             WarehouseException.state == "open")).all()
    return [row for row in rows if (row.details or {}).get("printer_id") == printer_id]


async def test_jobs_arrive_once_each_in_order_per_printer(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    async with VirtualPrinter() as left, VirtualPrinter() as right:
        add_printer(runtime, site.site_id, "LEFT", left.port)
        add_printer(runtime, site.site_id, "RIGHT", right.port)
        async with print_spool(runtime):
            for n in range(20):
                await asyncio.to_thread(queue_totes, runtime, site.site_id, "LEFT" if n % 2 else "RIGHT",
                                        [f"T-{n:04d}"])
            await left.wait_for_labels(10)
            await right.wait_for_labels(10)
            await wait_until(lambda: all(job.state == "sent" for job in jobs(runtime)), what="all jobs sent")
    assert tote_codes(left.labels) == [f"T-{n:04d}" for n in range(1, 20, 2)]
    assert tote_codes(right.labels) == [f"T-{n:04d}" for n in range(0, 20, 2)]
    sent = jobs(runtime)
    assert all(job.sent_at is not None and job.attempts == 1 for job in sent)
    assert left.partial_labels_dropped == right.partial_labels_dropped == 0


async def test_printer_off_jobs_wait_with_attempts_recorded_then_arrive_once_in_order(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        printer_id = add_printer(runtime, site.site_id, "ZT-1", printer.port)
        await printer.set_offline(True)
        codes = [f"T-{n:04d}" for n in range(12)]
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", codes)
            await wait_until(lambda: printer_row(runtime, printer_id).failures >= 4, what="several tries")

            waiting = jobs(runtime)
            assert [job.state for job in waiting] == ["queued"] * 12
            assert waiting[0].attempts >= 4 and waiting[0].error_code == "printer_offline"
            assert printer_row(runtime, printer_id).status == "offline"
            assert printer.labels == []
            # unreachable for several tries in a row: one exception for the supervisor, not one per try
            assert len(open_faults(runtime, printer_id)) == 1

            await printer.set_offline(False)
            await printer.wait_for_labels(12)
            await wait_until(lambda: all(job.state == "sent" for job in jobs(runtime)), what="all jobs sent")
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-LATE"])
            await printer.wait_for_labels(13)
    assert tote_codes(printer.labels) == codes + ["T-LATE"]
    assert printer_row(runtime, printer_id).status == "ready"


async def test_paper_out_holds_the_jobs_back_then_they_print(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        printer_id = add_printer(runtime, site.site_id, "ZT-1", printer.port)
        printer.set_paper_out(True)
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-0001", "T-0002", "T-0003"])
            await wait_until(lambda: jobs(runtime)[0].attempts >= 3, what="several status checks")
            row = printer_row(runtime, printer_id)
            assert row.status == "not_ready" and "paper_out" in row.status_detail
            assert [job.state for job in jobs(runtime)] == ["queued"] * 3
            assert jobs(runtime)[0].error_code == "printer_not_ready"
            # the spool asked ~HS and sent nothing into a printer without paper
            assert printer.labels == [] and printer.pending == 0
            faults = open_faults(runtime, printer_id)
            assert len(faults) == 1 and faults[0].details["condition"] == ["paper_out"]

            printer.set_paper_out(False)
            await printer.wait_for_labels(3)
            await wait_until(lambda: all(job.state == "sent" for job in jobs(runtime)), what="all jobs sent")
    assert tote_codes(printer.labels) == ["T-0001", "T-0002", "T-0003"]


async def test_a_send_cut_midway_is_not_resent_and_an_explicit_reprint_prints_it(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    hanging = HangingUpPrinter(cut_after=40)
    try:
        printer_id = add_printer(runtime, site.site_id, "ZT-1", hanging.port)
        async with print_spool(runtime):
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-CUT-1", "T-CUT-2"],
                                    one_transaction=True)
            await wait_until(lambda: all(job.state == "failed" for job in jobs(runtime)), what="the cut batch")
            cut = jobs(runtime)
            assert {job.error_code for job in cut} == {"uncertain_delivery"}
            assert cut[0].exception_id is not None and cut[0].exception_id == cut[1].exception_id
            with runtime.sessions() as session:
                exception = session.get(WarehouseException, cut[0].exception_id)
            assert exception.kind == "printer_fault" and exception.state == "open"
            assert exception.details["reason"] == "uncertain_delivery"
            assert exception.details["job_ids"] == [job.id for job in cut]

            # A later job goes through: the spool has moved past the cut ones without sending them again.
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-NEXT"])
            await wait_until(lambda: jobs(runtime)[-1].state == "sent", what="the next job")
            assert [tote_codes([label]) for label in hanging.received] == [["T-NEXT"]]

            # The supervisor reprints the first one, explicitly.
            with runtime.sessions() as session:
                copy = reprint_job(session, session.get(PrintJob, cut[0].id), user_id=None)
                session.commit()
                copy_id = copy.id
            await wait_until(lambda: jobs(runtime, id=copy_id)[0].state == "sent", what="the reprint")
        assert jobs(runtime, id=copy_id)[0].reprint_of == cut[0].id
        printed = [code for body in hanging.received for code in tote_codes([body])]
        assert printed == ["T-NEXT", "T-CUT-1"]
        assert hanging.label_connections == 3
        assert [job.state for job in jobs(runtime)[:2]] == ["failed", "failed"]
    finally:
        hanging.close()


async def test_a_job_left_sending_by_a_worker_that_died_is_never_resent(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        printer_id = add_printer(runtime, site.site_id, "ZT-1", printer.port)
        await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-GHOST", "T-AFTER"])
        first = jobs(runtime)[0]
        with runtime.sessions() as session:
            # what a worker leaves behind when it dies mid-send
            session.execute(update(PrintJob).where(PrintJob.id == first.id)
                            .values(state="sending", attempt_id=uuid.uuid4().hex, attempts=1))
            session.commit()
        async with print_spool(runtime):
            await printer.wait_for_labels(1)
            await wait_until(lambda: jobs(runtime)[1].state == "sent", what="the next job")
        ghost = jobs(runtime)[0]
        assert (ghost.state, ghost.error_code) == ("failed", "uncertain_delivery")
        assert tote_codes(printer.labels) == ["T-AFTER"]
        with runtime.sessions() as session:
            exception = session.get(WarehouseException, ghost.exception_id)
        assert exception.details["job_ids"] == [ghost.id] and exception.details["printer_id"] == printer_id


async def test_a_cancelled_job_is_never_sent_and_order_holds_around_it(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    async with VirtualPrinter() as printer:
        add_printer(runtime, site.site_id, "ZT-1", printer.port)
        await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", ["T-0001", "T-0002", "T-0003"])
        with runtime.sessions() as session:
            cancel_job(session, session.get(PrintJob, jobs(runtime)[1].id), user_id=None)
            session.commit()
        async with print_spool(runtime):
            await printer.wait_for_labels(2)
            await wait_until(lambda: jobs(runtime)[2].state == "sent", what="the last job")
    assert tote_codes(printer.labels) == ["T-0001", "T-0003"]
    assert [job.state for job in jobs(runtime)] == ["sent", "cancelled", "sent"]


async def test_two_spool_workers_on_one_printer_print_each_label_once_in_order(runtime):  # noqa: ANN001
    site = seed_site(runtime)
    codes = [f"T-{n:04d}" for n in range(60)]
    async with VirtualPrinter() as printer:
        add_printer(runtime, site.site_id, "ZT-1", printer.port)
        first, second = PrintSpool(runtime, owner="replica-a"), PrintSpool(runtime, owner="replica-b")
        await first.start()
        await second.start()
        try:
            await asyncio.to_thread(queue_totes, runtime, site.site_id, "ZT-1", codes)
            await printer.wait_for_labels(60)
            await wait_until(lambda: all(job.state == "sent" for job in jobs(runtime)), what="all jobs sent")
        finally:
            await first.stop()
            await second.stop()
    assert tote_codes(printer.labels) == codes


async def test_labels_of_a_broken_batch_that_were_never_written_go_back_to_the_queue(runtime, monkeypatch):  # noqa: ANN001
    """Delivery broke while writing the 2nd of 4 labels: 1st and 2nd are uncertain, 3rd and 4th are resent."""
    site = seed_site(runtime)
    printer_id = add_printer(runtime, site.site_id, "ZT-1", 9)  # never connected to: delivery is stubbed
    queue_totes(runtime, site.site_id, "ZT-1", ["T-0001", "T-0002", "T-0003", "T-0004"], one_transaction=True)
    spool = PrintSpool(runtime, owner="test")
    batches: list[list[bytes]] = []

    class StubLink:
        """A ready printer whose first connection breaks while it takes the 2nd label."""

        @classmethod
        def open(cls, host, port, timeouts, networks=None):  # noqa: ANN001, ANN206
            return cls()

        def send(self, labels):  # noqa: ANN001, ANN202
            batches.append(list(labels))
            if len(batches) == 1:
                return Delivery("uncertain", labels_written=2, error="connection reset by peer")
            return Delivery("printed", labels_written=len(labels))

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc_info):  # noqa: ANN002, ANN204
            return None

    monkeypatch.setattr("backend.printing.spool.PrinterLink", StubLink)
    spool.drain(printer_id)
    after_break = jobs(runtime)
    assert [(job.state, job.error_code) for job in after_break] == [
        ("failed", "uncertain_delivery"), ("failed", "uncertain_delivery"),
        ("queued", "printer_offline"), ("queued", "printer_offline"),
    ]
    with runtime.sessions() as session:
        session.execute(update(Printer).where(Printer.id == printer_id).values(retry_at=None))
        session.commit()
    spool.drain(printer_id)
    assert [job.state for job in jobs(runtime)] == ["failed", "failed", "sent", "sent"]
    assert [len(batch) for batch in batches] == [4, 2]
    assert [tote_codes([label]) for label in batches[1]] == [["T-0003"], ["T-0004"]]
    assert printer_row(runtime, printer_id).lease_owner is None
