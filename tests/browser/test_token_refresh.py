"""Short access tokens in the PWA: an expired one is renewed with the refresh token behind the worker's back;
only a refused renewal (signed out everywhere, disabled) sends them to the sign-in screen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from backend.models import RefreshToken
from tests.browser.test_handheld_pwa import sign_in, tiles

pytestmark = pytest.mark.browser


def _expired_token(site, username: str) -> str:  # noqa: ANN001
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    claims = {"sub": str(site.user_id(username)), "kind": "user", "ver": 0, "iat": past - timedelta(minutes=15),
              "exp": past}
    return jwt.encode(claims, site.runtime.settings.secret_key, algorithm="HS256")


def test_an_expired_access_token_is_renewed_without_the_sign_in_screen(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    refresh_before = page.evaluate("sessionStorage.getItem('wes.refresh')")
    assert refresh_before
    expired = _expired_token(site, "recv")
    assert site.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    page.evaluate("token => sessionStorage.setItem('wes.token', token)", expired)
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.url.split("/api/v1")[-1].split("?")[0], r.status))
            if "/api/v1/" in r.url else None)

    # The putaway screen lists the open putaways: first with the expired token, then (renewed) with the new one.
    with page.expect_response(lambda r: "/api/v1/tasks?" in r.url and r.status == 200):
        tiles(page).get_by_text("Putaway").click()
    expect(page.locator("wes-putaway")).to_be_visible()
    page.wait_for_function("token => sessionStorage.getItem('wes.token') !== token", arg=expired)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(page.locator("wes-feedback")).not_to_contain_text("sign in again")
    assert ("/tasks", 401) in answers and ("/auth/refresh", 200) in answers
    assert answers.index(("/tasks", 401)) < answers.index(("/auth/refresh", 200))
    assert ("/tasks", 200) in answers[answers.index(("/auth/refresh", 200)):]
    renewed = page.evaluate("sessionStorage.getItem('wes.token')")
    assert site.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed}"}).json()["username"] == "recv"
    assert page.evaluate("sessionStorage.getItem('wes.refresh')") not in (None, refresh_before)
    with site.runtime.sessions() as session:
        assert len(session.exec(select(RefreshToken).where(RefreshToken.used_at.is_not(None))).all()) == 1


def test_a_refused_renewal_sends_the_worker_to_the_sign_in_screen(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    token = page.evaluate("sessionStorage.getItem('wes.token')")
    # Signed out everywhere (from another screen): the access token and the refresh token are both revoked.
    assert site.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    tiles(page).get_by_text("Putaway").click()  # its list is refused, and so is the renewal
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("wes-feedback")).to_contain_text("sign in again")
    assert page.evaluate("sessionStorage.getItem('wes.refresh')") is None
