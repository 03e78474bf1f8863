"""A site's layout: set over the API, read back (or inferred), and walked by the wave planner."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.helpers import add_site_users, add_stock, build_site, gtin13

API = "/api/v1"
LAYOUT = {"aisle_x": [4, 8, 12], "aisle_length": 9, "middle_cross_aisles_y": [], "depot": [4, 0]}


def test_an_unset_layout_is_inferred_from_the_locations_and_shown(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    r = api.as_("sup").get(f"{API}/sites/S1/layout")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "inferred"
    # Pick faces and reserves stand at x 4, 8, 12 up to y 8; the site has no pack or ship location yet.
    assert body["layout"] == {"aisle_x": [4.0, 8.0, 12.0], "aisle_length": 9.0, "middle_cross_aisles_y": [],
                               "depot": [4.0, 0.0], "walk_speed_m_s": 1.0, "seconds_per_stop": 10.0,
                               "seconds_per_line": 5.0}
    r = api.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PACK-1", "kind": "pack", "x": 11, "y": 12}]})
    assert r.status_code == 200, r.text
    inferred = api.as_("sup").get(f"{API}/sites/S1/layout").json()["layout"]
    assert inferred["depot"] == [11.0, 9.0]  # behind the aisles: the back cross aisle


def test_a_layout_set_on_the_site_is_read_back_and_kept_by_later_upserts(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    root = api.as_("root")
    r = root.post(f"{API}/sites", json={"code": "S1", "name": "Site S1", "company": "C1",
                                        "layout": {**LAYOUT, "middle_cross_aisles_y": [4.5], "walk_speed_m_s": 0.8},
                                        "cycle_count_days": {"A": 14}})
    assert r.status_code == 201, r.text
    assert r.json()["layout"]["middle_cross_aisles_y"] == [4.5] and r.json()["cycle_count_days"] == {"A": 14}
    # Renaming the site leaves its layout, tolerances and count intervals alone.
    r = root.post(f"{API}/sites", json={"code": "S1", "name": "Site one", "company": "C1"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Site one" and r.json()["cycle_count_days"] == {"A": 14}
    assert r.json()["receipt_tolerance_pct"] == 10.0  # (build_site set it)
    r = api.as_("sup").get(f"{API}/sites/S1/layout")
    assert r.json()["source"] == "set"
    assert r.json()["layout"] == {"aisle_x": [4.0, 8.0, 12.0], "aisle_length": 9.0, "middle_cross_aisles_y": [4.5],
                                  "depot": [4.0, 0.0], "walk_speed_m_s": 0.8, "seconds_per_stop": 10.0,
                                  "seconds_per_line": 5.0}
    r = api.as_("sup").put(f"{API}/sites/S1/layout", json={**LAYOUT, "depot": [12, 9]})
    assert r.status_code == 200, r.text
    assert api.as_("pick").get(f"{API}/sites/S1/layout").json()["layout"]["depot"] == [12.0, 9.0]
    r = api.as_("sup").delete(f"{API}/sites/S1/layout")
    assert r.status_code == 200 and r.json()["source"] == "inferred"
    assert api.as_("pick").put(f"{API}/sites/S1/layout", json=LAYOUT).status_code == 403


def test_an_impossible_layout_is_refused_naming_what_is_wrong(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    sup = api.as_("sup")
    for layout, field in (
        ({**LAYOUT, "depot": [4, 5]}, "layout.depot"),  # not on a cross aisle
        ({**LAYOUT, "aisle_x": [8, 4, 12]}, "layout"),
        ({**LAYOUT, "middle_cross_aisles_y": [12]}, "layout"),
    ):
        r = sup.put(f"{API}/sites/S1/layout", json=layout)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_layout" and r.json()["error"]["details"]["field"] == field
    r = sup.put(f"{API}/sites/S1/layout", json={**LAYOUT, "walk_speed_m_s": 0})
    assert r.status_code == 422
    assert sup.get(f"{API}/sites/S1/layout").json()["source"] == "inferred"  # nothing was stored


# Four one-tote orders, two to a cart. Where the depot is decides which orders share a cart: walked from the
# front-left corner, (1, 4) and (2, 3) are the shorter pair of tours; from the back-right, (1, 3) and (2, 4).
SPOTS = {"T-08-2": (8, 2), "T-12-6": (12, 6), "T-04-6": (4, 6), "T-12-2": (12, 2), "T-04-2b": (4, 2.0)}
ORDERS = {"SO-1": ["T-08-2"], "SO-2": ["T-12-6", "T-04-6"], "SO-3": ["T-12-2"], "SO-4": ["T-04-2b"]}


def _pairs(api, depot) -> set[frozenset[str]]:  # noqa: ANN001
    sup = api.as_("sup")
    assert sup.put(f"{API}/sites/S1/layout", json={**LAYOUT, "depot": depot}).status_code == 200
    r = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 2}})
    assert r.status_code == 201, r.text
    wave = r.json()
    references = {o["id"]: o["reference"] for o in sup.get(f"{API}/orders", params={"site": "S1"}).json()["data"]}
    assert sup.post(f"{API}/waves/{wave['id']}/discard").status_code == 200
    return {frozenset(references[o] for o in tour["orders"]) for tour in wave["tour_plan"]}


def test_the_planner_walks_from_the_depot_the_site_sets(api):  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    root = api.as_("root")
    products = [{"sku": f"P-{code}", "description": code, "gtins": {"each": gtin13(100 + n)}}
                for n, code in enumerate(SPOTS)]
    assert root.post(f"{API}/products", json={"products": products}).status_code == 200
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": code, "kind": "pick_face", "zone": "PF", "x": x, "y": y, "capacity": 100}
        for code, (x, y) in SPOTS.items()]})
    assert r.status_code == 200, r.text
    for code in SPOTS:
        add_stock(api, "S1", code, f"P-{code}", 10)
    cut_off = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()
    r = api.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": ref, "cut_off": cut_off, "lines": [{"line_no": n, "sku": f"P-{code}", "quantity": 1}
                                                          for n, code in enumerate(codes, start=1)]}
        for ref, codes in ORDERS.items()]})
    assert r.status_code == 201, r.text
    assert _pairs(api, [4, 0]) == {frozenset({"SO-1", "SO-4"}), frozenset({"SO-2", "SO-3"})}
    assert _pairs(api, [12, 9]) == {frozenset({"SO-1", "SO-3"}), frozenset({"SO-2", "SO-4"})}
