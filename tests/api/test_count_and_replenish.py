"""Replenishing with every step scanned, and blind counts: GS1 lots, "location empty", the recount a site asks for."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from backend.models import Task, WarehouseException
from tests.api.test_execution_flow import _count_task, _ledger_ok, _one
from tests.api.test_outbound_flow import _outbound_site
from tests.helpers import SKU_A, SKU_B, SKU_C, add_stock, gtin13

GS = "\x1d"


def _gs1(n: int, *, lot: str | None = None, expiry: str | None = None) -> str:
    """A GS1-128 item label as a scanner sends it: AIM prefix, GTIN-14, expiry (17), lot (10) last."""
    return "]C101" + "0" + gtin13(n) + (f"17{expiry}" if expiry else "") + (f"10{lot}" if lot else "")


def _stock(api, location: str) -> dict:  # noqa: ANN001
    rows = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "location": location}).json()["data"]
    return {(q["sku"], q["lot"], q["lpn"]): q["on_hand"] for q in rows}


def _replenishment(api, face: str, sku: str, x: int) -> dict:  # noqa: ANN001
    """Min/max on `face` (min 60, max 100): one replenish task from its reserve pallet."""
    r = api.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": face, "kind": "pick_face", "zone": "PF", "x": x, "y": 2, "capacity": 100, "fixed_sku": sku,
         "replenish_min": 60, "replenish_max": 100}]})
    assert r.status_code == 200, r.text
    r = api.as_("sup").post("/api/v1/replenishments", json={"site": "S1"})
    assert r.status_code == 200 and r.json()["tasks"] == 1, r.text
    (task,) = api.as_("sup").get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"]
    return task


def _check(api, task_id: int, step: str, scan: str):  # noqa: ANN001, ANN202
    return api.as_("pick").post(f"/api/v1/tasks/{task_id}/check-scan", json={"step": step, "scan": scan})


def _site_settings(api, **values) -> dict:  # noqa: ANN001, ANN003
    r = api.as_("root").post("/api/v1/sites", json={"code": "S1", "name": "Site S1", "company": "C1", **values})
    assert r.status_code == 201, r.text
    return r.json()


# --- replenishing -----------------------------------------------------------------------------------------


def test_a_replenisher_moves_a_pallet_from_reserve_to_the_pick_face_scanning_each_step(api):  # noqa: ANN001
    _outbound_site(api)
    task = _replenishment(api, "PF-03", SKU_C, 12)  # PF-03 holds 50 C; R3-01 holds pallet P-C-1 of 100 C
    assert (task["from_location"], task["to_location"], task["lpn"], task["quantity"]) == ("R3-01", "PF-03",
                                                                                           "P-C-1", 50)
    for step, scan in (("location", "R3-01"), ("product", "P-C-1"), ("product", gtin13(3)), ("to_location", "PF-03")):
        r = _check(api, task["id"], step, scan)
        assert r.status_code == 200 and r.json()["ok"], (step, r.text)
    done = _one(api, "pick", "confirm_replenish", {"task_id": task["id"], "from_location": "R3-01",
                                                   "product": "P-C-1", "to_location": "PF-03", "quantity": 50})
    assert done["ok"], done
    assert done["result"]["message"] == "Moved 50 × SKU-C from R3-01 to PF-03"
    assert done["result"]["task"]["state"] == "done"
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 100}
    assert _stock(api, "R3-01") == {(SKU_C, "", "P-C-1"): 50}
    assert _ledger_ok(api)


def test_each_wrong_replenishment_scan_is_refused_at_the_scan_and_at_the_confirm(api):  # noqa: ANN001
    _outbound_site(api)
    add_stock(api, "S1", "R3-02", SKU_C, 40, lpn="P-C-2")
    task = _replenishment(api, "PF-03", SKU_C, 12)
    wrong = {
        ("location", "R3-02"): ("wrong_location", "Wrong location: go to R3-01 and scan its label"),
        ("product", gtin13(1)): ("wrong_product", f"Wrong product: you scanned {SKU_A} — take {SKU_C}"),
        ("product", "P-C-2"): ("wrong_product", "Wrong LPN: P-C-2 holds no SKU-C here"),
        ("product", "P-A-1"): ("wrong_product", "Wrong LPN: P-A-1 holds no SKU-C here"),
        ("to_location", "PF-01"): ("wrong_location", "Wrong location: go to PF-03 and scan its label"),
    }
    for (step, scan), (code, message) in wrong.items():
        r = _check(api, task["id"], step, scan)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (step, scan, r.text)
        assert r.json()["error"]["message"] == message
    good = {"task_id": task["id"], "from_location": "R3-01", "product": gtin13(3), "to_location": "PF-03"}
    for field, scan, code in (("from_location", "R3-02", "wrong_location"), ("product", gtin13(1), "wrong_product"),
                              ("to_location", "PF-01", "wrong_location"), ("quantity", 51, "wrong_quantity")):
        refused = _one(api, "pick", "confirm_replenish", {**good, field: scan})
        assert not refused["ok"] and refused["error"]["code"] == code, (field, refused)
        assert refused["error"]["details"]["field"] == field
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 50}
    assert api.as_("sup").get(f"/api/v1/tasks/{task['id']}").json()["state"] == "pending"
    # A partial move (what fits) is booked as such.
    done = _one(api, "pick", "confirm_replenish", {**good, "quantity": 30})
    assert done["ok"] and done["result"]["moved"] == 30, done
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 80}


def test_another_pallet_of_the_same_product_is_not_the_one_to_take(api):  # noqa: ANN001
    _outbound_site(api)
    add_stock(api, "S1", "R3-01", SKU_C, 40, lpn="P-C-2")  # a second pallet of C in the same bay
    task = _replenishment(api, "PF-03", SKU_C, 12)
    other = "P-C-2" if task["lpn"] == "P-C-1" else "P-C-1"
    r = _check(api, task["id"], "product", other)
    assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_lpn", r.text
    assert r.json()["error"]["message"] == f"Wrong pallet: you scanned {other} — take {task['lpn']}"


def test_a_lot_tracked_replenishment_needs_a_scan_that_shows_its_lot(api):  # noqa: ANN001
    _outbound_site(api)
    task = _replenishment(api, "PF-02", SKU_B, 8)  # PF-02 holds 10 B lot L1; R2-01 pallet P-B-1: 30 B lot L0
    assert (task["from_location"], task["lot"], task["lpn"]) == ("R2-01", "L0", "P-B-1")
    bare = _check(api, task["id"], "product", gtin13(2))
    assert bare.status_code == 422 and bare.json()["error"]["code"] == "lot_required", bare.text
    assert "Lot L0" in bare.json()["error"]["message"]
    other_lot = _check(api, task["id"], "product", _gs1(2, lot="L1"))
    assert other_lot.status_code == 422 and other_lot.json()["error"]["code"] == "wrong_lot", other_lot.text
    for scan in (_gs1(2, lot="L0"), _gs1(2, expiry="270101", lot="L0"), "P-B-1"):
        assert _check(api, task["id"], "product", scan).status_code == 200, scan
    refused = _one(api, "pick", "confirm_replenish", {"task_id": task["id"], "from_location": "R2-01",
                                                      "product": gtin13(2), "to_location": "PF-02"})
    assert not refused["ok"] and refused["error"]["code"] == "lot_required"
    done = _one(api, "pick", "confirm_replenish", {"task_id": task["id"], "from_location": "R2-01",
                                                   "product": _gs1(2, lot="L0"), "to_location": "PF-02"})
    assert done["ok"], done
    assert _stock(api, "PF-02") == {(SKU_B, "L1", None): 10, (SKU_B, "L0", None): task["quantity"]}
    assert _ledger_ok(api)


def test_the_replenish_command_needs_the_pick_face_scan(api):  # noqa: ANN001
    _outbound_site(api)
    task = _replenishment(api, "PF-03", SKU_C, 12)
    refused = _one(api, "pick", "confirm_replenish", {"task_id": task["id"], "product": gtin13(3)})
    assert not refused["ok"] and refused["error"]["code"] == "invalid_payload"
    assert refused["error"]["details"][0]["field"] == "to_location"


# --- counting ---------------------------------------------------------------------------------------------


def test_a_site_shows_and_sets_whether_counts_beyond_tolerance_are_counted_again(api):  # noqa: ANN001
    _outbound_site(api)
    sites = api.as_("sup").get("/api/v1/sites").json()["data"]
    assert [s["recount_variances"] for s in sites] == [False]
    assert _site_settings(api, recount_variances=True)["recount_variances"] is True
    # A change that leaves the field out keeps it.
    assert _site_settings(api, count_tolerance_pct=5)["recount_variances"] is True


def test_a_count_within_tolerance_is_booked_and_says_so(api):  # noqa: ANN001
    _outbound_site(api)
    exact = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 50}]})
    assert exact["ok"] and exact["result"]["status"] == "posted", exact
    assert exact["result"]["message"] == "PF-03 counted: it matches the stock"
    near = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                       "lines": [{"product": gtin13(3), "quantity": 49}]})
    assert near["result"]["message"] == "PF-03 counted: 1 small difference within tolerance booked"
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 49}


def test_a_count_beyond_tolerance_goes_to_a_supervisor_without_a_recount_by_default(api):  # noqa: ANN001
    _outbound_site(api)
    task_id = _count_task(api, "PF-03")
    big = _one(api, "pick", "count", {"task_id": task_id, "location": "PF-03",
                                      "lines": [{"product": gtin13(3), "quantity": 40}]})
    assert big["ok"] and big["result"]["status"] == "awaiting_approval", big
    assert big["result"]["message"] == "PF-03 counted: the difference was sent to a supervisor for approval"
    assert "tasks" not in big["result"]
    exc = api.as_("sup").get(f"/api/v1/exceptions/{big['result']['exception_id']}").json()
    assert exc["kind"] == "count_variance" and exc["state"] == "open"
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 50}


def test_a_site_that_asks_for_a_recount_gets_one_before_the_supervisor_is_asked(api):  # noqa: ANN001
    _outbound_site(api)
    _site_settings(api, recount_variances=True)
    first_id = _count_task(api, "PF-03")
    first = _one(api, "pick", "count", {"task_id": first_id, "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 40}]})
    assert first["ok"] and first["result"]["status"] == "recount", first
    assert first["result"]["message"] == "Count PF-03 again: your count is too far from the stock"
    assert "exception_id" not in first["result"]
    recount_id = first["result"]["recount_task_id"]
    (recount,) = first["result"]["tasks"]  # held by the counter at once
    assert (recount["id"], recount["kind"], recount["state"], recount["from_location"]) == (
        recount_id, "count", "assigned", "PF-03")
    with api.runtime.sessions() as session:
        assert session.exec(select(WarehouseException)).all() == []
        held = session.get(Task, recount_id)
        assert held.assigned_to == session.get(Task, first_id).assigned_to
        assert held.details["recount_of"] == first_id
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 50}
    # The recount says the same: now the supervisor is asked, with both counts.
    again = _one(api, "pick", "count", {"task_id": recount_id, "location": "PF-03",
                                        "lines": [{"product": SKU_C, "quantity": 40}]})
    assert again["ok"] and again["result"]["status"] == "awaiting_approval", again
    exc = api.as_("sup").get(f"/api/v1/exceptions/{again['result']['exception_id']}").json()
    assert [(v["sku"], v["system"], v["counted"]) for v in exc["details"]["variances"]] == [(SKU_C, 50, 40)]
    assert [(v["sku"], v["counted"]) for v in exc["details"]["first_count"]] == [(SKU_C, 40)]
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 50}


def test_a_recount_within_tolerance_is_booked(api):  # noqa: ANN001
    _outbound_site(api)
    _site_settings(api, recount_variances=True)
    first = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 30}]})
    assert first["result"]["status"] == "recount"
    again = _one(api, "pick", "count", {"task_id": first["result"]["recount_task_id"], "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 49}]})
    assert again["ok"] and again["result"]["status"] == "posted", again
    assert _stock(api, "PF-03") == {(SKU_C, "", None): 49}
    assert _ledger_ok(api)


def test_location_empty_is_a_count_of_nothing(api):  # noqa: ANN001
    _outbound_site(api)
    empty = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03", "lines": []})
    assert empty["ok"] and empty["result"]["status"] == "awaiting_approval", empty
    exc = api.as_("sup").get(f"/api/v1/exceptions/{empty['result']['exception_id']}").json()
    assert [(v["sku"], v["system"], v["counted"]) for v in exc["details"]["variances"]] == [(SKU_C, 50, 0)]
    assert api.as_("sup").post(f"/api/v1/exceptions/{exc['id']}/approve", json={"note": "empty"}).status_code == 200
    assert _stock(api, "PF-03") == {}


def test_gs1_labels_count_by_their_lot_and_a_bare_gtin_by_the_locations_only_lot(api):  # noqa: ANN001
    _outbound_site(api)  # PF-02: 10 × SKU-B lot L1
    by_lot = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-02"), "location": "PF-02",
                                         "lines": [{"product": _gs1(2, lot="L1"), "quantity": 10}]})
    assert by_lot["ok"] and by_lot["result"]["message"] == "PF-02 counted: it matches the stock", by_lot
    bare = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-02"), "location": "PF-02",
                                       "lines": [{"product": gtin13(2), "quantity": 10}]})
    assert bare["ok"] and bare["result"]["message"] == "PF-02 counted: it matches the stock", bare
    # A lot the location did not hold, found with its expiry on the label: booked with both.
    new_lot = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-02"), "location": "PF-02", "lines": [
        {"product": _gs1(2, lot="L1"), "quantity": 10},
        {"product": _gs1(2, expiry="270615", lot="L9"), "quantity": 1}]})
    assert new_lot["ok"] and new_lot["result"]["status"] == "posted", new_lot
    rows = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "location": "PF-02"}).json()["data"]
    assert {(q["lot"], q["expiry"], q["on_hand"]) for q in rows} == {("L1", "2027-06-01", 10), ("L9", "2027-06-15", 1)}
    # Now PF-02 holds two lots of B: a bare GTIN cannot say which.
    two = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-02"), "location": "PF-02",
                                      "lines": [{"product": gtin13(2), "quantity": 11}]})
    assert not two["ok"] and two["error"]["code"] == "lot_required", two
    assert two["error"]["details"]["field"] == "lines.0.product"
    assert two["error"]["message"] == f"{SKU_B} is lot-tracked: scan its GS1 label (it carries the lot) or key the lot"


def test_a_new_lot_approved_by_a_supervisor_keeps_its_expiry(api):  # noqa: ANN001
    _outbound_site(api)
    found = _one(api, "pick", "count", {"task_id": _count_task(api, "R1-02"), "location": "R1-02", "lines": [
        {"product": SKU_B, "lot": "L7", "expiry": "2027-09-30", "quantity": 12}]})
    assert found["ok"] and found["result"]["status"] == "awaiting_approval", found
    exc_id = found["result"]["exception_id"]
    assert api.as_("sup").post(f"/api/v1/exceptions/{exc_id}/approve", json={"note": "ok"}).status_code == 200
    rows = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "location": "R1-02"}).json()["data"]
    assert [(q["sku"], q["lot"], q["expiry"], q["on_hand"]) for q in rows] == [(SKU_B, "L7", "2027-09-30", 12)]
    assert date.fromisoformat(rows[0]["expiry"]) == date(2027, 9, 30)
