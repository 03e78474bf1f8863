"""Picking on the handheld PWA over the device websocket, the offline outbox, and the supervisor wall screen."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.handheld import sign_in
from tests.api.test_outbound_flow import SOON, _orders
from tests.helpers import PASSWORD, SKU_A, add_site_users, add_stock, build_site, gtin13

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser
PICK_ORDERS = [
    {"reference": "SO-1", "cut_off": SOON, "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 6}]},
    {"reference": "SO-2", "cut_off": SOON, "carrier": "UPS", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 4}]},
]


def datawedge_scan(page: Page, raw: str) -> None:
    page.keyboard.type(raw, delay=5)
    page.keyboard.press("Enter")


@pytest.fixture
def pick_site(live_server):  # noqa: ANN001, ANN201
    """S1 with 20 × SKU-A on PF-01 and one released wave: one tour of two picks (SO-1 × 6, SO-2 × 4), two totes."""
    build_site(live_server)
    add_site_users(live_server)
    live_server.add_user("pick2", ["picker"], ["S1"])
    add_stock(live_server, "S1", "PF-01", SKU_A, 20)
    assert _orders(live_server, PICK_ORDERS).status_code == 201
    sup = live_server.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 4}}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    picks = [p for t in sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"] for p in t["picks"]]
    assert [(p["location"], p["quantity"]) for p in picks] == [("PF-01", 6), ("PF-01", 4)]
    r = sup.post("/api/v1/containers", json={"site": "S1", "kind": "tote", "count": 2})
    assert r.status_code == 201, r.text
    live_server.picks = picks
    live_server.totes = [c["code"] for c in r.json()["data"]]
    return live_server


def new_device(server, name: str = "HH-01") -> dict:  # noqa: ANN001
    r = server.as_("sup").post("/api/v1/devices", json={"site": "S1", "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def enrolled_picker(page: Page, server, username: str = "pick") -> dict:  # noqa: ANN001
    device = new_device(server)
    sign_in(page, username)
    page.get_by_label("Enrollment token").fill(device["enrollment_token"])
    page.get_by_role("button", name="Enroll device").click()
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    return device


def tote_stock(server, tote: str) -> list[int]:  # noqa: ANN001
    stock = server.as_("sup").get("/api/v1/inventory", params={"site": "S1", "lpn": tote}).json()["data"]
    return [q["on_hand"] for q in stock]


def open_first_pick(page: Page, server) -> dict:  # noqa: ANN001
    page.locator(".tile[data-route=pick]").click()
    page.get_by_role("button", name="Get a tour").click()
    # The tour starts with its cart: empty totes go in at each slot's first pick.
    page.get_by_role("button", name="Start now (totes at the first pick)").click()
    first = server.picks[0]
    card = page.locator(f".pick-card[data-task='{first['task_id']}']")
    expect(card).to_be_visible()
    return first


def scan_pick(page: Page, pick: dict, tote: str) -> None:
    """Location and product by DataWedge bursts, each unit scanned (or the quantity keyed when more than 5), the tote
    last: its scan confirms the pick."""
    card = page.locator(f".pick-card[data-task='{pick['task_id']}']")
    expect(card).to_have_attribute("data-step", "location")
    datawedge_scan(page, pick["location"])
    expect(card).to_have_attribute("data-step", "product")
    datawedge_scan(page, gtin13(1))
    if pick["quantity"] > 5:
        expect(card).to_have_attribute("data-step", "quantity")
        page.locator(".pick-quantity").fill(str(pick["quantity"]))
        page.get_by_role("button", name="OK").click()
    else:
        for n in range(2, pick["quantity"] + 1):
            expect(card).to_have_attribute("data-step", "quantity")
            datawedge_scan(page, gtin13(1))
    expect(card).to_have_attribute("data-step", "tote")
    datawedge_scan(page, tote)


def test_a_picker_enrolls_the_device_by_scanning_its_qr_and_goes_online(pick_site, page: Page) -> None:  # noqa: ANN001
    device = new_device(pick_site)
    sign_in(page, "pick")
    expect(page.locator("wes-enroll")).to_be_visible()
    expect(page.locator(".device-bar .link-state")).to_be_hidden()
    datawedge_scan(page, "]Q1" + device["qr_payload"])  # the QR the supervisor shows, AIM prefix and all

    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    expect(page.locator(".device-bar .outbox-count")).to_have_text("0 queued")
    expect(page.locator("wes-enroll")).to_have_count(0)
    stored = page.evaluate("JSON.parse(localStorage.getItem('wes.device'))")
    assert stored["id"] == device["device"]["id"] and stored["token"]
    seen = pick_site.as_("sup").get(f"/api/v1/devices/{device['device']['id']}").json()
    assert seen["signed_on"] == "pick" and seen["enrolled_at"] is not None

    # A reload keeps the device: no second enrollment, straight back online.
    page.reload()
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    expect(page.locator("wes-enroll")).to_have_count(0)


def test_a_claimed_pick_is_confirmed_by_scans_and_the_stock_lands_in_the_tote(pick_site, page: Page) -> None:  # noqa: ANN001
    enrolled_picker(page, pick_site)
    first = open_first_pick(page, pick_site)
    expect(page.locator(".pick-location")).to_have_text("PF-01")
    expect(page.locator(".pick-sku")).to_have_text(SKU_A)
    expect(page.locator(".pick-qty")).to_have_text("6")
    expect(page.locator(".pick-slot")).to_have_text("1")
    # What proves the picker is at the location is never printed on the screen that asks for it.
    expect(page.locator(".pick-card .destination")).to_have_text(re.compile(r"^\s*Pick from\s*PF-01\s*$"))
    expect(page.locator(".check-digits")).to_have_count(0)

    tote = pick_site.totes[0]
    scan_pick(page, first, tote)
    expect(page.locator("wes-feedback")).to_contain_text(f"Picked 6 into tote {tote}")
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "ok")
    # The rest of the tour is already on the device: the next pick follows.
    second = pick_site.picks[1]
    expect(page.locator(f".pick-card[data-task='{second['task_id']}'] .pick-qty")).to_have_text("4")

    assert tote_stock(pick_site, tote) == [6]
    assert pick_site.as_("sup").get(f"/api/v1/tasks/{first['task_id']}").json()["state"] == "done"


def test_a_task_reassigned_by_the_supervisor_is_taken_off_the_screen(pick_site, page: Page) -> None:  # noqa: ANN001
    enrolled_picker(page, pick_site)
    first = open_first_pick(page, pick_site)
    r = pick_site.as_("sup").post(f"/api/v1/tasks/{first['task_id']}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text

    expect(page.locator(".notice-line")).to_contain_text("Reassigned by supervisor")
    expect(page.locator(f".pick-card[data-task='{first['task_id']}']")).to_have_count(0)
    # Routine news, not a failure: an amber notice with the attention sound.
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "attention")
    # The picker keeps the rest of the tour.
    expect(page.locator(f".pick-card[data-task='{pick_site.picks[1]['task_id']}']")).to_be_visible()


def test_picks_confirmed_offline_are_queued_and_replayed_in_order_once(pick_site, page: Page) -> None:  # noqa: ANN001
    enrolled_picker(page, pick_site)
    first = open_first_pick(page, pick_site)
    second = pick_site.picks[1]
    tote_1, tote_2 = pick_site.totes

    page.context.set_offline(True)
    expect(page.locator(".device-bar .link-state")).to_have_text("offline")
    scan_pick(page, first, tote_1)
    expect(page.locator(".device-bar .outbox-count")).to_have_text("1 queued")
    # Offline, the picker goes on to the next pick of the tour.
    scan_pick(page, second, tote_2)
    expect(page.locator(".device-bar .outbox-count")).to_have_text("2 queued")
    queued = page.evaluate("window.wes.work.outbox.store.head(10)")
    assert [(e["type"], e["payload"]["task_id"]) for e in queued] == [
        ("confirm_pick", first["task_id"]), ("confirm_pick", second["task_id"])]
    assert tote_stock(pick_site, tote_1) == [] and tote_stock(pick_site, tote_2) == []

    page.context.set_offline(False)
    expect(page.locator(".device-bar .outbox-count")).to_have_text("0 queued")
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    assert tote_stock(pick_site, tote_1) == [6] and tote_stock(pick_site, tote_2) == [4]
    assert page.evaluate("window.wes.work.outbox.store.count()") == 0

    # The same entry replayed by the app again, and re-posted by hand: the first answer, no second move.
    entry = queued[0]
    page.evaluate("""async (entry) => {
        const { outbox } = window.wes.work;
        await outbox.store.add({ id: entry.id, type: entry.type, payload: entry.payload, queuedAt: entry.queuedAt });
        await outbox.replay();
    }""", entry)
    expect(page.locator(".device-bar .outbox-count")).to_have_text("0 queued")
    device_token = page.evaluate("JSON.parse(localStorage.getItem('wes.device')).token")
    r = pick_site.http.post("/api/v1/device-commands", headers={
        **pick_site.as_("pick").headers, "X-Device-Token": device_token},
        json={"commands": [{"id": entry["id"], "type": entry["type"], "payload": entry["payload"]}]})
    assert r.status_code == 200, r.text
    (again,) = r.json()["results"]
    assert again["ok"] is True and again["replayed"] is True
    assert tote_stock(pick_site, tote_1) == [6] and tote_stock(pick_site, tote_2) == [4]
    on_face = pick_site.as_("sup").get("/api/v1/inventory", params={"site": "S1", "location": "PF-01"}).json()["data"]
    assert [q["on_hand"] for q in on_face if q["lpn"] is None] == [10]


def test_outbox_keeps_order_and_the_failed_head_until_the_next_try(live_server, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    result = page.evaluate("""async () => {
        const { Outbox, MemoryCommandStore, OutboxUnreachable } = await import('/app/lib/outbox.js');
        const posted = [];
        let up = false;
        const outbox = new Outbox(new MemoryCommandStore(), {
            sendLive: () => false,
            postCommands: async (commands) => {
                if (!up) throw new OutboxUnreachable('offline');
                posted.push(...commands.map((c) => c.payload.n));
                return commands.map((c) => ({ id: c.id, type: 'result', ok: c.payload.n !== 2,
                    error: c.payload.n === 2 ? { code: 'wrong_location' } : undefined, result: {} }));
            },
        });
        const answers = [];
        outbox.addEventListener('answer', (e) => answers.push([e.detail.entry.payload.n, e.detail.message.ok]));
        const a = await outbox.submit('confirm_pick', { n: 1 });
        await outbox.submit('confirm_pick', { n: 2 });
        await outbox.submit('confirm_pick', { n: 3 });
        await outbox.replay();
        const whileDown = { size: outbox.size, head: (await outbox.store.head(1))[0].payload.n, posted: posted.length };
        up = true;
        await outbox.replay();
        const lateWsAnswer = await outbox.answered({ id: a.id, type: 'result', ok: true });
        return { whileDown, posted, answers, size: outbox.size, lateWsAnswer, uuid: a.id };
    }""")
    assert result["whileDown"] == {"size": 3, "head": 1, "posted": 0}
    assert result["posted"] == [1, 2, 3]
    assert result["answers"] == [[1, True], [2, False], [3, True]]  # a business error leaves the outbox too
    assert result["size"] == 0 and result["lateWsAnswer"] is False
    assert uuid.UUID(result["uuid"]).version == 4


def test_the_wall_shows_live_work_that_changes_when_work_is_claimed_and_done(pick_site, chromium_browser) -> None:  # noqa: ANN001
    context = chromium_browser.new_context(viewport={"width": 1920, "height": 1080}, base_url=pick_site.base_url)
    try:
        wall = context.new_page()
        wall.goto("/app/wall/")
        wall.get_by_label("User name").fill("sup")
        wall.get_by_label("Password").fill(PASSWORD)
        wall.get_by_role("button", name="Show the wall").click()
        expect(wall.locator(".wall-link")).to_have_text("online")
        picks_pf = wall.locator("table.work tr[data-kind=pick][data-zone=PF]")
        expect(wall.locator(".kpi.open-tasks .n")).to_have_text("2")
        expect(picks_pf.locator("td[data-col=pending]")).to_have_text("2")

        def command(type_: str, payload: dict) -> dict:
            r = pick_site.as_("pick").post("/api/v1/device-commands", json={"commands": [
                {"id": str(uuid.uuid4()), "type": type_, "payload": payload}]})
            assert r.status_code == 200, r.text
            (answer,) = r.json()["results"]
            assert answer["ok"], answer
            return answer

        command("claim_next_task", {})
        expect(picks_pf.locator("td[data-col=pending]")).to_have_text("0", timeout=10_000)
        expect(picks_pf.locator("td[data-col=assigned]")).to_have_text("2")
        expect(wall.locator("table.workers tr[data-worker=pick] .task")).to_contain_text("PF-01")

        first = pick_site.picks[0]
        command("confirm_pick", {"task_id": first["task_id"], "location": "PF-01", "product": gtin13(1),
                                 "tote": pick_site.totes[0], "quantity": first["quantity"]})
        expect(wall.locator(".kpi.open-tasks .n")).to_have_text("1", timeout=10_000)
        expect(picks_pf.locator("td[data-col=assigned]")).to_have_text("1")
        wall.screenshot(path="/tmp/pwa-wall.png")
    finally:
        context.close()


def test_the_service_worker_caches_the_new_shell_files_under_a_new_version(live_server, page: Page) -> None:  # noqa: ANN001
    page.goto("/app/")
    page.evaluate("navigator.serviceWorker.ready")
    cached = page.evaluate("""async () => {
        const names = (await caches.keys()).filter((n) => n.startsWith('wes-shell-'));
        const cache = await caches.open(names[0]);
        const has = async (path) => Boolean(await cache.match(new URL(path, location.href)));
        return { names, files: Object.fromEntries(await Promise.all(
            ['lib/outbox.js', 'lib/device-link.js', 'lib/pick-screen.js', 'wall/index.html', 'wall/wall.js',
             'wall/desk.js', 'wall/floor-map.js']
            .map(async (p) => [p, await has(p)]))) };
    }""")
    version = re.search(r'SHELL_VERSION = "(\w+)"', (ROOT / "handheld_pwa" / "sw.js").read_text()).group(1)
    assert cached["names"] == [f"wes-shell-{version}"]
    assert all(cached["files"].values()), cached["files"]
