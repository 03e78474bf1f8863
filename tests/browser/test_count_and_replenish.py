"""A counter and a replenisher on the handheld at 360×640, scans typed as a keystroke scanner sends them.

- A blind count with a variance beyond tolerance raises the count_variance exception (and, where the site
  asks for it, is counted again first).
- A replenishment moves a pallet's cases from reserve to the pick face, a wrong scan refused at the scan.
Each test saves the role's main screen under tests/browser/artifacts/ and prints its scan-to-feedback times.
"""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect

from tests.browser.handheld import enrolled, scan, shot
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, add_stock, build_site, gtin13
from tests.live import LiveServer

# Both databases: the browser conftest's live_server takes the parameter.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("live_server", ["sqlite", pytest.param(
    "postgresql", marks=pytest.mark.postgres)], indirect=True)]
GS1_B = "]C101" + "0" + gtin13(2) + "17270331" + "10LOT7"  # GS1-128: SKU-B, expiry 2027-03-31, lot LOT7
EAN_A = "]E0" + gtin13(1)  # SKU-A's EAN-13 with its AIM prefix


@pytest.fixture
def floor(live_server: LiveServer) -> LiveServer:
    """S1: PF-01 holds 20 × SKU-A (min 30, max 60); R1-01 holds pallet P-A-1 of 48 × SKU-A (4 cases of 12)."""
    build_site(live_server)
    add_site_users(live_server)
    r = live_server.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "PF-01", "kind": "pick_face", "zone": "PF", "x": 4, "y": 2, "capacity": 100, "fixed_sku": SKU_A,
         "replenish_min": 30, "replenish_max": 60}]})
    assert r.status_code == 200, r.text
    add_stock(live_server, "S1", "PF-01", SKU_A, 20)
    add_stock(live_server, "S1", "R1-01", SKU_A, 48, lpn="P-A-1")
    return live_server


def in_view(page: Page, selector: str) -> None:
    """The element is on the 360×640 screen without scrolling (waited for: the screen redraws as answers come)."""
    page.wait_for_function("""(selector) => {
        const element = document.querySelector(selector);
        if (!element) return false;
        const box = element.getBoundingClientRect();
        return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
    }""", arg=selector, timeout=5_000)


def banner(page: Page):  # noqa: ANN201
    return page.locator("wes-feedback")


def _count_pf01(server: LiveServer) -> int:
    r = server.as_("sup").post("/api/v1/counts", json={"site": "S1", "locations": ["PF-01"]})
    assert r.status_code == 201, r.text
    return r.json()["tasks"][0]


def _open_count(page: Page, server: LiveServer) -> None:
    enrolled(page, server, "pick")
    page.locator(".tile[data-route=count]").click()
    expect(page.locator(".count-waiting")).to_contain_text("1 count waiting")
    page.get_by_role("button", name="Next count").click()
    expect(page.locator(".count-location")).to_have_text("PF-01")
    expect(page.locator(".count-card")).to_have_attribute("data-step", "location")


def _count_twelve_of_a(page: Page) -> None:
    """Scan SKU-A, key 10; scan it again, key 2: one line of 12 (the system holds 20)."""
    scan(page, EAN_A)
    expect(page.locator(".count-card")).to_have_attribute("data-step", "quantity")
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    page.locator(".count-quantity").fill("10")
    page.get_by_role("button", name="Add").click()
    scan(page, EAN_A)
    page.locator(".count-quantity").fill("2")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".count-line")).to_have_count(1)
    expect(page.locator(".count-line-qty")).to_have_text(["12"])


def test_a_counter_counts_beyond_tolerance_and_the_exception_is_raised(floor, page: Page) -> None:  # noqa: ANN001
    task_id = _count_pf01(floor)
    _open_count(page, floor)
    # Blind: nothing on the screen says what the system holds.
    expect(page.locator(".count-card")).not_to_contain_text("20")
    scan(page, "R1-01")  # the wrong location is refused at the scan
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text("Wrong location: go to PF-01 and scan its label")
    scan(page, "PF-01")
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(page.locator(".count-card")).to_have_attribute("data-step", "products")
    expect(page.get_by_role("button", name="Location empty")).to_be_visible()

    _count_twelve_of_a(page)
    # SKU-B is lot-tracked: its bare EAN asks for the lot, which its GS1 label brings (with the expiry).
    scan(page, "]E0" + gtin13(2))
    expect(page.locator(".count-card")).to_have_attribute("data-step", "lot")
    scan(page, GS1_B)
    expect(page.locator(".count-item-name")).to_contain_text("lot LOT7")
    expect(page.locator(".count-item-name")).to_contain_text("exp 2027-03-31")
    page.locator(".count-quantity").fill("3")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".count-line-sku")).to_have_text([SKU_A, SKU_B])
    in_view(page, ".count-done-btn")
    shot(page, "count-main")
    page.set_viewport_size({"width": 480, "height": 800})
    shot(page, "count-main-480x800")
    page.set_viewport_size({"width": 360, "height": 640})
    # Then the SKU-B line is taken out again.
    page.get_by_role("button", name=f"Remove {SKU_B}").click()
    expect(page.locator(".count-line-sku")).to_have_text([SKU_A])
    # A location is not a product.
    scan(page, "R1-02")
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text("scan a product")

    page.get_by_role("button", name="Done: 1 line").click()
    expect(banner(page)).to_have_attribute("data-kind", "attention")
    expect(banner(page)).to_contain_text("sent to a supervisor for approval")
    expect(page.get_by_role("button", name="Next count")).to_be_visible()
    shot(page, "count-sent-to-supervisor")

    sup = floor.as_("sup")
    assert sup.get(f"/api/v1/tasks/{task_id}").json()["state"] == "done"
    (exc,) = [e for e in sup.get("/api/v1/exceptions", params={"site": "S1"}).json()["data"]
              if e["kind"] == "count_variance"]
    assert exc["state"] == "open" and exc["task_id"] == task_id
    assert [(v["sku"], v["system"], v["counted"]) for v in exc["details"]["variances"]] == [(SKU_A, 20, 12)]
    stock = sup.get("/api/v1/inventory", params={"site": "S1", "location": "PF-01"}).json()["data"]
    assert [q["on_hand"] for q in stock] == [20]  # nothing booked until a supervisor approves


def test_a_site_that_asks_for_a_recount_has_the_counter_count_again_first(floor, page: Page) -> None:  # noqa: ANN001
    r = floor.as_("root").post("/api/v1/sites", json={"code": "S1", "name": "Site S1", "company": "C1",
                                                      "recount_variances": True})
    assert r.status_code == 201 and r.json()["recount_variances"], r.text
    first_id = _count_pf01(floor)
    _open_count(page, floor)
    scan(page, "PF-01")
    _count_twelve_of_a(page)
    page.get_by_role("button", name="Done: 1 line").click()
    expect(banner(page)).to_have_attribute("data-kind", "attention")
    expect(banner(page)).to_contain_text("Count PF-01 again")
    # The recount is on the device at once, the location already scanned, the list empty.
    expect(page.locator(".count-recount")).to_have_text("Recount")
    expect(page.locator(".count-card")).to_have_attribute("data-step", "products")
    expect(page.locator(".count-line")).to_have_count(0)
    recount_id = int(page.locator(".count-card").get_attribute("data-task"))
    assert recount_id != first_id
    sup = floor.as_("sup")
    assert [e for e in sup.get("/api/v1/exceptions", params={"site": "S1"}).json()["data"]
            if e["kind"] == "count_variance"] == []
    shot(page, "count-recount")

    _count_twelve_of_a(page)
    page.get_by_role("button", name="Done: 1 line").click()
    expect(banner(page)).to_contain_text("sent to a supervisor for approval")
    (exc,) = [e for e in sup.get("/api/v1/exceptions", params={"site": "S1"}).json()["data"]
              if e["kind"] == "count_variance"]
    assert exc["task_id"] == recount_id
    assert [(v["sku"], v["counted"]) for v in exc["details"]["first_count"]] == [(SKU_A, 12)]


def test_a_replenisher_moves_stock_from_reserve_to_the_pick_face(floor, page: Page) -> None:  # noqa: ANN001
    sup = floor.as_("sup")
    r = sup.post("/api/v1/replenishments", json={"site": "S1"})
    assert r.status_code == 200 and r.json() == {"tasks": 1, "units": 36}, r.text  # 3 whole cases fit under max 60
    enrolled(page, floor, "pick")
    page.locator(".tile[data-route=replenish]").click()
    page.get_by_role("button", name="Next replenishment").click()
    expect(page.locator(".repl-from-code")).to_have_text("R1-01")
    expect(page.locator(".repl-to-code")).to_have_text("PF-01")
    expect(page.locator(".repl-qty")).to_have_text("36")
    expect(page.locator(".repl-lpn")).to_have_text("P-A-1")
    expect(page.locator(".repl-description")).to_have_text("Widget")
    in_view(page, ".step-now")
    shot(page, "replenish-main")
    page.set_viewport_size({"width": 480, "height": 800})
    shot(page, "replenish-main-480x800")
    page.set_viewport_size({"width": 360, "height": 640})

    scan(page, "PF-01")  # the pick face first: refused, the reserve comes first
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text("Wrong location: go to R1-01")
    scan(page, "R1-01")
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(page.locator(".repl-card")).to_have_attribute("data-step", "product")
    scan(page, "]E0" + gtin13(3))  # SKU-C: refused at the scan, nothing changed
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text(f"Wrong product: you scanned {SKU_C} — take {SKU_A}")
    expect(page.locator(".repl-card")).to_have_attribute("data-step", "product")
    scan(page, "P-A-1")
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(page.locator(".repl-card")).to_have_attribute("data-step", "quantity")
    in_view(page, ".confirm-quantity")
    page.locator(".confirm-quantity").click()
    expect(page.locator(".repl-card")).to_have_attribute("data-step", "to")
    shot(page, "replenish-to-pick-face")
    scan(page, "PF-01")
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(banner(page)).to_contain_text("Moved 36 × SKU-A from R1-01 to PF-01")
    expect(page.get_by_role("button", name="Next replenishment")).to_be_visible()

    stock = {(q["location"], q["lpn"]): q["on_hand"]
             for q in sup.get("/api/v1/inventory", params={"site": "S1", "sku": SKU_A}).json()["data"]}
    assert stock == {("PF-01", None): 56, ("R1-01", "P-A-1"): 12}
    (task,) = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"]
    assert task["state"] == "done"


def test_a_replenisher_can_hand_a_replenishment_back(floor, page: Page) -> None:  # noqa: ANN001
    sup = floor.as_("sup")
    assert sup.post("/api/v1/replenishments", json={"site": "S1"}).status_code == 200
    enrolled(page, floor, "pick")
    page.locator(".tile[data-route=replenish]").click()
    page.get_by_role("button", name="Next replenishment").click()
    expect(page.locator(".repl-from-code")).to_have_text("R1-01")
    page.get_by_role("button", name="Hand back").click()
    expect(banner(page)).to_have_attribute("data-kind", "attention")
    expect(page.get_by_role("button", name="Next replenishment")).to_be_visible()
    (task,) = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"]
    assert task["state"] == "pending" and task["assigned_to"] is None
    page.reload()
    expect(page.get_by_role("button", name="Next replenishment")).to_be_visible()
    expect(page.locator(".repl-card")).to_have_count(0)


def test_a_count_screen_sends_the_holder_of_a_replenishment_to_it_and_says_when_a_count_is_taken_back(
        floor, page: Page) -> None:  # noqa: ANN001
    sup = floor.as_("sup")
    assert sup.post("/api/v1/replenishments", json={"site": "S1"}).status_code == 200
    (replenishment,) = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"]
    r = sup.post(f"/api/v1/tasks/{replenishment['id']}/assign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    enrolled(page, floor, "pick")
    # The Count screen, with a replenishment in hand: it says so, and goes there (or hands it back).
    page.locator(".tile[data-route=count]").click()
    expect(page.locator(".other-task")).to_contain_text("You hold a replenish task")
    expect(page.locator(".other-task")).to_contain_text("Do it first, or hand it back to count.")
    page.get_by_role("button", name="Go to replenish").click()
    expect(page.locator(".repl-from-code")).to_have_text("R1-01")
    page.get_by_role("button", name="Hand back").click()
    expect(page.get_by_role("button", name="Next replenishment")).to_be_visible()

    # A count in hand, taken back by the supervisor: a neutral notice says so, the screen offers the next one.
    count_id = _count_pf01(floor)
    page.locator(".back").click()
    page.locator(".tile[data-route=count]").click()
    page.get_by_role("button", name="Next count").click()
    expect(page.locator(".count-location")).to_have_text("PF-01")
    r = sup.post(f"/api/v1/tasks/{count_id}/unassign", json={})
    assert r.status_code == 200, r.text
    expect(banner(page)).to_have_attribute("data-kind", "attention")
    expect(page.locator(".notice-line")).to_have_text(
        f"Taken back by supervisor: count #{count_id} at PF-01 is no longer yours.")
    expect(page.get_by_role("button", name="Next count")).to_be_visible()
