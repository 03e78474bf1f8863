"""The webhook sender: a site's events → each subscription's URL, signed, in order, at least once.

How it runs
-----------
Each app runs one `WebhookSender` (the `webhooks` component). An asyncio task finds subscriptions with
events to deliver and hands each to a worker thread (HTTP and the database driver block); different
subscriptions proceed in parallel, one subscription's events strictly one after another. The sender
wakes as soon as a transaction that recorded events commits (session event), and polls every
`webhook_poll_seconds` for events committed by other replicas.

Claiming (several replicas)
---------------------------
A worker posts to a subscription only while it holds the subscription's lease
(`lease_owner/lease_until`), taken with one conditional UPDATE ("free, expired, or mine"), as the
print spool does for printers; it is renewed with every event recorded and must outlast one POST
(`webhook_lease_seconds` > `webhook_timeout_seconds`). SQLite is one process with one sender: no leases
there (what a subscription needs to be posted is read without the writer lock, which only the record takes).

Order and "at least once"
-------------------------
A subscription is a cursor: `delivered_through` is the id of the last event it has delivered (event
ids follow commit order: backend.webhooks.outbox). The lease holder posts the next event of the site
after the cursor whose type the subscription wants, then the next, one at a time; only a 2xx answer moves
the cursor past an event, in the transaction that logs it (answers are recorded RECORD_EVERY at a time, or
every RECORD_SECONDS, and at once after a failure). Any other answer, a timeout or a refused connection leaves the
cursor where it is: the same event is tried again after `webhook_retry_initial_seconds` doubling up to
`webhook_retry_max_seconds`, for as long as it takes, and no later event goes before it. A worker that
dies (or loses its lease) after the receiver took events but before the cursor moved leaves them to be
posted again by the next holder: with the same `X-WES-Event-Id`, which is what receivers de-duplicate on.

Manual redelivery (`POST /api/v1/webhooks/…/redeliver`) queues a `webhook_delivery` row: the lease
holder posts queued ones before its next events in order; they do not move the cursor.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import httpx
from sqlalchemy import exists, func, insert, or_, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from backend.db import make_read_engine
from backend.leased_work import LeasedWork
from backend.models import IntegrationEvent, Site, WebhookDelivery, WebhookSubscription, utcnow
from backend.runtime import Runtime
from backend.webhooks import outbox
from backend.webhooks.signing import SIGNATURE_HEADER, signature_header

log = logging.getLogger("wes.webhooks")

WAKE = "wes_webhooks_wake"  # on session.info: a subscription changed or a redelivery was queued
EVENTS_PER_READ = 100
# Delivered events are recorded (cursor, log) this many at a time, or after this long: a worker that dies
# between two records posts at most that many again.
RECORD_EVERY = 20
RECORD_SECONDS = 0.5
USER_AGENT = "wes-webhooks/1"
Step = Literal["again", "idle", "wait", "lost", "released"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event on its way: the body is the same bytes at every try (only the signature's timestamp changes)."""

    event_id: int
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    delivered: bool
    http_status: int | None
    error: str
    duration_ms: float


def event_body(event_id: int, type_: str, site_code: str, occurred_at: datetime, payload: dict) -> bytes:
    """The JSON every receiver gets (and the pull feed's item): id, type, site, occurred_at, data."""
    return json.dumps({"id": event_id, "type": type_, "site": site_code, "occurred_at": occurred_at.isoformat(),
                       "data": payload}, separators=(",", ":"), ensure_ascii=False).encode()


def secrets_in_force(sub: WebhookSubscription, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [sub.secret]
    if sub.previous_secret and sub.previous_secret_until is not None and sub.previous_secret_until > now:
        found.append(sub.previous_secret)
    return found


def post(client: httpx.Client, url: str, outgoing: Outgoing, signing: list[str]) -> Answer:
    """POST one event; `delivered` only on a 2xx answer."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-WES-Event-Id": str(outgoing.event_id), "X-WES-Event-Type": outgoing.event_type,
               SIGNATURE_HEADER: signature_header(signing, int(time.time()), outgoing.body)}
    started = time.perf_counter()
    try:
        response = client.post(url, content=outgoing.body, headers=headers)
    except httpx.HTTPError as exc:
        return Answer(False, None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__,
                      (time.perf_counter() - started) * 1000)
    took = (time.perf_counter() - started) * 1000
    if 200 <= response.status_code < 300:
        return Answer(True, response.status_code, "", took)
    return Answer(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}", took)


class WebhookSender(LeasedWork):
    """Start with `await start()`, stop with `await stop()`; `wake()` may be called from any thread
    (backend.leased_work: the scheduling and leases it shares with the print spool)."""

    name = "webhooks"
    lease_model = WebhookSubscription

    def __init__(self, runtime: Runtime, *, owner: str | None = None, max_subscriptions: int = 8) -> None:
        if runtime.settings.webhook_lease_seconds <= runtime.settings.webhook_timeout_seconds:
            raise ValueError("WES_WEBHOOK_LEASE_SECONDS must be longer than WES_WEBHOOK_TIMEOUT_SECONDS")
        super().__init__(runtime, owner=owner, max_rows=max_subscriptions, log=log)
        # SQLite is one process, one sender: no leases (nothing to share), and posting needs only reads first,
        # so a wake waits for the writer lock once (to record), not behind every receipt twice.
        self.leases = self.dialect != "sqlite"
        # Looking for work is a read: on SQLite not through the app's sessions, whose BEGIN takes the writer lock.
        self._read_engine = make_read_engine(self.settings.database_url, pool_size=1) \
            if self.dialect == "sqlite" else None
        self._reads = (sessionmaker(bind=self._read_engine, class_=Session, expire_on_commit=False, autoflush=False)
                       if self._read_engine is not None else self.sessions)
        self._subscribed = True  # any active subscription at all (else commits need not wake the sender)

    def lease_seconds(self) -> float:
        return self.settings.webhook_lease_seconds

    def poll_seconds(self) -> float:
        return self.settings.webhook_poll_seconds

    def due(self) -> tuple[list[int], datetime | None]:
        return self.due_subscriptions()

    def stopped(self) -> None:
        if self._read_engine is not None:
            self._read_engine.dispose()

    def after_commit(self, session: Session) -> None:
        numbered = session.info.pop(outbox.NUMBERED, False)
        unnumbered = session.info.pop(outbox.UNNUMBERED, False)
        if session.info.pop(WAKE, False) or ((numbered or unnumbered) and self._subscribed):
            self.wake()

    # scheduling (worker threads)

    def due_subscriptions(self) -> tuple[list[int], datetime | None]:
        """Subscriptions with something to post that this worker could take now, and the earliest retry time."""
        now = utcnow()
        sub = WebhookSubscription
        has_events = exists().where(IntegrationEvent.site_id == sub.site_id,
                                    IntegrationEvent.id > sub.delivered_through)
        has_manual = exists().where(WebhookDelivery.subscription_id == sub.id,
                                    WebhookDelivery.state.in_(("queued", "sending")))
        with self._reads() as session:
            stranded = session.exec(select(IntegrationEvent.pk).where(IntegrationEvent.id.is_(None)).limit(1)).first()
            session.rollback()
        if stranded is not None:  # (a device command's, or one committing now: backend.webhooks.outbox)
            with self.sessions() as session:
                outbox.number_waiting(session)
        with self._reads() as session:
            self._subscribed = session.exec(select(func.count()).select_from(sub).where(sub.active)).one() > 0
            if not self._subscribed:
                session.rollback()
                return [], None
            due = session.exec(
                select(sub.id).where(sub.active, or_(has_events, has_manual), self.lease_free(now),
                                     or_(sub.retry_at.is_(None), sub.retry_at <= now, has_manual))
                .order_by(sub.id)
            ).all()
            next_retry = session.exec(select(func.min(sub.retry_at)).where(sub.active, sub.retry_at > now)).one()
            session.rollback()
        return list(due), next_retry

    def drain(self, sub_id: int) -> None:
        """Post the subscription's queued redeliveries and next events while this worker holds its lease.

        The lease is taken in the first step's transaction and given back with the last record (a short
        batch, a failure, nothing to do), so one wake costs two transactions: read, and record.
        """
        held = False
        try:
            with httpx.Client(timeout=self.settings.webhook_timeout_seconds, follow_redirects=False) as client:
                while not self._stopping.is_set():
                    result = self.step(sub_id, client, claim=not held)
                    held = result not in ("released", "lost")
                    if result != "again":
                        break
        finally:
            if held:
                self._release(sub_id)

    def _release(self, sub_id: int) -> None:
        if not self.leases:
            return
        with self.sessions() as session:
            session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == sub_id, WebhookSubscription.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False)
            )
            session.commit()

    # one event

    def step(self, sub_id: int, client: httpx.Client, *, claim: bool = False) -> Step:
        """Post one thing (a queued redelivery, else the next events in order) and record what happened;
        `claim`: take the lease first (in the same transaction)."""
        now = utcnow()
        with (self.sessions if self.leases else self._reads)() as session:
            if claim and self.leases and not self._take_lease(session, sub_id, now):
                session.rollback()
                return "lost"
            sub = session.get(WebhookSubscription, sub_id)
            if sub is None or (self.leases and sub.lease_owner != self.owner):
                session.rollback()
                return "lost"
            if not sub.active:
                return self._give_back(session, sub_id)
            site_code = session.exec(select(Site.code).where(Site.id == sub.site_id)).one()
            manual = session.exec(
                select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id,
                                              WebhookDelivery.state.in_(("queued", "sending")))
                .order_by(WebhookDelivery.id).limit(1)).first()
            if manual is not None:
                found = session.exec(select(IntegrationEvent).where(IntegrationEvent.id == manual.event_id)).one()
                outgoing = [Outgoing(found.id, found.type, event_body(found.id, found.type, site_code,
                                                                       found.occurred_at, found.payload))]
                manual_id: int | None = manual.id
                if self.leases:
                    manual.state = "sending"
                    session.add(manual)
                full = True
            else:
                if sub.retry_at is not None and sub.retry_at > now:
                    return self._give_back(session, sub_id)
                manual_id = None
                rows = session.exec(
                    select(IntegrationEvent).where(IntegrationEvent.site_id == sub.site_id,
                                                   IntegrationEvent.id > sub.delivered_through)
                    .order_by(IntegrationEvent.id).limit(EVENTS_PER_READ)).all()
                full = len(rows) == EVENTS_PER_READ
                wanted = set(sub.event_types)
                outgoing, skipped_through = [], None
                for row in rows:
                    if row.type not in wanted:
                        if not outgoing:
                            skipped_through = row.id  # (events it does not want before the next it does)
                        continue
                    outgoing.append(Outgoing(row.id, row.type, event_body(row.id, row.type, site_code,
                                                                          row.occurred_at, row.payload)))
                if skipped_through is not None:
                    if self.leases:
                        self._advance(session, sub_id, skipped_through)
                    else:
                        with self.sessions() as writer:
                            self._advance(writer, sub_id, skipped_through)
                            writer.commit()
                if not outgoing:
                    if full:
                        session.commit()
                        return "again"
                    return self._give_back(session, sub_id)
            url, signing, failures = sub.url, secrets_in_force(sub, now), sub.failures
            session.commit()
        if manual_id is not None:
            answer = post(client, url, outgoing[0], signing)
            self._record_manual(sub_id, manual_id, answer)
            return "again"
        # Posted one after another; the answers are recorded (cursor, log, lease) every RECORD_EVERY events or
        # RECORD_SECONDS, at a failure and at the end. Posted but not recorded when the worker dies: posted again.
        answered: list[tuple[Outgoing, Answer]] = []
        recorded_at = time.monotonic()
        for index, outgoing_event in enumerate(outgoing):
            if self._stopping.is_set():
                break
            answer = post(client, url, outgoing_event, signing)
            answered.append((outgoing_event, answer))
            last = index == len(outgoing) - 1
            if not answer.delivered or last or len(answered) >= RECORD_EVERY \
                    or time.monotonic() - recorded_at >= RECORD_SECONDS:
                # The lease goes back with the record that ends this drain (a failure, or the end of a short batch).
                release = not answer.delivered or (last and not full)
                result = self._record(sub_id, answered, failures, release=release)
                answered, failures, recorded_at = [], 0, time.monotonic()
                if result != "again":
                    return result
        if answered:
            result = self._record(sub_id, answered, failures)
            if result != "again":
                return result
        return "idle" if self._stopping.is_set() else "again"

    def _take_lease(self, session: Session, sub_id: int, now: datetime) -> bool:
        return session.execute(
            update(WebhookSubscription).where(WebhookSubscription.id == sub_id, self.lease_free(now))
            .values(lease_owner=self.owner, lease_until=now + self.lease())
            .execution_options(synchronize_session=False)
        ).rowcount == 1

    def _give_back(self, session: Session, sub_id: int) -> Step:
        """Nothing to post now: the lease goes back in this transaction."""
        if not self.leases:
            session.rollback()
            return "released"
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == sub_id, WebhookSubscription.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
        session.commit()
        return "released"

    def _mine(self, sub_id: int) -> tuple:
        """The subscription, while this worker holds its lease."""
        sub = WebhookSubscription
        return (sub.id == sub_id, sub.lease_owner == self.owner) if self.leases else (sub.id == sub_id,)

    def _advance(self, session: Session, sub_id: int, through: int) -> None:
        session.execute(
            update(WebhookSubscription).where(*self._mine(sub_id), WebhookSubscription.delivered_through < through)
            .values(delivered_through=through).execution_options(synchronize_session=False))

    def _record(self, sub_id: int, answered: list[tuple[Outgoing, Answer]], failures: int, *,
                release: bool = False) -> Step:
        """Log the tries (all delivered, but perhaps the last); the cursor moves past the last delivered one, a
        failure backs off. Only while this worker holds the lease (else nothing is recorded: "lost"), which is
        renewed, or given back (`release`: then "released" or "wait")."""
        now = utcnow()
        sub = WebhookSubscription
        mine = self._mine(sub_id)
        delivered = [outgoing for outgoing, answer in answered if answer.delivered]
        failed = answered[-1] if not answered[-1][1].delivered else None
        values: dict = {"updated_at": now}
        if self.leases:
            values.update({"lease_owner": None, "lease_until": None} if release else {"lease_until": now + self.lease()})
        if delivered:
            values.update(delivered_through=delivered[-1].event_id, failures=0, retry_at=None, last_error="")
        if failed is not None:
            tries = 0 if delivered else failures  # (failed tries of this event before)
            delay = min(self.settings.webhook_retry_max_seconds,
                        self.settings.webhook_retry_initial_seconds * 2 ** min(tries, 30))
            values.update(failures=tries + 1, retry_at=now + timedelta(seconds=delay),
                          last_error=failed[1].error[:500])
        with self.sessions() as session:
            changed = session.execute(update(sub).where(*mine).values(**values)
                                      .execution_options(synchronize_session=False)).rowcount
            if not changed:
                session.rollback()
                log.warning("webhook sender %s: lost the lease on subscription %s", self.owner, sub_id)
                return "lost"
            session.execute(insert(WebhookDelivery.__table__), [{
                "subscription_id": sub_id, "event_id": outgoing.event_id, "event_type": outgoing.event_type,
                "state": "delivered" if answer.delivered else "failed", "manual": False,
                "attempt": failures + 1 if index == 0 else 1, "http_status": answer.http_status,
                "error": answer.error[:500], "duration_ms": round(answer.duration_ms, 2), "requested_by": None,
                "created_at": now, "finished_at": now,
            } for index, (outgoing, answer) in enumerate(answered)])
            session.commit()
        if failed is not None:
            log.info("webhook sender %s: subscription %s: event %s not delivered (%s)", self.owner, sub_id,
                     failed[0].event_id, failed[1].error)
        return "released" if release else "wait" if failed is not None else "again"

    def _record_manual(self, sub_id: int, delivery_id: int, answer: Answer) -> None:
        now = utcnow()
        with self.sessions() as session:
            session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
                    state="delivered" if answer.delivered else "failed", http_status=answer.http_status,
                    error=answer.error[:500], duration_ms=round(answer.duration_ms, 2), finished_at=now,
                ).execution_options(synchronize_session=False))
            if self.leases:
                session.execute(update(WebhookSubscription).where(*self._mine(sub_id))
                                .values(lease_until=now + self.lease()).execution_options(synchronize_session=False))
            session.commit()


@asynccontextmanager
async def webhooks(runtime: Runtime) -> AsyncIterator[None]:
    """Component: the app's webhook sender (unless WES_WEBHOOK_DELIVERY_ENABLED=false);
    `runtime.webhook_sender`. Events are recorded and numbered either way (backend.webhooks.outbox)."""
    if not runtime.settings.webhook_delivery_enabled:
        yield
        return
    sender = WebhookSender(runtime)
    await sender.start()
    runtime.webhook_sender = sender
    try:
        yield
    finally:
        runtime.webhook_sender = None
        await sender.stop()
