"""Device commands: client-made ids, applied once, over the websocket or HTTP.

Adding a command: write a handler in a module under
`backend/commands/handlers/` (see registry.py for the shape) and list that
module's `commands` in `backend/commands/handlers/__init__.py`.
"""

from backend.commands.context import Actor, CommandContext
from backend.commands.dispatcher import CommandDispatcher, CommandEnvelope, CommandOutcome
from backend.commands.registry import CommandPayload, CommandRegistry, CommandSet, WORKER_ROLES

__all__ = [
    "Actor", "CommandContext", "CommandDispatcher", "CommandEnvelope", "CommandOutcome", "CommandPayload",
    "CommandRegistry", "CommandSet", "WORKER_ROLES", "build_registry",
]


def build_registry() -> CommandRegistry:
    """The commands an app accepts: every set listed in backend.commands.handlers."""
    from backend.commands.handlers import COMMAND_SETS

    registry = CommandRegistry()
    for commands in COMMAND_SETS:
        registry.include(commands)
    return registry
