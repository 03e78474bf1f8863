"""What a device and a person see of a task: its view (the payload of task.* events and command results), the
tasks a worker holds, and where a task stands in plain words.

A view is a TaskView; its as_message() is the dict devices receive. It is made from an ORM Task (task_view)
or from the columns of _VIEW (task_views, view_of: the raw-SQL hot path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from backend.models import Container, Location, Product, Task, User
from backend.sql import Raw, in_params
from backend.tasks.states import HELD_STATES, STATE_WORDS

# The code of the tote bound to a pick's tote slot on its cart (backend.tasks.tote_slots), if any yet.
_SLOT_TOTE = ("(SELECT MIN(c.code) FROM tour_tote AS tt JOIN container AS c ON c.id = tt.container_id "
              "WHERE tt.tour_id = {task}.tour_id AND tt.tote_no = {task}.tote_no)")
# The replenishment a pick waits for, while it is not done.
_WAITS_FOR = ("(SELECT dependency.id FROM task AS dependency WHERE dependency.id = {task}.depends_on_task_id "
              "AND dependency.state <> 'done')")
# The names come from scalar subqueries, not joins: a tour's ~50 tasks would otherwise be planned
# (PostgreSQL) as hash joins over every product and location, ~5 ms instead of 50 index lookups.
_VIEW = (
    "SELECT t.id, t.kind, t.state, t.priority, t.version, t.assigned_to, "
    "(SELECT sku FROM product WHERE id = t.product_id), t.quantity, t.lot, t.expiry, "
    "(SELECT code FROM location WHERE id = t.from_location_id), (SELECT code FROM location WHERE id = t.to_location_id), "
    "(SELECT check_digits FROM location WHERE id = t.to_location_id), (SELECT code FROM container WHERE id = t.container_id), "
    "t.zone_id, t.wave_id, t.tour_id, t.sequence, t.tote_no, t.reference, "
    f"{_SLOT_TOTE.format(task='t')}, {_WAITS_FOR.format(task='t')} "
    "FROM task AS t WHERE t.id IN {ids}")


class _Names(NamedTuple):
    """The identities a view shows by name instead of id."""

    sku: str | None
    from_location: str | None
    to_location: str | None
    to_check_digits: str | None
    lpn: str | None


class TaskView(NamedTuple):
    """What a device shows of a task. The fields are in the order of the message's keys (as_message)."""

    id: int
    kind: str
    state: str
    priority: int
    version: int
    assigned_to: int | None
    sku: str | None
    quantity: int | None
    lot: str | None
    expiry: str | None  # ISO date
    from_location: str | None
    to_location: str | None
    to_check_digits: str | None
    lpn: str | None
    zone_id: int | None
    wave_id: int | None
    tour_id: int | None
    sequence: int | None
    tote_no: int | None
    tote: str | None  # the tote to pick into (backend.tasks.tote_slots)
    waits_for_task: int | None  # the replenishment this task waits for, while it is not done
    reference: str

    @classmethod
    def of_task(cls, session: Session, task: Task) -> TaskView:
        """The view of an ORM task, as it stands in this session (changes not flushed yet included)."""
        names = _names(session, task)
        return cls(
            id=task.id, kind=task.kind, state=task.state, priority=task.priority, version=task.version,
            assigned_to=task.assigned_to, sku=names.sku, quantity=task.quantity, lot=task.lot or None,
            expiry=task.expiry.isoformat() if task.expiry else None, from_location=names.from_location,
            to_location=names.to_location, to_check_digits=names.to_check_digits, lpn=names.lpn,
            zone_id=task.zone_id, wave_id=task.wave_id, tour_id=task.tour_id, sequence=task.sequence,
            tote_no=task.tote_no, tote=_slot_tote(session, task), waits_for_task=_waits_for(session, task),
            reference=task.reference)

    @classmethod
    def of_row(cls, db: Raw, row: Sequence) -> TaskView:
        """The view from the columns of _VIEW, in that order (as the database hands them back)."""
        (id_, kind, state, priority, version, assigned_to, sku, quantity, lot, expiry, source, target, digits, lpn,
         zone_id, wave_id, tour_id, sequence, tote_no, reference, tote, waits_for) = row
        return cls(
            id=id_, kind=kind, state=state, priority=priority, version=version, assigned_to=assigned_to, sku=sku,
            quantity=quantity, lot=lot or None, expiry=db.date_text(expiry) or None, from_location=source,
            to_location=target, to_check_digits=digits, lpn=lpn, zone_id=zone_id, wave_id=wave_id, tour_id=tour_id,
            sequence=sequence, tote_no=tote_no, tote=tote, waits_for_task=waits_for, reference=reference)

    def as_message(self) -> dict:
        """The view as devices receive it (task.* events, command results)."""
        return self._asdict()


def task_view(session: Session, task: Task) -> dict:
    """What a device shows of a task (the payload of task.* events and command results)."""
    return TaskView.of_task(session, task).as_message()


def view_of(db: Raw, row: Sequence) -> dict:
    """A task view from the columns of _VIEW, in that order."""
    return TaskView.of_row(db, row).as_message()


def task_views(session: Session, task_ids: Sequence[int]) -> list[dict]:
    """The views of several tasks in one query, in the order given (the same dicts as task_view)."""
    if not task_ids:
        return []
    db = Raw.of(session)
    placeholders, params = in_params("t", task_ids)
    views = {row[0]: view_of(db, row) for row in db.all(_VIEW.format(ids=placeholders), **params)}
    return [views[i] for i in task_ids if i in views]


def _waits_for(session: Session, task: Task) -> int | None:
    """The replenishment this task waits for, while it is not done."""
    if task.depends_on_task_id is None:
        return None
    return Raw.of(session).scalar(f"SELECT {_WAITS_FOR.format(task='task')} FROM task WHERE id = :id", id=task.id)


def _slot_tote(session: Session, task: Task) -> str | None:
    """The tote to pick into: the one bound to the pick's slot (after the pick, the task's own container)."""
    if task.kind != "pick" or task.tour_id is None:
        return None
    if task.state == "done":
        return _names(session, task).lpn
    return Raw.of(session).scalar(f"SELECT {_SLOT_TOTE.format(task='task')} FROM task WHERE id = :id", id=task.id)


_NAMES = "wes_task_names"
NAMES_CACHE = "wes_task_names_shared"
# Built once: aliased() copies every column, which costs more than the query it serves.
_SOURCE = aliased(Location, name="source_location")
_TARGET = aliased(Location, name="target_location")
_NO_NAMES = _Names(None, None, None, None, None)


def _names(session: Session, task: Task) -> _Names:
    """SKU, location codes, check digits and LPN of a task in one query, remembered for the transaction."""
    key = (task.product_id, task.from_location_id, task.to_location_id, task.container_id)
    # SKUs, location codes and LPN codes are identities that never change for their ids: the app's
    # sessions share one bounded cache (installed by the realtime component); others get their own.
    cache = session.info.get(NAMES_CACHE)
    if cache is None:
        cache = session.info.setdefault(_NAMES, {})
    if key not in cache:
        source, target = _SOURCE, _TARGET
        row = session.execute(
            select(Product.sku, source.code, target.code, target.check_digits, Container.code)
            .select_from(Task).outerjoin(Product, Product.id == Task.product_id)
            .outerjoin(source, source.id == Task.from_location_id).outerjoin(target, target.id == Task.to_location_id)
            .outerjoin(Container, Container.id == Task.container_id).where(Task.id == task.id)
        ).first() if task.id is not None else None
        if len(cache) > 4096:
            cache.clear()
        cache[key] = _Names._make(row) if row is not None else _NO_NAMES
    return cache[key]


def held_tasks(session: Session, user_id: int) -> list[Task]:
    return list(session.exec(
        select(Task).where(Task.assigned_to == user_id, Task.state.in_(HELD_STATES)).order_by(Task.priority, Task.id)
    ).all())


# (The site is filtered here, not in SQL: SQLite would pick the site's state index over the worker's.)
_HELD = ("SELECT id, site_id FROM task WHERE assigned_to = :user_id AND state IN ('assigned', 'in_progress') "
         "ORDER BY priority, id")


def held_task_ids(session: Session, user_id: int, site_id: int) -> list[int]:
    """The tasks a worker holds at a site, most urgent first."""
    return [id_ for id_, site in Raw.of(session).all(_HELD, user_id=user_id) if site == site_id]


def username_of(session: Session, user_id: int | None) -> str | None:
    """The username of this user (None: nobody)."""
    user = session.get(User, user_id) if user_id is not None else None
    return user.username if user is not None else None


def describe(session: Session, task: Task) -> str:
    """Where a task stands, in a few plain words: "held by picker2", "waiting in the pool", "done"."""
    holder = username_of(session, task.assigned_to) if task.state in HELD_STATES else None
    if holder is not None:
        return f"{'being worked on by' if task.state == 'in_progress' else 'held by'} {holder}"
    return "done" if task.state == "done" else STATE_WORDS.get(task.state, task.state)
