"""The app's Content-Security-Policy in a real browser: what it blocks, and that the CSP watch of the other
browser tests (tests/browser/conftest.py CspWatch) sees it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import HANDHELD_VIEWPORT, CspWatch

pytestmark = pytest.mark.browser


def test_inline_styles_and_scripts_are_blocked_and_reported(chromium_browser, live_server) -> None:  # noqa: ANN001
    context = chromium_browser.new_context(viewport=HANDHELD_VIEWPORT, base_url=live_server.base_url)
    csp = CspWatch(context)
    try:
        page = context.new_page()
        page.goto("/app/")
        page.wait_for_selector("wes-app")
        assert csp.violations == []  # the sign-in screen itself is clean
        ran = page.evaluate("""() => {
            window.inlineRan = false;
            const box = document.createElement("div");
            box.innerHTML = '<i id="styled" style="color: rgb(255, 0, 0)">x</i>';
            document.body.append(box);
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
            return { ran: window.inlineRan, colour: getComputedStyle(document.getElementById("styled")).color };
        }""")
        page.wait_for_function("() => true")  # let the violation events reach the watch
        assert ran["ran"] is False and ran["colour"] != "rgb(255, 0, 0)"
        directives = " ".join(csp.violations)
        assert "style-src-attr" in directives and "script-src-elem" in directives
    finally:
        context.close()


def test_a_page_may_not_be_framed(chromium_browser, live_server) -> None:  # noqa: ANN001
    context = chromium_browser.new_context(base_url=live_server.base_url)
    try:
        page = context.new_page()
        page.goto("/app/wall/")
        # An iframe of the wall inside the app's own origin is refused too (frame-ancestors 'none').
        blocked = page.evaluate("""() => new Promise((done) => {
            const frame = document.createElement("iframe");
            frame.src = "/app/";
            frame.onload = () => {
                let inside = null;
                try { inside = frame.contentDocument && frame.contentDocument.querySelector("wes-app"); } catch (e) {}
                done(inside === null);
            };
            document.body.append(frame);
        })""")
        assert blocked is True
    finally:
        context.close()
