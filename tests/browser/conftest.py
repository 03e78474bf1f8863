"""Browser fixtures: the real app on a real port, and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches WES_TEST_CHROMIUM
(default /usr/bin/chromium). Without it the tests skip, except in CI
(CI=true) where a missing browser is a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.app import create_app
from backend.models import Site, User, UserSite
from sqlmodel import select
from tests.conftest import IN_CI, make_settings
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site, sscc

CHROMIUM = os.environ.get("WES_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HANDHELD_VIEWPORT = {"width": 480, "height": 800}
PASSWORD = "password-123"


class LiveUser:
    """One signed-in user against the live server (the shape tests.helpers.build_site expects)."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.post(url, headers=self.headers, **kw)

    def put(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.http.put(url, headers=self.headers, **kw)


class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a background thread, with its own SQLite file."""

    def __init__(self, database_path: Path) -> None:
        self.app = create_app(make_settings(f"sqlite:///{database_path}"))
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        self.tokens: dict[str, str] = {}

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while True:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped while starting")
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the live server did not answer /health within 30 s")
            time.sleep(0.05)
        self.runtime = self.app.state.runtime

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.http.close()
        self.socket.close()

    # The helpers in tests/helpers.py talk to an object with these three methods.
    def add_user(self, username: str, roles: list[str], sites: list[str] | None = None, *,
                 all_sites: bool = False, password: str = PASSWORD) -> None:
        with self.runtime.sessions() as session:
            user = User(username=username, roles=roles, all_sites=all_sites,
                        password_hash=self.runtime.passwords.hash(password))
            session.add(user)
            session.flush()
            for code in sites or []:
                site = session.exec(select(Site).where(Site.code == code)).one()
                session.add(UserSite(user_id=user.id, site_id=site.id))
            session.commit()

    def login(self, username: str, password: str = PASSWORD) -> str:
        r = self.http.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str) -> LiveUser:
        if username not in self.tokens:
            self.login(username)
        return LiveUser(self.http, self.tokens[username])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "wes.db")
    server.start()
    try:
        server.add_user("root", ["admin"], all_sites=True)
        yield server
    finally:
        server.stop()


@pytest.fixture
def site(live_server: LiveServer) -> LiveServer:
    """Site S1 (see tests.helpers.build_site), its users, and ASN-1: one mixed pallet plus a loose line."""
    build_site(live_server)
    add_site_users(live_server)
    r = live_server.as_("integ").post("/api/v1/inbound-shipments", json={
        "site": "S1", "reference": "ASN-1", "supplier": "ACME", "lines": [
            {"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
            {"line_no": 2, "sku": SKU_B, "quantity": 30, "lot": "LOT7", "expiry": "2027-03-31", "sscc": sscc(1)},
            {"line_no": 3, "sku": SKU_C, "quantity": 20},
        ]})
    assert r.status_code == 201, r.text
    return live_server


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"Debian's Chromium not found at {CHROMIUM} (set WES_TEST_CHROMIUM or apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser, live_server: LiveServer):  # noqa: ANN001, ANN201
    context = chromium_browser.new_context(viewport=HANDHELD_VIEWPORT, base_url=live_server.base_url,
                                           service_workers="allow")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
