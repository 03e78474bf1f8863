"""The pack bench and the dock door on the handheld PWA, at 360×640, with a virtual printer over TCP.

A packer packs one tote into two cartons, a wrong item refused at its scan; each close prints that
carton's GS1 shipping label at the bench's printer (a real TCP "printer"), and the screen shows it printed.
A loader scans the cartons onto the load at a dock door; a missing carton blocks the ship, named.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from backend.gs1 import is_valid_sscc
from printers.virtual import VirtualPrinter
from printers.zpl import field_texts
from tests.browser.handheld import enrolled, shot
from tests.api.test_outbound_flow import SOON, _orders, _outbound_site
from tests.helpers import SKU_A, SKU_C, gtin13
from tests.printing.support import HangingUpPrinter

# Both databases: the browser conftest's live_server takes the parameter.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("live_server", ["sqlite", pytest.param(
    "postgresql", marks=pytest.mark.postgres)], indirect=True)]

ORDER = {"reference": "SO-9", "cut_off": SOON, "carrier": "DHL", "lines": [
    {"line_no": 1, "sku": SKU_A, "quantity": 30}, {"line_no": 2, "sku": SKU_C, "quantity": 2}]}


def datawedge_scan(page: Page, raw: str) -> None:
    """Type like a keystroke-output scanner: a fast burst of keys, then the Enter suffix."""
    page.keyboard.type(raw, delay=5)
    page.keyboard.press("Enter")


def _command(server, user: str, type_: str, payload: dict) -> dict:  # noqa: ANN001
    r = server.as_(user).post("/api/v1/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": type_, "payload": payload}]})
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert result["ok"], result.get("error")
    return result["result"]


@pytest.fixture
def picked_tote(live_server, virtual_printer):  # noqa: ANN001, ANN201
    """S1 with SO-9 (A × 30, C × 2) picked whole into one tote; the shipping printer at PACK-1 is the virtual
    printer; a ship door SHIP-1; users packer and loader (role packer)."""
    server = live_server
    _outbound_site(server)
    server.add_user("packer", ["packer"], ["S1"])
    server.add_user("loader", ["packer"], ["S1"])
    sup = server.as_("sup")
    r = server.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "SHIP-1", "kind": "ship", "x": 0, "y": 1, "mixed_products": True}]})
    assert r.status_code == 200, r.text
    r = sup.post("/api/v1/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1",
                                           "port": virtual_printer.port, "profile": "zebra-zt411-203",
                                           "station": "PACK-1"})
    assert r.status_code in (200, 201), r.text
    assert _orders(server, [ORDER]).status_code == 201
    wave = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    (tour,) = sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    r = sup.post("/api/v1/containers", json={"site": "S1", "kind": "tote", "count": 1})
    assert r.status_code == 201, r.text
    tote = r.json()["data"][0]["code"]
    for pick in tour["picks"]:
        _command(server, "pick", "confirm_pick", {"task_id": pick["task_id"], "location": pick["check_digits"],
                                                  "product": gtin13(1 if pick["sku"] == SKU_A else 3), "tote": tote,
                                                  "quantity": pick["quantity"]})
    server.tote = tote
    return server


def printed(printer: VirtualPrinter) -> list[tuple[str, str]]:
    """Each label the printer received: the SSCC under its barcode and what its CARTON box says."""
    labels = []
    for label in printer.labels:
        texts = field_texts(label)
        sscc = next(t for t in texts if t.startswith("(00) ")).removeprefix("(00) ")
        labels.append((sscc, texts[texts.index("CARTON") + 1]))
    return labels


def in_view(page: Page, selector: str) -> bool:
    """Wholly inside the 360×640 viewport: no scrolling needed to reach it."""
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 360


def test_a_packer_packs_a_tote_into_two_cartons_and_each_label_prints(picked_tote, virtual_printer,  # noqa: ANN001
                                                                       page: Page) -> None:
    server, tote = picked_tote, picked_tote.tote
    enrolled(page, server, "packer")
    page.locator(".tile[data-route=pack]").click()
    banner = page.locator("wes-feedback")

    datawedge_scan(page, "PACK-1")
    expect(page.locator(".pack-bench")).to_have_text("PACK-1")
    expect(page.locator(".pack-printer")).to_have_text("ZT-PACK")
    datawedge_scan(page, tote)
    expect(page.locator(".pack-order")).to_have_text("SO-9")
    lines = page.locator(".pack-line")
    expect(lines.locator(".pack-line-sku")).to_have_text([SKU_A, SKU_C])
    expect(lines.locator(".pack-line-quantity")).to_have_text(["30", "2"])

    # A wrong item is refused at its scan: red, in words, and nothing goes into the carton.
    datawedge_scan(page, gtin13(2))
    expect(banner).to_have_attribute("data-kind", "error")
    expect(banner).to_contain_text(f"Wrong item: you scanned SKU-B — tote {tote} holds {SKU_A}, {SKU_C} for SO-9")
    expect(lines.locator(".pack-line-scanned")).to_have_text(["0", "0"])
    # More than the tote holds is refused too.
    page.locator(".pack-multiple").fill("31")
    datawedge_scan(page, gtin13(1))
    expect(banner).to_contain_text(f"Too many {SKU_A}: tote {tote} holds 30 for SO-9")

    # Carton 1: 20 × A (keyed, then one scan), a medium carton, 6.2 kg.
    page.locator(".pack-multiple").fill("20")
    datawedge_scan(page, gtin13(1))
    expect(banner).to_have_attribute("data-kind", "ok")
    expect(lines.locator(".pack-line-scanned")).to_have_text(["20", "0"])
    page.locator(".size[data-size=M]").click()
    page.locator(".pack-weight").fill("6.2")
    shot(page, "pack-station.png")
    assert in_view(page, ".close-carton") and in_view(page, ".pack-line[data-sku='SKU-A']")
    page.get_by_role("button", name=re.compile("Close carton")).click()
    first = page.locator(".print-status[data-carton='1']")
    expect(first).to_have_attribute("data-state", "sent")
    expect(first).to_contain_text("Carton 1: label printed (ZT-PACK)")
    expect(lines.locator(".pack-line-quantity")).to_have_text(["10", "2"])

    # Carton 2: the rest, one scan each for the two C, a small carton.
    page.locator(".pack-multiple").fill("10")
    datawedge_scan(page, gtin13(1))
    datawedge_scan(page, "]C101" + "0" + gtin13(3))  # a GS1-128 label with its AIM prefix
    datawedge_scan(page, gtin13(3))
    expect(lines.locator(".pack-line-scanned")).to_have_text(["10", "2"])
    page.locator(".size[data-size=S]").click()
    page.locator(".pack-weight").fill("3.1")
    shot(page, "pack-station-second-carton.png")
    page.get_by_role("button", name=re.compile("Close carton")).click()

    # The tote is empty: carton 2 is the last, its label says "2 of 2".
    expect(page.locator(".pack-card")).to_have_attribute("data-step", "tote")
    expect(banner).to_have_attribute("data-kind", "ok")
    expect(banner).to_contain_text("Carton 2 of 2 of SO-9 closed")
    expect(page.locator(".print-status[data-carton='2']")).to_have_attribute("data-state", "sent")
    shot(page, "pack-station-labels-printed.png")

    cartons = server.as_("sup").get("/api/v1/containers", params={"site": "S1", "kind": "carton"}).json()["data"]
    ssccs = [c["sscc"] for c in sorted(cartons, key=lambda c: c["code"])]
    assert len(ssccs) == 2 and all(is_valid_sscc(s) for s in ssccs)
    # Over TCP: one label per carton, each with its own carton's SSCC; m only once it is final (docs/labels.md).
    labels = printed(virtual_printer)
    one, two = labels[0][0], labels[-1][0]
    assert labels == [(one, "1"), (two, "2 of 2")]
    assert sorted([one, two]) == sorted(ssccs) and is_valid_sscc(one) and is_valid_sscc(two)
    order = server.as_("sup").get("/api/v1/orders/SO-9", params={"site": "S1"}).json()
    assert order["status"] == "packed"

    # The packing slip of the order opens as a PDF.
    with page.context.expect_page() as slip:
        page.locator(".packing-slip").click()
    assert slip.value.url.startswith("blob:")


def test_an_item_missing_from_the_tote_is_reported_to_the_supervisor(picked_tote, page: Page) -> None:  # noqa: ANN001
    server, tote = picked_tote, picked_tote.tote
    enrolled(page, server, "packer")
    page.locator(".tile[data-route=pack]").click()
    datawedge_scan(page, "PACK-1")
    expect(page.locator(".pack-bench")).to_have_text("PACK-1")
    datawedge_scan(page, tote)
    expect(page.locator(".pack-order")).to_have_text("SO-9")

    page.get_by_role("button", name="Item missing").click()
    page.locator(".missing-sku[data-sku='SKU-C']").click()
    page.locator(".missing-quantity").fill("1")
    page.get_by_role("button", name="Report missing").click()

    banner = page.locator("wes-feedback")
    expect(banner).to_contain_text(f"Reported: 1 × {SKU_C} missing from tote {tote}. A supervisor has been told.")
    expect(page.locator(".pack-line[data-sku='SKU-C'] .pack-line-quantity")).to_have_text("1")
    (exc,) = server.as_("sup").get("/api/v1/exceptions", params={"site": "S1", "kind": "pack_short"}).json()["data"]
    assert exc["details"]["reported_by_name"] == "packer" and exc["details"]["station"] == "PACK-1"


def test_a_label_that_did_not_print_says_why_and_is_reprinted(picked_tote, page: Page) -> None:  # noqa: ANN001
    server, tote = picked_tote, picked_tote.tote
    hanging = HangingUpPrinter()  # drops the first label connection mid-send, then behaves
    try:
        r = server.as_("sup").post("/api/v1/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1",
                                                              "port": hanging.port, "profile": "zebra-zt411-203",
                                                              "station": "PACK-1"})
        assert r.status_code == 200, r.text
        enrolled(page, server, "packer")
        page.locator(".tile[data-route=pack]").click()
        datawedge_scan(page, "PACK-1")
        expect(page.locator(".pack-bench")).to_have_text("PACK-1")
        datawedge_scan(page, tote)
        page.locator(".pack-multiple").fill("30")
        datawedge_scan(page, gtin13(1))
        expect(page.locator(".pack-line-scanned")).to_have_text(["30", "0"])
        page.locator(".pack-multiple").fill("2")
        datawedge_scan(page, gtin13(3))
        expect(page.locator(".pack-line-scanned")).to_have_text(["30", "2"])
        page.locator(".pack-weight").fill("8")
        page.get_by_role("button", name="Close carton").click()

        status = page.locator(".print-status[data-carton='1']")
        expect(status).to_have_attribute("data-state", "failed")
        expect(status).to_contain_text("Carton 1 of 1: label not printed (ZT-PACK) — the connection broke while "
                                       "sending")
        expect(page.locator("wes-feedback")).to_have_attribute("data-kind", "error")
        shot(page, "pack-station-label-failed.png")
        status.get_by_role("button", name="Reprint").click()
        expect(status).to_have_attribute("data-state", "sent")
        (label,) = hanging.received
        sscc = next(t for t in field_texts(label) if t.startswith("(00) ")).removeprefix("(00) ")
        carton = server.as_("sup").get("/api/v1/containers", params={"site": "S1", "kind": "carton"}).json()["data"]
        assert [c["sscc"] for c in carton] == [sscc] and is_valid_sscc(sscc)
    finally:
        hanging.close()


@pytest.fixture
def packed_order(picked_tote):  # noqa: ANN001, ANN201
    """SO-9 packed by the API into two closed cartons at PACK-1."""
    server = picked_tote
    first = _command(server, "packer", "pack", {"tote": server.tote, "station": "PACK-1", "weight_kg": 7.0,
                                                "items": [{"product": gtin13(1), "quantity": 30}]})
    second = _command(server, "packer", "pack", {"tote": server.tote, "station": "PACK-1", "weight_kg": 1.0,
                                                 "items": [{"product": gtin13(3), "quantity": 2}]})
    assert second["order_status"] == "packed"
    server.cartons = [first["sscc"], second["sscc"]]
    return server


def test_a_loader_ships_an_order_once_every_carton_is_on_the_load(packed_order, page: Page) -> None:  # noqa: ANN001
    server = packed_order
    one, two = server.cartons
    enrolled(page, server, "loader")
    page.locator(".tile[data-route=ship]").click()
    expect(page.get_by_role("button", name="SHIP-1")).to_be_visible()
    banner = page.locator("wes-feedback")

    datawedge_scan(page, "SHIP-1")
    expect(page.locator(".ship-door")).to_have_text("SHIP-1")
    datawedge_scan(page, "]C100" + one)  # the carton's SSCC label, as DataWedge types it
    card = page.locator(".ship-order[data-order='SO-9']")
    expect(card.locator(".ship-count b")).to_have_text("1")
    expect(card.locator(f".ship-carton[data-sscc='{one}']")).to_have_attribute("data-loaded", "true")
    expect(card.locator(f".ship-carton[data-sscc='{two}']")).to_have_attribute("data-loaded", "false")
    expect(banner).to_contain_text("SO-9 still needs carton 2")

    # Ship with carton 2 missing: refused, the carton named.
    card.get_by_role("button", name="Ship SO-9").click()
    expect(banner).to_have_attribute("data-kind", "error")
    expect(banner).to_contain_text(f"Carton 2 of SO-9 is not loaded: scan it onto the load at SHIP-1 first "
                                   f"(SSCC {two})")
    assert in_view(page, ".ship-it")
    shot(page, "ship-dock-missing-carton.png")
    assert server.as_("sup").get("/api/v1/orders/SO-9", params={"site": "S1"}).json()["status"] == "packed"

    datawedge_scan(page, two)
    expect(card).to_have_attribute("data-complete", "true")
    expect(banner).to_contain_text("SO-9 is complete: ship it")
    shot(page, "ship-dock.png")
    card.get_by_role("button", name="Ship SO-9").click()

    expect(banner).to_have_attribute("data-kind", "ok")
    expect(banner).to_contain_text("SO-9 shipped from SHIP-1: 2 cartons, 32 units")
    expect(page.locator(".ship-order")).to_have_count(0)
    assert server.as_("sup").get("/api/v1/orders/SO-9", params={"site": "S1"}).json()["status"] == "shipped"
