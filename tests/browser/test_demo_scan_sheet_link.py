"""On the demo, the handheld's sign-in screen links the scan sheet, and a scanned badge fills in the user name."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from backend import demo
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_no_link_where_the_server_is_not_a_demo(live_server, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".demo-link")).to_be_hidden()


def test_the_demo_links_its_scan_sheet_and_takes_a_badge_scan(live_server, page: Page) -> None:  # noqa: ANN001
    demo.seed(live_server.runtime, seed=2, orders=60)
    page.goto("/app/")
    link = page.get_by_role("link", name="Demo scan sheet (PDF)")
    expect(link).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "login-demo-link.png"))
    assert link.get_attribute("href") == "/demo/scan-sheet.pdf"
    sheet = page.request.get(link.get_attribute("href"))
    assert sheet.ok and sheet.headers["content-type"] == "application/pdf" and sheet.body().startswith(b"%PDF-")

    # the badge of picker1 from the sheet, as DataWedge types it (AIM id ]C0 for Code 128, Enter suffix)
    page.keyboard.type("]C0picker1", delay=5)
    page.keyboard.press("Enter")
    expect(page.get_by_label("User name")).to_have_value("picker1")
    expect(page.get_by_label("Password")).to_be_focused()
    page.get_by_label("Password").fill("green-tote-cart-7")  # typed by a person (a fast burst would read as a scan)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("wes-home")).to_be_visible()
