"""Task state changes (assign, reassign, suspend, resume, cancel, reprioritise, start, release, completed, and
the held work that follows a worker signing on at a device), each telling the affected devices.

Every function here works inside the caller's transaction and never
commits: the caller's unit of work commits the change, its audit row and the
device events together (see backend.devices.stream).

Events (in the holder's device stream):
  task.assigned  {"task": view, "reason": "claimed"|"assigned"|"reassigned"|"signed_on"|"reallocated"}
  task.revoked   {"task_id", "version", "reason": "reassigned"|"unassigned"|"suspended"|"cancelled"|
                  "completed_by_other"|"released"|"signed_off"|"signed_on_elsewhere"}
  task.updated   {"task": view}   (state, priority or details changed; still the holder's)

A view is backend.tasks.views's TaskView message. Claims ("claimed") are backend.tasks.dispatch's, which also
offers a worker freed by a change their next task. Who may be given what is decided in one place,
backend.tasks.eligibility (roles, skills, zones, the device); which tote a pick goes into when it changes
hands, in backend.tasks.tote_slots.
"""

from __future__ import annotations

from sqlmodel import Session, select

from backend import audit
from backend.devices.stream import devices_of_workers, emit, emit_to_workers, forget_worker_devices, touch_site
from backend.errors import Conflict
from backend.models import Device, Task, utcnow
from backend.tasks import eligibility, tote_slots
from backend.tasks.dispatch import check_can_do, offer_next, set_position
from backend.tasks.states import (
    FINAL_STATES, HELD_STATES, STATE_WORDS, WORKABLE_STATES, InvalidTransition, check_transition,
)
from backend.tasks.views import describe, held_tasks, task_view, task_views, username_of

TASK_FIELDS = ("state", "assigned_to", "priority", "version")


def load_for_update(session: Session, task_id: int) -> Task | None:
    """The task, locked for this transaction on PostgreSQL (SQLite's writer lock already is one)."""
    return session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()


def _check_version(session: Session, task: Task, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            f"Task {task.id} was changed meanwhile (now {describe(session, task)}): refresh and try again",
            code="version_conflict",
            details={"task_id": task.id, "version": task.version, "expected_version": expected_version,
                     "state": task.state, "assigned_to": username_of(session, task.assigned_to)},
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


def _require_held_by(task: Task, worker_id: int, verb: str) -> None:
    """Only the task's holder may `verb` it, while it is held."""
    if task.assigned_to != worker_id or task.state not in HELD_STATES:
        raise Conflict(f"task {task.id} is not yours to {verb}", code="task_not_yours",
                       details={"task_id": task.id, "state": task.state})


def start(session: Session, task: Task, worker_id: int) -> Task:
    """The holder begins the task (assigned → in_progress); starting it again changes nothing."""
    _require_held_by(task, worker_id, "start")
    if task.state == "assigned":
        _change(session, task, actor_id=worker_id, action="task.start", state="in_progress")
        updated(session, task)
    return task


def release(session: Session, task: Task, worker_id: int) -> Task:
    """The holder hands the task back to the pool."""
    _require_held_by(task, worker_id, "release")
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


# --- devices signing on --------------------------------------------------------------------------


def sign_on(session: Session, device, user_id: int) -> bool:  # noqa: ANN001
    """The worker now works at this device: their held tasks follow them here (those the device has no screen
    for go back to the pool). True if anything changed."""
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
