"""The task state machine: which state may follow which, and the groups of states the rules name (declared
once here; backend.models.work's CHECK constraint takes TASK_STATES from here)."""

from __future__ import annotations

from backend.errors import Conflict

# pending → assigned → in_progress → done, plus suspended, cancelled and exception.
TASK_STATES = ("pending", "assigned", "in_progress", "done", "suspended", "cancelled", "exception")
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
FINAL_STATES = ("done", "cancelled")
# Not final, exception included: every task still on the books (the wall's, the floor map's, at-risk's counts).
OPEN_STATES = tuple(state for state in TASK_STATES if state not in FINAL_STATES)
# Open less exception: work still to come as planned (a location's count, a face's replenishment, an order's
# picks); a task in exception has hit a problem and waits for a supervisor's decision, so it is not counted.
WORK_TO_COME_STATES = tuple(state for state in OPEN_STATES if state != "exception")
# States in which the work may still be done and confirmed on the floor.
WORKABLE_STATES = ("pending", "assigned", "in_progress")
# Not yet begun on the floor: cancelling the order revokes these picks (in_progress ones are being picked).
UNSTARTED_STATES = ("pending", "assigned", "suspended")


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
