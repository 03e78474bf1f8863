"""Orders → allocation → wave plan → release → tasks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlmodel import func, select

from backend.inventory.ledger import ledger_disagreements
from backend.models import Quant, Reservation, Site, Task
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, add_stock, build_site

SOON = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()
LATER = (datetime.now(timezone.utc) + timedelta(hours=8)).isoformat()


def _outbound_site(api) -> None:  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    r = api.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "PF-02", "kind": "pick_face", "zone": "PF", "x": 8, "y": 2, "capacity": 100, "fixed_sku": SKU_B},
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C},
        {"code": "PACK-1", "kind": "pack", "x": 0, "y": 0, "mixed_products": True},
    ]})
    assert r.status_code == 200, r.text
    add_stock(api, "S1", "PF-01", SKU_A, 20)
    add_stock(api, "S1", "R1-01", SKU_A, 48, lpn="P-A-1")
    add_stock(api, "S1", "PF-02", SKU_B, 10, lot="L1", expiry=date(2027, 6, 1))
    add_stock(api, "S1", "R2-01", SKU_B, 30, lot="L0", expiry=date(2027, 1, 1), lpn="P-B-1")
    add_stock(api, "S1", "PF-03", SKU_C, 50)
    add_stock(api, "S1", "R3-01", SKU_C, 100, lpn="P-C-1")


def _orders(api, orders, **extra):  # noqa: ANN001, ANN003, ANN202
    return api.as_("integ").post("/api/v1/orders", json={"site": "S1", "orders": orders, **extra})


STANDARD = [
    {"reference": "SO-1", "cut_off": SOON, "carrier": "DHL", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 30}, {"line_no": 2, "sku": SKU_C, "quantity": 2}]},
    {"reference": "SO-2", "cut_off": SOON, "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_B, "quantity": 15}]},
    {"reference": "SO-4", "cut_off": SOON, "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 48}]},
    {"reference": "SO-3", "cut_off": LATER, "carrier": "UPS", "priority": 3, "lines": [
        {"line_no": 1, "sku": SKU_C, "quantity": 5}, {"line_no": 2, "sku": SKU_A, "quantity": 1}]},
]


def _reserved_matches_reservations(api) -> bool:  # noqa: ANN001
    with api.runtime.sessions() as session:
        for quant in session.exec(select(Quant)).all():
            total = session.exec(select(func.coalesce(func.sum(Reservation.quantity), 0))
                                 .where(Reservation.quant_id == quant.id)).one()
            if total != quant.reserved:
                return False
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        return ledger_disagreements(session, site.id) == []


def _reserved_total(api) -> int:  # noqa: ANN001
    stock = api.as_("sup").get("/api/v1/inventory", params={"site": "S1"}).json()["data"]
    return sum(q["reserved"] for q in stock)


def test_import_plan_release_creates_tasks_in_walking_order_with_totes(api):  # noqa: ANN001
    _outbound_site(api)
    r = _orders(api, STANDARD)
    assert r.status_code == 201, r.text
    assert [a["created"] for a in r.json()["accepted"]] == [True] * 4
    sup = api.as_("sup")

    plan = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 4}})
    assert plan.status_code == 201, plan.text
    wave = plan.json()
    assert wave["status"] == "planned" and wave["orders"] == 4
    assert wave["distance_m"] > 0 and wave["seconds"] > 0
    assert sum(len(t["orders"]) for t in wave["tour_plan"]) == 4
    # A plan changes nothing: no stock reserved, no task, orders still new.
    assert _reserved_total(api) == 0
    assert sup.get("/api/v1/tasks", params={"site": "S1", "kind": "pick"}).json()["count"] == 0
    assert {o["status"] for o in sup.get("/api/v1/orders", params={"site": "S1"}).json()["data"]} == {"new"}

    released = sup.post(f"/api/v1/waves/{wave['id']}/release")
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    orders = {o["reference"]: o for o in sup.get("/api/v1/orders", params={"site": "S1"}).json()["data"]}
    assert {o["status"] for o in orders.values()} == {"in_wave"}
    assert orders["SO-1"]["lines"][0]["quantity_allocated"] == 30

    tours = sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    picks = [p for t in tours for p in t["picks"]]
    # Full cases come from reserve, loose units from the pick face; SO-3's 5 C come to the emptied
    # pick face by an urgent replenishment (SO-1 and SO-4 have the earlier cut-off).
    by_order_sku = {}
    for p in picks:
        by_order_sku.setdefault((p["order"], p["sku"]), []).append((p["location"], p["quantity"]))
    assert sorted(by_order_sku[("SO-1", SKU_A)]) == [("PF-01", 6), ("R1-01", 24)]
    assert sorted(by_order_sku[("SO-2", SKU_B)]) == [("PF-02", 3), ("R2-01", 12)]
    assert by_order_sku[("SO-4", SKU_C)] == [("PF-03", 48)]
    assert by_order_sku[("SO-3", SKU_C)] == [("PF-03", 5)]
    for tour in tours:
        assert [p["sequence"] for p in tour["picks"]] == list(range(1, len(tour["picks"]) + 1))
        locations = [p["location"] for p in tour["picks"]]
        # Walking order: each location is visited once, its picks together.
        visits = [loc for i, loc in enumerate(locations) if i == 0 or locations[i - 1] != loc]
        assert len(visits) == len(set(visits))
        tote_of = {t["order"]: t["tote"] for t in tour["totes"]}
        assert all(p["tote"] == tote_of[p["order"]] for p in tour["picks"])
    # Every order has its own tote on its cart.
    assert sorted(t["order"] for tour in tours for t in tour["totes"]) == ["SO-1", "SO-2", "SO-3", "SO-4"]

    replenishments = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"]
    assert [(t["from_location"], t["to_location"], t["quantity"], t["lpn"]) for t in replenishments] == [
        ("R3-01", "PF-03", 5, "P-C-1")]
    waiting = [p for p in picks if p["waits_for_task"]]
    assert [(p["order"], p["location"], p["quantity"]) for p in waiting] == [("SO-3", "PF-03", 5)]
    assert waiting[0]["waits_for_task"] == replenishments[0]["id"]
    assert _reserved_total(api) == 32 + 15 + 48 + 6
    assert _reserved_matches_reservations(api)


def test_cancelling_a_wave_before_picking_releases_every_reservation(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1"}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    assert _reserved_total(api) > 0
    cancelled = sup.post(f"/api/v1/waves/{wave['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["released_units"] == 101
    assert _reserved_total(api) == 0
    states = {t["state"] for t in sup.get("/api/v1/tasks", params={"site": "S1", "kind": "pick"}).json()["data"]}
    assert states == {"cancelled"}
    orders = sup.get("/api/v1/orders", params={"site": "S1"}).json()["data"]
    assert {o["status"] for o in orders} == {"new"}
    assert all(line["quantity_allocated"] == 0 for o in orders for line in o["lines"])
    assert _reserved_matches_reservations(api)
    # A cancelled wave cannot be released or cancelled again.
    assert sup.post(f"/api/v1/waves/{wave['id']}/cancel").status_code == 409


def test_a_wave_with_a_started_pick_cannot_be_cancelled(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1"}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    with api.runtime.sessions() as session:
        task = session.exec(select(Task).where(Task.kind == "pick").order_by(Task.id)).first()
        task.state = "in_progress"
        session.add(task)
        session.commit()
    refused = sup.post(f"/api/v1/waves/{wave['id']}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "wave_picking_started"


def test_discarding_a_planned_wave_leaves_orders_free_for_the_next(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    first = sup.post("/api/v1/waves", json={"site": "S1", "carriers": ["DHL"]}).json()
    assert first["orders"] == 3
    assert sup.post(f"/api/v1/waves/{first['id']}/discard").json()["status"] == "discarded"
    assert sup.post(f"/api/v1/waves/{first['id']}/release").status_code == 409
    second = sup.post("/api/v1/waves", json={"site": "S1", "carriers": ["DHL"], "max_orders": 1}).json()
    assert second["orders"] == 1
    assert sup.post(f"/api/v1/waves/{second['id']}/release").status_code == 200
    statuses = {o["reference"]: o["status"] for o in sup.get("/api/v1/orders", params={"site": "S1"}).json()["data"]}
    # Earlier cut-off first, then arrival: SO-1 goes, SO-2 waits.
    assert statuses == {"SO-1": "in_wave", "SO-2": "new", "SO-3": "new", "SO-4": "new"}


def test_cancelling_an_order_releases_its_reservations_and_revokes_its_tasks(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1"}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    r = api.as_("integ").post("/api/v1/orders/SO-3/cancel", json={"site": "S1"})
    assert r.status_code == 200, r.text
    assert r.json()["released_units"] == 6 and r.json()["revoked_tasks"] == 2
    assert r.json()["order"]["status"] == "cancelled"
    tasks = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "pick", "state": "cancelled"}).json()["data"]
    assert len(tasks) == 2
    assert _reserved_total(api) == 101 - 6
    assert _reserved_matches_reservations(api)


def test_explicit_allocation_reserves_fefo_and_backorders_the_rest(api):  # noqa: ANN001
    _outbound_site(api)
    r = _orders(api, [
        {"reference": "SO-B", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_B, "quantity": 45}]},
        {"reference": "SO-X", "cut_off": SOON, "backorder_policy": "ship_complete",
         "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 500}]},
    ])
    assert r.status_code == 201, r.text
    out = api.as_("sup").post("/api/v1/orders/allocate", json={"site": "S1"})
    assert out.status_code == 200, out.text
    assert out.json()["allocated_units"] == 40 and out.json()["backordered_units"] == 505
    # ship_complete: 150 C are there, but not 500, so nothing stays reserved for SO-X.
    orders = {o["reference"]: o for o in api.as_("sup").get("/api/v1/orders", params={"site": "S1"}).json()["data"]}
    assert orders["SO-B"]["status"] == "partly_allocated" and orders["SO-B"]["lines"][0]["quantity_allocated"] == 40
    assert orders["SO-X"]["status"] == "backordered"
    assert _reserved_matches_reservations(api)


def test_order_import_is_idempotent_by_reference(api):  # noqa: ANN001
    _outbound_site(api)
    first = _orders(api, STANDARD)
    again = _orders(api, STANDARD)
    assert again.status_code == 200
    assert [a["id"] for a in again.json()["accepted"]] == [a["id"] for a in first.json()["accepted"]]
    assert [a["created"] for a in again.json()["accepted"]] == [False] * 4
    assert api.as_("sup").get("/api/v1/orders", params={"site": "S1"}).json()["count"] == 4


def test_a_bad_order_rejects_the_batch_naming_order_and_line(api):  # noqa: ANN001
    _outbound_site(api)
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    batch = [
        {"reference": "OK-1", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]},
        {"reference": "BAD-1", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1},
                                                          {"line_no": 2, "sku": "NOPE", "quantity": 1}]},
        {"reference": "BAD-2", "cut_off": past, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]},
        {"reference": "BAD-3", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1},
                                                          {"line_no": 1, "sku": SKU_C, "quantity": 1}]},
    ]
    r = _orders(api, batch)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "orders_rejected"
    rejected = {x["reference"]: x["problems"] for x in error["details"]["rejected"]}
    assert rejected["BAD-1"] == [{"line_no": 2, "field": "sku", "code": "unknown_sku",
                                  "message": "line 2: unknown SKU 'NOPE'"}]
    assert rejected["BAD-2"][0]["code"] == "cut_off_in_past"
    assert rejected["BAD-3"][0]["code"] == "duplicate_line_no" and rejected["BAD-3"][0]["line_no"] == 1
    assert api.as_("sup").get("/api/v1/orders", params={"site": "S1"}).json()["count"] == 0

    partial = _orders(api, batch, partial=True)
    assert partial.status_code == 201, partial.text
    assert [a["reference"] for a in partial.json()["accepted"]] == ["OK-1"]
    assert sorted(x["reference"] for x in partial.json()["rejected"]) == ["BAD-1", "BAD-2", "BAD-3"]
    assert api.as_("sup").get("/api/v1/orders", params={"site": "S1"}).json()["count"] == 1

    zero = _orders(api, [{"reference": "Z", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 0}]}])
    assert zero.status_code == 422 and zero.json()["error"]["code"] == "orders_rejected"
    assert [(x["reference"], p["line_no"], p["field"]) for x in zero.json()["error"]["details"]["rejected"]
            for p in x["problems"]] == [("Z", 1, "quantity")]


def test_min_max_creates_replenishment_for_faces_below_min_once(api):  # noqa: ANN001
    _outbound_site(api)
    r = api.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C,
         "replenish_min": 60, "replenish_max": 90}]})
    assert r.status_code == 200, r.text
    sup = api.as_("sup")
    first = sup.post("/api/v1/replenishments", json={"site": "S1"})
    assert first.status_code == 200, first.text
    # PF-03 holds 50 < min 60: top up to at most 90 from the reserve pallet of C.
    assert first.json() == {"tasks": 1, "units": 40}
    task = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    assert (task["from_location"], task["to_location"], task["quantity"]) == ("R3-01", "PF-03", 40)
    # The open task counts as on its way: a second run adds nothing.
    assert sup.post("/api/v1/replenishments", json={"site": "S1"}).json() == {"tasks": 0, "units": 0}


def test_release_keeps_the_planned_tours_or_replans_when_orders_changed(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    assert sup.post("/api/v1/orders/allocate", json={"site": "S1"}).status_code == 200
    planned = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 2}}).json()
    released = sup.post(f"/api/v1/waves/{planned['id']}/release").json()
    tours = sup.get(f"/api/v1/waves/{planned['id']}/tours").json()["data"]
    assert [(t["number"], t["distance_m"]) for t in tours] == [(t["number"], t["distance_m"])
                                                               for t in planned["tour_plan"]]
    assert released["distance_m"] == planned["distance_m"]

    # Plan again for new orders, then cancel one before release: the release re-plans without it.
    more = [{**o, "reference": o["reference"].replace("SO", "SQ")} for o in STANDARD]
    assert _orders(api, more).status_code == 201
    second = sup.post("/api/v1/waves", json={"site": "S1"}).json()
    assert second["orders"] == 4
    assert api.as_("integ").post("/api/v1/orders/SQ-4/cancel", json={"site": "S1"}).status_code == 200
    again = sup.post(f"/api/v1/waves/{second['id']}/release")
    assert again.status_code == 200, again.text
    assert again.json()["orders"] == 3
    in_tours = {t["order"] for tour in sup.get(f"/api/v1/waves/{second['id']}/tours").json()["data"]
                for t in tour["totes"]}
    assert in_tours == {"SQ-1", "SQ-2", "SQ-3"}
    assert _reserved_matches_reservations(api)
