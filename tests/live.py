"""The app served by uvicorn on a real ephemeral port, for websocket and browser tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from sqlmodel import select

from backend.app import create_app
from backend.models import User
from tests.conftest import make_settings
from tests.helpers import PASSWORD, insert_user



class LiveUser:
    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.put(url, headers=self.headers, **kw)


class LiveServer:
    """create_app served by uvicorn in a background thread (websockets included)."""

    def __init__(self, database_url: str, **settings) -> None:  # noqa: ANN003
        self.app = create_app(make_settings(database_url, **settings))
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", ws_max_size=1 << 20))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.http = httpx.Client(base_url=self.base_url, timeout=30)
        self.tokens: dict[str, str] = {}

    def start(self) -> "LiveServer":
        self.thread.start()
        wait_for_health(self.http, lambda: self.thread.is_alive())
        self.runtime = self.app.state.runtime
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.http.close()
        self.socket.close()

    def add_user(self, username: str, roles: list[str], sites: list[str] | None = None, *,
                 all_sites: bool = False, password: str = PASSWORD) -> None:
        insert_user(self.runtime.sessions, self.runtime.passwords, username, roles, sites, all_sites=all_sites,
                    password=password)

    def login(self, username: str, password: str = PASSWORD) -> str:
        r = self.http.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str) -> LiveUser:
        if username not in self.tokens:
            self.login(username)
        return LiveUser(self.http, self.tokens[username])

    def user_id(self, username: str) -> int:
        with self.runtime.sessions() as session:
            return session.exec(select(User.id).where(User.username == username)).one()


def wait_for_health(http: httpx.Client, alive, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError("the server stopped while starting")
        try:
            if http.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from /health within {timeout} s")
        time.sleep(0.05)
