"""Realtime fixtures: the app served by uvicorn on an ephemeral port, and real websocket clients.

Nothing here asserts a duration: clients wait for messages with generous
timeouts and the tests assert what arrived.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from sqlmodel import select

from backend.models import Site, Task
from tests.live import LiveServer
from tests.helpers import SKU_A, add_site_users, build_site, sscc

WAIT = 20.0  # seconds a test waits for a message before giving up (generous: never a timing assertion)


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url).start()
    try:
        server.add_user("root", ["admin"], all_sites=True)
        yield server
    finally:
        server.stop()


@pytest.fixture
def site(live: LiveServer) -> LiveServer:
    """Site S1 with users recv, sup, pick, integ, and a second picker pick2."""
    build_site(live)
    add_site_users(live)
    live.add_user("pick2", ["picker"], ["S1"])
    return live


def enroll_device(server: LiveServer, name: str, *, worker: str = "pick", site: str = "S1",
                  supervisor: str = "sup", profile: str | None = "zebra-tc52", kind: str = "handheld") -> dict[str, Any]:
    """A supervisor registers a device; the device (with a worker signed in) trades the token."""
    r = server.as_(supervisor).post("/api/v1/devices", json={"site": site, "name": name, "kind": kind,
                                                             "firmware_profile": profile})
    assert r.status_code == 201, r.text
    created = r.json()
    r = server.as_(worker).post("/api/v1/devices/enroll", json={"enrollment_token": created["enrollment_token"]})
    assert r.status_code == 200, r.text
    return {**r.json(), "id": created["device"]["id"]}


def make_task(server: LiveServer, *, kind: str = "move", site: str = "S1", priority: int = 500,
              from_location: str | None = "R1-01", **fields) -> int:  # noqa: ANN003
    """A pending task written straight into the database (no device hears of creation)."""
    from backend.models import Location

    with server.runtime.sessions() as session:
        site_row = session.exec(select(Site).where(Site.code == site)).one()
        loc = session.exec(select(Location).where(Location.site_id == site_row.id,
                                                  Location.code == from_location)).first() if from_location else None
        task = Task(site_id=site_row.id, kind=kind, priority=priority, from_location_id=loc.id if loc else None,
                    **fields)
        session.add(task)
        session.commit()
        return task.id


def receive_pallet(server: LiveServer, n: int = 1) -> int:
    """An ASN pallet received at DOCK-1: returns its putaway task id."""
    integ, recv = server.as_("integ"), server.as_("recv")
    r = integ.post("/api/v1/inbound-shipments", json={"site": "S1", "reference": f"ASN-{n}", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 24, "sscc": sscc(n)}]})
    assert r.status_code in (200, 201), r.text
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": sscc(n)})
    assert r.status_code == 201, r.text
    return r.json()["putaway_task_id"]


class SocketClient:
    """A websocket client that keeps every message and waits for the ones a test wants.

    `check_seq`: messages carrying a `seq` must come gapless and in order (a device's stream)."""

    check_seq = False

    def __init__(self) -> None:
        self.ws = None
        self.inbox: list[dict] = []  # everything received, in order
        self.unread: list[dict] = []
        self.last_seq = 0

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def _read(self, timeout: float) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message = json.loads(raw)
        self.inbox.append(message)
        if self.check_seq and "seq" in message:
            assert message["seq"] == self.last_seq + 1, f"gap or duplicate: had {self.last_seq}, got {message}"
            self.last_seq = message["seq"]
        return message

    async def expect(self, predicate, timeout: float = WAIT) -> dict:  # noqa: ANN001
        for i, message in enumerate(self.unread):
            if predicate(message):
                return self.unread.pop(i)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no matching message within {timeout} s; unread: {self.unread[-10:]}")
            message = await self._read(remaining)
            if predicate(message):
                return message
            self.unread.append(message)


class DeviceClient(SocketClient):
    """A handheld on /ws/device: authenticates, keeps every message, sends commands."""

    check_seq = True

    def __init__(self, ws_url: str, device_token: str, access_token: str | None = None, *,
                 username: str | None = None, password: str | None = None) -> None:
        self.url = ws_url + "/ws/device"
        self.device_token = device_token
        self.access_token = access_token
        self.username, self.password = username, password
        super().__init__()

    async def connect(self, last_seq: int | None = None) -> dict:
        self.ws = await websockets.connect(self.url, max_size=None)
        auth = {"id": "auth-1", "type": "auth", "device_token": self.device_token,
                "last_seq": self.last_seq if last_seq is None else last_seq}
        if self.access_token:
            auth["access_token"] = self.access_token
        else:
            auth.update(username=self.username, password=self.password)
        await self.ws.send(json.dumps(auth))
        return await self.expect(lambda m: m["type"] in ("auth_ok", "error"))

    async def event(self, type_: str, timeout: float = WAIT, **data) -> dict:  # noqa: ANN003
        def match(m: dict) -> bool:
            if m.get("type") != type_:
                return False
            body = m.get("data", {})
            task = body.get("task", {})
            return all(body.get(k) == v or task.get(k) == v for k, v in data.items())

        return await self.expect(match, timeout)

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def command(self, type_: str, payload: dict | None = None, *, command_id: str | None = None,
                      timeout: float = WAIT) -> dict:
        command_id = command_id or str(uuid.uuid4())
        await self.ws.send(json.dumps({"id": command_id, "type": type_, "payload": payload or {}}))
        return await self.expect(lambda m: m.get("id") == command_id and m["type"] in ("result", "error"), timeout)
