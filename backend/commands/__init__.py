"""Device commands: client-made ids, applied once, over the websocket or HTTP.

Adding a command: write a handler in a module under `backend/commands/handlers/` (see registry.py for
the shape) and list that module's `commands` in `backend/commands/handlers/__init__.py`.

The modules: `dispatcher` (a command's envelope, idempotent application, batches), `runner` (the
batch thread), `registry` (handlers and their payloads), `context` (who sends it, from which device),
`batch_reads` (what an earlier command of a batch changed), `handlers` (the commands, and
`build_registry`). This file imports none of them, so that importing one does not load the rest.
"""
