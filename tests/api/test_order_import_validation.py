"""Order import: every invalid order is named by reference and line with every reason; `partial` keeps the rest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site

API = "/api/v1"
SOON = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()
PAST = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()


def _post(api, orders, **extra):  # noqa: ANN001, ANN003, ANN202
    return api.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": orders, **extra})


def _stored(api) -> list[str]:  # noqa: ANN001
    data = api.as_("sup").get(f"{API}/orders", params={"site": "S1", "limit": 1000}).json()["data"]
    return sorted(o["reference"] for o in data)


def _order(n: int, **fields) -> dict:  # noqa: ANN003
    return {"reference": f"SO-{n:02d}", "cut_off": SOON, "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 2}, {"line_no": 2, "sku": SKU_C, "quantity": 1}], **fields}


def _rejected(body: dict) -> dict:
    return {(r["reference"], r["index"]): r["problems"] for r in body["rejected"]}


def test_a_batch_with_an_unknown_sku_and_a_zero_quantity_names_both_orders_and_lines(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    batch = [_order(n) for n in range(1, 21)]
    # SO-07: two problems on two lines; SO-13: a zero quantity, which the schema alone refuses.
    batch[6]["lines"] = [{"line_no": 10, "sku": SKU_A, "quantity": 1}, {"line_no": 20, "sku": "NOPE", "quantity": 1},
                         {"line_no": 30, "sku": SKU_C, "quantity": 0}]
    batch[12]["lines"] = [{"line_no": 1, "sku": SKU_B, "quantity": 0}]
    expected = {
        ("SO-07", 6): [
            {"line_no": 30, "field": "quantity", "code": "invalid_quantity",
             "message": "line 30: quantity must be at least 1, not 0"},
            {"line_no": 20, "field": "sku", "code": "unknown_sku", "message": "line 20: unknown SKU 'NOPE'"},
        ],
        ("SO-13", 12): [{"line_no": 1, "field": "quantity", "code": "invalid_quantity",
                         "message": "line 1: quantity must be at least 1, not 0"}],
    }

    refused = _post(api, batch)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "orders_rejected"
    assert error["message"].startswith("2 of 20 orders rejected, nothing was imported")
    assert _rejected(error["details"]) == expected
    assert _stored(api) == []

    imported = _post(api, batch, partial=True)
    assert imported.status_code == 201, imported.text
    valid = [o["reference"] for o in batch if o["reference"] not in ("SO-07", "SO-13")]
    assert [(a["reference"], a["created"]) for a in imported.json()["accepted"]] == [(r, True) for r in valid]
    assert _rejected(imported.json()) == expected
    assert _stored(api) == valid

    # Posting the same batch again creates nothing and says the same about the bad ones.
    again = _post(api, batch, partial=True)
    assert again.status_code == 200, again.text
    assert [a["id"] for a in again.json()["accepted"]] == [a["id"] for a in imported.json()["accepted"]]
    assert not any(a["created"] for a in again.json()["accepted"])
    assert _rejected(again.json()) == expected
    assert _stored(api) == valid


def test_a_wrong_type_inside_one_order_rejects_only_that_order_with_partial(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    batch = [_order(1), _order(2, priority="high"), _order(3)]

    refused = _post(api, batch)
    assert refused.status_code == 422
    assert _rejected(refused.json()["error"]["details"]) == {("SO-02", 1): [
        {"line_no": None, "field": "priority", "code": "invalid_priority",
         "message": 'priority must be a whole number, not "high"'}]}
    assert _stored(api) == []

    imported = _post(api, batch, partial=True)
    assert imported.status_code == 201, imported.text
    assert [a["reference"] for a in imported.json()["accepted"]] == ["SO-01", "SO-03"]
    assert list(_rejected(imported.json())) == [("SO-02", 1)]
    assert _stored(api) == ["SO-01", "SO-03"]


def test_an_order_without_a_readable_reference_is_named_by_its_index(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    nameless = _order(2)
    del nameless["reference"]
    batch = [_order(1), nameless, 42, _order(4, reference=7)]
    r = _post(api, batch, partial=True)
    assert r.status_code == 201, r.text
    assert [a["reference"] for a in r.json()["accepted"]] == ["SO-01"]
    assert _rejected(r.json()) == {
        (None, 1): [{"line_no": None, "field": "reference", "code": "missing_reference",
                     "message": "reference is missing"}],
        (None, 2): [{"line_no": None, "field": "", "code": "invalid_order",
                     "message": "the order must be an object, not 42"}],
        (None, 3): [{"line_no": None, "field": "reference", "code": "invalid_reference",
                     "message": "reference must be text, not 7"}],
    }
    assert _stored(api) == ["SO-01"]


def test_every_reason_of_an_order_is_listed_not_only_the_first(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    messy = {"reference": "MESSY", "cut_off": PAST, "priority": 0, "backorder_policy": "whenever", "lines": [
        {"line_no": 1, "sku": "NOPE", "quantity": 0},
        {"line_no": 2, "sku": SKU_A, "quantity": 1, "unit": "box", "qty": 1},
        {"line_no": 3, "sku": SKU_C, "quantity": 1, "unit": "case"},
        {"line_no": 3, "sku": SKU_A, "quantity": 1},
        {"sku": SKU_A, "quantity": 1},
        "not a line",
    ]}
    r = _post(api, [_order(1), messy, _order(1)], partial=True)
    assert r.status_code == 201, r.text
    assert [a["reference"] for a in r.json()["accepted"]] == ["SO-01"]
    rejected = _rejected(r.json())
    assert rejected[("SO-01", 2)] == [{"line_no": None, "field": "reference", "code": "duplicate_in_request",
                                       "message": "order 'SO-01' appears twice in the request"}]
    assert sorted((p["line_no"] or 0, p["field"], p["code"]) for p in rejected[("MESSY", 1)]) == [
        (0, "backorder_policy", "invalid_backorder_policy"),
        (0, "cut_off", "cut_off_in_past"),
        (0, "line_no", "missing_line_no"),
        (0, "lines", "invalid_line"),
        (0, "priority", "invalid_priority"),
        (1, "quantity", "invalid_quantity"),
        (1, "sku", "unknown_sku"),
        (2, "qty", "unknown_field"),
        (2, "unit", "unknown_unit"),
        (3, "line_no", "duplicate_line_no"),
        (3, "unit", "no_case_quantity"),
    ]
    messages = {p["code"]: p["message"] for p in rejected[("MESSY", 1)]}
    assert messages["unknown_unit"] == """line 2: unit must be 'each' or 'case', not "box\""""
    assert messages["missing_line_no"] == "line at position 5: line number is missing"
    assert messages["invalid_line"] == 'line at position 6: the line must be an object, not "not a line"'
    assert _stored(api) == ["SO-01"]


def test_a_malformed_request_is_still_refused_as_a_whole(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    integ = api.as_("integ")
    cases = [
        ({"site": "S1", "orders": {"reference": "SO-01"}, "partial": True}, "body.orders", "list_type"),
        ({"site": "S1", "orders": [], "partial": True}, "body.orders", "too_short"),
        ({"site": "S1", "orders": [_order(1)] * 10_001, "partial": True}, "body.orders", "too_long"),
        ({"site": "S1", "orders": [_order(1)], "partial": "maybe"}, "body.partial", "bool_type"),  # (booleans are strict)
    ]
    for body, field, kind in cases:
        r = integ.post(f"{API}/orders", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert [(d["field"], d["type"]) for d in error["details"]] == [(field, kind)]
    r = api.client.post(f"{API}/orders", content=b'{"site": "S1", "orders": [',
                        headers={**integ.headers, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "json_invalid"
    assert _stored(api) == []
