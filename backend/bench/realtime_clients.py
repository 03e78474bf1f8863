"""The simulated handhelds of `wes bench realtime`: one asyncio process, real websocket clients.

Each handheld connects and authenticates (device token + worker access token),
claims work and is pushed a whole pick tour (task.assigned, in walking order).
It works the tasks it holds in the order received: after a think pause it
sends confirm_pick with the location code (as scanned from its barcode), the
product's GTIN, the quantity and the tote of the task's slot on the tour's
cart (`TOTE-{tour_id}-{tote_no}`). A few confirms are sent again with the same
command id, as an outbox replay would, and must be answered `replayed` with the
same result. When the tour is done the server pushes the next one; a handheld
left without work claims again. Supervisors reassign held tasks over HTTP
meanwhile, and echo clients measure the bare websocket round trip.

For the wall screens watching meanwhile (backend.bench.realtime_walls, a
process of their own), the result also says when each confirmed pick was
acknowledged at its handheld (``acks``, ``time.monotonic()``) and when the
measured window began and ended on that clock.

Usage: python -m backend.bench.realtime_clients CONFIG.json RESULT.json
(CONFIG is written by backend.bench.realtime; RESULT receives the figures.)
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import websockets

from backend.app import tune_gc_for_latency

# Refusals that are the workload's own doing, not errors: a supervisor took the task away meanwhile
# (task_conflict: it was moved to another picker, who confirmed it first; the supervisor is told).
EXPECTED_REFUSALS = {"task_not_yours", "invalid_transition", "task_not_open", "task_conflict"}
REPLAY_SHARE = 0.02


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return round(ordered[index], 2)


def summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.50), "p99": percentile(values, 0.99)}


@dataclass
class Figures:
    measuring: bool = False
    commands: int = 0
    rtt_ms: list[float] = field(default_factory=list)
    # The same round trips by what the command was: a claim, a confirm mid-tour, the tour's last confirm (the server
    # claims the picker's next tour with it), a replayed confirm.
    rtt_by_kind: dict[str, list[float]] = field(default_factory=dict)
    push_ms: list[float] = field(default_factory=list)
    echo_ms: list[float] = field(default_factory=list)
    acks: dict[str, list[float]] = field(default_factory=dict)  # picker → when each pick was acknowledged
    errors: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    refusals: int = 0
    lost_events: int = 0
    replays: int = 0
    reassigns: int = 0
    tasks_done: int = 0
    conflicts: int = 0

    def error(self, code: str) -> None:
        self.errors += 1
        self.error_codes[code] = self.error_codes.get(code, 0) + 1


class Handheld:
    def __init__(self, ws_url: str, creds: dict, figures: Figures, think_ms: tuple[int, int], rng: random.Random,
                 board: dict, gtins: dict[str, str]) -> None:
        self.url = ws_url + "/ws/device"
        self.creds = creds
        self.figures = figures
        self.think = think_ms
        self.rng = rng
        self.board = board  # task id -> (holder username, state): what supervisors pick from
        self.gtins = gtins  # sku -> GTIN, what the product's barcode says
        self.ws = None
        self.last_seq = 0
        self.held: dict[int, dict] = {}
        self.wanted = asyncio.Event()
        self.pending: dict[str, asyncio.Future] = {}
        self.sent_at: dict[str, float] = {}

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=1 << 20, ping_interval=None, open_timeout=60)
        await self.ws.send(json.dumps({"id": "auth", "type": "auth", "device_token": self.creds["device_token"],
                                       "access_token": self.creds["access_token"], "last_seq": self.last_seq}))
        answer = json.loads(await self.ws.recv())
        if answer.get("type") != "auth_ok":
            raise RuntimeError(f"auth refused: {answer}")

    async def reader(self) -> None:
        async for raw in self.ws:
            now = time.time()
            message = json.loads(raw)
            type_ = message.get("type")
            if "seq" in message:
                seq = message["seq"]
                if seq != self.last_seq + 1:
                    if seq > self.last_seq + 1:
                        self.figures.lost_events += seq - self.last_seq - 1
                    else:
                        self.figures.error("duplicate_event")
                self.last_seq = max(self.last_seq, seq)
                self.on_event(type_, message, now)
            elif type_ == "result":
                future = self.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result((time.perf_counter(), time.monotonic(), message))
            elif type_ == "ping":
                await self.ws.send(json.dumps({"id": message["id"], "type": "pong"}))
            elif type_ == "error":
                self.figures.error(message["error"]["code"])

    def on_event(self, type_: str, message: dict, now: float) -> None:
        data = message["data"]
        if type_ == "task.assigned":
            task = data["task"]
            if self.figures.measuring:
                at = datetime.fromisoformat(message["at"]).timestamp()
                self.figures.push_ms.append((now - at) * 1000.0)
            self.held[task["id"]] = task
            self.board[task["id"]] = (self.creds["username"], task["state"])
            self.wanted.set()
        elif type_ == "task.revoked":
            self.held.pop(data["task_id"], None)
            self.board.pop(data["task_id"], None)
        elif type_ == "task.updated":
            task = data["task"]
            if task["state"] in ("done", "cancelled"):
                self.held.pop(task["id"], None)
                self.board.pop(task["id"], None)
            elif task["id"] in self.board:
                self.board[task["id"]] = (self.creds["username"], task["state"])

    async def command(self, type_: str, payload: dict, command_id: str | None = None, kind: str | None = None) -> dict:
        command_id = command_id or str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        sent = time.perf_counter()
        await self.ws.send(json.dumps({"id": command_id, "type": type_, "payload": payload}))
        received, acked_at, message = await asyncio.wait_for(future, 60)
        if self.figures.measuring:
            self.figures.commands += 1
            self.figures.rtt_ms.append((received - sent) * 1000.0)
            self.figures.rtt_by_kind.setdefault(kind or type_, []).append((received - sent) * 1000.0)
        if type_ == "confirm_pick" and message["ok"] and not message.get("replayed") \
                and message["result"].get("outcome") != "conflict":
            self.figures.acks.setdefault(self.creds["username"], []).append(acked_at)
        if not message["ok"]:
            code = message["error"]["code"]
            if code in EXPECTED_REFUSALS:
                self.figures.refusals += 1
            else:
                self.figures.error(code)
        return message

    async def worker(self, stop: asyncio.Event) -> None:
        await self.command("claim_next_task", {})
        while not stop.is_set():
            if not self.held:
                self.wanted.clear()
                try:
                    await asyncio.wait_for(self.wanted.wait(), 1.0)
                except TimeoutError:
                    answer = await self.command("claim_next_task", {})
                    if answer["ok"] and not answer["result"]["claimed"]:
                        # The server says we still hold these (no event is pushed for them again).
                        for task in answer["result"]["tasks"]:
                            self.held.setdefault(task["id"], task)
                continue
            task = next(iter(self.held.values()))
            await asyncio.sleep(self.rng.uniform(*self.think) / 1000.0)
            if task["id"] not in self.held:
                continue
            confirm_id = str(uuid.uuid4())
            payload = {"task_id": task["id"], "location": task["from_location"], "product": self.gtins[task["sku"]],
                       "tote": f"TOTE-{task['tour_id']}-{task['tote_no']}", "quantity": task["quantity"]}
            last = len(self.held) == 1
            answer = await self.command("confirm_pick", payload, confirm_id,
                                        kind="confirm_pick_last" if last else "confirm_pick")
            if not answer["ok"]:
                # Refused (the task was taken away and done by another, …): it is not ours to work any more.
                self.held.pop(task["id"], None)
                if self.board.get(task["id"], (None,))[0] == self.creds["username"]:
                    self.board.pop(task["id"], None)
                continue
            self.held.pop(task["id"], None)
            self.board.pop(task["id"], None)
            if self.figures.measuring:
                self.figures.tasks_done += 1
                self.figures.conflicts += answer["result"].get("outcome") == "conflict"
            if self.rng.random() < REPLAY_SHARE:
                # The outbox sends it again (the answer was lost on the way): the same answer, no effect.
                again = await self.command("confirm_pick", payload, confirm_id, kind="confirm_pick_replay")
                self.figures.replays += 1
                if not again.get("replayed") or again.get("result") != answer["result"]:
                    self.figures.error("replay_mismatch")


async def supervisor(base_url: str, token: str, board: dict, usernames: list[str], figures: Figures,
                     stop: asyncio.Event, rng: random.Random) -> None:
    """Every ~0.5 s, move an assigned task (a pick held, not yet confirmed) to another worker."""
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30) as http:
        while not stop.is_set():
            await asyncio.sleep(rng.uniform(0.3, 0.7))
            candidates = [task_id for task_id, (_, state) in list(board.items()) if state == "assigned"]
            if not candidates:
                continue
            task_id = rng.choice(candidates)
            holder = board.get(task_id, (None,))[0]
            target = rng.choice([u for u in usernames if u != holder])
            r = await http.post(f"/api/v1/tasks/{task_id}/reassign", json={"username": target})
            if r.status_code == 200:
                figures.reassigns += figures.measuring
            elif r.status_code != 409:
                figures.error(f"reassign_{r.status_code}")


async def echo(ws_url: str, token: str, figures: Figures, stop: asyncio.Event) -> None:
    async with websockets.connect(ws_url + "/ws/echo", ping_interval=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        if json.loads(await ws.recv()).get("type") != "auth_ok":
            figures.error("echo_auth")
            return
        while not stop.is_set():
            sent = time.perf_counter()
            await ws.send(json.dumps({"id": uuid.uuid4().hex, "type": "echo", "payload": {"t": sent}}))
            await ws.recv()
            if figures.measuring:
                figures.echo_ms.append((time.perf_counter() - sent) * 1000.0)
            await asyncio.sleep(0.1)


async def main(config: dict) -> dict:
    figures = Figures()
    rng = random.Random(11)
    board: dict[int, tuple[str, str]] = {}
    think = tuple(config["think_ms"])
    gtins = config["gtins"]
    handhelds = [Handheld(config["ws_url"], creds, figures, think, random.Random(rng.random()), board, gtins)
                 for creds in config["handhelds"]]
    # Connect in small batches, like a shift starting.
    for start in range(0, len(handhelds), 25):
        await asyncio.gather(*(h.connect() for h in handhelds[start:start + 25]))
    # The instrument must not stall: the server's own garbage-collection tuning (long collections
    # here would stop this loop and show up as everyone's latency).
    tune_gc_for_latency()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(h.reader()) for h in handhelds]
    tasks += [asyncio.create_task(h.worker(stop)) for h in handhelds]
    usernames = [c["username"] for c in config["handhelds"]]
    tasks += [asyncio.create_task(supervisor(config["base_url"], token, board, usernames, figures, stop,
                                             random.Random(rng.random()))) for token in config["supervisors"]]
    tasks += [asyncio.create_task(echo(config["ws_url"], config["supervisors"][0], figures, stop))
              for _ in range(config["echo_clients"])]
    # Warm-up: everyone holds work.
    await asyncio.sleep(config.get("warm_up_seconds", max(2.0, sum(think) / 1000.0 * 2)))
    figures.measuring = True
    started, window_start = time.perf_counter(), time.monotonic()
    await asyncio.sleep(config["seconds"])
    figures.measuring = False
    elapsed, window_end = time.perf_counter() - started, time.monotonic()
    stop.set()
    await asyncio.sleep(0.5)
    for handheld in handhelds:
        await handheld.ws.close()
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    crashed = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)
               and not isinstance(o, websockets.ConnectionClosed)]
    for failure in crashed:
        figures.error(f"client_{type(failure).__name__}")
        print(f"client task failed: {failure!r}", file=sys.stderr)
    return {
        "seconds": elapsed, "commands": figures.commands, "command_rtt_ms": summary(figures.rtt_ms),
        "push_ms": summary(figures.push_ms), "echo_rtt_ms": summary(figures.echo_ms), "errors": figures.errors,
        "acks": figures.acks, "window": [window_start, window_end],
        "lost_events": figures.lost_events,
        "details": {"error_codes": figures.error_codes, "expected_refusals": figures.refusals,
                    "replays": figures.replays, "reassigns": figures.reassigns, "tasks_confirmed": figures.tasks_done,
                    "confirm_conflicts": figures.conflicts, "pushes": len(figures.push_ms),
                    "command_rtt_max_ms": round(max(figures.rtt_ms, default=0.0), 1),
                    "command_rtt_ms_by_kind": {kind: {"count": len(values), **summary(values)}
                                               for kind, values in sorted(figures.rtt_by_kind.items())},
                    "push_max_ms": round(max(figures.push_ms, default=0.0), 1)},
    }


def run_from_files(config_path: str, result_path: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(config_path) as f:
        config = json.load(f)
    result = asyncio.run(main(config))
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    run_from_files(sys.argv[1], sys.argv[2])
