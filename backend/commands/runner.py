"""Where device commands run: the websocket and HTTP paths both `await runner.run(…)`.

- `BatchRunner` (SQLite, one writer): one thread runs whatever commands
  queued up while it worked on the last batch, in one transaction (each in
  its own SAVEPOINT, so a refused command changes nothing), and commits
  once: BEGIN IMMEDIATE, COMMIT and the WAL writes of the pages they all
  touch are shared, so the busier the floor, the cheaper each command.
  Answers go out only after that commit.
- `ThreadRunner` (PostgreSQL): a pool of threads, one transaction per
  command, so commands of different workers run side by side. Each round
  trip to the server gives up the GIL and must win it back from the event
  loop, so a command's statements travel in as few round trips as possible
  (backend.rawsql's pipelines). (Running them on the event loop instead, over
  psycopg's async connections and SQLAlchemy's greenlet bridge, measured
  slower: the loop then carried every command's Python as well.)
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from backend.commands.context import Actor
from backend.commands.dispatcher import CommandDispatcher, CommandEnvelope, CommandOutcome

log = logging.getLogger("wes.commands")


class CommandRunner(Protocol):
    async def run(self, actor: Actor, envelope: CommandEnvelope, via: str) -> CommandOutcome: ...

    async def stop(self) -> None: ...


class ThreadRunner:
    def __init__(self, dispatcher: CommandDispatcher, workers: int) -> None:
        self.dispatcher = dispatcher
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wes-command")

    async def run(self, actor: Actor, envelope: CommandEnvelope, via: str) -> CommandOutcome:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.dispatcher.apply, actor, envelope, via)

    async def stop(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


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
