"""Every command set the devices may send. Add a module's `commands` here to register its handlers."""

from backend.commands.handlers import execution, messages, putaway, scan, tasks, tours

COMMAND_SETS = (
    scan.commands,
    tasks.commands,
    putaway.commands,
    messages.commands,
    execution.commands,
    tours.commands,
)
