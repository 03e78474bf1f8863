"""claim_next_task, start_task, release_task, sign_off: a worker taking, beginning and handing back work, and
leaving the device."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlmodel import select

from backend import audit
from backend.bounds import Id, Text
from backend.commands.context import CommandContext
from backend.commands.registry import CommandPayload, CommandSet
from backend.devices.stream import forget_worker_devices
from backend.errors import NotFound
from backend.models import TASK_KINDS, Location
from backend.tasks import transitions
from backend.tasks.dispatch import claim_next, set_position
from backend.tasks.views import held_task_ids, task_view, task_views

commands = CommandSet()
TaskKind = Literal[TASK_KINDS]  # type: ignore[valid-type]


class ClaimNextTask(CommandPayload):
    position: Text | None = Field(default=None, max_length=40, description="the location code the worker is at")
    kinds: list[TaskKind] | None = Field(default=None, max_length=7,
                                         description="only these kinds of task (the screen the worker chose)")


class TaskRef(CommandPayload):
    task_id: Id


@commands.command("claim_next_task", payload=ClaimNextTask)
def claim_next_task(ctx: CommandContext, payload: ClaimNextTask) -> dict:
    """The worker's held tasks if they hold any, else the best next task (pushed as task.assigned too)."""
    site_id = ctx.actor.site_id if ctx.actor.site_id is not None else ctx.site().id
    position_id = None
    if payload.position:
        position_id = ctx.session.exec(
            select(Location.id).where(Location.site_id == site_id, Location.code == payload.position)).first()
        if position_id is None:
            raise NotFound(f"location {payload.position!r} not found", code="unknown_location",
                           details={"field": "position"})
        set_position(ctx.session, ctx.user_id, site_id, position_id)
    held = held_task_ids(ctx.session, ctx.user_id, site_id)
    if held:
        return {"claimed": False, "tasks": task_views(ctx.session, held)}
    claimed = claim_next(ctx.session, ctx.user_id, site_id, position_location_id=position_id,
                         kinds=payload.kinds)
    return {"claimed": bool(claimed), "tasks": claimed}


@commands.command("start_task", payload=TaskRef)
def start_task(ctx: CommandContext, payload: TaskRef) -> dict:
    task = transitions.start(ctx.session, ctx.load_task(payload.task_id), ctx.user_id)
    return {"task": task_view(ctx.session, task)}


@commands.command("release_task", payload=TaskRef)
def release_task(ctx: CommandContext, payload: TaskRef) -> dict:
    task = transitions.release(ctx.session, ctx.load_task(payload.task_id), ctx.user_id)
    return {"task": task_view(ctx.session, task)}


class SignOff(CommandPayload):
    pass


@commands.command("sign_off", payload=SignOff)
def sign_off(ctx: CommandContext, payload: SignOff) -> dict:
    """The worker logs out of this handheld: dispatch stops sending work to it. Tasks they hold stay theirs (to
    finish on another handheld, or for a supervisor to move), and their other sessions are untouched."""
    device = ctx.device
    if device is not None:
        ctx.session.refresh(device, with_for_update=True)
    if device is None or device.current_user_id != ctx.user_id:
        return {"signed_off": False}  # (signed on elsewhere since, or a device-less HTTP call: nothing to leave)
    device.current_user_id = None
    ctx.session.add(device)
    forget_worker_devices(ctx.session)
    audit.record(ctx.session, user_id=ctx.user_id, site_id=device.site_id, action="device.sign_off", entity="device",
                 entity_id=device.id)
    return {"signed_off": True}
