"""What the receiving and putaway screens ask of the server, on SQLite and PostgreSQL: the dock's expected ASNs,
blind receipt by role, an LPN kept to one ASN, the LPN label at the dock, over-receipts sent to a supervisor,
putaway tasks found by a raw LPN scan, and mixed LPNs that always get somewhere to go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.app import create_app
from backend.gs1 import is_valid_sscc
from backend.inventory.ledger import ledger_disagreements
from backend.models import Location, Site
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site, gtin13, gtin14_case, sscc

API = "/api/v1"
GS = "\x1d"


@pytest.fixture
def rapi(database_url: str) -> Iterator[Api]:
    """The app without its spool worker: queued labels stay exactly as the receipt left them."""
    app = create_app(make_settings(database_url, print_spool_enabled=False))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def _site(api: Api, *, mixed_reserve: bool = True) -> None:
    build_site(api)
    add_site_users(api)
    root = api.as_("root")
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "DOCK-2", "kind": "dock", "zone": "DOCK", "x": 20, "y": 0}]})
    assert r.status_code == 200, r.text
    if not mixed_reserve:  # like the demo: no storage location takes mixed stock
        with api.runtime.sessions() as session:
            for loc in session.exec(select(Location).where(Location.code.like("R2-%"))).all():
                loc.mixed_products = False
                session.add(loc)
            session.commit()


def _asn(api: Api, reference: str, lines: list[dict], expected_at: str | None = None) -> None:
    body = {"site": "S1", "reference": reference, "supplier": "ACME", "lines": lines}
    if expected_at:
        body["expected_at"] = expected_at
    r = api.as_("integ").post(f"{API}/inbound-shipments", json=body)
    assert r.status_code == 201, r.text


def _receive(api: Api, user: str = "recv", **body):  # noqa: ANN003, ANN202
    return api.as_(user).post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", **body})


def _allow_blind_for_receivers(api: Api) -> None:
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        site.allow_blind_receipt_by_receivers = True
        session.add(site)
        session.commit()


def _printer_at_dock(api: Api) -> None:
    r = api.as_("root").post(f"{API}/printers", json={"site": "S1", "code": "ZT-DOCK", "name": "Dock 1 printer",
                                                      "host": "127.0.0.1", "port": 9, "profile": "zebra-zt411-203",
                                                      "station": "DOCK-1"})
    assert r.status_code == 201, r.text


# --- the dock's expected ASNs ------------------------------------------------------------------


def test_the_dock_shows_open_asns_with_line_progress_those_received_here_first(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-LATE", [{"line_no": 1, "sku": SKU_A, "quantity": 24}, {"line_no": 2, "sku": SKU_C, "quantity": 5}],
         expected_at="2030-01-02T10:00:00Z")
    _asn(rapi, "ASN-EARLY", [{"line_no": 1, "sku": SKU_C, "quantity": 10}], expected_at="2030-01-01T08:00:00Z")
    _asn(rapi, "ASN-DONE", [{"line_no": 1, "sku": SKU_B, "quantity": 6, "lot": "L1", "expiry": "2031-01-01",
                             "sscc": sscc(9)}])
    assert _receive(rapi, scan=sscc(9)).status_code == 201  # ASN-DONE: fully received, no longer expected
    assert _receive(rapi, scan=gtin14_case(1), shipment="ASN-LATE").status_code == 201  # 12 of 24, at DOCK-1

    dock1 = rapi.as_("recv").get(f"{API}/docks/DOCK-1/expected", params={"site": "S1"})
    assert dock1.status_code == 200, dock1.text
    view = dock1.json()
    assert view["dock"] == "DOCK-1" and view["count"] == 2
    assert [a["reference"] for a in view["data"]] == ["ASN-LATE", "ASN-EARLY"]
    late = view["data"][0]
    assert (late["status"], late["at_this_dock"], late["lines_done"], late["units_expected"],
            late["units_received"]) == ("receiving", True, 0, 29, 12)
    assert [(ln["line_no"], ln["sku"], ln["description"], ln["quantity_received"], ln["quantity_expected"], ln["done"])
            for ln in late["lines"]] == [(1, SKU_A, "Widget", 12, 24, False), (2, SKU_C, "Lemonade", 0, 5, False)]

    # At another dock nothing was received yet: being received (elsewhere) still comes before merely expected.
    dock2 = rapi.as_("recv").get(f"{API}/docks/DOCK-2/expected", params={"site": "S1"}).json()
    assert [(a["reference"], a["at_this_dock"]) for a in dock2["data"]] == [("ASN-LATE", False), ("ASN-EARLY", False)]
    assert _receive(rapi, scan=gtin13(3), quantity=10, dock="DOCK-2", shipment="ASN-EARLY").status_code == 201
    dock2 = rapi.as_("recv").get(f"{API}/docks/DOCK-2/expected", params={"site": "S1"}).json()
    assert [a["reference"] for a in dock2["data"]] == ["ASN-LATE"]  # ASN-EARLY is now fully received

    not_a_dock = rapi.as_("recv").get(f"{API}/docks/R1-01/expected", params={"site": "S1"})
    assert not_a_dock.status_code == 422 and not_a_dock.json()["error"]["code"] == "not_a_dock"
    assert "scan the dock door" in not_a_dock.json()["error"]["message"]
    assert rapi.as_("pick").get(f"{API}/docks/DOCK-1/expected", params={"site": "S1"}).status_code == 403


def test_blind_receipt_is_offered_to_the_roles_the_site_allows(rapi):  # noqa: ANN001
    _site(rapi)

    def allowed(user: str) -> bool:
        return rapi.as_(user).get(f"{API}/docks/DOCK-1/expected", params={"site": "S1"}).json()["blind_receipt_allowed"]

    assert (allowed("recv"), allowed("sup")) == (False, True)
    refused = _receive(rapi, sku=SKU_A, quantity=3)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_expected"
    assert refused.json()["error"]["details"] == {"blind_allowed": False}
    assert "Set it aside for a supervisor" in refused.json()["error"]["message"]

    _allow_blind_for_receivers(rapi)
    assert allowed("recv") is True
    refused = _receive(rapi, sku=SKU_A, quantity=3)
    assert refused.json()["error"]["details"] == {"blind_allowed": True}
    assert "Receive it blind" in refused.json()["error"]["message"]
    blind = _receive(rapi, sku=SKU_A, quantity=3, blind=True)
    assert blind.status_code == 201, blind.text
    assert blind.json()["lines"][0]["shipment"] is None


# --- one LPN, one ASN ------------------------------------------------------------------------------


def test_an_lpn_holds_one_asn_so_a_case_of_another_goes_onto_a_new_lpn(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48}])
    _asn(rapi, "ASN-2", [{"line_no": 1, "sku": SKU_C, "quantity": 20}])
    first = _receive(rapi, scan=gtin14_case(1))
    assert first.status_code == 201, first.text
    lpn = first.json()["lpn"]
    more = _receive(rapi, scan=gtin14_case(1), lpn=lpn)
    assert more.status_code == 201 and more.json()["lpn"] == lpn

    other = _receive(rapi, scan=gtin13(3), quantity=4, lpn=lpn)
    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "lpn_other_asn"
    assert error["details"] == {"field": "lpn", "lpn": lpn, "lpn_shipments": ["ASN-1"], "shipment": "ASN-2"}
    assert "receive it onto a new LPN" in error["message"]
    # Nothing of the refused case was counted.
    asn2 = rapi.as_("recv").get(f"{API}/inbound-shipments/ASN-2", params={"site": "S1"}).json()
    assert asn2["lines"][0]["quantity_received"] == 0

    apart = _receive(rapi, scan=gtin13(3), quantity=4)
    assert apart.status_code == 201 and apart.json()["lpn"] != lpn


def test_cases_count_against_the_asn_being_unloaded_first_and_past_it_go_to_a_supervisor(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48}])
    _asn(rapi, "ASN-2", [{"line_no": 1, "sku": SKU_A, "quantity": 12}])
    r = _receive(rapi, scan=gtin14_case(1), unloading="ASN-2")
    assert r.status_code == 201 and r.json()["lines"][0]["shipment"] == "ASN-2"
    # ASN-2 is complete: one case more while unloading it is its over-receipt, not ASN-1's.
    over = _receive(rapi, scan=gtin14_case(1), unloading="ASN-2")
    assert over.status_code == 409 and over.json()["error"]["code"] == "over_receipt"
    assert over.json()["error"]["details"]["shipment"] == "ASN-2"
    # Without it (or naming an ASN that does not have the product) the first open ASN with it still matches.
    assert _receive(rapi, scan=gtin14_case(1)).json()["lines"][0]["shipment"] == "ASN-1"
    _asn(rapi, "ASN-3", [{"line_no": 1, "sku": SKU_C, "quantity": 5}])
    assert _receive(rapi, scan=gtin14_case(1), unloading="ASN-3").json()["lines"][0]["shipment"] == "ASN-1"
    # A pallet's SSCC names its own ASN whatever is being unloaded.
    _asn(rapi, "ASN-4", [{"line_no": 1, "sku": SKU_C, "quantity": 8, "sscc": sscc(4)}])
    assert _receive(rapi, scan=sscc(4), unloading="ASN-2").json()["lines"][0]["shipment"] == "ASN-4"


# --- the LPN label ---------------------------------------------------------------------------------


def test_a_new_lpn_gets_an_sscc_and_its_label_is_queued_at_the_dock_printer(rapi):  # noqa: ANN001
    _site(rapi)
    _printer_at_dock(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48}])
    r = _receive(rapi, scan=f"]C101{gtin14_case(1)}372{GS}")  # 2 cases of 12
    assert r.status_code == 201, r.text
    receipt = r.json()
    label = receipt["label"]
    assert label["printed"] is True and label["printer"] == "ZT-DOCK" and label["status"] == "printing"
    assert label["message"] == "LPN label printing at Dock 1 printer."
    job = rapi.as_("root").get(f"{API}/print-jobs/{label['print_job_id']}").json()
    assert job["label_type"] == "lpn" and job["state"] == "queued"
    assert job["data"]["lpn"] == receipt["lpn"] and (job["data"]["sku"], job["data"]["quantity"]) == (SKU_A, 24)
    assert is_valid_sscc(job["data"]["sscc"])
    # The label's barcode finds the LPN: its SSCC is the LPN's.
    container = rapi.as_("recv").get(f"{API}/containers/{job['data']['sscc']}", params={"site": "S1"}).json()
    assert container["code"] == receipt["lpn"]

    added = _receive(rapi, scan=gtin14_case(1), lpn=receipt["lpn"])
    assert added.json()["label"] == {"printed": False, "printer": None, "print_job_id": None, "status": "has_label",
                                     "message": f"Added to LPN {receipt['lpn']}: its label is already on it."}
    again = rapi.as_("recv").post(f"{API}/receipts/lpn-label", json={"site": "S1", "dock": "DOCK-1",
                                                                     "lpn": receipt["lpn"]})
    assert again.status_code == 200 and again.json()["printed"] is True
    assert rapi.as_("root").get(f"{API}/print-jobs/{again.json()['print_job_id']}").json()["data"]["quantity"] == 36


def test_no_printer_at_the_dock_says_so_and_the_receipt_still_stands(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48},
                         {"line_no": 2, "sku": SKU_C, "quantity": 10, "sscc": sscc(3)}])
    r = _receive(rapi, scan=gtin14_case(1))
    assert r.status_code == 201, r.text
    assert (r.json()["label"]["printed"], r.json()["label"]["status"]) == (False, "not_printed")
    assert "did not print" in r.json()["label"]["message"] and "DOCK-1" in r.json()["label"]["message"]
    assert rapi.as_("recv").get(f"{API}/inventory", params={"site": "S1", "lpn": r.json()["lpn"]}).json()["count"] == 1
    pallet = _receive(rapi, scan="]C100" + sscc(3))
    assert pallet.status_code == 201
    assert (pallet.json()["label"]["printed"], pallet.json()["label"]["status"]) == (False, "has_label")
    assert "keeps its supplier's SSCC label" in pallet.json()["label"]["message"]


# --- over-receipt ----------------------------------------------------------------------------------


def test_an_over_receipt_tells_the_receiver_it_went_to_a_supervisor(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_C, "quantity": 10}])
    over = _receive(rapi, scan=gtin13(3), quantity=12)  # 10 + 10 % tolerance = 11 at most
    assert over.status_code == 409
    error = over.json()["error"]
    assert error["code"] == "over_receipt" and error["details"]["sent_to_supervisor"] is True
    assert f"Sent to a supervisor for approval (exception #{error['details']['exception_id']})" in error["message"]
    queue = rapi.as_("sup").get(f"{API}/exceptions", params={"site": "S1", "kind": "over_receipt"}).json()["data"]
    assert [e["id"] for e in queue] == [error["details"]["exception_id"]]


# --- putaway by a raw LPN scan ---------------------------------------------------------------------


def test_a_putaway_task_is_found_by_the_lpn_as_scanned(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
                         {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    pallet = _receive(rapi, scan=sscc(1)).json()
    case = _receive(rapi, scan=gtin13(3), quantity=20).json()
    recv = rapi.as_("recv")

    def found(scan: str) -> list[int]:
        r = recv.get(f"{API}/tasks", params={"site": "S1", "kind": "putaway", "scan": scan})
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["data"]]

    for scan in ("]C100" + sscc(1), "00" + sscc(1), sscc(1), f"]C1{'00' + sscc(1)}"):
        assert found(scan) == [pallet["putaway_task_id"]], scan
    assert found(case["lpn"]) == found("]C0" + case["lpn"]) == [case["putaway_task_id"]]

    location = recv.get(f"{API}/tasks", params={"site": "S1", "kind": "putaway", "scan": "]C0R1-01"})
    assert location.status_code == 422 and location.json()["error"]["code"] == "not_an_lpn"
    assert location.json()["error"]["message"] == "R1-01 is a location: scan the LPN label on the pallet."
    product = recv.get(f"{API}/tasks", params={"site": "S1", "kind": "putaway", "scan": gtin13(1)})
    assert product.status_code == 422 and SKU_A in product.json()["error"]["message"]
    unknown = recv.get(f"{API}/tasks", params={"site": "S1", "kind": "putaway", "scan": "]C100" + sscc(77)})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_lpn"
    assert "receive the pallet first" in unknown.json()["error"]["message"]


# --- mixed LPNs --------------------------------------------------------------------------------------


def test_a_mixed_lpn_goes_whole_to_a_location_that_takes_mixed_stock(rapi):  # noqa: ANN001
    _site(rapi)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 24}, {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    lpn = _receive(rapi, scan=gtin14_case(1)).json()["lpn"]
    mixed = _receive(rapi, scan=gtin13(3), quantity=20, lpn=lpn)
    assert mixed.status_code == 201, mixed.text
    assert [(p["sku"], p["quantity"], p["to_location"]) for p in mixed.json()["putaway"]] == [(None, 32, "R2-01")]
    task = rapi.as_("recv").get(f"{API}/tasks/{mixed.json()['putaway_task_id']}").json()
    assert task["details"]["rule"] == "nearest_empty" and "breakdown" not in task["details"]


def test_a_mixed_lpn_nothing_takes_whole_is_put_away_one_product_at_a_time(rapi):  # noqa: ANN001
    _site(rapi, mixed_reserve=False)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 24}, {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    recv = rapi.as_("recv")
    first = _receive(rapi, scan=gtin14_case(1)).json()  # 12 × SKU-A: to its pick face
    lpn, first_task = first["lpn"], first["putaway_task_id"]
    mixed = _receive(rapi, scan=gtin13(3), quantity=20, lpn=lpn).json()
    plan = mixed["putaway"]
    # Largest first: 20 × SKU-C to its category's zone, then SKU-A to its pick face (keeping its task).
    assert [(p["sku"], p["quantity"]) for p in plan] == [(SKU_C, 20), (SKU_A, 12)]
    assert plan[0]["to_location"].startswith("R3-") and plan[1]["to_location"] == "PF-01"
    assert plan[1]["task_id"] == first_task
    assert all(p["instruction"].startswith("Mixed LPN: no location takes it whole") for p in plan)
    tasks = recv.get(f"{API}/tasks", params={"site": "S1", "kind": "putaway", "scan": lpn}).json()["data"]
    assert sorted((t["sku"], t["details"]["breakdown"]["part"], t["details"]["breakdown"]["of"]) for t in tasks) == [
        (SKU_A, 2, 2), (SKU_C, 1, 2)]

    # The first part takes only its product off the LPN, loose; the LPN stays at the dock with the rest.
    c_task = plan[0]["task_id"]
    r = recv.post(f"{API}/tasks/{c_task}/confirm-putaway", json={"scan": plan[0]["to_location"]})
    assert r.status_code == 200, r.text
    stock = recv.get(f"{API}/inventory", params={"site": "S1", "location": plan[0]["to_location"]}).json()["data"]
    assert [(q["sku"], q["on_hand"], q["lpn"]) for q in stock] == [(SKU_C, 20, None)]
    on_lpn = recv.get(f"{API}/inventory", params={"site": "S1", "lpn": lpn}).json()["data"]
    assert [(q["sku"], q["location"], q["on_hand"]) for q in on_lpn] == [(SKU_A, "DOCK-1", 12)]
    # The last part is the LPN's only product: at a pick face it is broken down, and the LPN is empty.
    r = recv.post(f"{API}/tasks/{first_task}/confirm-putaway", json={"scan": "PF-01"})
    assert r.status_code == 200, r.text
    assert recv.get(f"{API}/inventory", params={"site": "S1", "lpn": lpn}).json()["count"] == 0
    assert recv.get(f"{API}/inventory", params={"site": "S1", "location": "DOCK-1"}).json()["count"] == 0
    with rapi.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        assert ledger_disagreements(session, site.id) == []


def test_a_putaway_with_nowhere_to_go_says_what_to_do(rapi):  # noqa: ANN001
    _site(rapi)
    root = rapi.as_("root")
    # Every storage location full or fixed to another product: nothing takes SKU-C.
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": f"R{a}-{b:02d}", "kind": "reserve", "zone": "RES", "capacity": 1, "x": 4.0 * a, "y": 2.0 + 2 * b}
        for a in (1, 2, 3) for b in (1, 2, 3)]})
    assert r.status_code == 200, r.text
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_C, "quantity": 20}])
    receipt = _receive(rapi, scan=gtin13(3), quantity=20).json()
    (planned,) = receipt["putaway"]
    assert planned["to_location"] is None
    assert planned["instruction"].startswith("No location has room for it")


def test_an_lpn_planned_again_keeps_its_tasks_and_cancels_the_parts_it_no_longer_needs(rapi):  # noqa: ANN001
    _site(rapi, mixed_reserve=False)
    root = rapi.as_("root")

    def mixed_room(capacity: int) -> None:
        r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
            {"code": "R2-01", "kind": "reserve", "zone": "RES", "x": 8, "y": 4, "capacity": capacity,
             "mixed_products": True}]})
        assert r.status_code == 200, r.text

    mixed_room(30)
    _asn(rapi, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48}, {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    lpn = _receive(rapi, scan=gtin14_case(1)).json()["lpn"]
    split = _receive(rapi, scan=gtin13(3), quantity=20, lpn=lpn).json()["putaway"]
    assert [(p["sku"], p["to_location"]) for p in split] == [(SKU_C, "R3-01"), (SKU_A, "PF-01")]

    mixed_room(100)  # room now for the whole LPN: one task again, the other part cancelled
    whole = _receive(rapi, scan=gtin14_case(1), lpn=lpn).json()["putaway"]
    assert [(p["sku"], p["quantity"], p["to_location"]) for p in whole] == [(None, 44, "R2-01")]
    assert whole[0]["task_id"] in {p["task_id"] for p in split}
    (dropped,) = [p["task_id"] for p in split if p["task_id"] != whole[0]["task_id"]]
    gone = rapi.as_("recv").get(f"{API}/tasks/{dropped}").json()
    assert gone["state"] == "cancelled" and gone["details"]["cancelled_reason"] == f"LPN {lpn} was planned again"
    kept = rapi.as_("recv").get(f"{API}/tasks/{whole[0]['task_id']}").json()
    assert (kept["state"], kept["sku"], kept["quantity"]) == ("pending", None, 44)
    assert "breakdown" not in kept["details"]
