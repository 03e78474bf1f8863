"""The inbound scenario end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select

from backend.inventory.ledger import ledger_disagreements
from backend.models import AuditEntry, Site
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site, gtin13, gtin14_case, sscc


def _asn(api, reference="ASN-1", lines=None):  # noqa: ANN001, ANN202
    lines = lines or [
        {"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
        {"line_no": 2, "sku": SKU_B, "quantity": 30, "lot": "LOT7", "expiry": "2027-03-31", "sscc": sscc(1)},
        {"line_no": 3, "sku": SKU_C, "quantity": 20},
    ]
    return api.as_("integ").post("/api/v1/inbound-shipments", json={"site": "S1", "reference": reference,
                                                                     "supplier": "ACME", "lines": lines})


def _ledger_ok(api) -> bool:  # noqa: ANN001
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        return ledger_disagreements(session, site.id) == []


def test_asn_sscc_receipt_putaway_shows_stock_at_destination(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    r = _asn(api)
    assert r.status_code == 201, r.text
    assert r.json()["created"] is True

    recv = api.as_("recv")
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": "]C100" + sscc(1)})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["lpn"] == sscc(1)
    assert sorted((ln["sku"], ln["quantity"]) for ln in receipt["lines"]) == [(SKU_A, 48), (SKU_B, 30)]
    task_id = receipt["putaway_task_id"]
    assert task_id

    stock = recv.get("/api/v1/inventory", params={"site": "S1", "lpn": sscc(1)}).json()
    assert {q["sku"]: (q["location"], q["on_hand"]) for q in stock["data"]} == {
        SKU_A: ("DOCK-1", 48), SKU_B: ("DOCK-1", 30)}

    task = recv.get(f"/api/v1/tasks/{task_id}").json()
    assert task["kind"] == "putaway" and task["state"] == "pending"
    destination = task["to_location"]
    # A mixed pallet needs a location that allows mixing (aisle 2 here); nearest first.
    assert destination == "R2-01"

    # Confirm by check digits alone (what a picker reads off the label).
    r = recv.post(f"/api/v1/tasks/{task_id}/confirm-putaway", json={"scan": task["to_check_digits"]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "done"

    stock = recv.get("/api/v1/inventory", params={"site": "S1", "location": destination}).json()
    assert {q["sku"]: q["on_hand"] for q in stock["data"]} == {SKU_A: 48, SKU_B: 30}
    assert recv.get("/api/v1/inventory", params={"site": "S1", "location": "DOCK-1"}).json()["count"] == 0
    moves = recv.get("/api/v1/moves", params={"site": "S1"}).json()
    assert [m["reason"] for m in moves["data"]].count("receipt") == 2
    assert [m["reason"] for m in moves["data"]].count("putaway") == 2

    asn = recv.get("/api/v1/inbound-shipments/ASN-1", params={"site": "S1"}).json()
    assert [ln["quantity_received"] for ln in asn["lines"]] == [48, 30, 0]
    assert asn["status"] == "receiving"
    assert _ledger_ok(api)
    with api.runtime.sessions() as session:
        actions = set(session.exec(select(AuditEntry.action)).all())
    assert {"asn.create", "receipt.post", "task.create", "task.confirm_putaway"} <= actions


def test_case_scan_receives_line_by_line_into_one_lpn_and_goes_to_fixed_pick_face(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    assert _asn(api).status_code == 201
    recv = api.as_("recv")
    # GS1-128 with the case GTIN and a count of 2 cases (AI 37) = 24 units.
    first = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1",
                                                "scan": f"]C102{gtin14_case(1)}372\x1d"})
    assert first.status_code == 201, first.text
    lpn = first.json()["lpn"]
    assert first.json()["lines"][0]["quantity"] == 24
    second = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": gtin13(1),
                                                 "quantity": 12, "lpn": lpn})
    assert second.status_code == 201, second.text
    assert second.json()["lpn"] == lpn
    assert second.json()["putaway_task_id"] == first.json()["putaway_task_id"]
    task = recv.get(f"/api/v1/tasks/{first.json()['putaway_task_id']}").json()
    assert task["quantity"] == 36
    assert task["to_location"] == "PF-01"
    assert task["details"]["rule"] == "fixed_pick_face"
    r = recv.post(f"/api/v1/tasks/{task['id']}/confirm-putaway", json={"scan": "PF-01"})
    assert r.status_code == 200, r.text
    stock = recv.get("/api/v1/inventory", params={"site": "S1", "location": "PF-01"}).json()["data"]
    assert [(q["sku"], q["on_hand"], q["lpn"]) for q in stock] == [(SKU_A, 36, None)]
    assert _ledger_ok(api)


def test_category_rule_sends_beverage_to_its_zone_and_other_location_needs_reason(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    assert _asn(api).status_code == 201
    recv = api.as_("recv")
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 20,
                                            "shipment": "ASN-1"})
    assert r.status_code == 201, r.text
    task = recv.get(f"/api/v1/tasks/{r.json()['putaway_task_id']}").json()
    assert task["to_location"].startswith("R3-") and task["details"]["rule"] == "category_zone"

    no_reason = recv.post(f"/api/v1/tasks/{task['id']}/confirm-putaway", json={"scan": "R1-03"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    unsuitable = recv.post(f"/api/v1/tasks/{task['id']}/confirm-putaway",
                           json={"scan": "PF-01", "reason": "closer"})
    assert unsuitable.status_code == 409
    assert "fixed_to_another_product" in unsuitable.json()["error"]["details"]["problems"]
    ok = recv.post(f"/api/v1/tasks/{task['id']}/confirm-putaway", json={"scan": "R1-03", "reason": "bay blocked"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["to_location"] == "R1-03"
    assert ok.json()["details"]["deviation_reason"] == "bay blocked"


def test_over_receipt_beyond_tolerance_is_refused_and_queued_then_approved(api):  # noqa: ANN001
    build_site(api)  # 10 % tolerance
    add_site_users(api)
    assert _asn(api).status_code == 201
    recv = api.as_("recv")
    ok = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 22})
    assert ok.status_code == 201, ok.text  # 20 + 10 %
    over = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 1})
    assert over.status_code == 409
    error = over.json()["error"]
    assert error["code"] == "over_receipt" and error["details"]["limit"] == 22
    exception_id = error["details"]["exception_id"]
    assert recv.get("/api/v1/inventory", params={"site": "S1", "sku": SKU_C}).json()["data"][0]["on_hand"] == 22

    sup = api.as_("sup")
    queue = sup.get("/api/v1/exceptions", params={"site": "S1"}).json()
    assert [e["id"] for e in queue["data"]] == [exception_id]
    assert recv.post(f"/api/v1/exceptions/{exception_id}/approve", json={}).status_code == 403
    approved = sup.post(f"/api/v1/exceptions/{exception_id}/approve", json={"note": "supplier sent extra"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    total = sum(q["on_hand"] for q in recv.get("/api/v1/inventory", params={"site": "S1", "sku": SKU_C}).json()["data"])
    assert total == 23
    again = sup.post(f"/api/v1/exceptions/{exception_id}/approve", json={})
    assert again.status_code == 409
    assert _ledger_ok(api)


def test_damaged_goods_go_to_quarantine_with_an_exception(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    assert _asn(api).status_code == 201
    recv = api.as_("recv")
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_A, "quantity": 5,
                                            "damaged": True, "damage_note": "crushed"})
    assert r.status_code == 201, r.text
    assert r.json()["location"] == "QA-1" and r.json()["putaway_task_id"] is None
    assert r.json()["exception_id"]
    stock = recv.get("/api/v1/inventory", params={"site": "S1", "location": "QA-1"}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [(SKU_A, 5)]


def test_blind_receipt_needs_a_role_that_allows_it(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    body = {"site": "S1", "dock": "DOCK-1", "sku": SKU_A, "quantity": 5}
    not_expected = api.as_("recv").post("/api/v1/receipts", json=body)
    assert not_expected.status_code == 409 and not_expected.json()["error"]["code"] == "not_expected"
    forbidden = api.as_("recv").post("/api/v1/receipts", json={**body, "blind": True})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "blind_receipt_forbidden"
    ok = api.as_("sup").post("/api/v1/receipts", json={**body, "blind": True})
    assert ok.status_code == 201, ok.text
    assert ok.json()["lines"][0]["shipment"] is None


def test_lot_tracked_product_needs_a_lot(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    r = api.as_("sup").post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_B, "quantity": 5,
                                                      "blind": True})
    assert r.status_code == 422 and r.json()["error"]["code"] == "lot_required"
    assert api.as_("sup").get("/api/v1/inventory", params={"site": "S1"}).json()["count"] == 0


def test_same_pallet_cannot_be_received_twice(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    assert _asn(api).status_code == 201
    recv = api.as_("recv")
    body = {"site": "S1", "dock": "DOCK-1", "scan": sscc(1)}
    assert recv.post("/api/v1/receipts", json=body).status_code == 201
    again = recv.post("/api/v1/receipts", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_received"
