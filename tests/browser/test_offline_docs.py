"""/docs and /redoc render in Chromium with the outside world cut off (a warehouse's closed network)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture
def offline_page(chromium_browser, live_server):  # noqa: ANN001, ANN201
    """A desktop-sized page that may reach 127.0.0.1 only: anything else is aborted and remembered."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.base_url)
    outside: list[str] = []

    def only_local(route, request) -> None:  # noqa: ANN001
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    page = context.new_page()
    page.outside = outside
    # what the page itself refused (its Content-Security-Policy) never reached the network: kept apart
    page.blocked = []
    page.on("requestfailed", lambda request: page.blocked.append(request.url) if request.failure == "csp" else None)
    try:
        yield page
    finally:
        context.close()


def test_swagger_ui_lists_the_operations_offline(offline_page) -> None:  # noqa: ANN001
    page = offline_page
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("WES")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 50
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/auth/token").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-offline.png"))
    assert page.outside == []


def test_redoc_renders_offline(offline_page) -> None:  # noqa: ANN001
    page = offline_page
    page.goto("/redoc")
    # (ReDoc lays out the whole API before it shows anything: seconds on a slow machine)
    expect(page.locator("h1").first).to_contain_text("WES", timeout=30_000)
    expect(page.locator("[data-section-id^='tag/']").first).to_be_attached()
    assert page.outside == []
    # ReDoc's bundle asks cdn.redoc.ly for its attribution logo; the page's policy stops it in the browser
    assert all(urlsplit(url).hostname == "cdn.redoc.ly" for url in page.blocked), page.blocked
