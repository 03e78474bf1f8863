"""The outbox: business events written in the transaction of the change they report, numbered at its COMMIT.

    outbox.record(session, site_id, "order.shipped", payload)   # with the change, before the commit

Every event is recorded whether or not anyone subscribed: the pull feed (`GET /api/v1/events`) serves
them all, and webhook subscriptions (backend.webhooks.delivery) are cursors over the same rows.

Numbering
---------
An event row is inserted without its public `id`. Just before its transaction commits, the session's
`before_commit` hook (`watch`, installed on every session factory by backend.db) gives the
transaction's events consecutive ids from the `integration_event` counter row, which then stays locked
until the COMMIT. So ids follow commit order: once a reader sees id N, every event with a smaller id
has committed (or never will: a rolled-back transaction leaves no row and consumed no id). The
counter is the transaction's last lock, taken when the COMMIT is already on its way (on PostgreSQL
the statement goes in the same pipeline as the COMMIT: no round trip of its own), so the time other
writers of events wait on it is the COMMIT alone, and no deadlock can involve it.

The numbering statement numbers every event row it can see without an id: besides the
transaction's own, those committed without one. The device commands' transactions (PostgreSQL) leave
theirs so on purpose: a confirmed pick writes order.picked in its own statement, and taking the counter
row at its COMMIT would make every pick that finishes an order wait for the one before it to commit
(its WAL flush included). They say so with
`written_unnumbered`; the webhook sender, woken by that commit (and polling for other replicas'),
and the pull feed, before it reads, number such rows (`number_waiting`) in a transaction of their own,
under the same counter lock: a row is seen only once numbered, and numbered after every row already
seen, so ids still follow the order in which events become visible.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from backend.models import IntegrationEvent, utcnow

EVENT_TYPES = (
    "receipt.completed", "putaway.completed", "order.allocated", "wave.released", "order.picked", "order.packed",
    "order.shipped", "inventory.adjusted", "count.posted", "exception.raised", "exception.resolved",
)
COUNTER = "integration_event"
WRITTEN = "wes_events_written"  # on session.info: this transaction recorded events: number them at the COMMIT
NUMBERED = "wes_events_numbered"  # … and they were numbered: the delivery component wakes after the COMMIT
UNNUMBERED = "wes_events_unnumbered"  # this transaction may have recorded events left for number_waiting

# PostgreSQL: the unnumbered rows get the counter's next ids, in insertion order, in one statement. (A row
# numbered meanwhile by another transaction, an orphan both saw, is left alone: `e.id IS NULL` is re-checked
# after waiting for its lock.)
_NUMBER = (
    "WITH mine AS (SELECT pk, row_number() OVER (ORDER BY pk) AS n FROM integration_event WHERE id IS NULL), "
    "k AS (SELECT count(*) AS k FROM mine), "
    f"ids AS (INSERT INTO counter (name, next_value) SELECT '{COUNTER}', 1 + k.k FROM k WHERE k.k > 0 "
    "ON CONFLICT (name) DO UPDATE SET next_value = counter.next_value + excluded.next_value - 1 "
    "RETURNING next_value) "
    "UPDATE integration_event AS e SET id = ids.next_value - k.k - 1 + mine.n FROM mine, k, ids "
    "WHERE e.pk = mine.pk AND e.id IS NULL")


def record(session: Session, site_id: int, type_: str, payload: dict[str, Any],
           occurred_at: datetime | None = None) -> None:
    """Append one event to the outbox, in the session's transaction (numbered when it commits)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    session.add(IntegrationEvent(site_id=site_id, type=type_, payload=payload, occurred_at=occurred_at or utcnow()))
    session.info[WRITTEN] = True


def record_many(session: Session, events: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Many events (site id, type, payload) in one INSERT: an allocation run of thousands of orders."""
    if not events:
        return
    now = utcnow()
    for _, type_, _ in events:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
    session.execute(insert(IntegrationEvent.__table__),
                    [{"site_id": site_id, "type": type_, "payload": payload, "occurred_at": now}
                     for site_id, type_, payload in events])
    session.info[WRITTEN] = True


def written_unnumbered(session: Session) -> None:
    """A raw statement of this transaction may have inserted events, left without ids (see the module's doc):
    the sender is woken after the COMMIT to number and send them."""
    session.info[UNNUMBERED] = True


def number_waiting(session: Session) -> None:
    """Number committed events still without an id, in a transaction of its own (nothing to do: one read)."""
    waiting = session.execute(text("SELECT pk FROM integration_event WHERE id IS NULL LIMIT 1")).first()
    if waiting is None:
        session.rollback()
        return
    number_events(session)
    session.commit()


def number_events(session: Session) -> None:
    """Give the event rows without an id (this transaction's, and any stranded ones) the next ids.

    PostgreSQL: sent ahead through the transaction's raw pipeline (backend.sql), so it travels
    with the COMMIT. SQLite has one writer at a time: the ids are simply taken in order.
    """
    if session.get_bind().dialect.name == "postgresql":
        from backend.sql import Raw

        Raw.of(session).send_write(_NUMBER)
        return
    from backend.containers import next_values

    pks = session.execute(text("SELECT pk FROM integration_event WHERE id IS NULL ORDER BY pk")).scalars().all()
    if pks:
        ids = next_values(session, COUNTER, len(pks))
        session.execute(text("UPDATE integration_event SET id = :id WHERE pk = :pk"),
                        [{"id": id_, "pk": pk} for id_, pk in zip(ids, pks)])


def _before_commit(session: Session) -> None:
    # (SQLAlchemy calls this for a SAVEPOINT's release too: the numbering waits for the real COMMIT, so the
    # counter stays the transaction's last lock even in a batch of device commands, a SAVEPOINT each.)
    if session.in_nested_transaction() or not session.info.pop(WRITTEN, False):
        return
    for _ in range(10):  # (objects added by flush hooks are flushed by the next round)
        if not (session.new or session.dirty or session.deleted):
            break
        session.flush()
    number_events(session)
    session.info[NUMBERED] = True


def watch(sessions: sessionmaker) -> None:
    """Number events at every COMMIT of this factory's sessions (backend.db.make_session_factory)."""
    if not event.contains(sessions, "before_commit", _before_commit):
        event.listen(sessions, "before_commit", _before_commit)
