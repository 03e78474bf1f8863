"""Work the app repeats in the background (a component's loop): `every(seconds, work)`.

    async with every(60, sweep, name="at-risk-sweeper", at_start=False, log=log, failed="sweeping failed"):
        ...  # the app serves; sweep(stopping) runs in a worker thread every 60 s

`work(stopping)` runs in a worker thread (the database is blocking I/O), first as the
context opens (`at_start`) or one interval later, then one interval after each run ends.
A run that raises is logged (`failed` and the traceback, on `log`) and the next one goes
ahead as planned. `stopping` (a threading.Event) is set as the context closes, so long
work can end between its parts; closing waits for a run in progress. `after_each` is
called on the event loop after every run, whatever its outcome.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


@asynccontextmanager
async def every(seconds: float, work: Callable[[threading.Event], None], *, name: str, at_start: bool,
                log: logging.Logger, failed: str, after_each: Callable[[], None] | None = None
                ) -> AsyncIterator[None]:
    stopping = threading.Event()
    stop = asyncio.Event()

    async def one_run() -> None:
        try:
            await asyncio.to_thread(work, stopping)
        except Exception:
            log.exception("%s", failed)
        finally:
            if after_each is not None:
                after_each()

    async def loop() -> None:
        if at_start:
            await one_run()
        while True:
            try:
                await asyncio.wait_for(stop.wait(), seconds)
                return
            except TimeoutError:
                await one_run()

    runner = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stopping.set()
        stop.set()
        await runner
