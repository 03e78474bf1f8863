"""confirm_putaway: the pallet is at its destination. A physical fact is never lost.

If the task moved on meanwhile (reassigned, suspended, cancelled by a
supervisor) the worker who scanned the destination still put the pallet
there: the stock moves, the task ends done (or stays cancelled), whoever
holds it now loses it, and a `task_conflict` exception tells the supervisor.
"""

from __future__ import annotations

from pydantic import Field

from backend.bounds import Id, ScanText, Text
from backend.commands.context import CommandContext
from backend.commands.registry import CommandPayload, CommandSet
from backend.models import Site, Task, WarehouseException
from backend.receiving.putaway_service import confirm_putaway as confirm_putaway_service
from backend.tasks.transitions import completed
from backend.tasks.views import task_view
from backend.webhooks import payloads

commands = CommandSet()


class ConfirmPutaway(CommandPayload):
    task_id: Id
    scan: ScanText = Field(min_length=1, max_length=80, description="destination location code, code + check digits, "
                                                               "or check digits")
    reason: Text | None = Field(default=None, max_length=200, description="required when not the suggested location")


def raise_conflict(ctx: CommandContext, task: Task, *, state: str, holder: int | None, message: str,
                   details: dict) -> WarehouseException:
    exc = WarehouseException(site_id=task.site_id, kind="task_conflict", task_id=task.id, raised_by=ctx.user_id,
                             message=message[:500], details={"command": ctx.command_id, "state_before": state,
                                                             "holder_before": holder, "reported_by": ctx.user_id,
                                                             **details})
    payloads.exception_raised(ctx.session, exc)
    return exc


@commands.command("confirm_putaway", payload=ConfirmPutaway)
def confirm_putaway(ctx: CommandContext, payload: ConfirmPutaway) -> dict:
    session = ctx.session
    task = ctx.load_task(payload.task_id)
    site = session.get(Site, task.site_id)
    state, holder = task.state, task.assigned_to
    if state == "done":
        if task.details and task.details.get("confirmed_by") == ctx.user_id:
            return {"task": task_view(session, task), "outcome": "already_done"}
        exc = raise_conflict(ctx, task, state=state, holder=holder, details={"scan": payload.scan},
                             message=f"putaway task {task.id} was already done when it was reported again")
        return {"task": task_view(session, task), "outcome": "already_done", "exception_id": exc.id}
    mine = state in ("pending", "assigned", "in_progress") and holder in (None, ctx.user_id)
    if not mine:
        # The pallet moved whatever the task says now: let the putaway service post it.
        task.state = "in_progress"
    confirm_putaway_service(session, site, task, payload.scan, payload.reason, ctx.user_id)
    result: dict = {"outcome": "done"}
    if not mine:
        if state == "cancelled":
            # A cancelled task stays cancelled: the stock still follows the pallet.
            task.state = "cancelled"
            task.done_at = None
        exc = raise_conflict(
            ctx, task, state=state, holder=holder, details={"scan": payload.scan, "to_location_id": task.to_location_id},
            message=f"putaway task {task.id} was confirmed by user {ctx.user_id} while it was {state}"
                    + (f" and held by user {holder}" if holder and holder != ctx.user_id else ""))
        result = {"outcome": "conflict", "exception_id": exc.id}
    if task.state == "done":
        task.assigned_to = ctx.user_id
    completed(session, task_view(session, task), task.site_id, ctx.user_id, previous_holder=holder,
              position_location_id=task.to_location_id)
    result["task"] = task_view(session, task)
    return result
