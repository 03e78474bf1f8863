"""The print spool worker: queued jobs → printers over TCP 9100, once each, in order per printer.

How it runs
-----------
Each app runs one `PrintSpool` (the `print_spool` component). An asyncio
task finds printers with queued work and hands each to a worker thread
(sockets and the database driver block); different printers proceed in
parallel, one printer's jobs strictly one after another. The spool wakes as
soon as a transaction that queued a label commits (session event), and polls
every `print_poll_seconds` for jobs queued by other replicas. Up to
`print_batch_size` queued jobs of a printer go in one TCP connection; after a
part-full batch the worker keeps the printer a moment and lets jobs that are
being queued one by one gather, so they too go out several at a time.

Claiming (several replicas)
---------------------------
A worker sends to a printer only while it holds the printer's lease
(`printer.lease_owner/lease_until`), taken with one conditional UPDATE
("free, expired, or mine") — atomic on PostgreSQL and SQLite alike, and held
across the TCP work without keeping a transaction open. The lease is renewed
before every batch and must outlast one batch (`print_lease_seconds`). On
SQLite (one process) leases left by a previous run are cleared at start.

Order
-----
Jobs carry a per-printer `sequence` taken from a counter row that stays
locked until the queuing transaction commits, so sequence order is commit
order. The lease holder always takes the lowest-sequence unfinished jobs; a
job that could not be sent goes back to `queued` with its sequence, so it
goes first again. A later job never overtakes an earlier unsent one.

No second copy after a partial send
-----------------------------------
1. Connect and ask `~HS` first. Connection refused / timed out, broken
   while asking, paper out, head open, paused, or silence: no label byte is
   written. The jobs stay `queued` (their `attempts`, `error_code` and
   `next_attempt_at` record the try) and the printer is retried with
   exponential backoff (`print_retry_initial_seconds` doubling up to
   `print_retry_max_seconds`).
2. The printer is ready: the batch (up to `print_batch_size` consecutive
   queued jobs) is marked `sending` with a fresh `attempt_id`, and that is
   committed before the first label byte is written.
3. The labels are written, the connection half-closed, and the printer must
   acknowledge every byte and close its side after reading to the end
   (`backend.printing.delivery`). Only then are the jobs `sent`.
4. If the connection breaks or times out after label bytes were written
   (reset mid-send, printer switched off while taking data), the labels
   written so far may or may not have printed. They are NOT sent again:
   they become `failed` with `error_code = uncertain_delivery`, and one
   `printer_fault` exception lists them for a supervisor, who looks at the
   printer and reprints what is missing with the explicit reprint action.
   Labels of the batch not yet written are provably unsent and go back to
   `queued`.
5. A job found in `sending` by a worker that did not start that attempt
   (its worker died or lost its lease mid-send) is treated the same as (4).

So the only automatic resend is of bytes that provably never left. The cost
of batching is the size of the uncertain set when a connection breaks: at
most one batch.

Printer faults (not ready, or unreachable for `FAULT_AFTER_FAILURES` tries in
a row) raise one `printer_fault` exception per printer; a new one is raised
only after the supervisor has resolved the previous one.

What callers see
----------------
A printer's status, its jobs' `last_error` and its fault exceptions say only
what a printer reported: `ready`, or `not_ready` with the conditions its `~HS`
answer named (paper out, head open, paused…), or `offline` — "the printer does
not answer" — for everything else: connection refused or timed out, silence or
an unreadable answer to `~HS`, a host outside `WES_PRINTER_NETWORKS`. So the
status never tells an open port from a closed one (the spool's log keeps the
detail for the operator). Connections go only to addresses inside
`WES_PRINTER_NETWORKS` (`backend.printing.networks`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Literal

from sqlalchemy import exists, func, or_, update
from sqlmodel import Session, select

from backend import audit
from backend.leased_work import LeasedWork
from backend.models import Printer, PrintJob, WarehouseException, utcnow
from backend.printing.delivery import Delivery, PrinterLink, Timeouts
from backend.printing.service import ENQUEUED_KEY, PRINTER_CHANGED_KEY
from backend.runtime import Runtime
from backend.webhooks import payloads

log = logging.getLogger("wes.print_spool")

FAULT_AFTER_FAILURES = 3
UNFINISHED = ("queued", "sending")
NO_ANSWER = "the printer does not answer"
# ~HS "conditions" that are not the printer's own report: it said nothing, or nothing a Zebra would say.
_NOT_REPORTED = frozenset({"no_response", "bad_status_reply"})
# A worker keeps a printer this long after its queue ran dry, for jobs still being queued in this process,
# and lets jobs gather this long after a part-full batch, so labels queued one by one go out a few at a time.
LINGER_SECONDS = 0.25
GATHER_SECONDS = 0.02
Step = Literal["again", "partial", "idle", "wait", "lost"]


class PrintSpool(LeasedWork):
    """Start with `await start()`, stop with `await stop()`; `wake()` may be called from any thread
    (backend.leased_work: the scheduling and leases it shares with the webhook sender)."""

    name = "print-spool"
    lease_model = Printer

    def __init__(self, runtime: Runtime, *, owner: str | None = None, max_printers: int = 8) -> None:
        super().__init__(runtime, owner=owner, max_rows=max_printers, log=log)
        self.timeouts = Timeouts(connect=self.settings.print_connect_timeout, send=self.settings.print_send_timeout,
                                 status=self.settings.print_status_timeout)
        # printer id → retry time, for printers whose last drain here ended backing off
        self._backed_off: dict[int, datetime] = {}
        # counts commits that queued jobs in this process; lingering drains wait on it
        self._arrival = threading.Condition()
        self._arrivals = 0

    def lease_seconds(self) -> float:
        return self.settings.print_lease_seconds

    def poll_seconds(self) -> float:
        return self.settings.print_poll_seconds

    def due(self) -> tuple[list[int], datetime | None]:
        return self.due_printers()

    def drain_starting(self, printer_id: int) -> None:
        self._backed_off.pop(printer_id, None)

    def drained(self, printer_id: int, retry_at: datetime | None) -> None:
        if retry_at is not None:
            self._backed_off[printer_id] = retry_at

    def stopping(self) -> None:
        with self._arrival:
            self._arrival.notify_all()

    def after_commit(self, session: Session) -> None:
        changed = session.info.pop(PRINTER_CHANGED_KEY, None)
        if changed:
            for printer_id in changed:
                self._backed_off.pop(printer_id, None)
            self.wake()
        printer_ids = session.info.pop(ENQUEUED_KEY, None)
        if not printer_ids:
            return
        with self._arrival:
            self._arrivals += 1
            self._arrival.notify_all()
        # A printer being drained here picks its new jobs up itself, and one backing off is not tried before its
        # time anyway; any other needs the scheduler.
        now = utcnow()
        if any(printer_id not in self._draining and not self._backed_off.get(printer_id, now) > now
               for printer_id in printer_ids):
            self.wake()

    def _await_arrival(self, seen: int, timeout: float) -> bool:
        """Wait until a commit in this process queues a job (after `seen` arrivals); False on timeout or stop."""
        with self._arrival:
            arrived = self._arrival.wait_for(lambda: self._arrivals != seen or self._stopping.is_set(), timeout)
        return arrived and not self._stopping.is_set()

    # scheduling (worker threads)

    def due_printers(self) -> tuple[list[int], datetime | None]:
        """Printers this worker could send to now, and the earliest time a backed-off printer is due."""
        now = utcnow()
        has_work = exists().where(PrintJob.printer_id == Printer.id, PrintJob.state.in_(UNFINISHED))
        with self.sessions() as session:
            due = session.exec(
                select(Printer.id).where(
                    Printer.enabled, has_work, self.lease_free(now),
                    or_(Printer.retry_at.is_(None), Printer.retry_at <= now),
                ).order_by(Printer.id)
            ).all()
            next_retry = session.exec(
                select(func.min(Printer.retry_at)).where(Printer.enabled, has_work, Printer.retry_at > now)
            ).one()
            session.rollback()
        return list(due), next_retry

    def drain(self, printer_id: int) -> datetime | None:
        """Send a printer's queued jobs, batch after batch, while this worker holds its lease.

        After a part-full batch or an empty queue the worker keeps the lease a
        moment (LINGER_SECONDS) for jobs being queued right now, and lets them
        gather (GATHER_SECONDS) before the next batch. Returns when the printer
        may be tried again if it ended backing off.
        """
        target = self._claim(printer_id)
        if target is None:
            return None
        result: Step = "idle"
        try:
            peek = False
            while not self._stopping.is_set():
                seen = self._arrivals
                result = self.step(printer_id, *target, peek=peek)
                if result == "again":
                    peek = False
                    continue
                if result not in ("partial", "idle") or not self._await_arrival(seen, LINGER_SECONDS):
                    break
                time.sleep(GATHER_SECONDS)
                peek = True  # the new job may be for another printer: look before connecting
        finally:
            retry_at = self._release(printer_id)
        return retry_at if result == "wait" else None

    def _claim(self, printer_id: int) -> tuple[str, int] | None:
        """Take the printer's lease; its (host, port) when this worker got it."""
        now = utcnow()
        with self.sessions() as session:
            claimed = session.execute(
                update(Printer).where(Printer.id == printer_id, self.lease_free(now))
                .values(lease_owner=self.owner, lease_until=now + self.lease())
                .execution_options(synchronize_session=False)
            ).rowcount
            target = session.exec(select(Printer.host, Printer.port).where(Printer.id == printer_id)).first()
            session.commit()
        return (target[0], target[1]) if claimed == 1 and target is not None else None

    def _release(self, printer_id: int) -> datetime | None:
        """Give the lease back; the printer's retry time."""
        with self.sessions() as session:
            session.execute(
                update(Printer).where(Printer.id == printer_id, Printer.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False)
            )
            retry_at = session.exec(select(Printer.retry_at).where(Printer.id == printer_id)).first()
            session.commit()
        return retry_at

    def step(self, printer_id: int, host: str, port: int, *, peek: bool = False) -> Step:
        """One batch to the printer (the caller holds its lease): ~HS first, then its next queued jobs."""
        if peek and not self._has_queued(printer_id):
            return "idle"
        link = PrinterLink.open(host, port, self.timeouts, self.settings.printer_networks)
        if isinstance(link, Delivery):
            # nothing was written: the jobs stay queued, their attempt is recorded, the printer backs off
            return self._record_unsendable(printer_id, link)
        with link:
            claimed = self._take_batch(printer_id)
            if isinstance(claimed, str):
                return claimed
            attempt, ids, payloads, code = claimed
            outcome = link.send(payloads)
        if outcome.outcome != "printed":
            log.info("print spool %s: printer %s: %s (%s)", self.owner, code, outcome.outcome, outcome.error)
        result = self._record(printer_id, attempt, ids, outcome)
        if result == "again" and len(ids) < self.settings.print_batch_size:
            return "partial"
        return result

    def _has_queued(self, printer_id: int) -> bool:
        with self.sessions() as session:
            found = session.exec(select(PrintJob.id).where(PrintJob.printer_id == printer_id,
                                                           PrintJob.state.in_(UNFINISHED)).limit(1)).first()
            session.rollback()
        return found is not None

    def _renew(self, session: Session, printer_id: int, now: datetime) -> bool:
        renewed = session.execute(
            update(Printer).where(Printer.id == printer_id, Printer.lease_owner == self.owner)
            .values(lease_until=now + self.lease()).execution_options(synchronize_session=False)
        ).rowcount
        if not renewed:
            log.warning("print spool %s: lost the lease on printer id %s", self.owner, printer_id)
        return bool(renewed)

    def _head(self, session: Session, printer_id: int) -> list[PrintJob]:
        return list(session.exec(
            select(PrintJob).where(PrintJob.printer_id == printer_id, PrintJob.state.in_(UNFINISHED))
            .order_by(PrintJob.sequence).limit(self.settings.print_batch_size)
        ).all())

    def _take_batch(self, printer_id: int) -> tuple[str, list[int], list[bytes], str] | Step:
        """Mark the printer's next queued jobs `sending` under a fresh attempt id, committed before any byte goes."""
        now = utcnow()
        with self.sessions() as session:
            if not self._renew(session, printer_id, now):
                session.rollback()
                return "lost"
            printer = session.get(Printer, printer_id)
            if printer is None or not printer.enabled:
                session.commit()
                return "idle"
            jobs = self._head(session, printer_id)
            if not jobs:
                session.commit()
                return "idle"
            if jobs[0].state == "sending":
                # An attempt this worker did not start: its outcome is unknown, so it is never resent.
                stale = list(takewhile(lambda job: job.state == "sending", jobs))
                self._uncertain(session, printer, stale, now,
                                "the worker sending them stopped before it learned whether they printed")
                session.commit()
                return "again"
            batch = list(takewhile(lambda job: job.state == "queued", jobs))
            attempt = uuid.uuid4().hex
            marked = session.execute(
                update(PrintJob).where(PrintJob.id.in_([job.id for job in batch]), PrintJob.state == "queued")
                .values(state="sending", attempt_id=attempt, attempts=PrintJob.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
            if marked != len(batch):  # some were cancelled meanwhile
                batch = list(session.exec(select(PrintJob).where(PrintJob.attempt_id == attempt)
                                          .order_by(PrintJob.sequence)).all())
                session.rollback()
            if not batch:
                return "again"
            return attempt, [job.id for job in batch], [job.zpl.encode("ascii") for job in batch], printer.code

    def _record_unsendable(self, printer_id: int, outcome: Delivery) -> Step:
        """The printer could not take labels (unreachable, not ready): count the try on the jobs it would have got."""
        now = utcnow()
        with self.sessions() as session:
            if not self._renew(session, printer_id, now):
                session.rollback()
                return "lost"
            printer = session.get(Printer, printer_id)
            retry_at = self._back_off(session, printer, now, outcome)
            waiting = [job.id for job in takewhile(lambda job: job.state == "queued", self._head(session, printer_id))]
            if waiting:
                session.execute(
                    update(PrintJob).where(PrintJob.id.in_(waiting), PrintJob.state == "queued").values(
                        attempts=PrintJob.attempts + 1, error_code=_error_code(outcome),
                        last_error=_reported(outcome)[:500], next_attempt_at=retry_at, updated_at=now,
                    ).execution_options(synchronize_session=False)
                )
            session.commit()
        log.info("print spool %s: printer id %s: %s (%s)", self.owner, printer_id, outcome.outcome, outcome.error)
        return "wait"

    def _record(self, printer_id: int, attempt: str, ids: Sequence[int], outcome: Delivery) -> Step:
        now = utcnow()
        mine = (PrintJob.attempt_id == attempt, PrintJob.state == "sending")
        with self.sessions() as session:
            printer = session.get(Printer, printer_id)
            if outcome.outcome == "printed":
                done = session.execute(
                    update(PrintJob).where(*mine).values(
                        state="sent", sent_at=now, updated_at=now, attempt_id=None, error_code=None, last_error="",
                        next_attempt_at=None,
                    ).execution_options(synchronize_session=False)
                ).rowcount
                if done != len(ids):
                    log.warning("print spool %s: printer %s: %d of %d sent jobs were taken over meanwhile",
                                self.owner, printer.code, len(ids) - done, len(ids))
                self._set_health(printer, now, "ready", "")
                printer.failures, printer.retry_at = 0, None
                session.add(printer)
                session.commit()
                return "again"
            written = set(ids[: outcome.labels_written]) if outcome.outcome == "uncertain" else set()
            unsent = [job_id for job_id in ids if job_id not in written]
            retry_at = self._back_off(session, printer, now, outcome)
            if unsent:
                session.execute(
                    update(PrintJob).where(*mine, PrintJob.id.in_(unsent)).values(
                        state="queued", attempt_id=None, error_code=_error_code(outcome),
                        last_error=outcome.error[:500], next_attempt_at=retry_at, updated_at=now,
                    ).execution_options(synchronize_session=False)
                )
            if written:
                jobs = session.exec(select(PrintJob).where(*mine, PrintJob.id.in_(written))
                                    .order_by(PrintJob.sequence)).all()
                self._uncertain(session, printer, jobs, now, outcome.error)
            session.commit()
            return "wait"

    # state changes inside a transaction

    def _set_health(self, printer: Printer, now: datetime, status: str, detail: str) -> None:
        printer.status, printer.status_detail, printer.status_at = status, detail[:300], now

    def _back_off(self, session: Session, printer: Printer, now: datetime, outcome: Delivery) -> datetime:
        printer.failures += 1
        delay = min(self.settings.print_retry_max_seconds,
                    self.settings.print_retry_initial_seconds * 2 ** min(printer.failures - 1, 30))
        printer.retry_at = now + timedelta(seconds=delay)
        if _printer_reported(outcome):
            self._set_health(printer, now, "not_ready", ", ".join(outcome.reasons))
            self._raise_fault(session, printer, f"printer {printer.code} cannot print: {', '.join(outcome.reasons)}",
                              {"condition": list(outcome.reasons)})
        else:
            error = _reported(outcome)
            self._set_health(printer, now, "offline", error)
            if printer.failures >= FAULT_AFTER_FAILURES:
                self._raise_fault(session, printer, f"printer {printer.code} unreachable: {error}",
                                  {"condition": ["offline"], "error": error[:300]})
        session.add(printer)
        return printer.retry_at

    def _raise_fault(self, session: Session, printer: Printer, message: str, details: dict) -> None:
        """At most one open printer_fault exception per printer for its condition."""
        if printer.fault_exception_id is not None:
            current = session.get(WarehouseException, printer.fault_exception_id)
            if current is not None and current.state == "open":
                return
        exc = WarehouseException(site_id=printer.site_id, kind="printer_fault", message=message[:500],
                                 details={"printer": printer.code, "printer_id": printer.id, **details})
        payloads.exception_raised(session, exc)
        printer.fault_exception_id = exc.id
        audit.record(session, user_id=None, site_id=printer.site_id, action="exception.raise",
                     entity="warehouse_exception", entity_id=exc.id, after={"kind": "printer_fault",
                                                                            "printer": printer.code})
        log.warning("print spool %s: printer %s: %s", self.owner, printer.code, message)

    def _uncertain(self, session: Session, printer: Printer, jobs: Sequence[PrintJob], now: datetime,
                   error: str) -> None:
        """Jobs that may or may not have printed: failed, never resent, and one exception for a supervisor."""
        if not jobs:
            return
        job_ids = [job.id for job in jobs]
        listed = ", ".join(str(job_id) for job_id in job_ids[:20]) + (" …" if len(job_ids) > 20 else "")
        exc = WarehouseException(
            site_id=printer.site_id, kind="printer_fault",
            message=(f"printer {printer.code}: {len(jobs)} label(s) may not have printed (jobs {listed}); "
                     "check the printer and reprint what is missing")[:500],
            details={"printer": printer.code, "printer_id": printer.id, "reason": "uncertain_delivery",
                     "job_ids": job_ids, "error": error[:300]},
        )
        payloads.exception_raised(session, exc)
        session.execute(
            update(PrintJob).where(PrintJob.id.in_(job_ids), PrintJob.state == "sending").values(
                state="failed", error_code="uncertain_delivery", last_error=error[:500], attempt_id=None,
                exception_id=exc.id, next_attempt_at=None, updated_at=now,
            ).execution_options(synchronize_session=False)
        )
        audit.record(session, user_id=None, site_id=printer.site_id, action="print_job.uncertain_delivery",
                     entity="print_job", entity_id=job_ids[0],
                     after={"job_ids": job_ids, "exception_id": exc.id, "printer": printer.code})
        log.warning("print spool %s: printer %s: jobs %s uncertain: %s", self.owner, printer.code, listed, error)


def _printer_reported(outcome: Delivery) -> bool:
    """The printer answered ~HS and named conditions that stop it (not silence or gibberish from whatever listens)."""
    return outcome.outcome == "not_ready" and bool(outcome.reasons) and not _NOT_REPORTED.intersection(outcome.reasons)


def _error_code(outcome: Delivery) -> str:
    if outcome.outcome == "not_ready":
        return "printer_not_ready" if _printer_reported(outcome) else "printer_offline"
    return "printer_offline"


def _reported(outcome: Delivery) -> str:
    """What callers may read about an attempt that wrote nothing: the printer's own conditions, or NO_ANSWER."""
    if _printer_reported(outcome):
        return outcome.error
    return NO_ANSWER


@asynccontextmanager
async def print_spool(runtime: Runtime) -> AsyncIterator[None]:
    """Component: the app's spool worker (unless WES_PRINT_SPOOL_ENABLED=false); `runtime.print_spool`."""
    if not runtime.settings.print_spool_enabled:
        yield
        return
    spool = PrintSpool(runtime)
    await spool.start()
    runtime.print_spool = spool
    try:
        yield
    finally:
        runtime.print_spool = None
        await spool.stop()
