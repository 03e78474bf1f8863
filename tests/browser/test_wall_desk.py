"""The supervisor's wall and desk (/app/wall/, /app/wall/#desk) in Chromium at 1920×1080, on the live server.

Handhelds are real websocket clients on /ws/device (websockets' sync client, read by a thread), signed on
with their worker's token, so a reassignment made on the desk is seen arriving on one device and leaving the
other. The desk's refusals are checked in the words the server gives. Screenshots of the wall, the desk and
the floor map with a wave preview go to tests/browser/artifacts/.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from contextlib import ExitStack

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from backend import demo
from backend.models import Product, ProductGtin
from printers.virtual import VirtualPrinter
from tests.browser.handheld import shot
from tests.browser.conftest import CspWatch
from tests.api.test_outbound_flow import SOON, _orders
from tests.helpers import PASSWORD, SKU_A, SKU_C, add_site_users, add_stock, build_site, gtin13
from tests.live import LiveServer

pytestmark = pytest.mark.browser

WALL_VIEWPORT = {"width": 1920, "height": 1080}
WAIT_MS = 15_000  # how long the page may take to show what the server pushed (generous: not a timing check)


class Handheld:
    """One enrolled handheld on /ws/device with its worker signed on; a thread keeps every message it gets."""

    def __init__(self, server: LiveServer, worker: str, name: str, site: str = "S1", supervisor: str = "sup") -> None:
        r = server.as_(supervisor).post("/api/v1/devices", json={"site": site, "name": name, "kind": "handheld",
                                                                 "firmware_profile": "zebra-tc52"})
        assert r.status_code == 201, r.text
        r = server.as_(worker).post("/api/v1/devices/enroll", json={"enrollment_token": r.json()["enrollment_token"]})
        assert r.status_code == 200, r.text
        self.inbox: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self.connection = ExitStack()
        self.ws = self.connection.enter_context(connect(server.ws_url + "/ws/device", max_size=None))
        self.ws.send(json.dumps({"id": "auth", "type": "auth", "device_token": r.json()["device_token"],
                                 "access_token": server.as_(worker).token, "last_seq": 0}))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        assert self.expect(lambda m: m["type"] in ("auth_ok", "error"))["type"] == "auth_ok"

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    self.ws.send(json.dumps({"id": message["id"], "type": "pong"}))
                self.inbox.put(message)
        except ConnectionClosed:
            pass

    def expect(self, predicate, timeout: float = 20.0) -> dict:  # noqa: ANN001
        """The first message (seen or still to come) that matches."""
        for message in self.seen:
            if predicate(message):
                return message
        while True:
            try:
                message = self.inbox.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no matching message within {timeout} s; had {self.seen[-8:]}") from None
            self.seen.append(message)
            if predicate(message):
                return message

    def event(self, type_: str, task_id: int) -> dict:
        def match(m: dict) -> bool:
            data = m.get("data") or {}
            about = data.get("task_id") if "task_id" in data else (data.get("task") or {}).get("id")
            return m.get("type") == type_ and about == task_id
        return self.expect(match)

    def close(self) -> None:
        self.connection.close()
        self.reader.join(10)


@pytest.fixture
def site(live_server: LiveServer) -> LiveServer:
    """S1 (tests.helpers.build_site) with its users and a second picker, pick2."""
    build_site(live_server)
    add_site_users(live_server)
    live_server.add_user("pick2", ["picker"], ["S1"])
    return live_server


@pytest.fixture
def handhelds(site: LiveServer) -> Iterator[dict[str, Handheld]]:
    """pick on HH-1 and pick2 on HH-2, both signed on and listening."""
    devices = {"pick": Handheld(site, "pick", "HH-1"), "pick2": Handheld(site, "pick2", "HH-2")}
    try:
        yield devices
    finally:
        for device in devices.values():
            device.close()


@pytest.fixture
def screen(chromium_browser, live_server: LiveServer) -> Iterator[Page]:  # noqa: ANN001
    context = chromium_browser.new_context(viewport=WALL_VIEWPORT, base_url=live_server.base_url)
    csp = CspWatch(context)  # the wall and the desk run under the app's CSP: no inline style or script
    try:
        yield context.new_page()
        csp.check()
    finally:
        context.close()


def open_desk(page: Page, username: str = "sup", password: str = PASSWORD, tab: str = "tasks") -> None:
    page.goto(f"/app/wall/#desk/{tab}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Show the wall").click()
    expect(page.locator(".wall-link")).to_have_text("online")
    expect(page.locator("wes-desk .kpis .kpi").first).to_be_visible(timeout=WAIT_MS)


def new_count(server: LiveServer, location: str = "R1-01") -> int:
    r = server.as_("sup").post("/api/v1/counts", json={"site": "S1", "locations": [location]})
    assert r.status_code == 201, r.text
    (task_id,) = r.json()["tasks"]
    return task_id


def holder(server: LiveServer, task_id: int) -> str | None:
    return server.as_("sup").get(f"/api/v1/tasks/{task_id}").json()["assigned_username"]


@pytest.mark.parametrize("live_server", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_task_made_through_the_api_shows_on_the_desk_and_a_reassignment_moves_it_between_handhelds(
        site: LiveServer, handhelds: dict[str, Handheld], screen: Page) -> None:
    page = screen
    open_desk(page)
    task_id = new_count(site)
    row = page.locator(f"table.tasks tr[data-task='{task_id}']")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row).to_contain_text("waiting")

    # Dragged onto pick's row: pick's handheld has it.
    row.drag_to(page.locator(".d-workers tr[data-worker='pick']"))
    expect(page.locator(".desk-notice")).to_have_attribute("data-kind", "ok")
    expect(page.locator(".desk-notice")).to_contain_text(f"Task {task_id} is now pick's")
    handhelds["pick"].event("task.assigned", task_id)
    assert holder(site, task_id) == "pick"

    # Reassigned from the picker list: it arrives on pick2's handheld and leaves pick's.
    row.click()
    panel = page.locator("wes-task-panel")
    expect(panel.locator(".holder")).to_have_text("pick")
    panel.get_by_role("button", name="Reassign…").click()
    expect(panel.locator(".candidate[data-username='pick']")).to_be_disabled()  # has it already
    panel.locator(".candidate[data-username='pick2']").click()
    expect(page.locator(".desk-notice")).to_contain_text(f"Task {task_id} is now pick2's")
    assigned = handhelds["pick2"].event("task.assigned", task_id)
    assert assigned["data"]["reason"] == "reassigned"
    revoked = handhelds["pick"].event("task.revoked", task_id)
    assert revoked["data"]["reason"] == "reassigned"
    assert holder(site, task_id) == "pick2"
    expect(panel.locator(".holder")).to_have_text("pick2")
    expect(page.locator(".d-workers tr[data-worker='pick2'] .task")).to_contain_text("R1-01", timeout=WAIT_MS)
    if site.database == "sqlite":
        shot(page, "desk-reassigned")


def test_a_stale_reassignment_is_refused_in_plain_words_and_the_desk_shows_the_task_as_it_is(
        site: LiveServer, handhelds: dict[str, Handheld], screen: Page) -> None:
    page = screen
    task_id = new_count(site)
    r = site.as_("sup").post(f"/api/v1/tasks/{task_id}/assign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    open_desk(page)
    page.locator(f"table.tasks tr[data-task='{task_id}']").click()
    panel = page.locator("wes-task-panel")
    expect(panel.locator(".holder")).to_have_text("pick")
    panel.get_by_role("button", name="Reassign…").click()
    expect(panel.locator(".candidate[data-username='pick2']")).to_be_enabled()

    # Meanwhile another supervisor moves it to pick2.
    r = site.as_("sup").post(f"/api/v1/tasks/{task_id}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    handhelds["pick2"].event("task.assigned", task_id)

    panel.locator(".candidate[data-username='pick2']").click()
    notice = page.locator(".desk-notice")
    expect(notice).to_have_attribute("data-kind", "error")
    expect(notice).to_contain_text(f"Task {task_id} was changed meanwhile (now held by pick2)")
    expect(notice).not_to_contain_text("version_conflict")
    expect(panel.locator(".holder")).to_have_text("pick2")  # refreshed
    expect(page.locator(f"table.tasks tr[data-task='{task_id}'] .holder")).to_have_text("pick2")
    assert holder(site, task_id) == "pick2"
    shot(page, "desk-stale-refused")


def test_the_task_panel_suspends_resumes_reprioritises_and_cancels_only_after_asking(site: LiveServer,
                                                                                      screen: Page) -> None:
    task_id = new_count(site)
    page = screen
    open_desk(page)
    page.locator(f"table.tasks tr[data-task='{task_id}']").click()
    panel = page.locator("wes-task-panel")

    def state() -> tuple[str, int]:
        task = site.as_("sup").get(f"/api/v1/tasks/{task_id}").json()
        return task["state"], task["priority"]

    panel.get_by_role("button", name="Suspend").click()
    expect(panel.locator("h3 .state")).to_have_text("suspended")
    assert state()[0] == "suspended"
    panel.get_by_role("button", name="Resume").click()
    expect(panel.locator("h3 .state")).to_have_text("waiting")
    panel.get_by_label("Priority").fill("3")
    panel.get_by_role("button", name="Set priority").click()
    expect(page.locator(".desk-notice")).to_contain_text(f"Task {task_id} now has priority 3")
    assert state() == ("pending", 3)

    panel.get_by_role("button", name="Cancel task…").click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text(f"Cancel count task #{task_id}")
    dialog.get_by_role("button", name="Keep it").click()
    assert state()[0] == "pending"
    panel.get_by_role("button", name="Cancel task…").click()
    dialog.get_by_role("button", name="Yes, cancel the task").click()
    expect(panel.locator("h3 .state")).to_have_text("cancelled")
    assert state()[0] == "cancelled"


def test_approving_an_over_receipt_on_the_desk_posts_the_stock(site: LiveServer, screen: Page) -> None:
    r = site.as_("integ").post("/api/v1/inbound-shipments", json={"site": "S1", "reference": "ASN-1", "lines": [
        {"line_no": 1, "sku": SKU_C, "quantity": 20}]})
    assert r.status_code == 201, r.text
    over = site.as_("recv").post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": gtin13(3),
                                                           "quantity": 23})  # 20 + 10 % tolerance = 22 at most
    assert over.status_code == 409 and over.json()["error"]["code"] == "over_receipt", over.text
    exception_id = over.json()["error"]["details"]["exception_id"]

    page = screen
    open_desk(page, tab="exceptions")
    item = page.locator(f"ul.exceptions li[data-exception='{exception_id}']")
    expect(item).to_contain_text("over receipt", timeout=WAIT_MS)
    item.click()
    panel = page.locator("wes-exception-panel")
    expect(panel.locator(".facts")).to_contain_text("recv")
    expect(panel.locator(".facts")).to_contain_text("DOCK-1")
    expect(panel.locator(".stock-before")).to_have_text("0")
    expect(panel.locator(".stock-after")).to_have_text("23")
    panel.get_by_label("Note").fill("Supplier sent 3 extra: keep them")
    panel.get_by_role("button", name="Approve").click()
    expect(page.locator(".desk-notice")).to_contain_text(f"Exception {exception_id} approved")
    expect(item).to_have_count(0, timeout=WAIT_MS)

    stock = site.as_("sup").get("/api/v1/inventory", params={"site": "S1", "location": "DOCK-1"}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [(SKU_C, 23)]
    resolved = site.as_("sup").get(f"/api/v1/exceptions/{exception_id}").json()
    assert (resolved["state"], resolved["resolution_note"]) == ("approved", "Supplier sent 3 extra: keep them")


def test_a_wave_planned_and_released_on_the_desk_creates_its_picks(site: LiveServer, screen: Page) -> None:
    add_stock(site, "S1", "PF-01", SKU_A, 20)
    orders = [{"reference": f"SO-{n}", "cut_off": SOON, "carrier": "DHL",
               "lines": [{"line_no": 1, "sku": SKU_A, "quantity": n}]} for n in (1, 2, 3)]
    assert _orders(site, orders).status_code == 201

    page = screen
    open_desk(page, tab="waves")
    # The pick face on the plan: its stock, before the wave reserves any.
    page.locator("wes-floor-map rect.loc[data-codes~='PF-01']").click()
    expect(page.locator("wes-location-panel table.stock")).to_contain_text("SKU-A")
    expect(page.locator("wes-location-panel table.stock tbody td").nth(1)).to_have_text("20")
    planner = page.locator("wes-wave-planner")
    planner.get_by_label("Most orders").fill("2")
    planner.get_by_label("Carriers").fill("DHL")
    planner.get_by_role("button", name="Plan wave").click()
    summary = planner.locator(".wave-summary")
    expect(summary).to_contain_text("2 orders")
    wave_id = int(summary.get_attribute("data-wave"))
    expect(summary.locator("table.tours tbody tr")).to_have_count(1)
    expect(page.locator("wes-floor-map .tour-path")).to_have_count(1)  # the tour's walk, drawn on the plan
    shot(page, "desk-wave-preview")
    assert site.as_("sup").get("/api/v1/tasks", params={"site": "S1", "kind": "pick"}).json()["count"] == 0

    planner.get_by_role("button", name=f"Release wave {wave_id}").click()
    expect(page.locator(".desk-notice")).to_contain_text(f"Wave {wave_id} released")
    expect(page.locator("wes-floor-map .tour-path")).to_have_count(0)
    wave = site.as_("sup").get(f"/api/v1/waves/{wave_id}").json()
    assert wave["status"] == "released"
    tours = site.as_("sup").get(f"/api/v1/waves/{wave_id}/tours").json()["data"]
    assert sorted(p["quantity"] for t in tours for p in t["picks"]) == [1, 2]
    picks = site.as_("sup").get("/api/v1/tasks", params={"site": "S1", "kind": "pick"}).json()["data"]
    assert len(picks) == 2 and all(p["state"] in ("pending", "assigned") for p in picks)


def device_command(server: LiveServer, username: str, type_: str, payload: dict) -> dict:
    r = server.http.post("/api/v1/device-commands", headers={
        "Authorization": f"Bearer {server.login(username, demo_password(username))}"}, json={"commands": [
            {"id": str(uuid.uuid4()), "type": type_, "payload": payload}]})
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert result["ok"], result
    return result["result"]


def demo_password(username: str) -> str:
    return next(u.password for u in demo.DEMO_USERS if u.username == username)


def each_gtin(server: LiveServer, sku: str) -> str:
    with server.runtime.sessions() as session:
        return session.exec(select(ProductGtin.gtin).join(Product, Product.id == ProductGtin.product_id)
                            .where(Product.sku == sku, ProductGtin.pack_level == "each")).one()


def a_shift_on_the_demo(server: LiveServer) -> Handheld:
    """picker2 picks the first pick of a tour into a tote (a last scan on the plan, a pick in aisle A01's heat),
    picker1 takes a replenishment on a handheld, and receiver1's over-receipt waits for a supervisor."""
    for username in ("super", "picker1"):
        server.login(username, demo_password(username))
    handheld = Handheld(server, "picker1", "HH-WALL", site=demo.SITE_CODE, supervisor="super")
    tour = device_command(server, "picker2", "claim_next_task", {"kinds": ["pick"]})["tasks"]
    first = tour[0]
    device_command(server, "picker2", "confirm_pick", {
        "task_id": first["id"], "location": first["from_location"], "product": each_gtin(server, first["sku"]),
        "tote": demo.TOTES[0], "quantity": first["quantity"]})
    device_command(server, "picker1", "claim_next_task", {"kinds": ["replenish"]})
    erp = {"Authorization": f"Bearer {server.login('erp', demo_password('erp'))}"}
    asn = {"site": demo.SITE_CODE, "reference": "ASN-WALL",
           "lines": [{"line_no": 1, "sku": "SKU-00002", "quantity": 10}]}
    r = server.http.post("/api/v1/inbound-shipments", headers=erp, json=asn)
    assert r.status_code == 201, r.text
    receiver = {"Authorization": f"Bearer {server.login('receiver1', demo_password('receiver1'))}"}
    r = server.http.post("/api/v1/receipts", headers=receiver, json={  # 10 + 5 % tolerance: 14 is over
        "site": demo.SITE_CODE, "dock": demo.RECEIVING_DOCKS[0], "scan": each_gtin(server, "SKU-00002"),
        "quantity": 14})
    assert r.status_code == 409 and r.json()["error"]["code"] == "over_receipt", r.text
    return handheld


def clipped(page: Page, selector: str, *, tall_is_fine: bool = False) -> list[str]:
    """The elements matching `selector` whose content is wider (or, unless `tall_is_fine`: a desk's lists scroll,
    taller) than their box: cut off, or scrolling."""
    return page.evaluate("""([selector, tallIsFine]) => [...document.querySelectorAll(selector)]
        .filter((el) => el.scrollWidth > el.clientWidth + 1 || (!tallIsFine && el.scrollHeight > el.clientHeight + 1))
        .map((el) => el.className || el.tagName)""", [selector, tall_is_fine])


def test_the_wall_and_the_desk_fill_a_1920x1080_screen_on_the_demo_without_clipping(
        live_server: LiveServer, virtual_printer: VirtualPrinter, screen: Page) -> None:
    """The demo as `wes demo` seeds it (one wave out, hundreds of open orders) an hour into the shift: every panel
    of the wall fits its box (rows that do not fit are counted, "+ N more", never cut), and the desk's too."""
    demo.seed(live_server.runtime, printer_port=virtual_printer.port)
    handheld = a_shift_on_the_demo(live_server)
    try:
        wall_and_desk_on_the_demo(live_server, screen)
    finally:
        handheld.close()


def wall_and_desk_on_the_demo(live_server: LiveServer, screen: Page) -> None:
    page = screen
    sent: list[dict] = []  # what the wall says on /ws/wall
    received: list[dict] = []
    page.on("websocket", lambda ws: (ws.on("framesent", lambda f: sent.append(json.loads(f))),
                                     ws.on("framereceived", lambda f: received.append(json.loads(f)))))
    page.goto("/app/wall/")
    page.get_by_label("User name").fill("super")
    page.get_by_label("Password").fill(demo_password("super"))
    page.get_by_role("button", name="Show the wall").click()
    expect(page.locator(".wall-link")).to_have_text("online")
    expect(page.locator(".workers-box tr[data-worker='picker1'] .task")).to_contain_text("replenish", timeout=WAIT_MS)
    expect(page.locator(".exceptions-box li")).to_have_count(1)
    expect(page.locator("wes-floor-map .worker-dot[data-worker='picker2']")).to_have_count(1)
    expect(page.locator("wes-floor-map .aisle[data-aisle='A01']")).to_have_attribute("data-picks", "1")
    assert clipped(page, ".fit, .kpi, .wall-header, .panel h2") == []
    assert page.evaluate("document.documentElement.scrollHeight") <= WALL_VIEWPORT["height"]
    shot(page, "wall")

    # The socket drops: the wall comes back by itself and resumes after the highest seq it saw.
    seen = max(m["seq"] for m in received if isinstance(m.get("seq"), int))
    page.evaluate("window.wes.wall.link.drop()")
    auths = lambda: [m for m in sent if m.get("type") == "auth"]  # noqa: E731
    for _ in range(150):  # (waiting for the reconnection, up to 15 s: not a timing check)
        if len(auths()) == 2:
            break
        page.wait_for_timeout(100)
    first, again = auths()
    assert "after_seq" not in first and again["after_seq"] >= seen
    expect(page.locator(".wall-link")).to_have_text("online")

    # An order that newly risks its cut-off reaches the wall as an alert, in plain words.
    cut_off = (datetime.now(timezone.utc) + timedelta(minutes=20)).isoformat()
    r = live_server.http.post("/api/v1/orders", headers={
        "Authorization": f"Bearer {live_server.login('erp', demo_password('erp'))}"}, json={
        "site": demo.SITE_CODE, "orders": [{"reference": "SO-LATE", "cut_off": cut_off, "carrier": "DHL",
                                            "lines": [{"line_no": 1, "sku": "SKU-00002", "quantity": 3}]}]})
    assert r.status_code == 201, r.text
    expect(page.locator(".alert-bar")).to_contain_text("At risk SO-LATE:", timeout=30_000)
    expect(page.locator(".risk-box li[data-order='SO-LATE']")).to_have_count(1)  # (listed; maybe past the fold)

    page.goto("/app/wall/#desk/tasks")
    expect(page.locator("table.tasks tbody tr").first).to_be_visible(timeout=WAIT_MS)
    # Worker settings: picker1 works in FAST only from now on.
    page.locator(".d-workers tr[data-worker='picker1']").click()
    settings = page.locator("wes-worker-panel form.worker-settings")
    settings.get_by_label("FAST").check()
    settings.get_by_role("button", name="Save picker1's settings").click()
    expect(page.locator(".desk-notice")).to_contain_text("picker1 now gets")
    sup = {"Authorization": f"Bearer {live_server.login('super', demo_password('super'))}"}
    saved = live_server.http.get("/api/v1/workers", headers=sup, params={"site": demo.SITE_CODE}).json()["data"]
    assert next(w for w in saved if w["username"] == "picker1")["zones"] == ["FAST"]

    # A held pick and who could take it instead (the ineligible greyed, with why).
    held = page.locator("table.tasks tr", has=page.locator("td.holder", has_text="picker2")).first
    held.click()
    panel = page.locator("wes-task-panel")
    panel.get_by_role("button", name="Reassign…").click()
    expect(panel.locator(".candidate.ineligible").first).to_be_visible()
    expect(panel.locator(".candidate[data-username='receiver1'] .why")).not_to_be_empty()
    expect(panel.locator(".candidate[data-username='picker1']")).to_be_enabled()  # on a handheld, in FAST
    assert clipped(page, ".kpi, .wall-header, .tabs, .workers-box, .work-box, .tab-body, .detail",
                   tall_is_fine=True) == []
    page.get_by_role("button", name="Dismiss").click()
    shot(page, "desk")

    # A wave's preview: each tour's walk on the plan in its own colour, with its metres and minutes.
    page.get_by_role("tab", name="Waves").click()
    planner = page.locator("wes-wave-planner")
    planner.get_by_label("Most orders").fill("12")
    planner.get_by_role("button", name="Plan wave").click()
    tours = planner.locator(".wave-summary table.tours tbody tr")
    expect(tours.first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("wes-floor-map .tour-path")).to_have_count(tours.count())
    page.get_by_role("button", name="Dismiss").click()
    shot(page, "desk-wave-preview-demo")
