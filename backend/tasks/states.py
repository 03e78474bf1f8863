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


# How a state reads in a sentence for a supervisor or a picker ("Task 12 is …"), and what a refused change was.
STATE_WORDS = {"pending": "waiting in the pool", "assigned": "assigned", "in_progress": "being worked on",
               "done": "already done", "suspended": "suspended", "cancelled": "cancelled",
               "exception": "waiting for a supervisor's decision"}
_CHANGE_WORDS = {"pending": "go back to the pool", "assigned": "be given to anyone", "in_progress": "be started",
                 "done": "be confirmed", "suspended": "be suspended", "cancelled": "be cancelled",
                 "exception": "be reported as a problem"}
_HINTS = {"suspended": " Resume it first.", "done": "", "cancelled": ""}


def check_transition(task_id: int | None, current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(
            f"Task {task_id} is {STATE_WORDS.get(current, current)}: it can't {_CHANGE_WORDS.get(target, target)} "
            f"now.{_HINTS.get(current, ' Refresh to see it as it is now.')}",
            details={"task_id": task_id, "state": current, "to": target},
        )


def require_workable(task, kind: str) -> None:  # noqa: ANN001
    """The task is of this kind and still open to be done, else a 409 saying why."""
    if task.kind != kind:
        raise Conflict(f"task {task.id} is a {task.kind} task", code="wrong_task_kind")
    if task.state not in WORKABLE_STATES:
        raise Conflict(f"task {task.id} is {task.state}", code="task_not_open", details={"state": task.state})
