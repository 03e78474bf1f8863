"""Which commands exist: a name, a payload model and a handler each.

Declaring commands works like declaring routes: a module makes a
`CommandSet` and decorates its handlers; `backend.commands.handlers`
lists the sets; each app builds its own `CommandRegistry` from them.

    commands = CommandSet()

    class ConfirmPick(CommandPayload):
        task_id: int
        location: str
        quantity: int

    @commands.command("confirm_pick", payload=ConfirmPick)
    def confirm_pick(ctx: CommandContext, payload: ConfirmPick) -> dict:
        task = ctx.load_task(payload.task_id)      # locked, site-checked
        ...                                         # change things through ctx.session; never commit
        return {"task": task_view(ctx.session, task)}

A handler gets the context (session, settings, who sends it, from which
device) and the validated payload; it returns a JSON-ready dict (the
result every repeat of the same command id gets) or raises a
`backend.errors.DomainError` (its code goes back to the device; nothing
it did is kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from backend.roles import WORKERS, in_order

if TYPE_CHECKING:
    from backend.commands.context import CommandContext

WORKER_ROLES = in_order(WORKERS)  # the order a refusal lists them in
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Message types the websocket itself uses: never command names.
RESERVED = frozenset({"auth", "ping", "pong", "result", "error", "auth_ok"})

Handler = Callable[["CommandContext", Any], dict]
# Sends a command's reads ahead (backend.sql.Raw.prefetch) before its batch runs: (session, actor, payload).
Prefetch = Callable[[Any, Any, Any], None]


class CommandPayload(BaseModel):
    """Base for command payloads: unknown fields are refused, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    payload: type[BaseModel]
    roles: tuple[str, ...]
    # Reads sent ahead for a whole batch in one round trip. A command with `prefetch` notes what it changed
    # (backend.commands.batch_reads.note_changed) and reads again what an earlier one changed; after one without
    # it, every later one reads again.
    prefetch: Prefetch | None = None


class CommandSet:
    """Commands declared by one module (like an APIRouter)."""

    def __init__(self) -> None:
        self.specs: list[CommandSpec] = []

    def register_handler(self, name: str, handler: Handler, *, payload: type[BaseModel],
                         roles: tuple[str, ...] = WORKER_ROLES, prefetch: Prefetch | None = None) -> None:
        if not _NAME.match(name) or name in RESERVED:
            raise ValueError(f"command name {name!r} must be snake_case and not one of {sorted(RESERVED)}")
        self.specs.append(CommandSpec(name, handler, payload, tuple(roles), prefetch))

    def command(self, name: str, *, payload: type[BaseModel], roles: tuple[str, ...] = WORKER_ROLES,
                prefetch: Prefetch | None = None) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.register_handler(name, handler, payload=payload, roles=roles, prefetch=prefetch)
            return handler

        return decorate


class CommandRegistry:
    """The commands one app accepts, over the websocket and at POST /api/v1/device-commands."""

    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}

    def include(self, commands: CommandSet) -> None:
        for spec in commands.specs:
            self._add(spec)

    def register_handler(self, name: str, handler: Handler, *, payload: type[BaseModel],
                         roles: tuple[str, ...] = WORKER_ROLES) -> None:
        one = CommandSet()
        one.register_handler(name, handler, payload=payload, roles=roles)
        self.include(one)

    def _add(self, spec: CommandSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"command {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)
