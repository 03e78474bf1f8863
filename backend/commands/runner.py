"""Where device commands run: the websocket and HTTP paths both `await runner.run(…)`.

`BatchRunner`: one thread runs whatever commands queued up while it worked
on the last batch, in one transaction (each in its own SAVEPOINT, so a
refused command changes nothing), and commits once; answers go out only
after that commit. The busier the floor, the bigger the batches and the
cheaper each command: BEGIN, COMMIT, the connection checkout and (SQLite)
the WAL writes of the pages they all touch are shared.

- SQLite has one writer anyway.
- PostgreSQL too: one thread and one connection for the commands. Measured
  on 2 cores (`wes bench realtime`, 300 handhelds), a pool of 12 threads
  with a transaction per command spent ~5 ms of CPU per command across the
  server and PostgreSQL, a quarter of the server's in switching threads
  (each round trip gives up the GIL and must win it back); batches on one
  thread spend ~3 ms. A second batch thread was far worse: two batches
  wait on each other's row locks (a fast mover's stock) held to their
  commits, and deadlock when they take two of them in opposite orders
  (161 commands/s); two threads fed by the scanned location, so that a
  pick face's stock stays with one of them, measured no better than one.
  A batch sends its commands' stored answers and the reads they declare
  (`prefetch`) in one round trip; statements go to the server as soon as they
  are made and nobody waits for an answer before it is needed
  (backend.sql). Commands of one device still run in order:
  a connection waits for each answer before sending the next command.
  (Running commands on the event loop over psycopg's async connections and
  SQLAlchemy's greenlet bridge measured slower: the loop then carried
  every command's Python as well.)

If a batch cannot commit (a deadlock with another replica, a duplicate
stored meanwhile, a stock take the quant's constraints refused after its
command had moved on: see backend.execution.picking), it is rolled back and
each of its commands runs again in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Protocol

from backend.commands.context import Actor
from backend.commands.dispatcher import CommandDispatcher, CommandEnvelope, CommandOutcome

log = logging.getLogger("wes.commands")


class CommandRunner(Protocol):
    async def run(self, actor: Actor, envelope: CommandEnvelope, via: str) -> CommandOutcome: ...

    async def stop(self) -> None: ...


# PostgreSQL keeps the ids of 64 subtransactions (SAVEPOINTs that wrote) per transaction in shared
# memory; past that every snapshot taken anywhere must look them up on disk.
POSTGRES_MAX_BATCH = 32


class BatchRunner:
    """One writer thread; whatever queued up while it worked runs next, in one transaction."""

    def __init__(self, dispatcher: CommandDispatcher, max_batch: int = 64) -> None:
        self.dispatcher = dispatcher
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="wes-command-batches", daemon=True)
        self._thread.start()

    async def run(self, actor: Actor, envelope: CommandEnvelope, via: str) -> CommandOutcome:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((actor, envelope, via, future, loop))
        return await future

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                outcomes = self.dispatcher.apply_batch([(a, e, v) for a, e, v, _, _ in batch])
                results = [(future, outcome, None) for (*_, future, _), outcome in zip(batch, outcomes)]
            except Exception as exc:  # noqa: BLE001  (each waiting connection answers internal_error)
                log.exception("a batch of %d commands failed", len(batch))
                results = [(future, None, exc) for *_, future, _ in batch]
            by_loop: dict = {}
            for item, result in zip(batch, results):
                by_loop.setdefault(item[4], []).append(result)
            for loop, answers in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle, answers)  # one wake-up of the loop per batch
                except RuntimeError:
                    pass  # the loop is closed: the app is stopping

    async def stop(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join, 30)


def _settle(answers: list) -> None:
    for future, outcome, exc in answers:
        if future.done():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(outcome)
