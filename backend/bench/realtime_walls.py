"""The wall screens of `wes bench realtime --walls N`, in a process of their own.

Apart from the simulated handhelds (backend.bench.realtime_clients) so that reading the walls' large
wall.state messages never stalls the handhelds' own measurements. Each wall connects to /ws/wall with a
supervisor's token and writes down when each wall.state arrived (``time.monotonic()``: one clock for every
process on the machine); the first wall also reads which pickers' ``done_today`` went up in it, by how much.
`wall_delays` then matches them with the handhelds' acknowledged picks: a pick's wall delay is the time from
its acknowledgement at the handheld to the first wall.state that counts it (0 when a wall showed it before
the handheld heard its answer).

Usage: python -m backend.bench.realtime_walls CONFIG.json RESULT.json READY_FILE
(CONFIG is written by backend.bench.realtime; READY_FILE appears once every wall has its first state; on
SIGTERM or SIGINT the walls close and RESULT receives what they saw.)
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from collections import deque
from pathlib import Path

import websockets


_SEQ = re.compile(r'"type":"(wall\.state|wall\.alert)","seq":(\d+)')


class WallScreen:
    """One supervisor's wall on /ws/wall: when each wall.state arrived (by its seq).

    The first wall of the run also reads every state it gets (`reference`): which pickers' ``done_today`` went
    up in it, by how much. Every wall of a site is sent the same states, so the others need only note when each
    arrived: a TV's own work (reading the JSON) is not the server's, and twenty TVs' worth of it would weigh on
    the two cores the server and the handhelds share here.
    """

    def __init__(self, ws_url: str, token: str, reference: bool) -> None:
        self.url = ws_url + "/ws/wall"
        self.token = token
        self.reference = reference
        self.ws = None
        self.done: dict[str, int] = {}  # (reference) each picker's done_today in the last state seen
        self.counted: dict[int, dict[str, int]] = {}  # (reference) seq → picker → how many more done
        self.arrived: dict[int, float] = {}  # seq → when the state arrived (time.monotonic())
        self.first = asyncio.Event()
        self.errors: dict[str, int] = {}

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=None, ping_interval=None, open_timeout=60)
        await self.ws.send(json.dumps({"id": "auth", "type": "auth", "access_token": self.token}))
        answer = json.loads(await self.ws.recv())
        if answer.get("type") != "auth_ok":
            raise RuntimeError(f"wall auth refused: {answer}")

    async def reader(self) -> None:
        async for raw in self.ws:
            now = time.monotonic()
            found = _SEQ.search(raw, 0, 120)
            if found is not None:
                if found.group(1) == "wall.state":
                    seq = int(found.group(2))
                    self.arrived[seq] = now
                    if self.reference:
                        self.seen(seq, json.loads(raw)["data"]["workers"])
                    self.first.set()
                continue
            message = json.loads(raw)
            if message.get("type") == "ping":
                await self.ws.send(json.dumps({"id": message["id"], "type": "pong"}))
            elif message.get("type") == "error":
                code = message["error"]["code"]
                self.errors[code] = self.errors.get(code, 0) + 1

    def seen(self, seq: int, workers: list[dict]) -> None:
        for worker in workers:
            username, done = worker["username"], worker["done_today"]
            before = self.done.get(username)
            self.done[username] = done
            if before is not None and done > before:
                self.counted.setdefault(seq, {})[username] = done - before


def wall_delays(acks: dict[str, list[float]], counted: dict[int, dict[str, int]], arrivals: list[dict[int, float]],
                window: tuple[float, float]) -> list[float]:
    """Milliseconds from each pick acknowledged within `window` to the first wall.state counting it, per wall.

    `acks`: picker → acknowledgement times (monotonic) of their picks, in order; `counted`: state seq → picker
    → how many more picks that state counts; `arrivals`: per wall, state seq → when it arrived. Each wall's
    counts are matched to a picker's picks in order; a count that arrives before its pick's acknowledgement
    was shown before the handheld heard it: 0 ms.
    """
    start, end = window
    delays: list[float] = []
    for arrived in arrivals:
        per_picker: dict[str, list[tuple[float, int]]] = {}
        for seq, pickers in counted.items():
            if seq in arrived:
                for username, n in pickers.items():
                    per_picker.setdefault(username, []).append((arrived[seq], n))
        for username, times in acks.items():
            waiting: deque[float] = deque()
            ahead = 0
            # Acknowledgements before counts at the same instant.
            events = sorted([(t, 0, 1) for t in times] + [(t, 1, n) for t, n in per_picker.get(username, [])])
            for at, is_count, n in events:
                if not is_count:
                    if ahead:
                        ahead -= 1
                        if start <= at <= end:
                            delays.append(0.0)
                    else:
                        waiting.append(at)
                    continue
                for _ in range(n):
                    if waiting:
                        acked = waiting.popleft()
                        if start <= acked <= end:
                            delays.append((at - acked) * 1000.0)
                    else:
                        ahead += 1
    return delays


async def main(config: dict, ready: Path) -> dict:
    supervisors = config["supervisors"]
    walls = [WallScreen(config["ws_url"], supervisors[n % len(supervisors)], reference=n == 0)
             for n in range(config["walls"])]
    await asyncio.gather(*(w.connect() for w in walls))
    readers = [asyncio.create_task(w.reader()) for w in walls]
    await asyncio.wait_for(asyncio.gather(*(w.first.wait() for w in walls)), 120)
    ready.write_text("ready")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for wall in walls:
        await wall.ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    errors: dict[str, int] = {}
    for wall in walls:
        for code, n in wall.errors.items():
            errors[code] = errors.get(code, 0) + n
    return {"counted": walls[0].counted, "arrivals": [w.arrived for w in walls], "errors": errors}


def run_from_files(config_path: str, result_path: str, ready_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    result = asyncio.run(main(config, Path(ready_path)))
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    run_from_files(sys.argv[1], sys.argv[2], sys.argv[3])
