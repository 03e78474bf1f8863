"""More goods than an ASN announced, after it is fully received: an over-receipt for a supervisor, on both databases."""

from __future__ import annotations

from sqlmodel import select

from backend.inventory.ledger import ledger_disagreements
from backend.models import Site
from tests.helpers import SKU_A, SKU_C, add_site_users, build_site, gtin14_case, sscc

RECEIPT = {"site": "S1", "dock": "DOCK-1"}


def _asn(api, reference: str, lines: list[dict]):  # noqa: ANN001, ANN202
    r = api.as_("integ").post("/api/v1/inbound-shipments", json={"site": "S1", "reference": reference, "lines": lines})
    assert r.status_code == 201, r.text


def _fully_received_asn(api) -> None:  # noqa: ANN001
    """ASN-1: 48 × SKU_A on pallet sscc(1), 20 × SKU_C as cases; all of it received."""
    build_site(api)  # 10 % tolerance
    add_site_users(api)
    _asn(api, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
                        {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    recv = api.as_("recv")
    assert recv.post("/api/v1/receipts", json={**RECEIPT, "scan": sscc(1)}).status_code == 201
    assert recv.post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 20}).status_code == 201
    assert _asn_status(api, "ASN-1") == "received"


def _asn_status(api, reference: str) -> str:  # noqa: ANN001
    return api.as_("sup").get(f"/api/v1/inbound-shipments/{reference}", params={"site": "S1"}).json()["status"]


def _on_hand(api, sku: str) -> int:  # noqa: ANN001
    stock = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "sku": sku}).json()["data"]
    return sum(q["on_hand"] for q in stock)


def _ledger_ok(api) -> bool:  # noqa: ANN001
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        return ledger_disagreements(session, site.id) == []


def test_an_extra_case_after_a_full_receipt_is_an_over_receipt_whose_approval_posts_the_stock(api):  # noqa: ANN001
    _fully_received_asn(api)
    recv, sup = api.as_("recv"), api.as_("sup")

    extra = recv.post("/api/v1/receipts", json={**RECEIPT, "scan": gtin14_case(1)})
    assert extra.status_code == 409, extra.text
    error = extra.json()["error"]
    assert error["code"] == "over_receipt"
    assert {k: error["details"][k] for k in ("shipment", "line_no", "quantity", "quantity_received")} == {
        "shipment": "ASN-1", "line_no": 1, "quantity": 12, "quantity_received": 48}
    exception_id = error["details"]["exception_id"]
    assert _on_hand(api, SKU_A) == 48

    queue = sup.get("/api/v1/exceptions", params={"site": "S1", "kind": "over_receipt"}).json()["data"]
    assert [e["id"] for e in queue] == [exception_id]
    approved = sup.post(f"/api/v1/exceptions/{exception_id}/approve", json={"note": "supplier sent a case more"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    assert _on_hand(api, SKU_A) == 60
    receipts = sup.get("/api/v1/moves", params={"site": "S1", "sku": SKU_A, "reason": "receipt"}).json()["data"]
    assert sorted(m["quantity"] for m in receipts) == [12, 48]
    task = sup.get(f"/api/v1/tasks/{approved.json()['details']['posted']['putaway_task_id']}").json()
    assert (task["kind"], task["state"], task["quantity"]) == ("putaway", "pending", 12)
    asn = sup.get("/api/v1/inbound-shipments/ASN-1", params={"site": "S1"}).json()
    assert asn["status"] == "received"
    assert [ln["quantity_received"] for ln in asn["lines"]] == [60, 20]
    assert _ledger_ok(api)


def test_an_extra_case_on_a_named_received_asn_is_an_over_receipt_and_rejecting_it_posts_nothing(api):  # noqa: ANN001
    _fully_received_asn(api)
    extra = api.as_("recv").post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 1,
                                                           "shipment": "ASN-1"})
    assert extra.status_code == 409, extra.text
    error = extra.json()["error"]
    assert error["code"] == "over_receipt" and error["details"]["line_no"] == 2
    rejected = api.as_("sup").post(f"/api/v1/exceptions/{error['details']['exception_id']}/reject",
                                   json={"note": "sent back"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert _on_hand(api, SKU_C) == 20
    assert _asn_status(api, "ASN-1") == "received"


def test_an_open_asn_takes_the_goods_before_a_fully_received_one(api):  # noqa: ANN001
    _fully_received_asn(api)
    _asn(api, "ASN-2", [{"line_no": 1, "sku": SKU_C, "quantity": 10}])
    r = api.as_("recv").post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 4})
    assert r.status_code == 201, r.text
    assert [(ln["shipment"], ln["line_no"]) for ln in r.json()["lines"]] == [("ASN-2", 1)]


def test_an_approval_posts_onto_the_asn_line_it_was_refused_on(api):  # noqa: ANN001
    _fully_received_asn(api)
    refused = api.as_("recv").post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 2})
    assert refused.json()["error"]["code"] == "over_receipt"
    # A newer ASN for the same product arrives before the supervisor decides: it must keep its own quantity.
    _asn(api, "ASN-2", [{"line_no": 1, "sku": SKU_C, "quantity": 10}])
    approved = api.as_("sup").post(f"/api/v1/exceptions/{refused.json()['error']['details']['exception_id']}/approve",
                                   json={})
    assert approved.status_code == 200, approved.text
    received = {ref: [ln["quantity_received"] for ln in api.as_("sup").get(
        f"/api/v1/inbound-shipments/{ref}", params={"site": "S1"}).json()["lines"]] for ref in ("ASN-1", "ASN-2")}
    assert received == {"ASN-1": [48, 22], "ASN-2": [0]}


def test_an_over_receipt_refused_while_the_asn_was_open_can_be_approved_after_it_is_fully_received(api):  # noqa: ANN001
    build_site(api)  # 10 % tolerance
    add_site_users(api)
    _asn(api, "ASN-1", [{"line_no": 1, "sku": SKU_A, "quantity": 12}, {"line_no": 2, "sku": SKU_C, "quantity": 20}])
    recv = api.as_("recv")
    assert recv.post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 22}).status_code == 201
    over = recv.post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 1})
    assert over.status_code == 409 and over.json()["error"]["code"] == "over_receipt"
    assert recv.post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_A, "quantity": 12}).status_code == 201
    assert _asn_status(api, "ASN-1") == "received"

    approved = api.as_("sup").post(f"/api/v1/exceptions/{over.json()['error']['details']['exception_id']}/approve",
                                   json={})
    assert approved.status_code == 200, approved.text
    assert _on_hand(api, SKU_C) == 23
    assert _asn_status(api, "ASN-1") == "received"
    assert _ledger_ok(api)


def test_a_blind_receipt_is_not_matched_to_a_fully_received_asn(api):  # noqa: ANN001
    _fully_received_asn(api)
    r = api.as_("sup").post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 3, "blind": True})
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["shipment"] is None
    assert _on_hand(api, SKU_C) == 23


def test_a_pallet_of_a_fully_received_asn_scanned_again_is_already_received(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    _asn(api, "ASN-1", [{"line_no": 1, "sku": SKU_C, "quantity": 20, "sscc": sscc(5)}])
    recv = api.as_("recv")
    # Its goods came in as loose cases; then somebody scans the pallet label too.
    assert recv.post("/api/v1/receipts", json={**RECEIPT, "sku": SKU_C, "quantity": 20}).status_code == 201
    assert _asn_status(api, "ASN-1") == "received"
    again = recv.post("/api/v1/receipts", json={**RECEIPT, "scan": sscc(5)})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_received"
    assert _on_hand(api, SKU_C) == 20
