"""A whole pick tour on the handheld at 360×640, scans as a DataWedge scanner types them.

Totes into the cart's slots, a wrong product refused at its scan (nothing changes on the server), a pick
that waits for its replenishment done last, a short pick whose missing units come back into the same tour,
and the totes dropped at the pack station.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_outbound_flow import SOON, _orders
from tests.browser.test_pick_realtime import datawedge_scan, enrolled_picker
from tests.helpers import SKU_A, SKU_C, add_site_users, add_stock, build_site, gtin13

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True)]
ARTIFACTS = Path(__file__).parent / "artifacts"
GTIN = {SKU_A: gtin13(1), SKU_C: gtin13(3)}


@pytest.fixture
def tour_site(live_server):  # noqa: ANN001, ANN201
    """SO-1 (3 × SKU-A from PF-01, more loose in reserve R1-02) and SO-2 (5 × SKU-C: PF-03 holds 2, the rest needs
    a replenishment from the pallet on R3-01), released as one tour; two empty totes; a pack station."""
    build_site(live_server)
    add_site_users(live_server)
    live_server.add_user("pick2", ["picker"], ["S1"])
    r = live_server.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C},
        {"code": "PACK-1", "kind": "pack", "x": 0, "y": 0, "mixed_products": True}]})
    assert r.status_code == 200, r.text
    add_stock(live_server, "S1", "PF-01", SKU_A, 20)
    add_stock(live_server, "S1", "R1-02", SKU_A, 10)
    add_stock(live_server, "S1", "PF-03", SKU_C, 2)
    add_stock(live_server, "S1", "R3-01", SKU_C, 100, lpn="P-C-1")
    assert _orders(live_server, [
        {"reference": "SO-1", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 3}]},
        {"reference": "SO-2", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 5}]},
    ]).status_code == 201
    sup = live_server.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 4}}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    (tour,) = sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    assert any(p["waits_for_task"] for p in tour["picks"])
    r = sup.post("/api/v1/containers", json={"site": "S1", "kind": "tote", "count": 2})
    live_server.tour = tour
    live_server.totes = [c["code"] for c in r.json()["data"]]
    return live_server


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _scan_pick(page: Page, task_id: int, location: str, sku: str, quantity: int, tote: str) -> None:
    card = page.locator(f".pick-card[data-task='{task_id}']")
    expect(card).to_have_attribute("data-step", "location")
    datawedge_scan(page, location)
    expect(card).to_have_attribute("data-step", "product")
    for _ in range(quantity):
        datawedge_scan(page, GTIN[sku])
    expect(card).to_have_attribute("data-step", "tote")
    datawedge_scan(page, tote)
    expect(card).to_have_count(0)


def test_a_picker_walks_a_whole_tour_from_binding_totes_to_the_drop(tour_site, page: Page) -> None:  # noqa: ANN001
    server = tour_site
    enrolled_picker(page, server)
    page.locator(".tile[data-route=pick]").click()
    page.get_by_role("button", name="Get a tour").click()

    # The cart: a tote into each slot, by scanning it.
    expect(page.locator(".tour-start")).to_be_visible()
    _shot(page, "pick-tour-start")
    tote_1, tote_2 = server.totes
    expect(page.locator(".slot-now")).to_have_text("1")
    datawedge_scan(page, tote_1)
    expect(page.locator(".slot-now")).to_have_text("2")
    datawedge_scan(page, tote_2)
    first = page.locator(".pick-card")
    expect(first).to_be_visible()
    tour = server.as_("pick").get(f"/api/v1/tours/{server.tour['id']}").json()
    assert {s["tote_no"]: s["tote"] for s in tour["slots"]} == {1: tote_1, 2: tote_2}
    slot_of = {s["order"]: s["tote_no"] for s in tour["slots"]}
    tote_of = {1: tote_1, 2: tote_2}

    # The first pick in walking order is SO-1's at PF-01; the one waiting for PF-03's replenishment comes last.
    a_pick = next(p for p in tour["picks"] if p["sku"] == SKU_A)
    expect(first).to_have_attribute("data-task", str(a_pick["task_id"]))
    expect(page.locator(".tour-line")).to_contain_text(f"Pick 1 of {len(tour['picks'])}")
    expect(page.locator(".tour-line")).to_contain_text("min left")
    _shot(page, "pick-tour-pick")

    # A wrong product is refused at its scan, in plain words, and nothing changes on the server.
    datawedge_scan(page, "PF-01")
    expect(first).to_have_attribute("data-step", "product")
    before = server.as_("sup").get(f"/api/v1/tasks/{a_pick['task_id']}").json()
    datawedge_scan(page, GTIN[SKU_C])
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "error")
    expect(page.locator("wes-feedback")).to_contain_text(f"Wrong product: you scanned {SKU_C} — take {SKU_A}")
    expect(first).to_have_attribute("data-step", "product")
    assert server.as_("sup").get(f"/api/v1/tasks/{a_pick['task_id']}").json() == before
    assert server.as_("sup").get("/api/v1/inventory", params={"site": "S1", "lpn": tote_1}).json()["count"] == 0

    # Only 1 of 3 on the shelf: a short pick. What was found goes into the tote; the other 2 come back from R1-02.
    datawedge_scan(page, GTIN[SKU_A])
    expect(first).to_have_attribute("data-step", "quantity")
    page.get_by_role("button", name="Short").click()
    page.locator(".short-found").fill("1")
    page.get_by_role("button", name="not enough").click()
    expect(first).to_have_attribute("data-step", "tote")
    datawedge_scan(page, tote_of[slot_of["SO-1"]])
    expect(page.locator("wes-feedback")).to_contain_text("Short pick reported: 1 found; 2 more to pick later in this tour")

    # SO-2's pick from what PF-03 holds; then the 2 missing units, reallocated to R1-02 at the end of this tour.
    ready_c = [p for p in tour["picks"] if p["sku"] == SKU_C and not p["waits_for_replenishment"]]
    for pick in ready_c:
        _scan_pick(page, pick["task_id"], "PF-03", SKU_C, pick["quantity"], tote_of[slot_of["SO-2"]])
    again = page.locator(".pick-card")
    expect(again.locator(".pick-location")).to_have_text("R1-02")
    expect(again.locator(".pick-tote")).to_have_text(tote_of[slot_of["SO-1"]])
    _scan_pick(page, int(again.get_attribute("data-task")), "R1-02", SKU_A, 2, tote_of[slot_of["SO-1"]])

    # The rest of SO-2 waits for PF-03's replenishment and comes back when that is done.
    expect(page.locator(".pick-waiting")).to_be_visible()
    waiting = next(p for p in tour["picks"] if p["waits_for_replenishment"])
    replenish = server.as_("sup").get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    r = server.as_("pick2").post("/api/v1/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": "confirm_replenish", "payload": {"task_id": replenish["id"], "to_location": "PF-03"}}]})
    assert r.json()["results"][0]["ok"], r.text
    expect(page.locator(f".pick-card[data-task='{waiting['task_id']}']")).to_be_visible()
    _scan_pick(page, waiting["task_id"], "PF-03", SKU_C, waiting["quantity"], tote_of[slot_of["SO-2"]])

    # The end: the totes go to the pack station.
    expect(page.locator(".drop-location")).to_have_text("PACK-1")
    _shot(page, "pick-tour-drop")
    datawedge_scan(page, "PACK-1")
    expect(page.locator("wes-feedback")).to_contain_text("Totes left at PACK-1: the cart is free")
    totes = server.as_("sup").get("/api/v1/containers", params={"site": "S1", "kind": "tote"}).json()["data"]
    assert {t["code"]: t["location"] for t in totes} == {tote_1: "PACK-1", tote_2: "PACK-1"}
    stock = {t: sum(q["on_hand"] for q in server.as_("sup").get(
        "/api/v1/inventory", params={"site": "S1", "lpn": t}).json()["data"]) for t in (tote_1, tote_2)}
    assert stock == {tote_of[slot_of["SO-1"]]: 3, tote_of[slot_of["SO-2"]]: 5}
    orders = server.as_("sup").get("/api/v1/orders", params={"site": "S1"}).json()["data"]
    assert {o["reference"]: o["status"] for o in orders} == {"SO-1": "picked", "SO-2": "picked"}



def test_a_handed_back_or_reassigned_pick_leaves_the_device_for_good(tour_site, page: Page) -> None:  # noqa: ANN001
    server = tour_site
    enrolled_picker(page, server)
    page.locator(".tile[data-route=pick]").click()
    page.get_by_role("button", name="Get a tour").click()
    page.get_by_role("button", name="Start now (totes at the first pick)").click()
    first = page.locator(".pick-card")
    expect(first).to_be_visible()
    handed_back = int(first.get_attribute("data-task"))

    page.get_by_role("button", name="Hand back").click()
    # Routine news: an amber notice, not a red error.
    expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "attention")
    expect(page.locator("wes-feedback")).to_contain_text(f"Handed back: task #{handed_back}")
    expect(page.locator(f".pick-card[data-task='{handed_back}']")).to_have_count(0)
    assert server.as_("sup").get(f"/api/v1/tasks/{handed_back}").json()["state"] == "pending"

    reassigned = int(page.locator(".pick-card").get_attribute("data-task"))
    r = server.as_("sup").post(f"/api/v1/tasks/{reassigned}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    expect(page.locator("wes-feedback")).to_contain_text(f"Reassigned by supervisor: task #{reassigned}")
    expect(page.locator(f".pick-card[data-task='{reassigned}']")).to_have_count(0)

    page.reload()
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    held = page.evaluate("window.wes.work.heldTasks.map((t) => t.id)")
    assert handed_back not in held and reassigned not in held
    expect(page.locator(f".pick-card[data-task='{handed_back}']")).to_have_count(0)
    expect(page.locator(f".pick-card[data-task='{reassigned}']")).to_have_count(0)
