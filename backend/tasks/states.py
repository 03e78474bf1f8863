"""The task state machine: which state may follow which."""

from __future__ import annotations

from backend.errors import Conflict

# pending → assigned → in_progress → done, plus suspended, cancelled and exception.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"assigned", "in_progress", "done", "suspended", "cancelled", "exception"}),
    "assigned": frozenset({"pending", "assigned", "in_progress", "done", "suspended", "cancelled", "exception"}),
    "in_progress": frozenset({"pending", "assigned", "done", "suspended", "cancelled", "exception"}),
    "suspended": frozenset({"pending", "cancelled"}),
    "exception": frozenset({"pending", "cancelled", "done"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}
# Work someone may hold: these are the states a holder's device shows.
HELD_STATES = ("assigned", "in_progress")
OPEN_STATES = ("pending", "assigned", "in_progress", "suspended", "exception")
FINAL_STATES = ("done", "cancelled")
# States in which the work may still be done and confirmed on the floor.
WORKABLE_STATES = ("pending", "assigned", "in_progress")


class InvalidTransition(Conflict):
    code = "invalid_transition"


def check_transition(task_id: int | None, current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(
            f"task {task_id} is {current}; it cannot become {target}",
            details={"task_id": task_id, "state": current, "to": target},
        )


def require_workable(task, kind: str) -> None:  # noqa: ANN001
    """The task is of this kind and still open to be done, else a 409 saying why."""
    if task.kind != kind:
        raise Conflict(f"task {task.id} is a {task.kind} task", code="wrong_task_kind")
    if task.state not in WORKABLE_STATES:
        raise Conflict(f"task {task.id} is {task.state}", code="task_not_open", details={"state": task.state})
