"""What the browser tests do with a handheld: scan like a scanner, sign in, enroll, keep a screenshot."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.helpers import PASSWORD


def scan(page: Page, raw: str) -> None:
    """Type like a keystroke-output scanner: a fast burst of keys, then the Enter suffix."""
    page.keyboard.type(raw, delay=5)
    page.keyboard.press("Enter")


def sign_in(page: Page, username: str) -> None:
    page.goto("/app/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("wes-home")).to_be_visible()


def enrolled(page: Page, server, username: str, device: str | None = None) -> None:  # noqa: ANN001
    """Signed in as `username` on a handheld the site's supervisor (`sup`) enrolled for it just now."""
    r = server.as_("sup").post("/api/v1/devices", json={"site": "S1", "name": device or f"{username}-handheld"})
    assert r.status_code == 201, r.text
    sign_in(page, username)
    page.get_by_label("Enrollment token").fill(r.json()["enrollment_token"])
    page.get_by_role("button", name="Enroll device").click()
    expect(page.locator(".device-bar .link-state")).to_have_text("online")


def shot(page: Page, name: str) -> None:
    """Keep a screenshot as a test artefact (tests/browser/artifacts/NAME, .png added if missing)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / (name if name.endswith(".png") else f"{name}.png")))
