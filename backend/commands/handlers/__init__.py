"""Every command set the devices may send. Add a module's `commands` here to register its handlers."""

from backend.commands.handlers import execution, messages, putaway, scan, tasks, tours
from backend.commands.registry import CommandRegistry

COMMAND_SETS = (
    scan.commands,
    tasks.commands,
    putaway.commands,
    messages.commands,
    execution.commands,
    tours.commands,
)


def build_registry() -> CommandRegistry:
    """The commands an app accepts: every set listed here."""
    registry = CommandRegistry()
    for commands in COMMAND_SETS:
        registry.include(commands)
    return registry
