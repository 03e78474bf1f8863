"""Browser fixtures: the real app on a real port, and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches WES_TEST_CHROMIUM
(default /usr/bin/chromium). Without it the tests skip, except in CI
(CI=true) where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.virtual import VirtualPrinter
from tests.conftest import IN_CI
from tests.live import LiveServer
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site, sscc

CHROMIUM = os.environ.get("WES_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HANDHELD_VIEWPORT = {"width": 360, "height": 640}


ARTIFACTS = Path(__file__).parent / "artifacts"
# One file per test run, shared by its pytest-xdist workers (tests/conftest.py names the run).
TIMINGS = ARTIFACTS / f"scan-to-feedback-{os.environ.get('WES_TEST_RUN_ID', os.getpid())}.jsonl"


@pytest.fixture
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The app on SQLite; a module runs its tests on PostgreSQL too with
    `pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True)`."""
    database = getattr(request, "param", "sqlite")
    url = f"sqlite:///{tmp_path / 'wes.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    server = LiveServer(url)
    server.database = database
    server.start()
    try:
        server.add_user("root", ["admin"], all_sites=True)
        yield server
    finally:
        server.stop()


@pytest.fixture
def virtual_printer() -> Iterator[VirtualPrinter]:
    """printers.virtual.VirtualPrinter on an ephemeral TCP port, served by its own event loop thread (the demo's
    printer too: `wes demo` starts one on 9100)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    printer = VirtualPrinter()
    asyncio.run_coroutine_threadsafe(printer.start(), loop).result(10)
    try:
        yield printer
    finally:
        asyncio.run_coroutine_threadsafe(printer.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


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


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it is
# open, and asyncio tests collected after the browser tests need that thread free again.
@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"Debian's Chromium not found at {CHROMIUM} (set WES_TEST_CHROMIUM or apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import expect, sync_playwright

    # What the screen shows after a round trip to the server (a command through the outbox, a label printed)
    # may take longer than Playwright's default 5 s on a loaded 2-core CI machine; the waits end as soon as it
    # shows.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Reports each Content-Security-Policy violation of a page (a blocked inline style or script, a foreign host).
_CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => {
  window.__wesCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline code"} `
    + `(${e.sourceFile || location.pathname}:${e.lineNumber}: ${(e.sample || "").slice(0, 60)})`);
}, true);"""


class CspWatch:
    """Every CSP violation in a browser context's pages: the `securitypolicyviolation` events and the console
    errors Chromium writes for them. `check()` fails the test when there was any."""

    def __init__(self, context) -> None:  # noqa: ANN001
        self.violations: list[str] = []
        context.expose_binding("__wesCspViolation", lambda _source, text: self.violations.append(text))
        context.add_init_script(_CSP_LISTENER)
        context.on("console", self._console)

    def _console(self, message) -> None:  # noqa: ANN001
        if message.type == "error" and "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text[:300]}")

    def check(self) -> None:
        if self.violations:
            pytest.fail("Content-Security-Policy violations:\n" + "\n".join(self.violations), pytrace=False)


@pytest.fixture
def page(chromium_browser, live_server: LiveServer, request: pytest.FixtureRequest):  # noqa: ANN001, ANN201
    """A handheld-sized page; the test fails on any CSP violation in it."""
    context = chromium_browser.new_context(viewport=HANDHELD_VIEWPORT, base_url=live_server.base_url,
                                           service_workers="allow")
    csp = CspWatch(context)
    # A scanner's burst arrives a few ms a key; on a loaded test machine the browser may take longer to handle
    # each key, so the tests' scanner settings allow gaps of up to 400 ms (the tests type by hand with fill()).
    context.add_init_script("""if (!localStorage.getItem('wes.scanner'))
        localStorage.setItem('wes.scanner', JSON.stringify({ maxGapMs: 400 }));""")
    page = context.new_page()
    try:
        yield page
        _keep_scan_timings(page, live_server, request.node.nodeid)
        csp.check()
    finally:
        context.close()


def _keep_scan_timings(page, server: LiveServer, test: str) -> None:  # noqa: ANN001
    """The app's scan-to-feedback times of this test (feedback-banner.js), for the figures printed after the run."""
    try:
        timings = page.evaluate("(window.wes && window.wes.scanToFeedbackMs) || []")
    except Exception:  # noqa: BLE001 (the page may be gone: nothing to keep)
        return
    if timings:
        ARTIFACTS.mkdir(exist_ok=True)
        with TIMINGS.open("a") as out:
            out.write(json.dumps({"test": test, "database": server.database, "ms": timings}) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`--dist loadgroup`), the browser tests run one after another on one worker: two
    Chromiums and two live servers at once on a 2-core machine starve each other's key events."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("browser"))
