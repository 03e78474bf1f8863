"""Device commands over HTTP: the handheld's offline outbox, replayed in order."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from backend.api.schemas import Strict
from backend.commands.context import Actor
from backend.commands.dispatcher import CommandEnvelope
from backend.devices.tokens import authenticate_device
from backend.errors import Forbidden

router = APIRouter(prefix="/device-commands", tags=["devices"])


class CommandIn(BaseModel):
    id: str = Field(description="client-made id (a UUID): a repeat gets the first answer")
    type: str = Field(max_length=40, description="the command, e.g. confirm_putaway, start_task, scan")
    payload: dict[str, Any] = Field(default_factory=dict)


class CommandsIn(Strict):
    commands: list[CommandIn] = Field(min_length=1, max_length=500)


class CommandsOut(BaseModel):
    results: list[dict[str, Any]]


@router.post("", response_model=CommandsOut)
async def apply_commands(body: CommandsIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep,
                         x_device_token: Annotated[str | None, Header()] = None) -> CommandsOut:
    """Apply the commands in order, each in its own transaction; the answers come back in the same order.

    Each answer is what the websocket would have said (`{"id", "type": "result", "ok", "result" | "error",
    "replayed"}`): a command already applied (over either path) is not applied again.
    With `X-Device-Token` the commands count as the device's (its site, its stream).
    """
    # The request's session (it read the bearer token) would hold SQLite's writer lock while the
    # commands wait for it in the command workers: let it go first.
    session.close()
    actor = Actor(me)
    if x_device_token:
        def load_device():  # noqa: ANN202
            with runtime.sessions() as session:
                return authenticate_device(session, runtime, x_device_token)

        device = await asyncio.to_thread(load_device)
        if not me.may_access(device.site_id):
            raise Forbidden("this device belongs to a site you do not work at", code="device_forbidden")
        actor = Actor(me, device.id, device.site_id)
    runner = runtime.command_runner
    results = []
    for command in body.commands:
        outcome = await runner.run(actor, CommandEnvelope(command.id, command.type, command.payload), "http")
        results.append(outcome.message())
    return CommandsOut(results=results)
