"""The task engine: state changes, assignment and claiming, each telling the affected devices.

Every function here works inside the caller's transaction and never
commits: the caller's unit of work commits the change, its audit row and the
device events together (see backend.devices.stream).

Events (in the holder's device stream):
  task.assigned  {"task": view, "reason": "claimed"|"assigned"|"reassigned"|"signed_on"|"reallocated"}
  task.revoked   {"task_id", "version", "reason": "reassigned"|"unassigned"|"suspended"|"cancelled"|
                  "completed_by_other"|"released"|"signed_off"|"signed_on_elsewhere"}
  task.updated   {"task": view}   (state, priority or details changed; still the holder's)

Who may be given what is decided in one place, backend.tasks.eligibility (roles, skills, zones, the
device); which tote a pick goes into when it changes hands, in backend.tasks.tote_slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from backend import audit
from backend.devices.stream import (
    ahead_devices_of_worker, devices_of_workers, emit, emit_to_workers, forget_worker_devices, touch_site,
)
from backend.errors import Conflict, NotFound
from backend.models import Container, Location, Product, Task, WorkerProfile, utcnow
from backend.rawsql import Raw, in_params, note_changed
from backend.tasks import eligibility, tote_slots
from backend.tasks.states import (
    FINAL_STATES, HELD_STATES, STATE_WORDS, WORKABLE_STATES, InvalidTransition, check_transition,
)

TASK_FIELDS = ("state", "assigned_to", "priority", "version")
# session.info key: priority points one metre of walking is worth (Settings.dispatch_priority_per_metre).
DISPATCH_WEIGHT = "wes_dispatch_priority_per_metre"


# --- reading -------------------------------------------------------------------------------------


def load_for_update(session: Session, task_id: int) -> Task | None:
    """The task, locked for this transaction on PostgreSQL (SQLite's writer lock already is one)."""
    return session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()


def task_view(session: Session, task: Task) -> dict:
    """What a device shows of a task (the payload of task.* events and command results)."""
    names = _names(session, task)
    return {
        "id": task.id, "kind": task.kind, "state": task.state, "priority": task.priority, "version": task.version,
        "assigned_to": task.assigned_to, "sku": names[0], "quantity": task.quantity,
        "lot": task.lot or None, "expiry": task.expiry.isoformat() if task.expiry else None,
        "from_location": names[1], "to_location": names[2], "to_check_digits": names[3], "lpn": names[4],
        "zone_id": task.zone_id, "wave_id": task.wave_id, "tour_id": task.tour_id, "sequence": task.sequence,
        "tote_no": task.tote_no, "tote": _slot_tote(session, task), "waits_for_task": _waits_for(session, task),
        "reference": task.reference,
    }


def _waits_for(session: Session, task: Task) -> int | None:
    """The replenishment this task waits for, while it is not done."""
    if task.depends_on_task_id is None:
        return None
    return Raw(session).scalar(f"SELECT {_WAITS_FOR.format(task='task')} FROM task WHERE id = :id", id=task.id)


def _slot_tote(session: Session, task: Task) -> str | None:
    """The tote to pick into: the one bound to the pick's slot (after the pick, the task's own container)."""
    if task.kind != "pick" or task.tour_id is None:
        return None
    if task.state == "done":
        return _names(session, task)[4]
    return Raw(session).scalar(f"SELECT {_SLOT_TOTE.format(task='task')} FROM task WHERE id = :id", id=task.id)


_NAMES = "wes_task_names"
NAMES_CACHE = "wes_task_names_shared"
# Built once: aliased() copies every column, which costs more than the query it serves.
_SOURCE = aliased(Location, name="source_location")
_TARGET = aliased(Location, name="target_location")


def _names(session: Session, task: Task) -> tuple:
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
        cache[key] = tuple(row) if row is not None else (None,) * 5
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
    return [id_ for id_, site in Raw(session).all(_HELD, user_id=user_id) if site == site_id]


# --- changing ------------------------------------------------------------------------------------


def _username(session: Session, user_id: int | None) -> str | None:
    from backend.models import User

    user = session.get(User, user_id) if user_id is not None else None
    return user.username if user is not None else None


def describe(session: Session, task: Task) -> str:
    """Where a task stands, in a few plain words: "held by picker2", "waiting in the pool", "done"."""
    holder = _username(session, task.assigned_to) if task.state in HELD_STATES else None
    if holder is not None:
        return f"{'being worked on by' if task.state == 'in_progress' else 'held by'} {holder}"
    return "done" if task.state == "done" else STATE_WORDS.get(task.state, task.state)


def _check_version(session: Session, task: Task, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            f"Task {task.id} was changed meanwhile (now {describe(session, task)}): refresh and try again",
            code="version_conflict",
            details={"task_id": task.id, "version": task.version, "expected_version": expected_version,
                     "state": task.state, "assigned_to": _username(session, task.assigned_to)},
        )


def _change(session: Session, task: Task, *, actor_id: int | None, action: str, state: str | None = None,
            **values) -> dict:  # noqa: ANN003
    """Apply a checked change, bump the version, audit it; returns the before-snapshot."""
    before = {name: getattr(task, name) for name in TASK_FIELDS}
    if state is not None:
        check_transition(task.id, task.state, state)
        task.state = state
        if state == "done":
            task.done_at = utcnow()
    for name, value in values.items():
        setattr(task, name, value)
    task.version += 1
    task.updated_at = utcnow()
    session.add(task)
    audit.record(session, user_id=actor_id, site_id=task.site_id, action=action, entity="task", entity_id=task.id,
                 before=before, after={name: getattr(task, name) for name in TASK_FIELDS})
    touch_site(session, task.site_id)
    return before


def _revoked(session: Session, task: Task, holder: int | None, reason: str) -> None:
    if holder is not None:
        emit_to_workers(session, [holder], "task.revoked", {"task_id": task.id, "version": task.version,
                                                            "reason": reason})


def tell_assigned(session: Session, task: Task, reason: str) -> None:
    """Push the task to its holder's devices (task.assigned with this reason)."""
    emit_to_workers(session, [task.assigned_to], "task.assigned", {"task": task_view(session, task), "reason": reason})


def updated(session: Session, task: Task) -> None:
    """Tell the holder's devices the task changed (state, priority, details)."""
    if task.assigned_to is not None:
        emit_to_workers(session, [task.assigned_to], "task.updated", {"task": task_view(session, task)})
    touch_site(session, task.site_id)


def assign(session: Session, task: Task, user_id: int, *, actor_id: int | None,
           expected_version: int | None = None, reason: str = "assigned") -> Task:
    """Give a pending (or exception) task to a worker."""
    _check_version(session, task, expected_version)
    if task.state not in ("pending", "exception"):
        check_transition(task.id, task.state, "pending")  # done/cancelled say so
        raise Conflict(f"Task {task.id} is {describe(session, task)} already: reassign it instead",
                       code="invalid_transition", details={"task_id": task.id, "state": task.state, "to": "assigned"})
    check_can_do(session, task, user_id)
    tote_slots.keep_totes_with_their_cart(session, task.tour_id, [task.id], user_id, actor_id=actor_id)
    if task.state == "exception":
        _change(session, task, actor_id=actor_id, action="task.reopen", state="pending")
    _change(session, task, actor_id=actor_id, action="task.assign", state="assigned", assigned_to=user_id)
    tell_assigned(session, task, reason)
    return task


def reassign(session: Session, task: Task, user_id: int | None, *, actor_id: int | None,
             expected_version: int | None = None, offer_freed: bool = True) -> Task:
    """Move a held task to another worker, or back to the pool (user_id None)."""
    _check_version(session, task, expected_version)
    previous = task.assigned_to
    if user_id is None:
        _change(session, task, actor_id=actor_id, action="task.unassign", state="pending", assigned_to=None)
        _revoked(session, task, previous, "unassigned")
    else:
        if task.state == "pending" and previous is None:
            return assign(session, task, user_id, actor_id=actor_id)
        if task.state not in HELD_STATES and task.state != "pending":
            check_transition(task.id, task.state, "assigned")
        if previous != user_id:
            check_can_do(session, task, user_id)
            tote_slots.keep_totes_with_their_cart(session, task.tour_id, [task.id], user_id, actor_id=actor_id)
        _change(session, task, actor_id=actor_id, action="task.reassign", state="assigned", assigned_to=user_id)
        if previous != user_id:
            _revoked(session, task, previous, "reassigned")
        tell_assigned(session, task, "reassigned")
    if offer_freed and previous is not None and previous != user_id:
        offer_next(session, previous, task.site_id, position_location_id=None, finished_task_id=task.id)
    return task


def unassign(session: Session, task: Task, *, actor_id: int | None, expected_version: int | None = None) -> Task:
    """Take a task back from its holder into the pool: their devices get task.revoked ("unassigned").

    The freed holder is not pushed new work here: dispatch would hand the same task straight back.
    """
    _check_version(session, task, expected_version)
    if task.assigned_to is None or task.state not in (*HELD_STATES, "pending"):
        raise InvalidTransition(f"Task {task.id} is {describe(session, task)} and held by nobody: there is nothing "
                                "to unassign", details={"task_id": task.id, "state": task.state, "to": "pending"})
    if task.state == "pending":  # kept for a worker (a hand-back's reservation): just free it
        holder = task.assigned_to
        _change(session, task, actor_id=actor_id, action="task.unassign", assigned_to=None)
        _revoked(session, task, holder, "unassigned")
        return task
    return reassign(session, task, None, actor_id=actor_id, offer_freed=False)


def reassign_tour(session: Session, tour, user_id: int | None, *, actor_id: int | None) -> list[Task]:  # noqa: ANN001
    """Every open pick of a tour (pending, assigned or in progress) to one worker, or back to the pool (None).

    One change per pick (audited, versioned) plus one tour.reassign audit row; old holders' devices get
    task.revoked, the new holder's task.assigned for each pick in walking order. The tote slots follow
    backend.tasks.tote_slots: the whole open tour moves, so its cart goes with it. A suspended pick stays
    where it is. Returns the picks that changed hands.
    """
    tasks = list(session.exec(
        select(Task).where(Task.tour_id == tour.id, Task.kind == "pick", Task.state.in_(WORKABLE_STATES))
        .order_by(Task.sequence, Task.id).with_for_update()
    ).all())
    if not tasks:
        raise InvalidTransition(f"Tour {tour.number} has no open picks left: there is nothing to reassign",
                                details={"tour_id": tour.id, "to": "assigned" if user_id else "pending"})
    before = sorted({t.assigned_to for t in tasks if t.assigned_to is not None})
    moved: list[Task] = []
    if user_id is None:
        for task in tasks:
            holder = task.assigned_to
            if holder is None:
                continue
            _change(session, task, actor_id=actor_id, action="task.unassign", assigned_to=None,
                    state="pending" if task.state in HELD_STATES else None)
            _revoked(session, task, holder, "unassigned")
            moved.append(task)
    else:
        checked: set[tuple[str, int | None]] = set()
        for task in tasks:
            if (task.kind, task.zone_id) not in checked:
                check_can_do(session, task, user_id)
                checked.add((task.kind, task.zone_id))
        tote_slots.keep_totes_with_their_cart(session, tour.id, [t.id for t in tasks], user_id, actor_id=actor_id)
        for task in tasks:
            holder = task.assigned_to
            if holder == user_id and task.state in HELD_STATES:
                continue
            _change(session, task, actor_id=actor_id, action="task.reassign", state="assigned", assigned_to=user_id)
            if holder is not None and holder != user_id:
                _revoked(session, task, holder, "reassigned")
            moved.append(task)
        devices = devices_of_workers(session, [user_id])
        for view in task_views(session, [t.id for t in moved]):
            emit(session, devices, "task.assigned", {"task": view, "reason": "reassigned"})
    audit.record(session, user_id=actor_id, site_id=tour.site_id, action="tour.reassign", entity="tour",
                 entity_id=tour.id, before={"holders": before},
                 after={"holder": user_id, "tasks": [t.id for t in moved]})
    touch_site(session, tour.site_id)
    if user_id is not None:
        for freed in before:
            if freed != user_id:
                offer_next(session, freed, tour.site_id, position_location_id=None)
    return moved


def suspend(session: Session, task: Task, *, actor_id: int | None, reason: str = "",
            expected_version: int | None = None) -> Task:
    _check_version(session, task, expected_version)
    previous = task.assigned_to
    _change(session, task, actor_id=actor_id, action="task.suspend", state="suspended", assigned_to=None,
            details={**(task.details or {}), "suspended_reason": reason, "suspended_holder": previous})
    _revoked(session, task, previous, "suspended")
    if previous is not None:
        offer_next(session, previous, task.site_id, position_location_id=None, finished_task_id=task.id)
    return task


def resume(session: Session, task: Task, *, actor_id: int | None, expected_version: int | None = None) -> Task:
    _check_version(session, task, expected_version)
    if task.state not in ("suspended", "exception"):
        raise InvalidTransition(f"Task {task.id} is {describe(session, task)}, not suspended: there is nothing to "
                                "resume",
                                details={"task_id": task.id, "state": task.state, "to": "pending"})
    _change(session, task, actor_id=actor_id, action="task.resume", state="pending")
    return task


def cancel(session: Session, task: Task, *, actor_id: int | None, reason: str = "",
           expected_version: int | None = None) -> Task:
    _check_version(session, task, expected_version)
    previous = task.assigned_to
    _change(session, task, actor_id=actor_id, action="task.cancel", state="cancelled",
            details={**(task.details or {}), "cancelled_reason": reason})
    _revoked(session, task, previous, "cancelled")
    if previous is not None:
        offer_next(session, previous, task.site_id, position_location_id=None, finished_task_id=task.id)
    return task


def reprioritise(session: Session, task: Task, priority: int, *, actor_id: int | None,
                 expected_version: int | None = None) -> Task:
    _check_version(session, task, expected_version)
    if task.state in FINAL_STATES:
        raise Conflict(f"Task {task.id} is {STATE_WORDS[task.state]}: its priority can't change any more",
                       code="invalid_transition",
                       details={"task_id": task.id, "state": task.state, "to": task.state})
    _change(session, task, actor_id=actor_id, action="task.reprioritise", priority=priority)
    updated(session, task)
    return task


def start(session: Session, task: Task, worker_id: int) -> Task:
    """The holder begins the task (assigned → in_progress); starting it again changes nothing."""
    if task.assigned_to != worker_id or task.state not in HELD_STATES:
        raise Conflict(f"task {task.id} is not yours to start", code="task_not_yours",
                       details={"task_id": task.id, "state": task.state})
    if task.state == "assigned":
        _change(session, task, actor_id=worker_id, action="task.start", state="in_progress")
        updated(session, task)
    return task


def release(session: Session, task: Task, worker_id: int) -> Task:
    """The holder hands the task back to the pool."""
    if task.assigned_to != worker_id or task.state not in HELD_STATES:
        raise Conflict(f"task {task.id} is not yours to release", code="task_not_yours",
                       details={"task_id": task.id, "state": task.state})
    _change(session, task, actor_id=worker_id, action="task.release", state="pending", assigned_to=None)
    _revoked(session, task, worker_id, "released")
    return task


def completed(session: Session, view: dict, site_id: int, worker_id: int, *, previous_holder: int | None,
              position_location_id: int | None, position_written: bool = False) -> None:
    """After a domain service marked a task done: tell the holders, move the worker, offer the next task.

    `view` is the finished task's view (task_view, or task_views for raw-SQL callers);
    `position_written`: the service already wrote the worker's new position (SET_POSITION).
    """
    if previous_holder is not None and previous_holder != worker_id:
        emit_to_workers(session, [previous_holder], "task.revoked", {"task_id": view["id"], "version": view["version"],
                                                                      "reason": "completed_by_other"})
    emit_to_workers(session, [worker_id], "task.updated", {"task": view})
    touch_site(session, site_id)
    if view.get("kind") == "replenish":
        _tell_waiting_picks(session, view["id"])
    if position_location_id is not None and not position_written:
        set_position(session, worker_id, site_id, position_location_id)
    offer_next(session, worker_id, site_id, position_location_id=position_location_id, finished_task_id=view["id"],
               same_kind=view.get("kind"))


def _tell_waiting_picks(session: Session, replenishment_id: int) -> None:
    """A replenishment is done: the picks that waited for it can go, and their holders see it at once."""
    session.flush()
    waiting = session.exec(select(Task.id, Task.assigned_to).where(
        Task.depends_on_task_id == replenishment_id, Task.state.in_(HELD_STATES), Task.assigned_to.is_not(None))).all()
    views = {view["id"]: view for view in task_views(session, [task_id for task_id, _ in waiting])}
    for task_id, holder in waiting:
        emit_to_workers(session, [holder], "task.updated", {"task": views[task_id]})


# --- workers and claiming -------------------------------------------------------------------------
# The hot path of every handheld (claim, the next task after each confirm) is written in SQL
# (backend.rawsql): through the ORM, claiming a 20-pick tour took ~100 statements and ~0.1 s.


def worker_profile(session: Session, user_id: int, site_id: int) -> WorkerProfile:
    """The worker's profile at the site (an empty one, any zone and every kind, if none was set)."""
    profile = session.get(WorkerProfile, (user_id, site_id))
    return profile if profile is not None else WorkerProfile(user_id=user_id, site_id=site_id)


SET_POSITION = (  # (also part of a confirmed pick's one statement: backend.execution.picking)
    "INSERT INTO worker_profile (user_id, site_id, zone_ids, skills, equipment, last_location_id, updated_at) "
    "VALUES (:user_id, :site_id, :empty, :empty, :empty, :location_id, :now) "
    "ON CONFLICT (user_id, site_id) DO UPDATE SET last_location_id = excluded.last_location_id, "
    "updated_at = excluded.updated_at")


def set_position(session: Session, user_id: int, site_id: int, location_id: int) -> None:
    """The worker is at this location of the site (their profile there remembers it)."""
    db = Raw(session)
    db.later(SET_POSITION, user_id=user_id, site_id=site_id, empty=db.json([]), location_id=location_id,
             now=db.when(utcnow()))
    db.expire(WorkerProfile, [(user_id, site_id)])


@dataclass(frozen=True)
class Candidate:
    task: Task  # or any row with id, priority, from_location_id, to_location_id and equipment
    distance_m: float
    score: float


def rank_candidates(tasks: Sequence, starts: dict[int, tuple[float, float]], position: tuple[float, float] | None,
                    priority_per_metre: float, equipment: Sequence[str]) -> list[Candidate]:
    """Most urgent first, nearer work preferred: score = priority + metres walked × weight (rectilinear)."""
    ranked = []
    for task in tasks:
        needs = task.equipment if hasattr(task, "equipment") else (task.details or {}).get("equipment")
        if needs and needs not in equipment:
            continue
        start = starts.get(task.from_location_id or task.to_location_id or -1)
        distance = abs(start[0] - position[0]) + abs(start[1] - position[1]) if start and position else 0.0
        ranked.append(Candidate(task, distance, task.priority + priority_per_metre * distance))
    ranked.sort(key=lambda c: (c.score, c.task.priority, c.task.id))
    return ranked


class _Row(NamedTuple):
    id: int
    priority: int
    from_location_id: int | None
    to_location_id: int | None
    equipment: str | None
    assigned_to: int | None
    tour_id: int | None


# Everything dispatch judges a worker by at a site (backend.tasks.eligibility), in one read: roles, whether
# the account is active, their profile at that site, and the kind of device they are signed on at.
_WORKER = (
    "SELECT u.username, u.roles, u.active, p.zone_ids, p.skills, p.equipment, p.last_location_id, "
    "(SELECT d.kind FROM device AS d WHERE d.current_user_id = u.id AND d.revoked_at IS NULL "
    "ORDER BY d.last_seen_at DESC LIMIT 1) "
    "FROM app_user AS u LEFT JOIN worker_profile AS p ON p.user_id = u.id AND p.site_id = :site_id "
    "WHERE u.id = :user_id")


class Worker(NamedTuple):
    """A worker as dispatch sees them."""

    id: int
    username: str
    roles: list[str]
    active: bool
    zone_ids: list[int]
    skills: list[str]
    equipment: list[str]
    last_location_id: int | None
    device_kind: str | None  # the device they are signed on at, if any

    @property
    def kinds(self) -> tuple[str, ...]:
        """The task kinds they may be given now."""
        return eligibility.allowed_kinds(self.roles, self.skills, self.device_kind) if self.active else ()


def load_worker(session: Session, user_id: int, site_id: int) -> Worker | None:
    """The worker as dispatch at this site sees them (their profile at another site plays no part)."""
    db = Raw(session)
    row = db.one(_WORKER, user_id=user_id, site_id=site_id)
    if row is None:
        return None
    username, roles, active, zone_ids, skills, equipment, last_location_id, device_kind = row
    return Worker(user_id, username, db.loads(roles) or [], bool(active), db.loads(zone_ids) or [],
                  db.loads(skills) or [], db.loads(equipment) or [], last_location_id, device_kind)


def check_can_do(session: Session, task: Task, user_id: int) -> None:
    """Refuse (409 worker_cannot_do_task, in plain words) to give a task to a worker it does not fit."""
    worker = load_worker(session, user_id, task.site_id)
    if worker is None or not worker.active:
        why = "that account is disabled"
    else:
        why = eligibility.refusal(task.kind, task.zone_id, username=worker.username, roles=worker.roles,
                                  skills=worker.skills, zone_ids=worker.zone_ids, device_kind=worker.device_kind)
    if why is not None:
        raise Conflict(f"task {task.id} can't go to this worker: {why}", code="worker_cannot_do_task",
                       details={"task_id": task.id, "kind": task.kind, "reason": why})
_CANDIDATES = (
    "SELECT task.id, task.priority, task.from_location_id, task.to_location_id, task.details, task.assigned_to, "
    "task.tour_id FROM task WHERE task.site_id = :site_id AND task.state = 'pending' "
    "AND (task.assigned_to IS NULL OR task.assigned_to = :worker_id) "
    "AND (task.depends_on_task_id IS NULL OR EXISTS (SELECT 1 FROM task AS dependency "
    "WHERE dependency.id = task.depends_on_task_id AND dependency.state = 'done')){kinds}{zones}{passed} "
    "ORDER BY task.priority, task.id LIMIT :limit")
# Candidates are read without locks; the claim itself is a guarded UPDATE (on PostgreSQL, a candidate
# another transaction took meanwhile simply matches no row) under the tour's row lock for tours.
_LOCK_TOUR = "SELECT id FROM tour WHERE id = :tour_id{for_update}{skip_locked}"
_CLAIMED = ("UPDATE task SET state = 'assigned', assigned_to = :worker_id, version = version + 1, updated_at = :now "
            "WHERE state = 'pending' AND {which} RETURNING id, priority, version, sequence")
_CLAIM_ONE = _CLAIMED.replace("{which}", "id = :task_id AND (assigned_to IS NULL OR assigned_to = :worker_id)")
_CLAIM_TOUR = _CLAIMED.replace("{which}", "(id = :task_id AND (assigned_to IS NULL OR assigned_to = :worker_id) "
                                          "OR tour_id = :tour_id AND assigned_to IS NULL)")
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


def view_of(db: Raw, row: Sequence) -> dict:
    """A task view from the columns of _VIEW, in that order."""
    (id_, kind, state, priority, version, assigned_to, sku, quantity, lot, expiry, source, target, digits, lpn,
     zone_id, wave_id, tour_id, sequence, tote_no, reference, tote, waits_for) = row
    return {
        "id": id_, "kind": kind, "state": state, "priority": priority, "version": version,
        "assigned_to": assigned_to, "sku": sku, "quantity": quantity, "lot": lot or None,
        "expiry": db.date_text(expiry) or None, "from_location": source, "to_location": target,
        "to_check_digits": digits, "lpn": lpn, "zone_id": zone_id, "wave_id": wave_id, "tour_id": tour_id,
        "sequence": sequence, "tote_no": tote_no, "tote": tote, "waits_for_task": waits_for, "reference": reference,
    }


def task_views(session: Session, task_ids: Sequence[int]) -> list[dict]:
    """The views of several tasks in one query, in the order given (the same dicts as task_view)."""
    if not task_ids:
        return []
    db = Raw(session)
    placeholders, params = in_params("t", task_ids)
    views = {row[0]: view_of(db, row) for row in db.all(_VIEW.format(ids=placeholders), **params)}
    return [views[i] for i in task_ids if i in views]


def _candidates_sql(kinds: int, zones: int, passed: int = 0) -> tuple[str, list[str], list[str], list[str]]:
    """The candidates query for a worker who may do `kinds` task kinds (at least one) in `zones` zones (0: any),
    leaving out `passed` tours."""
    kind_names = [f"k{n}" for n in range(kinds)]
    zone_names = [f"z{n}" for n in range(zones)]
    passed_names = [f"x{n}" for n in range(passed)]
    kind_sql = f" AND task.kind IN ({', '.join(':' + n for n in kind_names)})" if kinds else ""
    zone_sql = (f" AND (task.zone_id IS NULL OR task.zone_id IN ({', '.join(':' + n for n in zone_names)}))"
                if zones else "")
    passed_sql = (f" AND (task.tour_id IS NULL OR task.tour_id NOT IN ({', '.join(':' + n for n in passed_names)}))"
                  if passed else "")
    sql = _CANDIDATES.replace("{kinds}", kind_sql).replace("{zones}", zone_sql).replace("{passed}", passed_sql)
    return sql, kind_names, zone_names, passed_names


def claim_next(session: Session, worker_id: int, site_id: int, *, position_location_id: int | None = None,
               candidates: int = 32, priority_per_metre: float | None = None, rounds: int = 3,
               kinds: Sequence[str] | None = None) -> list[dict]:
    """Assign the worker the best next task (and the rest of its tour); their views, [] when nothing fits.

    `kinds` narrows the claim to those task kinds (the screen the worker chose); the worker's own
    eligibility (backend.tasks.eligibility) always applies.

    PostgreSQL: the claim is an UPDATE guarded by `state = 'pending'`, and a
    tour is claimed under its row lock taken with SKIP LOCKED, so two workers
    claiming at once never get the same task, never split a tour, and never
    wait on each other (a candidate taken meanwhile is passed over). SQLite:
    the transaction holds the single writer lock.

    A tour is tried once, at its best-ranked candidate. The most urgent
    candidates often all belong to one or two tours that other pickers are
    claiming at this moment; then up to `rounds` more candidate lists are read,
    leaving out the tours already tried, so a picker is not left idle while
    work waits further down the list.
    """
    if priority_per_metre is None:
        priority_per_metre = session.info.get(DISPATCH_WEIGHT, 1.0)
    db = Raw(session)
    worker = load_worker(session, worker_id, site_id)
    allowed = worker.kinds if worker is not None else ()
    kinds = tuple(kind for kind in allowed if kinds is None or kind in kinds)
    if not kinds:
        return []  # nothing this worker may do here (see backend.tasks.eligibility)
    zone_ids, equipment = worker.zone_ids, worker.equipment
    where = position_location_id or worker.last_location_id
    now = db.when(utcnow())
    tried_tours: set[int] = set()
    chosen = taken = None
    for _round in range(rounds):
        passed = sorted(tried_tours)
        sql, kind_names, zone_names, passed_names = _candidates_sql(len(kinds), len(zone_ids), len(passed))
        rows = [_Row(id_, priority, source, target, (db.loads(details) or {}).get("equipment"), holder, tour_id)
                for id_, priority, source, target, details, holder, tour_id in db.all(
                    sql, site_id=site_id, worker_id=worker_id, limit=candidates,
                    **dict(zip(kind_names, kinds)), **dict(zip(zone_names, zone_ids)),
                    **dict(zip(passed_names, passed)))]
        if not rows:
            return []
        location_ids = {r.from_location_id or r.to_location_id for r in rows} | ({where} if where else set())
        location_ids.discard(None)
        starts: dict[int, tuple] = {}
        if location_ids:  # (tasks with no location at all: nothing to read, and `IN ()` is no SQL for PostgreSQL)
            placeholders, params = in_params("l", location_ids)
            starts = {lid: (x, y) for lid, x, y in db.all(
                f"SELECT id, x, y FROM location WHERE id IN {placeholders}", **params)}
        ranked = rank_candidates(rows, starts, starts.get(where) if where else None, priority_per_metre, equipment)
        for candidate in ranked:
            chosen = candidate.task
            tour_id = chosen.tour_id
            if tour_id is not None:
                if tour_id in tried_tours:
                    continue
                tried_tours.add(tour_id)
                # A pick tour is walked by one picker: all of it comes along, in walking order. The tour row is
                # the claim's lock, so two pickers claiming at once never split a tour between them.
                if db.one(_LOCK_TOUR, tour_id=tour_id) is None:
                    continue  # another picker is claiming this tour right now
                tote_slots.ahead_of_claim(session, tour_id, worker_id)
                taken = db.all(_CLAIM_TOUR, worker_id=worker_id, now=now, task_id=chosen.id, tour_id=tour_id)
                if not taken:
                    tote_slots.forget_claim(session, tour_id, worker_id)
            else:
                taken = db.all(_CLAIM_ONE, worker_id=worker_id, now=now, task_id=chosen.id)
            if taken:
                break
        if taken:
            break
        if len(rows) < candidates or not tried_tours:
            return []  # every candidate there is was tried
    else:
        return []
    taken.sort(key=lambda r: (r[0] != chosen.id, r[3] if r[3] is not None else 0, r[0]))
    claimed = [r[0] for r in taken]
    note_changed(session, [("worker", worker_id), *(("task", id_) for id_ in claimed)])
    changed = {id_: (priority, version) for id_, priority, version, _ in taken}
    holders = {chosen.id: chosen.assigned_to}
    db.expire(Task, claimed)
    # Part of the tour may still be on another picker's cart.
    tote_slots.keep_totes_with_their_cart(session, chosen.tour_id, claimed, worker_id, actor_id=worker_id)
    audit.record_many(db, [{
        "user_id": worker_id, "site_id": site_id, "action": "task.claim", "entity": "task", "entity_id": task_id,
        "before": {"state": "pending", "assigned_to": holders.get(task_id), "priority": changed[task_id][0],
                   "version": changed[task_id][1] - 1},
        "after": {"state": "assigned", "assigned_to": worker_id, "priority": changed[task_id][0],
                  "version": changed[task_id][1]}} for task_id in claimed])
    touch_site(session, site_id)
    views = task_views(session, claimed)
    devices = devices_of_workers(session, [worker_id])
    for view in views:
        emit(session, devices, "task.assigned", {"task": view, "reason": "claimed"})
    return views


def waiting_work(session: Session, worker_id: int, site_id: int) -> dict:
    """What this worker may do here, and how much of each kind waits for them (or they hold)."""
    worker = load_worker(session, worker_id, site_id)
    kinds = worker.kinds if worker is not None else ()
    waiting = dict.fromkeys(kinds, 0)
    held = dict.fromkeys(kinds, 0)
    if kinds:
        db = Raw(session)
        sql, kind_names, zone_names, _ = _candidates_sql(len(kinds), len(worker.zone_ids))
        # The claim's own candidate query, counted per kind instead of ranked.
        sql = sql.replace("SELECT task.id, task.priority, task.from_location_id, task.to_location_id, task.details, "
                          "task.assigned_to, task.tour_id FROM", "SELECT task.kind, COUNT(*) FROM")
        sql = sql.replace(" ORDER BY task.priority, task.id LIMIT :limit", " GROUP BY task.kind")
        for kind, count in db.all(sql, site_id=site_id, worker_id=worker_id, **dict(zip(kind_names, kinds)),
                                  **dict(zip(zone_names, worker.zone_ids))):
            waiting[kind] = count
        for kind, count in db.all("SELECT kind, COUNT(*) FROM task WHERE assigned_to = :worker_id AND site_id = :site_id "
                                  "AND state IN ('assigned', 'in_progress') GROUP BY kind",
                                  worker_id=worker_id, site_id=site_id):
            if kind in held:
                held[kind] = count
    return {"may_do": list(kinds), "device": worker.device_kind if worker else None, "waiting": waiting,
            "held": held}


_HOLDS_ANOTHER = ("SELECT id FROM task WHERE assigned_to = :worker_id AND state IN ('assigned', 'in_progress') "
                  "AND id != :finished LIMIT 1")


def ahead_of_completion(session: Session, worker_id: int, task_id: int) -> None:
    """Send ahead what `completed` will read when this worker finishes this task (backend.rawsql)."""
    ahead_devices_of_worker(session, worker_id)
    Raw(session).ahead(_HOLDS_ANOTHER, worker_id=worker_id, finished=task_id)


def forget_ahead_of_completion(session: Session, worker_id: int, task_id: int) -> None:
    """What the worker holds was read ahead and may have changed since: `completed` reads it again."""
    Raw(session).forget_ahead(_HOLDS_ANOTHER, worker_id=worker_id, finished=task_id)


def offer_next(session: Session, worker_id: int, site_id: int, *, position_location_id: int | None,
               finished_task_id: int | None = None, candidates: int = 32, priority_per_metre: float | None = None,
               same_kind: str | None = None) -> list[dict]:
    """Push the next task to a worker who is signed on at a device and holds nothing: of `same_kind` (the work
    just finished, whose screen the worker has open) if any waits for them, else any kind they may do."""
    if not devices_of_workers(session, [worker_id]):
        return []
    # The task just finished may not be written yet: it is left out.
    if Raw(session).one(_HOLDS_ANOTHER, worker_id=worker_id, finished=finished_task_id or 0) is not None:
        return []
    claimed = []
    if same_kind is not None:
        claimed = claim_next(session, worker_id, site_id, position_location_id=position_location_id,
                             candidates=candidates, priority_per_metre=priority_per_metre, kinds=(same_kind,))
    return claimed or claim_next(session, worker_id, site_id, position_location_id=position_location_id,
                                 candidates=candidates, priority_per_metre=priority_per_metre)


def offer_idle_workers(session: Session, site_id: int, *, limit: int = 100) -> int:
    """New work appeared (a wave released, a replenishment made): push it to signed-on workers holding nothing.

    Call it in the transaction that created the tasks; returns how many workers got work.
    """
    from backend.models import Device

    busy = select(Task.assigned_to).where(Task.site_id == site_id, Task.state.in_(HELD_STATES),
                                          Task.assigned_to.is_not(None))
    idle = session.execute(
        select(Device.current_user_id).where(Device.site_id == site_id, Device.current_user_id.is_not(None),
                                             Device.revoked_at.is_(None), Device.current_user_id.not_in(busy))
        .distinct().order_by(Device.current_user_id).limit(limit)
    ).scalars().all()
    session.flush()
    return sum(1 for worker_id in idle if claim_next(session, worker_id, site_id))


def get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", code="unknown_task")
    return task


# --- devices signing on --------------------------------------------------------------------------


def sign_on(session: Session, device, user_id: int) -> bool:  # noqa: ANN001
    """The worker now works at this device: their held tasks follow them here (those the device has no screen
    for go back to the pool). True if anything changed."""
    from backend.models import Device

    changed = False
    forget_worker_devices(session)
    if device.current_user_id != user_id:
        if device.current_user_id is not None:
            for task in held_tasks(session, device.current_user_id):
                emit(session, [device.id], "task.revoked", {"task_id": task.id, "version": task.version,
                                                            "reason": "signed_off"})
        elsewhere = session.exec(select(Device).where(Device.current_user_id == user_id, Device.id != device.id)).all()
        mine = held_tasks(session, user_id)
        for other in elsewhere:
            for task in mine:
                emit(session, [other.id], "task.revoked", {"task_id": task.id, "version": task.version,
                                                           "reason": "signed_on_elsewhere"})
            other.current_user_id = None
            session.add(other)
        device.current_user_id = user_id
        screens = eligibility.DEVICE_KINDS.get(device.kind, ())
        for task in mine:
            if task.kind in screens:
                emit(session, [device.id], "task.assigned", {"task": task_view(session, task), "reason": "signed_on"})
            else:  # work this device has no screen for goes back to the pool rather than sit with nobody able to do it
                _change(session, task, actor_id=user_id, action="task.release", state="pending", assigned_to=None)
        changed = True
    device.last_seen_at = utcnow()
    session.add(device)
    return changed
