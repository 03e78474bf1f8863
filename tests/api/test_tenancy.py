"""Tenants kept apart: products per company, partial upserts, worker profiles per site, the group's org data.

Two companies: C1 runs site S1 (built by tests.helpers.build_site, with SKU-A/B/C and their GTINs), C2 runs
site S2. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlmodel import select

from backend.models import Location, Site, Task, User, WorkerProfile
from backend.tasks.dispatch import claim_next
from tests.api.test_access_control import add_user_with_token
from tests.conftest import Api, UserClient
from tests.helpers import SKU_A, SKU_B, add_stock, build_site, gtin13, gtin14_case

API = "/api/v1"


def _two_companies(api: Api) -> None:
    build_site(api, "S1")  # C1's products, made while C1 is the only company
    root = api.as_("root")
    assert root.post(f"{API}/companies", json={"code": "C2", "name": "Company two"}).status_code == 201
    r = root.post(f"{API}/sites", json={"code": "S2", "name": "Site two", "company": "C2"})
    assert r.status_code == 201, r.text
    r = root.post(f"{API}/zones", json={"site": "S2", "zones": [{"code": "PF"}, {"code": "RES"}]})
    assert r.status_code == 200, r.text


def _scan(client: UserClient, site: str, raw: str) -> dict:
    r = client.post(f"{API}/scans/classify", json={"site": site, "raw": raw})
    assert r.status_code == 200, r.text
    return r.json()


def test_site_b_integration_user_cannot_change_site_a_products(api: Api) -> None:
    _two_companies(api)
    add_stock(api, "S1", "R1-01", SKU_B, 403, lot="L1")
    integ_b = add_user_with_token(api, "integ-b", ["integration"], ["S2"])
    sup_a = add_user_with_token(api, "sup-a", ["supervisor"], ["S1"])

    # The attack of issue 16: B posts A's SKU. It makes (or changes) B's own product, nothing of A's.
    r = integ_b.post(f"{API}/products", json={"products": [{"sku": SKU_B, "description": "Cat food", "category": "pet"}]})
    assert r.status_code == 200 and r.json() == {"created": 1, "updated": 0, "count": 1}, r.text
    a_product = sup_a.get(f"{API}/products/{SKU_B}").json()
    assert (a_product["company"], a_product["description"], a_product["lot_tracked"], a_product["expiry_tracked"]) \
        == ("C1", "Yoghurt", True, True)
    assert a_product["gtins"]["each"] == gtin13(2).zfill(14) and a_product["gtins"]["case"] == gtin14_case(2)
    scanned = _scan(sup_a, "S1", gtin13(2))
    assert scanned["kind"] == "product" and scanned["product"]["id"] == a_product["id"]

    b_product = integ_b.get(f"{API}/products/{SKU_B}").json()
    assert (b_product["company"], b_product["description"], b_product["lot_tracked"], b_product["gtins"]) \
        == ("C2", "Cat food", False, {"each": None, "inner": None, "case": None, "pallet": None})
    assert b_product["id"] != a_product["id"]

    # B can't reach A's company however it names it: the same answers as for one that doesn't exist.
    for where, code in (({"company": "C1"}, "company_not_found"), ({"site": "S1"}, "site_not_found")):
        r = integ_b.post(f"{API}/products", json={**where, "products": [{"sku": SKU_A, "description": "x"}]})
        assert (r.status_code, r.json()["error"]["code"]) == (404, code), r.text
        r = integ_b.get(f"{API}/products/{SKU_A}", params=where)
        assert (r.status_code, r.json()["error"]["code"]) == (404, code)
    assert integ_b.get(f"{API}/products/{SKU_A}").json()["error"]["code"] == "unknown_sku"
    assert [p["sku"] for p in integ_b.get(f"{API}/products").json()["data"]] == [SKU_B]
    assert sup_a.get(f"{API}/products/{SKU_A}").json()["description"] == "Widget"
    # A's stock still reads as A's product.
    stock = sup_a.get(f"{API}/inventory", params={"sku": SKU_B}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [(SKU_B, 403)]


def test_the_same_sku_and_gtin_live_in_two_companies_with_their_own_data(api: Api) -> None:
    _two_companies(api)
    root = api.as_("root")
    r = root.post(f"{API}/products", json={"company": "C2", "products": [
        {"sku": SKU_A, "description": "Gadget", "units_per_case": 20, "gtins": {"each": gtin13(1)}},
        {"sku": "B-ONLY", "gtins": {"each": gtin13(900)}},
    ]})
    assert r.status_code == 200, r.text
    assert root.get(f"{API}/products/{SKU_A}", params={"site": "S1"}).json()["description"] == "Widget"
    assert root.get(f"{API}/products/{SKU_A}", params={"site": "S2"}).json()["description"] == "Gadget"
    assert root.get(f"{API}/products/{SKU_A}", params={"company": "C2"}).json()["units_per_case"] == 20
    # An all-sites user of two companies names the one meant.
    r = root.get(f"{API}/products/{SKU_A}")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "company_required")
    # The same GTIN scans as each site's own product.
    assert _scan(root, "S1", gtin13(1))["product"]["sku"] == SKU_A
    s2_product = root.get(f"{API}/products/{SKU_A}", params={"site": "S2"}).json()
    assert _scan(root, "S2", gtin13(1))["product"]["id"] == s2_product["id"]
    r = root.post(f"{API}/scans/classify", json={"site": "S1", "raw": gtin13(900)})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_product")
    by_gtin = root.get(f"{API}/products", params={"company": "C2", "gtin": gtin13(1)}).json()["data"]
    assert [(p["sku"], p["company"]) for p in by_gtin] == [(SKU_A, "C2")]


def test_a_gtin_repeats_across_companies_but_never_within_one(api: Api) -> None:
    _two_companies(api)
    root = api.as_("root")
    r = root.post(f"{API}/products", json={"company": "C2", "products": [{"sku": "X-1", "gtins": {"each": gtin13(1)}}]})
    assert r.status_code == 200, r.text
    r = root.post(f"{API}/products", json={"company": "C2", "products": [{"sku": "X-2", "gtins": {"case": gtin13(1)}}]})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "gtin_in_use" and r.json()["error"]["details"]["field"] == "gtins.case"
    r = root.post(f"{API}/products", json={"company": "C1", "products": [{"sku": "NEW", "gtins": {"each": gtin13(3)}}]})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "gtin_in_use")  # SKU-C's, in C1
    # One product may not carry one GTIN at two pack levels either (once stored, once given).
    r = root.post(f"{API}/products", json={"company": "C1", "products": [{"sku": SKU_A, "gtins": {"inner": gtin13(1)}}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "duplicate_in_request")
    assert root.get(f"{API}/products", params={"company": "C2", "sku": "X-2"}).json()["count"] == 0
    # A GTIN moves from one product to another in one request: let go by one, taken by the other.
    r = root.post(f"{API}/products", json={"company": "C1", "products": [
        {"sku": SKU_A, "gtins": {"each": None}}, {"sku": "NEW", "gtins": {"each": gtin13(1)}}]})
    assert r.status_code == 200, r.text
    assert _scan(root, "S1", gtin13(1))["product"]["sku"] == "NEW"


def test_an_upsert_keeps_what_it_leaves_out_and_removes_a_gtin_only_when_told(api: Api) -> None:
    _two_companies(api)
    root = api.as_("root")
    r = root.post(f"{API}/products", json={"company": "C1", "products": [{"sku": SKU_B, "description": "Greek yoghurt"}]})
    assert r.status_code == 200 and r.json()["updated"] == 1, r.text
    product = root.get(f"{API}/products/{SKU_B}", params={"company": "C1"}).json()
    assert (product["description"], product["lot_tracked"], product["expiry_tracked"], product["units_per_case"],
            product["category"]) == ("Greek yoghurt", True, True, 6, "grocery")
    assert product["gtins"] == {"each": gtin13(2).zfill(14), "inner": None, "case": gtin14_case(2), "pallet": None}

    # A level named sets that level only; a level given as null removes it.
    r = root.post(f"{API}/products", json={"company": "C1", "products": [
        {"sku": SKU_B, "gtins": {"case": None, "inner": gtin13(77)}, "units_per_inner": 3}]})
    assert r.status_code == 200, r.text
    product = root.get(f"{API}/products/{SKU_B}", params={"company": "C1"}).json()
    assert product["gtins"] == {"each": gtin13(2).zfill(14), "inner": gtin13(77).zfill(14), "case": None,
                                "pallet": None}
    assert product["units_per_inner"] == 3 and product["lot_tracked"] is True
    assert _scan(root, "S1", gtin13(2))["product"]["sku"] == SKU_B
    r = root.post(f"{API}/scans/classify", json={"site": "S1", "raw": gtin14_case(2)})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_product")
    # A field given as null is set to null; a new product takes the defaults.
    r = root.post(f"{API}/products", json={"company": "C1", "products": [
        {"sku": SKU_B, "category": None}, {"sku": "FRESH"}]})
    assert r.json() == {"created": 1, "updated": 1, "count": 2}
    assert root.get(f"{API}/products/{SKU_B}", params={"company": "C1"}).json()["category"] is None
    fresh = root.get(f"{API}/products/FRESH", params={"company": "C1"}).json()
    assert (fresh["description"], fresh["uom"], fresh["abc_class"], fresh["lot_tracked"]) == ("", "each", "C", False)


def test_location_and_zone_upserts_keep_what_they_leave_out(api: Api) -> None:
    _two_companies(api)
    root = api.as_("root")
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [{"code": "PF-01", "kind": "pick_face"}]})
    assert r.json() == {"created": 0, "updated": 1, "count": 1}, r.text
    face = root.get(f"{API}/locations/PF-01", params={"site": "S1"}).json()
    assert (face["fixed_sku"], face["capacity"], face["zone"], face["x"]) == (SKU_A, 100, "PF", 4.0)
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PF-01", "kind": "pick_face", "fixed_sku": None, "replenish_max": 50}]})
    assert r.status_code == 200, r.text
    face = root.get(f"{API}/locations/PF-01", params={"site": "S1"}).json()
    assert (face["fixed_sku"], face["capacity"], face["replenish_max"]) == (None, 100, 50)
    # A stored max still bounds a min given alone.
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PF-01", "kind": "pick_face", "replenish_min": 60}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_min_max")
    # A site's fixed SKU is its company's: C1's SKU-C is no product at C2's site.
    r = root.post(f"{API}/locations", json={"site": "S2", "locations": [
        {"code": "F-1", "kind": "pick_face", "fixed_sku": "SKU-C"}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_sku")
    r = root.post(f"{API}/zones", json={"site": "S1", "zones": [{"code": "BEV", "name": "Drinks"}]})
    assert r.status_code == 200, r.text
    zone = [z for z in root.get(f"{API}/zones", params={"site": "S1"}).json()["data"] if z["code"] == "BEV"][0]
    assert (zone["name"], zone["category"]) == ("Drinks", "beverage")


def test_an_asn_and_an_order_at_site_b_name_only_b_s_products(api: Api) -> None:
    _two_companies(api)
    integ_b = add_user_with_token(api, "integ-b", ["integration"], ["S2"])
    r = integ_b.post(f"{API}/inbound-shipments", json={"site": "S2", "reference": "ASN-B", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 5}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_sku")
    assert integ_b.post(f"{API}/products", json={"products": [{"sku": SKU_A}]}).status_code == 200
    r = integ_b.post(f"{API}/inbound-shipments", json={"site": "S2", "reference": "ASN-B", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 5}]})
    assert r.status_code == 201, r.text


def _profile(client: UserClient, site: str, username: str) -> dict:
    workers = client.get(f"{API}/workers", params={"site": site}).json()["data"]
    return next(w for w in workers if w["username"] == username)


def test_worker_profiles_are_per_site_and_a_supervisor_edits_only_workers_of_their_sites(api: Api) -> None:
    _two_companies(api)
    for username, roles, sites in (("multi", ["picker"], ["S1", "S2"]), ("sup-a", ["supervisor"], ["S1"]),
                                   ("sup-b", ["supervisor"], ["S2"]), ("sup-ab", ["supervisor"], ["S1", "S2"]),
                                   ("pick-b", ["picker"], ["S2"])):
        add_user_with_token(api, username, roles, sites)
    sup_a, sup_b, sup_ab = api.as_("sup-a"), api.as_("sup-b"), api.as_("sup-ab")
    assert sup_a.put(f"{API}/workers/multi", json={"site": "S1", "zones": ["RES"], "skills": ["move"],
                                                   "equipment": []}).status_code == 403

    # B's supervisor changes B's workers at B ...
    r = sup_b.put(f"{API}/workers/pick-b", json={"zones": ["PF"], "skills": ["count"], "equipment": []})
    assert r.status_code == 200 and r.json()["may_do"] == ["count"], r.text
    # ... but not a worker who also works at A: that needs someone of both sites.
    r = sup_b.put(f"{API}/workers/multi", json={"zones": ["PF"], "skills": ["count"], "equipment": []})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "worker_outside_your_sites")
    r = sup_ab.put(f"{API}/workers/multi", json={"site": "S2", "zones": ["PF"], "skills": ["count"], "equipment": []})
    assert r.status_code == 200, r.text

    at_b, at_a = _profile(sup_ab, "S2", "multi"), _profile(sup_ab, "S1", "multi")
    assert (at_b["zones"], at_b["skills"], at_b["may_do"]) == (["PF"], ["count"], ["count"])
    assert (at_a["zones"], at_a["skills"]) == ([], []) and "move" in at_a["may_do"]
    # A's dispatch reads A's profile: the worker still claims A's move work.
    with api.runtime.sessions() as session:
        s1 = session.exec(select(Site).where(Site.code == "S1")).one()
        worker = session.exec(select(User.id).where(User.username == "multi")).one()
        r1 = session.exec(select(Location.id).where(Location.site_id == s1.id, Location.code == "R1-01")).one()
        task = Task(site_id=s1.id, kind="move", priority=1, from_location_id=r1)
        session.add(task)
        session.commit()
        task_id = task.id
        claimed = claim_next(session, worker, s1.id)
        session.commit()
    assert [view["id"] for view in claimed] == [task_id]


def test_a_site_supervisor_or_admin_cannot_edit_an_all_sites_user(api: Api) -> None:
    _two_companies(api)
    add_user_with_token(api, "boss", ["supervisor"], all_sites=True)
    sup_a = add_user_with_token(api, "sup-a", ["supervisor"], ["S1"])
    admin_a = add_user_with_token(api, "admin-a", ["admin"], ["S1"])
    body = {"site": "S1", "zones": ["RES"], "skills": [], "equipment": []}
    for client in (sup_a, admin_a):
        for username in ("root", "boss"):
            r = client.put(f"{API}/workers/{username}", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "worker_outside_your_sites"), r.text
    with api.runtime.sessions() as session:
        assert session.exec(select(WorkerProfile)).all() == []
    assert api.as_("root").put(f"{API}/workers/boss", json=body).status_code == 200


def test_companies_are_listed_only_for_their_own_sites(api: Api) -> None:
    _two_companies(api)
    user_b = add_user_with_token(api, "recv-b", ["receiver"], ["S2"])
    both = add_user_with_token(api, "sup-ab", ["supervisor"], ["S1", "S2"])
    assert [c["code"] for c in user_b.get(f"{API}/companies").json()["data"]] == ["C2"]
    assert [c["code"] for c in both.get(f"{API}/companies").json()["data"]] == ["C1", "C2"]
    assert api.as_("root").get(f"{API}/companies").json()["count"] == 2


def test_site_and_company_changes_need_an_all_sites_admin(api: Api) -> None:
    _two_companies(api)
    admin_a = add_user_with_token(api, "admin-a", ["admin"], ["S1"])
    integ_a = add_user_with_token(api, "integ-a", ["integration"], ["S1"])
    group_integ = add_user_with_token(api, "erp", ["integration"], all_sites=True)
    loosen = {"code": "S1", "name": "Site S1", "company": "C1", "receipt_tolerance_pct": 100}
    move = {"code": "S1", "name": "Site S1", "company": "C2"}
    for client in (admin_a, integ_a, group_integ):
        for body in (loosen, move):
            r = client.post(f"{API}/sites", json=body)
            assert r.status_code == 403, r.text
        r = client.post(f"{API}/companies", json={"code": "C1", "name": "Mine now"})
        assert r.status_code == 403
    assert admin_a.post(f"{API}/sites", json=loosen).json()["error"]["code"] == "all_sites_forbidden"
    s1 = api.as_("root").get(f"{API}/sites").json()["data"][0]
    assert (s1["code"], s1["company"], s1["receipt_tolerance_pct"]) == ("S1", "C1", 10.0)
    assert api.as_("root").get(f"{API}/companies").json()["data"][0]["name"] == "Company one"

    root = api.as_("root")
    r = root.post(f"{API}/sites", json=loosen)
    assert r.status_code == 201 and r.json()["receipt_tolerance_pct"] == 100
    # A site whose rows name its company's products stays with it; an empty one may move.
    r = root.post(f"{API}/sites", json=move)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "site_has_product_data")
    assert root.post(f"{API}/sites", json={"code": "S3", "name": "New", "company": "C1"}).status_code == 201
    r = root.post(f"{API}/sites", json={"code": "S3", "name": "New", "company": "C2"})
    assert r.status_code == 201 and r.json()["company"] == "C2"
