"""The handheld PWA in Debian's Chromium against the real app: login, receiving, putaway, scans, install."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.handheld import enrolled, shot, sign_in
from tests.helpers import PASSWORD, SKU_A, SKU_B, SKU_C, sscc

pytestmark = pytest.mark.browser

PALLET_SCAN = "]C100" + sscc(1)  # what DataWedge types for the pallet label: AIM prefix + SSCC


def datawedge_scan(page: Page, raw: str) -> None:
    """Type like a keystroke-output scanner: a fast burst of keys, then the Enter suffix."""
    page.keyboard.type(raw, delay=5)
    page.keyboard.press("Enter")


def tiles(page: Page):  # noqa: ANN201
    return page.locator(".tile .tile-label")


def test_login_shows_the_tiles_for_the_role(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    expect(tiles(page)).to_have_text(["Receive", "Putaway", "Count", "Scan check"])
    expect(page.locator(".device-bar .who")).to_contain_text("recv @ S1")
    token = page.evaluate("sessionStorage.getItem('wes.token')")
    assert token and site.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()[
        "username"] == "recv"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('wes.token')") is None

    sign_in(page, "pick")
    expect(tiles(page)).to_have_text(["Pick", "Putaway", "Replenish", "Count", "Scan check"])


def test_logging_out_of_an_enrolled_handheld_signs_the_worker_off_it(site, page: Page) -> None:  # noqa: ANN001
    """Log out on a shared handheld: the server stops counting the worker as signed on there (no work is pushed to
    it), their held work and other sessions stay; the next worker signs on as usual."""
    enrolled(page, site, "pick")
    sup = site.as_("sup")

    def signed_on() -> str | None:
        (device,) = [d for d in sup.get("/api/v1/devices", params={"site": "S1"}).json()["data"]
                     if d["name"] == "pick-handheld"]
        return device["signed_on"]

    assert signed_on() == "pick"
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    for _ in range(100):  # (the sign_off command travels on the socket as it closes)
        if signed_on() is None:
            break
        page.wait_for_timeout(50)
    assert signed_on() is None
    shot(page, "handheld-logged-out")
    sign_in(page, "recv")  # the next worker on the same handheld
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    assert signed_on() == "recv"


def test_wrong_password_is_refused_with_a_message(site, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    page.get_by_label("User name").fill("recv")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    banner = page.locator("wes-feedback")
    expect(banner).to_have_attribute("data-kind", "error")
    expect(banner).to_contain_text("wrong username or password")


def test_user_with_several_sites_picks_one(site, page: Page) -> None:  # noqa: ANN001
    root = site.as_("root")
    assert root.post("/api/v1/sites", json={"code": "S2", "name": "Site S2", "company": "C1"}).status_code == 201
    site.add_user("roamer", ["receiver"], ["S1", "S2"])
    page.goto("/app/")
    page.get_by_label("User name").fill("roamer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="S2", exact=True).click()
    expect(page.locator(".device-bar .who")).to_contain_text("roamer @ S2")
    assert page.evaluate("sessionStorage.getItem('wes.site')") == "S2"


def test_receiver_receives_a_pallet_by_a_keystroke_scan(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    page.locator(".tile[data-route=receive]").click()
    expect(page.get_by_role("button", name="DOCK-1")).to_be_visible()
    datawedge_scan(page, "DOCK-1")
    expect(page.locator(".dock-code")).to_have_text("DOCK-1")

    datawedge_scan(page, PALLET_SCAN)
    expect(page.locator(".receipt-result .lpn")).to_have_text(sscc(1))
    rows = page.locator(".receipt-result table.lines tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("td.sku")).to_have_text([SKU_A, SKU_B])
    expect(rows.locator("td.num")).to_have_text(["48", "30"])
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "ok")
    expect(page.locator("wes-feedback")).to_contain_text(f"Received 2 lines, 78 units on {sscc(1)}")
    # The scan landed nowhere else: no field kept the burst.
    expect(page.locator("input.scan-input")).to_have_value("")
    page.screenshot(path="/tmp/pwa-receive.png")

    stock = site.as_("recv").get("/api/v1/inventory", params={"site": "S1", "lpn": sscc(1)}).json()
    assert {q["sku"]: (q["location"], q["on_hand"]) for q in stock["data"]} == {
        SKU_A: ("DOCK-1", 48), SKU_B: ("DOCK-1", 30)}


def test_the_same_pallet_scanned_again_shows_already_received(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    page.locator(".tile[data-route=receive]").click()
    page.get_by_role("button", name="DOCK-1").click()
    datawedge_scan(page, PALLET_SCAN)
    expect(page.locator(".receipt-result .lpn")).to_have_text(sscc(1))

    datawedge_scan(page, PALLET_SCAN)
    banner = page.locator("wes-feedback")
    expect(banner).to_have_attribute("data-kind", "error")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner.locator(".code")).to_have_text("already_received")
    expect(banner.locator(".headline")).to_have_text("Already received")
    expect(banner.locator(".text")).to_contain_text(re.compile("already been received", re.I))
    stock = site.as_("recv").get("/api/v1/inventory", params={"site": "S1", "lpn": sscc(1)}).json()
    assert sorted(q["on_hand"] for q in stock["data"]) == [30, 48]


def test_a_location_that_is_not_a_dock_is_refused_as_the_dock(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    page.locator(".tile[data-route=receive]").click()
    expect(page.get_by_role("button", name="DOCK-1")).to_be_visible()
    datawedge_scan(page, "R1-01")
    expect(page.locator("wes-feedback")).to_contain_text("R1-01 is not a dock")
    expect(page.locator(".dock-code")).to_have_count(0)


def _receive_pallet_by_api(site) -> dict:  # noqa: ANN001
    r = site.as_("recv").post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": sscc(1)})
    assert r.status_code == 201, r.text
    return site.as_("recv").get(f"/api/v1/tasks/{r.json()['putaway_task_id']}").json()


def test_putaway_by_check_digits_puts_the_stock_at_the_destination(site, page: Page) -> None:  # noqa: ANN001
    task = _receive_pallet_by_api(site)
    sign_in(page, "pick")
    page.locator(".tile[data-route=putaway]").click()
    card = page.locator(f".task-card[data-task='{task['id']}']")
    expect(card).to_contain_text(sscc(1))
    card.click()
    expect(page.locator(".destination .to-location")).to_have_text(task["to_location"])

    page.get_by_label("…or type its check digits").fill(task["to_check_digits"])
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".task-state .state")).to_have_text("done")
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "ok")

    stock = site.as_("pick").get("/api/v1/inventory", params={"site": "S1", "location": task["to_location"]}).json()
    assert {q["sku"]: q["on_hand"] for q in stock["data"]} == {SKU_A: 48, SKU_B: 30}
    assert site.as_("pick").get("/api/v1/tasks/" + str(task["id"])).json()["state"] == "done"


def test_putaway_task_is_found_by_scanning_its_lpn(site, page: Page) -> None:  # noqa: ANN001
    task = _receive_pallet_by_api(site)
    sign_in(page, "recv")
    page.locator(".tile[data-route=putaway]").click()
    expect(page.locator(".task-card")).to_have_count(1)
    datawedge_scan(page, sscc(1))
    expect(page.locator(".destination .to-location")).to_have_text(task["to_location"])
    datawedge_scan(page, task["to_location"])  # the location label, scanned
    expect(page.locator(".task-state .state")).to_have_text("done")


def test_putaway_to_another_location_asks_for_a_reason(site, page: Page) -> None:  # noqa: ANN001
    r = site.as_("recv").post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 20,
                                                        "shipment": "ASN-1"})
    assert r.status_code == 201, r.text
    task_id = r.json()["putaway_task_id"]
    suggested = site.as_("recv").get(f"/api/v1/tasks/{task_id}").json()["to_location"]
    assert suggested != "R1-03"

    sign_in(page, "recv")
    page.locator(".tile[data-route=putaway]").click()
    page.locator(f".task-card[data-task='{task_id}']").click()
    expect(page.locator(".destination .to-location")).to_have_text(suggested)
    datawedge_scan(page, "R1-03")
    expect(page.locator(".reason-box")).to_be_visible()
    expect(page.locator("wes-feedback .code")).to_have_text("reason_required")
    expect(page.locator(".reason-box .reason")).to_have_text(
        ["location blocked", "location full", "damaged location", "other"])
    page.get_by_role("button", name="location blocked").click()
    expect(page.locator(".task-state .state")).to_have_text("done")
    expect(page.locator(".destination .to-location")).to_have_text("R1-03")

    done = site.as_("recv").get(f"/api/v1/tasks/{task_id}").json()
    assert done["state"] == "done" and done["to_location"] == "R1-03"
    assert done["details"]["deviation_reason"] == "location blocked"
    stock = site.as_("recv").get("/api/v1/inventory", params={"site": "S1", "location": "R1-03"}).json()
    assert [(q["sku"], q["on_hand"]) for q in stock["data"]] == [(SKU_C, 20)]


def test_scan_check_shows_what_was_scanned(site, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "pick")
    page.locator(".tile[data-route=scan]").click()
    expect(page.get_by_label("Barcode")).to_be_visible()
    datawedge_scan(page, PALLET_SCAN)
    expect(page.locator(".scan-result [data-field=sscc]")).to_have_text(sscc(1))
    datawedge_scan(page, "R1-01")
    expect(page.locator(".scan-result [data-field=kind]")).to_have_text("location")


def test_service_worker_registers_and_the_manifest_is_linked(live_server, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    script = page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.scriptURL)")
    assert script == f"{live_server.base_url}/app/sw.js"
    href = page.locator("link[rel=manifest]").get_attribute("href")
    manifest = page.evaluate("""async (href) => {
        const r = await fetch(new URL(href, location.href));
        return { type: r.headers.get('content-type'), body: await r.json() };
    }""", href)
    assert manifest["body"]["start_url"] == "/app/"
    assert manifest["body"]["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["body"]["icons"]}
    assert sizes == {"192x192", "512x512"}
    for icon in manifest["body"]["icons"]:
        r = live_server.http.get("/app/" + icon["src"])
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    cache_names = page.evaluate("caches.keys()")
    assert [n for n in cache_names if n.startswith("wes-shell-")] != []


def test_scan_detector_tells_scanner_bursts_from_typing(live_server, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    results = page.evaluate("""async () => {
        const { KeystrokeScanner } = await import('/app/lib/scanner.js');
        const feed = (s, keys) => keys.map(([k, t]) => s.feed(k, t)).filter((x) => x !== null);
        const burst = (text, start, gap) => [...text].map((c, i) => [c, start + i * gap]);
        const s = new KeystrokeScanner({ maxGapMs: 50, minLength: 3 });
        return {
            fast: feed(s, [...burst('R1-01', 0, 8), ['Enter', 40]]),
            tab: feed(s, [...burst('00340123450000000010', 1000, 4), ['Tab', 1090]]),
            gs: feed(s, [...burst(']C1010501234500001410LOT7\\x1d17270331', 2000, 3), ['Enter', 2110]]),
            shiftIgnored: feed(s, [['Shift', 3000], ...burst('ABC', 3001, 5), ['Enter', 3020]]),
            slow: feed(s, [...burst('47', 4000, 300), ['Enter', 4900]]),
            slowThenFastEnter: feed(s, [...burst('R1-01', 5000, 200), ['Enter', 5810]]),
            tooShort: feed(s, [...burst('12', 6000, 5), ['Enter', 6015]]),
            lateSuffix: feed(s, [...burst('R1-01', 7000, 5), ['Enter', 7200]]),
            typedThenScanned: feed(s, [['x', 8000], ...burst('DOCK-1', 8400, 6), ['Enter', 8440]]),
        };
    }""")
    assert results["fast"] == ["R1-01"]
    assert results["tab"] == ["00340123450000000010"]
    assert results["gs"] == ["]C1010501234500001410LOT7\x1d17270331"]
    assert results["shiftIgnored"] == ["ABC"]
    assert results["slow"] == []
    assert results["slowThenFastEnter"] == []
    assert results["tooShort"] == []
    assert results["lateSuffix"] == []
    assert results["typedThenScanned"] == ["DOCK-1"]
