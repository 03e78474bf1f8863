"""Two `wes serve` processes on one PostgreSQL: events cross replicas, and a device survives losing one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from backend.auth.security import PasswordHashing
from backend.db import make_engine, make_session_factory
from backend.migrate import upgrade
from backend.models import Location, Site, Task
from tests.helpers import insert_user
from tests.helpers import add_site_users, build_site
from tests.live import PASSWORD, LiveUser, wait_for_health
from tests.realtime.conftest import DeviceClient

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")  # noqa: SIM115
        env = {**os.environ, "WES_ENVIRONMENT": "test", "WES_LOG_LEVEL": "warning"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--database-url", database_url, "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def wait(self) -> "Replica":
        wait_for_health(self.http, lambda: self.process.poll() is None)
        return self

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self.http.close()
        self.log.close()


class Cluster:
    """Users written straight to the database; HTTP through whichever replica is named."""

    def __init__(self, database_url: str, replicas: list[Replica]) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.replicas = replicas
        self.http = replicas[-1].http
        self.tokens: dict[str, str] = {}

    def add_user(self, username: str, roles: list[str], sites: list[str] | None = None, *,
                 all_sites: bool = False, password: str = PASSWORD) -> None:
        insert_user(self.sessions, PasswordHashing(), username, roles, sites, all_sites=all_sites, password=password)

    def login(self, username: str) -> str:
        if username not in self.tokens:
            r = self.http.post(f"{API}/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str) -> LiveUser:
        return LiveUser(self.http, self.login(username))

    def make_task(self) -> int:
        with self.sessions() as session:
            site = session.exec(select(Site).where(Site.code == "S1")).one()
            loc = session.exec(select(Location).where(Location.site_id == site.id, Location.code == "R1-01")).one()
            task = Task(site_id=site.id, kind="move", from_location_id=loc.id)
            session.add(task)
            session.commit()
            return task.id


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    replicas = [Replica(postgres_url, tmp_path / f"replica-{n}.log") for n in (1, 2)]
    try:
        for replica in replicas:
            replica.wait()
        world = Cluster(postgres_url, replicas)
        world.add_user("root", ["admin"], all_sites=True)
        yield world
        world.engine.dispose()
    finally:
        for replica in replicas:
            replica.close()


async def test_a_device_on_one_replica_hears_the_other_and_survives_losing_its_own(cluster):  # noqa: ANN001
    one, two = cluster.replicas
    build_site(cluster)
    add_site_users(cluster)
    r = cluster.as_("sup").post(f"{API}/devices", json={"site": "S1", "name": "TC52-R", "firmware_profile": None})
    assert r.status_code == 201, r.text
    r = cluster.as_("pick").post(f"{API}/devices/enroll", json={"enrollment_token": r.json()["enrollment_token"]})
    device_token = r.json()["device_token"]
    token = cluster.login("pick")

    client = DeviceClient(one.ws_url, device_token, token)
    assert (await client.connect())["type"] == "auth_ok"
    first = cluster.make_task()
    # Assigned through replica two; the device is connected to replica one.
    r = cluster.as_("sup").post(f"{API}/tasks/{first}/assign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    await client.event("task.assigned", id=first)
    held = client.last_seq

    one.kill()
    later = [cluster.make_task() for _ in range(3)]
    for task_id in later:
        assert cluster.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200

    resumed = DeviceClient(two.ws_url, device_token, token)
    resumed.last_seq = held
    welcome = await resumed.connect()
    assert welcome["type"] == "auth_ok" and welcome["head"] == held + 3
    for task_id in later:
        message = await resumed.event("task.assigned", id=task_id)
    assert [m["seq"] for m in resumed.inbox if "seq" in m] == [held + 1, held + 2, held + 3]
    assert message["seq"] == held + 3
    # Live again on replica two.
    one_more = cluster.make_task()
    assert cluster.as_("sup").post(f"{API}/tasks/{one_more}/assign", json={"username": "pick"}).status_code == 200
    assert (await resumed.event("task.assigned", id=one_more))["seq"] == held + 4
    await resumed.close()


async def test_disabling_a_user_on_one_replica_closes_their_wall_and_device_on_the_other(cluster):  # noqa: ANN001
    import asyncio
    import json

    import websockets

    one, _two = cluster.replicas
    build_site(cluster)
    add_site_users(cluster)
    cluster.add_user("sup2", ["supervisor"], ["S1"])
    r = cluster.as_("sup").post(f"{API}/devices", json={"site": "S1", "name": "TC52-X", "firmware_profile": None})
    r = cluster.as_("sup2").post(f"{API}/devices/enroll", json={"enrollment_token": r.json()["enrollment_token"]})
    handheld = DeviceClient(one.ws_url, r.json()["device_token"], cluster.login("sup2"))
    assert (await handheld.connect())["type"] == "auth_ok"
    wall = await websockets.connect(one.ws_url + "/ws/wall")
    await wall.send(json.dumps({"id": "a1", "type": "auth", "access_token": cluster.login("sup2"), "site": "S1"}))
    assert json.loads(await asyncio.wait_for(wall.recv(), 20))["type"] == "auth_ok"
    with cluster.sessions() as session:
        from backend.models import User

        sup2 = session.exec(select(User.id).where(User.username == "sup2")).one()
    # Disabled through replica two; both sockets live on replica one.
    assert cluster.as_("root").post(f"{API}/users/{sup2}/disable").status_code == 200
    for socket_ in (wall, handheld.ws):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket_.recv(), 20)
        assert closed.value.rcvd.code == 4410
