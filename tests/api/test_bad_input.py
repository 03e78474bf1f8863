"""Bad input is refused with a 4xx envelope naming the field or line, and nothing is half-written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from backend.app import create_app
from backend.models import Container, InboundLine, InboundShipment, Location, Move, Product, ProductGtin, Receipt, Site
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_B, SKU_C, build_site, gtin13, gtin14_case, sscc

API = "/api/v1"


def _count(api: Api, table) -> int:  # noqa: ANN001
    with api.runtime.sessions() as session:
        return session.exec(select(func.count()).select_from(table)).one()


def _error(response) -> dict:  # noqa: ANN001
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def _post_asn(api: Api, lines: list[dict], reference: str = "ASN-1", **extra):  # noqa: ANN003, ANN202
    return api.as_("root").post(f"{API}/inbound-shipments",
                                json={"site": "S1", "reference": reference, "lines": lines, **extra})


GOOD_LINES = [
    {"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
    {"line_no": 2, "sku": SKU_C, "quantity": 20},
]


# --- ASNs ---------------------------------------------------------------------------------


def test_asn_with_an_unknown_sku_names_the_line_and_creates_nothing(api):  # noqa: ANN001
    build_site(api)
    r = _post_asn(api, [*GOOD_LINES, {"line_no": 7, "sku": "NO-SUCH-SKU", "quantity": 5}])
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "unknown_sku"
    assert error["details"]["line_no"] == 7 and error["details"]["field"] == "lines.2.sku"
    assert "NO-SUCH-SKU" in error["message"]
    assert _count(api, InboundShipment) == 0 and _count(api, InboundLine) == 0
    assert api.as_("root").get(f"{API}/inbound-shipments", params={"site": "S1"}).json()["count"] == 0


def test_asn_line_quantity_must_be_positive(api):  # noqa: ANN001
    build_site(api)
    for quantity in (0, -5):
        r = _post_asn(api, [GOOD_LINES[0], {"line_no": 2, "sku": SKU_C, "quantity": quantity}])
        assert r.status_code == 422, quantity
        error = _error(r)
        assert error["code"] == "validation_failed"
        assert [d["field"] for d in error["details"]] == ["body.lines.1.quantity"]
    assert _count(api, InboundShipment) == 0


def test_asn_with_a_line_number_given_twice_is_refused(api):  # noqa: ANN001
    build_site(api)
    r = _post_asn(api, [*GOOD_LINES, {"line_no": 2, "sku": SKU_B, "quantity": 6, "lot": "L1"}])
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "validation_failed"
    assert "line_no 2 appears twice" in error["message"]
    assert _count(api, InboundShipment) == 0 and _count(api, InboundLine) == 0


def test_asn_line_with_a_wrong_sscc_check_digit_names_the_line_and_creates_nothing(api):  # noqa: ANN001
    build_site(api)
    good = sscc(5)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    r = _post_asn(api, [*GOOD_LINES, {"line_no": 3, "sku": SKU_C, "quantity": 1, "sscc": bad}])
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "invalid_sscc"
    assert error["details"]["line_no"] == 3 and error["details"]["field"] == "lines.2.sscc"
    assert _count(api, InboundShipment) == 0 and _count(api, InboundLine) == 0


def test_asn_sscc_that_is_not_18_digits_is_refused_by_field(api):  # noqa: ANN001
    build_site(api)
    r = _post_asn(api, [{"line_no": 1, "sku": SKU_A, "quantity": 1, "sscc": "12345"}])
    assert r.status_code == 422
    assert [d["field"] for d in _error(r)["details"]] == ["body.lines.0.sscc"]
    assert _count(api, InboundShipment) == 0


def test_asn_repeated_with_the_same_reference_returns_the_first_without_new_lines(api):  # noqa: ANN001
    build_site(api)
    first = _post_asn(api, GOOD_LINES, supplier="ACME")
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    again = _post_asn(api, GOOD_LINES, supplier="ACME")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    assert again.json()["lines"] == first.json()["lines"]
    assert _count(api, InboundShipment) == 1 and _count(api, InboundLine) == 2


# --- request shape --------------------------------------------------------------------------


@pytest.fixture
def small_body_api(database_url: str) -> Iterator[Api]:
    app = create_app(make_settings(database_url, max_body_bytes=4096))
    with TestClient(app) as client:
        small = Api(client)
        small.add_user("root", ["admin"], all_sites=True)
        yield small


def test_body_over_the_configured_size_is_refused_with_413_whether_declared_or_streamed(small_body_api):  # noqa: ANN001
    api = small_body_api
    build_site(api)
    lines = [{"line_no": n, "sku": SKU_C, "quantity": 1} for n in range(1, 200)]
    body = json.dumps({"site": "S1", "reference": "BIG", "lines": lines}).encode()
    assert len(body) > 4096
    root = api.as_("root")
    headers = {**root.headers, "content-type": "application/json"}
    declared = api.client.post(f"{API}/inbound-shipments", content=body, headers=headers)

    def chunked():  # noqa: ANN202
        # No Content-Length: the limit has to be counted while the body arrives.
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = api.client.post(f"{API}/inbound-shipments", content=chunked(), headers=headers)
    for r in (declared, streamed):
        assert r.status_code == 413, r.text
        assert _error(r)["code"] == "request_too_large"
    assert _count(api, InboundShipment) == 0
    # Requests under the limit still go through.
    assert _post_asn(api, lines[:3], reference="SMALL").status_code == 201


def test_unknown_fields_are_refused_with_422_naming_them(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    cases = [
        ("/inbound-shipments", {"site": "S1", "reference": "A", "refrence": "typo",
                                "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}, "body.refrence"),
        ("/inbound-shipments", {"site": "S1", "reference": "A",
                                "lines": [{"line_no": 1, "sku": SKU_A, "qty": 1, "quantity": 1}]}, "body.lines.0.qty"),
        ("/locations", {"site": "S1", "locations": [{"code": "N-1", "kind": "reserve", "capcity": 5}]},
         "body.locations.0.capcity"),
        ("/products", {"products": [{"sku": "NEW", "gtins": {"each": gtin13(50), "box": gtin13(51)}}]},
         "body.products.0.gtins.box"),
        ("/receipts", {"site": "S1", "dock": "DOCK-1", "sku": SKU_A, "quantity": 1, "blind": True, "force": True},
         "body.force"),
    ]
    for path, body, field in cases:
        r = root.post(API + path, json=body)
        assert r.status_code == 422, (path, r.text)
        error = _error(r)
        assert error["code"] == "validation_failed"
        assert [d["field"] for d in error["details"]] == [field]
        assert error["details"][0]["type"] == "extra_forbidden"
    assert _count(api, InboundShipment) == 0 and _count(api, Receipt) == 0
    assert _count(api, Product) == 3


def test_a_body_that_is_not_json_is_refused_with_422(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    r = api.client.post(f"{API}/inbound-shipments", content=b'{"site": "S1", "reference": ',
                        headers={**root.headers, "content-type": "application/json"})
    assert r.status_code == 422
    assert _error(r)["details"][0]["type"] == "json_invalid"


# --- master data ----------------------------------------------------------------------------


def _location_rows(n: int) -> list[dict]:
    return [{"code": f"N-{i:03d}", "kind": "reserve", "zone": "RES", "capacity": 10} for i in range(n)]


def _location_snapshot(api: Api) -> list[dict]:
    return api.as_("root").get(f"{API}/locations", params={"site": "S1", "limit": 1000}).json()["data"]


def test_location_upsert_with_one_unknown_zone_writes_none_of_the_rows(api):  # noqa: ANN001
    build_site(api)
    before = _location_snapshot(api)
    rows = _location_rows(50)
    rows.insert(10, {"code": "R1-01", "kind": "reserve", "zone": "RES", "capacity": 1})  # an update
    rows[37] = {**rows[37], "zone": "NO-SUCH-ZONE"}
    r = api.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": rows})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "unknown_zone"
    assert error["details"]["row"] == 37 and error["details"]["field"] == "zone"
    assert _location_snapshot(api) == before


def test_location_upsert_with_a_code_given_twice_writes_none_of_the_rows(api):  # noqa: ANN001
    build_site(api)
    before = _location_snapshot(api)
    rows = [*_location_rows(20), {"code": "N-005", "kind": "pick_face", "zone": "PF"}]
    r = api.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": rows})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "duplicate_in_request"
    assert error["details"]["rows"] == [5, 20] and error["details"]["field"] == "code"
    assert _location_snapshot(api) == before


def test_location_row_with_an_unknown_kind_is_refused_by_row_and_field(api):  # noqa: ANN001
    build_site(api)
    rows = _location_rows(5)
    rows[3] = {**rows[3], "kind": "shelf"}
    r = api.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": rows})
    assert r.status_code == 422
    assert [d["field"] for d in _error(r)["details"]] == ["body.locations.3.kind"]
    assert _count(api, Location) == 12


def _bad_check_digit(gtin: str) -> str:
    return gtin[:-1] + str((int(gtin[-1]) + 1) % 10)


def test_product_with_a_wrong_gtin_check_digit_names_row_and_field_and_writes_nothing(api):  # noqa: ANN001
    build_site(api)
    products = [
        {"sku": "NEW-1", "gtins": {"each": gtin13(60)}},
        {"sku": SKU_A, "description": "renamed", "gtins": {"each": gtin13(1)}},
        {"sku": "NEW-2", "gtins": {"each": gtin13(61), "case": _bad_check_digit(gtin14_case(61))}},
    ]
    r = api.as_("root").post(f"{API}/products", json={"products": products})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "invalid_gtin"
    assert error["details"]["row"] == 2 and error["details"]["field"] == "gtins.case"
    assert _count(api, Product) == 3 and _count(api, ProductGtin) == 5
    assert api.as_("root").get(f"{API}/products/{SKU_A}").json()["description"] == "Widget"


def test_gtin_that_belongs_to_another_product_is_refused_with_409_and_writes_nothing(api):  # noqa: ANN001
    build_site(api)
    products = [
        {"sku": "NEW-1", "gtins": {"each": gtin13(60)}},
        {"sku": SKU_C, "description": "renamed", "gtins": {"each": gtin13(3)}},
        {"sku": "NEW-2", "gtins": {"each": gtin13(1)}},  # SKU-A's
    ]
    r = api.as_("root").post(f"{API}/products", json={"products": products})
    assert r.status_code == 409
    error = _error(r)
    assert error["code"] == "gtin_in_use"
    assert error["details"]["sku"] == "NEW-2" and error["details"]["field"] == "gtins.each"
    assert _count(api, Product) == 3 and _count(api, ProductGtin) == 5
    assert api.as_("root").get(f"{API}/products/{SKU_C}").json()["description"] == "Lemonade"
    found = api.as_("root").get(f"{API}/products", params={"gtin": gtin13(1)}).json()["data"]
    assert [p["sku"] for p in found] == [SKU_A]


def test_gtin_given_to_two_products_in_one_request_is_refused(api):  # noqa: ANN001
    build_site(api)
    products = [{"sku": "NEW-1", "gtins": {"each": gtin13(60)}}, {"sku": "NEW-2", "gtins": {"case": gtin13(60)}}]
    r = api.as_("root").post(f"{API}/products", json={"products": products})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "duplicate_in_request"
    assert error["details"] == {"row": 1, "field": "gtins.case"}
    assert _count(api, Product) == 3


# --- receiving and containers ---------------------------------------------------------------


def test_receipt_at_a_location_that_is_not_a_dock_is_refused_and_nothing_is_received(api):  # noqa: ANN001
    build_site(api)
    assert _post_asn(api, GOOD_LINES).status_code == 201
    r = api.as_("root").post(f"{API}/receipts", json={"site": "S1", "dock": "R1-01", "sku": SKU_C, "quantity": 5})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "not_a_dock" and error["details"]["field"] == "dock"
    assert _count(api, Receipt) == 0 and _count(api, Move) == 0
    asn = api.as_("root").get(f"{API}/inbound-shipments/ASN-1", params={"site": "S1"}).json()
    assert [line["quantity_received"] for line in asn["lines"]] == [0, 0]


def test_receipt_quantity_must_be_positive(api):  # noqa: ANN001
    build_site(api)
    assert _post_asn(api, GOOD_LINES).status_code == 201
    for quantity in (0, -1):
        r = api.as_("root").post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C,
                                                          "quantity": quantity})
        assert r.status_code == 422, quantity
        assert [d["field"] for d in _error(r)["details"]] == ["body.quantity"]
    assert _count(api, Receipt) == 0 and _count(api, Move) == 0


def test_container_count_outside_1_to_10000_is_refused(api):  # noqa: ANN001
    build_site(api)
    for count in (0, -3, 10_001):
        r = api.as_("root").post(f"{API}/containers", json={"site": "S1", "kind": "pallet", "count": count})
        assert r.status_code == 422, count
        assert [d["field"] for d in _error(r)["details"]] == ["body.count"]
    assert _count(api, Container) == 0


# --- scans ----------------------------------------------------------------------------------

MALFORMED_SCANS = {
    "nul byte": ("ABC\x00DEF", "illegal_characters"),
    "terminal escape": ("\x1b[2J\x1b[31mR1-01", "illegal_characters"),
    "bidi override": ("R1-\u202e10", "illegal_characters"),
    "carriage return mid-scan": ("R1-01\rR1-02", "illegal_characters"),
    "empty": ("   ", "empty_scan"),
    "symbology identifier only": ("]C1", "empty_scan"),
    "SSCC with a wrong check digit": ("]C100" + _bad_check_digit(sscc(9)), "bad_check_digit"),
    "long junk with a control character": ("X" * 200 + "\x07", "illegal_characters"),
}


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


@pytest.mark.parametrize("what", sorted(MALFORMED_SCANS))
def test_malformed_scan_is_refused_with_the_value_echoed_safely(sqlite_api, what):  # noqa: ANN001
    # Classification is database-neutral: SQLite alone keeps this table quick.
    api = sqlite_api
    build_site(api)
    raw, code = MALFORMED_SCANS[what]
    r = api.as_("root").post(f"{API}/scans/classify", json={"site": "S1", "raw": raw})
    assert r.status_code == 422, r.text
    error = _error(r)
    assert error["code"] == code
    assert error["details"]["field"] == "raw"
    echoed = error["details"]["value"]
    assert _printable(error["message"]) and _printable(echoed)
    assert len(echoed) < 120
    assert all(str(v) == "" or _printable(str(v)) for v in error["details"].values())


def test_scan_longer_than_the_limit_is_refused_without_echoing_it(api):  # noqa: ANN001
    build_site(api)
    r = api.as_("root").post(f"{API}/scans/classify", json={"site": "S1", "raw": "9" * 5000})
    assert r.status_code == 422
    error = _error(r)
    assert [d["field"] for d in error["details"]] == ["body.raw"]
    assert "9" * 100 not in json.dumps(error)


# --- bounds: numbers, NUL, booleans, references, downloads (issue #16) ----------------------

HUGE = 99999999999999999999999  # past SQLite's 2^63 and PostgreSQL's 2^31


def _fields(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["code"] == "validation_failed", error
    return [d["field"] for d in error["details"]]


@pytest.mark.parametrize("number", [HUGE, 2**63, 2**31])
def test_integers_past_the_database_range_are_refused_by_field_in_path_query_and_body(api, number):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    assert _fields(root.get(f"{API}/tasks/{number}")) == ["path.task_id"]
    assert _fields(root.get(f"{API}/waves/{number}/pick-lists.pdf")) == ["path.wave_id"]
    assert _fields(root.get(f"{API}/tasks", params={"site": "S1", "offset": number})) == ["query.offset"]
    assert _fields(root.get(f"{API}/moves", params={"site": "S1", "after_id": number})) == ["query.after_id"]
    assert _fields(root.get(f"{API}/orders", params={"site": "S1", "wave_id": number})) == ["query.wave_id"]
    r = _post_asn(api, [{"line_no": number, "sku": SKU_A, "quantity": 1}])
    assert _fields(r) == ["body.lines.0.line_no"]
    r = _post_asn(api, [{"line_no": 1, "sku": SKU_A, "quantity": number}])
    assert _fields(r) == ["body.lines.0.quantity"]
    r = root.post(f"{API}/tasks/1/reprioritise", json={"priority": 1, "expected_version": number})
    assert _fields(r) == ["body.expected_version"]
    r = root.post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": "SO-HUGE", "lines": [{"line_no": number, "sku": SKU_A, "quantity": 1}]}]})
    assert r.status_code == 422 and _error(r)["details"]["rejected"][0]["problems"][0]["field"] == "line_no"
    assert _count(api, InboundShipment) == 0


def test_a_nul_byte_is_refused_in_any_string_including_the_login_form(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    assert _fields(root.get(f"{API}/orders", params={"site": "S1", "carrier": "DH\x00L"})) == ["query.carrier"]
    assert _fields(root.get(f"{API}/orders/SO%00-1", params={"site": "S1"})) == ["path.reference"]
    assert _fields(_post_asn(api, GOOD_LINES, reference="ASN\x00-1")) == ["body.reference"]
    assert _fields(root.post(f"{API}/products", json={"products": [{"sku": "NEW", "description": "a\x00b"}]})) \
        == ["body.products.0.description"]
    assert _fields(root.post(f"{API}/exceptions/1/approve", json={"note": "ok\x00"})) == ["body.note"]
    # Line breaks are text where text may span lines, and control characters elsewhere.
    assert _fields(root.post(f"{API}/products", json={"products": [{"sku": "NEW", "description": "a\nb"}]})) \
        == ["body.products.0.description"]
    # The anonymous login: refused, never a 500 (PostgreSQL cannot even compare a NUL).
    for form in ({"username": "ro\x00ot", "password": "password-123"}, {"username": "root", "password": "pass\x00"}):
        r = api.client.post(f"{API}/auth/token", data=form)
        assert r.status_code in (401, 422), r.text
        _error(r)
    assert _count(api, InboundShipment) == 0 and _count(api, Product) == 3


def test_an_unreasonable_float_in_a_wave_cart_is_refused_by_field(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    for cart in ({"tote_volume_l": 1e308}, {"tote_weight_kg": 1e308}, {"tote_volume_l": -1}):
        assert _fields(root.post(f"{API}/waves", json={"site": "S1", "cart": cart})) == [f"body.cart.{next(iter(cart))}"]
    for raw in (b'{"site": "S1", "cart": {"tote_volume_l": Infinity}}', b'{"site": "S1", "cart": {"tote_volume_l": NaN}}'):
        r = api.client.post(f"{API}/waves", content=raw, headers={**root.headers, "content-type": "application/json"})
        assert r.status_code == 422, r.text
    assert _fields(root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "FAR-1", "kind": "reserve", "x": 1e308}]})) == ["body.locations.0.x"]


def test_booleans_are_true_or_false_not_0_1_or_words(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    for flag in (0, 1, "true", "yes"):
        assert _fields(root.post(f"{API}/containers", json={"site": "S1", "kind": "pallet", "sscc": flag})) \
            == ["body.sscc"]
    for flag in ("0", "1", "yes", "on"):
        assert _fields(root.get(f"{API}/inventory", params={"site": "S1", "include_empty": flag})) \
            == ["query.include_empty"]
    assert root.get(f"{API}/inventory", params={"site": "S1", "include_empty": "true"}).status_code == 200
    assert _count(api, Container) == 0


def test_a_reference_with_a_quote_downloads_its_packing_slip_under_its_own_name(api):  # noqa: ANN001
    from urllib.parse import unquote

    build_site(api)
    root = api.as_("root")
    reference = 'SO "7"; x=1'
    r = root.post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": reference, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}]})
    assert r.status_code == 201, r.text
    slip = root.get(f"{API}/orders/{reference}/packing-slip.pdf", params={"site": "S1"})
    assert slip.status_code == 200, slip.text
    assert slip.content.startswith(b"%PDF")
    header = slip.headers["content-disposition"]
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and ";" not in fallback
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == f"packing-slip-{reference}.pdf"


def test_a_packing_slip_lays_out_without_customer_carrier_or_address(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    r = root.post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": "SO-BARE", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}]})
    assert r.status_code == 201, r.text
    slip = root.get(f"{API}/orders/SO-BARE/packing-slip.pdf", params={"site": "S1"})
    assert slip.status_code == 200, slip.text
    assert slip.content.startswith(b"%PDF")


@pytest.mark.parametrize("reference", ["WH/OUT/5", "back\\slash", "..", ".", "Ünïcødé"])
def test_a_reference_a_url_or_barcode_cannot_carry_is_refused_at_import(api, reference):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    r = root.post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": reference, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}]})
    assert r.status_code == 422, r.text
    problem = _error(r)["details"]["rejected"][0]["problems"][0]
    assert (problem["field"], problem["code"]) == ("reference", "invalid_reference")
    assert _fields(_post_asn(api, GOOD_LINES, reference=reference)) == ["body.reference"]
    assert _fields(root.post(f"{API}/products", json={"products": [{"sku": reference}]})) == ["body.products.0.sku"]
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [{"code": reference, "kind": "reserve"}]})
    assert _fields(r) == ["body.locations.0.code"]
    assert _count(api, InboundShipment) == 0 and _count(api, Product) == 3


def test_like_wildcards_in_prefix_and_text_filters_are_plain_characters(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")
    assert root.post(f"{API}/products", json={"products": [{"sku": "P%1", "description": "100% juice"},
                                                            {"sku": "P_2", "description": "under_score"}]}
                     ).status_code == 200
    assert root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "X_1", "kind": "reserve"}, {"code": "XA1", "kind": "reserve"}]}).status_code == 200

    def skus(q: str) -> list[str]:
        return sorted(p["sku"] for p in root.get(f"{API}/products", params={"q": q}).json()["data"])

    def codes(prefix: str) -> list[str]:
        r = root.get(f"{API}/locations", params={"site": "S1", "code_prefix": prefix})
        return sorted(loc["code"] for loc in r.json()["data"])

    assert skus("%") == ["P%1"]
    assert skus("_") == ["P_2"]
    assert skus("\\") == []
    assert codes("X_") == ["X_1"]
    assert codes("%") == []
    labels = root.get(f"{API}/locations/labels.pdf", params={"site": "S1", "code_prefix": "R_"})
    assert labels.status_code == 404 and _error(labels)["code"] == "no_locations"


def test_an_undocumented_method_answers_405_naming_every_method_of_the_path(api):  # noqa: ANN001
    root = api.as_("root")
    for method, path, allowed in (("DELETE", "/orders", "GET, HEAD, POST"), ("PUT", "/tasks/1", "GET, HEAD"),
                                  ("OPTIONS", "/locations", "GET, HEAD, POST")):
        r = api.client.request(method, API + path, headers=root.headers)
        assert r.status_code == 405, r.text
        assert r.headers["allow"] == allowed
        assert _error(r)["code"] == "method_not_allowed"


def test_the_openapi_document_gives_every_operation_its_4xx_in_the_envelope(sqlite_api):  # noqa: ANN001
    document = sqlite_api.client.get("/openapi.json").json()
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) > 90
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"422"} | ({"401", "403", "404"} if operation.get("security") else set())
        expected |= {"409"} if method in ("post", "put", "patch", "delete") else set()
        expected |= {"400", "413"} if "requestBody" in operation else set()
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == envelope or envelope in schema.get("anyOf", []), (method, path, status, schema)


def test_rows_stored_under_the_older_looser_rules_stay_readable(api):  # noqa: ANN001
    # Imported before references, codes and texts were bounded: a "/" SKU, a two-line description.
    build_site(api)
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Location.site_id).where(Location.code == "DOCK-1")).one()
        company_id = session.get(Site, site_id).company_id
        session.add(Product(company_id=company_id, sku="WH/OUT/1", description="two\nlines"))
        session.add(Location(site_id=site_id, code="OLD/1", kind="reserve", check_digits="11"))
        session.commit()
    root = api.as_("root")
    products = root.get(f"{API}/products", params={"q": "WH/OUT"})
    assert products.status_code == 200, products.text
    assert [(p["sku"], p["description"]) for p in products.json()["data"]] == [("WH/OUT/1", "two\nlines")]
    locations = root.get(f"{API}/locations", params={"site": "S1", "code_prefix": "OLD/"})
    assert locations.status_code == 200, locations.text
    assert [loc["code"] for loc in locations.json()["data"]] == ["OLD/1"]
