"""Pick → pack → ship, short picks, replenishment and counts, as device commands over HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy import func, text
from sqlmodel import select

from backend.auth.principal import load_principal
from backend.commands.context import Actor
from backend.commands.dispatcher import CommandEnvelope
from backend.inventory.ledger import ledger_disagreements
from backend.models import DeviceCommand, Location, Move, Site, Task, User, WorkerProfile
from tests.api.test_outbound_flow import STANDARD, _orders, _outbound_site, _reserved_matches_reservations
from tests.helpers import SKU_A, SKU_B, SKU_C, gtin13


def _commands(api, user, *commands):  # noqa: ANN001, ANN002, ANN202
    body = {"commands": [{"id": str(uuid.uuid4()), "type": t, "payload": p} for t, p in commands]}
    r = api.as_(user).post("/api/v1/device-commands", json=body)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _one(api, user, type_, payload):  # noqa: ANN001, ANN202
    (result,) = _commands(api, user, (type_, payload))
    return result


def _released_wave(api, totes: int = 8) -> dict:  # noqa: ANN001
    """The standard orders, planned on carts of `totes` totes and released."""
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": totes}}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    return wave


def _totes(api, count: int) -> list[str]:  # noqa: ANN001
    r = api.as_("sup").post("/api/v1/containers", json={"site": "S1", "kind": "tote", "count": count})
    assert r.status_code == 201, r.text
    return [c["code"] for c in r.json()["data"]]


def _ledger_ok(api) -> bool:  # noqa: ANN001
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        return ledger_disagreements(session, site.id) == []


def _gtin_of(sku: str) -> str:
    return {"SKU-A": gtin13(1), "SKU-B": gtin13(2), "SKU-C": gtin13(3)}[sku]


def test_a_tour_is_picked_packed_and_shipped(api):  # noqa: ANN001
    _outbound_site(api)
    wave = _released_wave(api)
    sup = api.as_("sup")
    r = sup.post("/api/v1/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1", "port": 9,
                                            "profile": "zebra-zt411-203", "station": "PACK-1"})
    assert r.status_code in (200, 201), r.text
    tours = sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    tote_codes = _totes(api, 8)
    tote_for = {}
    replenish = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    for tour in tours:
        for pick in tour["picks"]:
            tote = tote_for.setdefault((tour["id"], pick["tote"]), tote_codes[len(tote_for)])
            payload = {"task_id": pick["task_id"], "location": pick["check_digits"], "product": _gtin_of(pick["sku"]),
                       "tote": tote, "quantity": pick["quantity"]}
            result = _one(api, "pick", "confirm_pick", payload)
            if pick["waits_for_task"]:
                # The pick face is empty until its replenishment is done.
                assert result["ok"] is False and result["error"]["code"] == "waits_for_replenishment"
                done = _one(api, "pick", "confirm_replenish", {"task_id": replenish["id"], "to_location": "PF-03"})
                assert done["ok"], done
                result = _one(api, "pick", "confirm_pick", payload)
            assert result["ok"], result.get("error")
    orders = {o["reference"]: o for o in sup.get("/api/v1/orders", params={"site": "S1"}).json()["data"]}
    assert {o["status"] for o in orders.values()} == {"picked"}
    assert all(line["quantity_picked"] == line["quantity"] for o in orders.values() for line in o["lines"])
    assert _reserved_matches_reservations(api)
    assert sum(q["reserved"] for q in sup.get("/api/v1/inventory", params={"site": "S1"}).json()["data"]) == 0

    # Pack SO-1's tote (A × 30, C × 2): more than the tote holds, or what it does not hold, is refused (a carton
    # may take part of a tote: see tests/api/test_packing_station.py); the right items make a carton.
    tour_of_so1 = next(t for t in tours if any(x["order"] == "SO-1" for x in t["totes"]))
    slot = next(x["tote"] for x in tour_of_so1["totes"] if x["order"] == "SO-1")
    tote = tote_for[(tour_of_so1["id"], slot)]
    surplus = _one(api, "sup", "pack", {"tote": tote, "station": "PACK-1",
                                        "items": [{"product": _gtin_of(SKU_A), "quantity": 31}]})
    assert surplus["ok"] is False and surplus["error"]["code"] == "pack_surplus"
    assert surplus["error"]["details"]["in_tote"] == 30
    wrong = _one(api, "sup", "pack", {"tote": tote, "station": "PACK-1",
                                      "items": [{"product": _gtin_of(SKU_B), "quantity": 1}]})
    assert wrong["ok"] is False and wrong["error"]["code"] == "wrong_item"
    packed = _one(api, "sup", "pack", {"tote": tote, "station": "PACK-1", "items": [
        {"product": _gtin_of(SKU_A), "quantity": 30}, {"product": SKU_C, "quantity": 2}]})
    assert packed["ok"], packed.get("error")
    carton = packed["result"]["sscc"]
    closed = _one(api, "sup", "close_carton", {"carton": carton, "station": "PACK-1", "weight_kg": 7.5})
    assert closed["ok"], closed.get("error")
    assert closed["result"]["order_status"] == "packed"
    job = sup.get(f"/api/v1/print-jobs/{closed['result']['print_job_id']}").json()
    assert job["label_type"] == "shipping" and job["data"]["sscc"] == carton and job["printer"] == "ZT-PACK"
    not_loaded = _one(api, "sup", "ship", {"order": "SO-1", "dock": "DOCK-1"})
    assert not_loaded["ok"] is False and not_loaded["error"]["code"] == "cartons_not_loaded"
    loaded = _one(api, "sup", "load", {"dock": "DOCK-1", "carton": carton})
    assert loaded["ok"], loaded.get("error")
    assert loaded["result"]["load"]["complete"] is True
    shipped = _one(api, "sup", "ship", {"order": "SO-1", "dock": "DOCK-1"})
    assert shipped["ok"], shipped.get("error")
    assert shipped["result"]["units"] == 32
    assert sup.get("/api/v1/orders/SO-1", params={"site": "S1"}).json()["status"] == "shipped"
    assert sup.get("/api/v1/inventory", params={"site": "S1", "lpn": carton}).json()["count"] == 0
    assert _ledger_ok(api)


def _picker(api) -> Actor:  # noqa: ANN001
    """The picker "pick" as a batch's commands carry them (no device: as over HTTP)."""
    with api.runtime.sessions() as session:
        return Actor(load_principal(session, session.exec(select(User).where(User.username == "pick")).one()))


def _confirm(actor: Actor, command_id: str, pick: dict, tote: str) -> tuple:
    """A confirm_pick of a wave's pick (as GET /waves/{id}/tours lists it) for `apply_batch`."""
    return (actor, CommandEnvelope(command_id, "confirm_pick", {
        "task_id": pick["task_id"], "location": pick["location"], "product": _gtin_of(pick["sku"]), "tote": tote,
        "quantity": pick["quantity"]}), "http")


def test_the_same_pick_sent_twice_moves_stock_once(api):  # noqa: ANN001
    _outbound_site(api)
    wave = _released_wave(api)
    pick = next(p for t in api.as_("sup").get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
                for p in t["picks"] if not p["waits_for_task"])
    (tote,) = _totes(api, 1)
    command = {"id": str(uuid.uuid4()), "type": "confirm_pick", "payload": {
        "task_id": pick["task_id"], "location": pick["location"], "product": _gtin_of(pick["sku"]), "tote": tote,
        "quantity": pick["quantity"]}}
    first = api.as_("pick").post("/api/v1/device-commands", json={"commands": [command]}).json()["results"][0]
    again = api.as_("pick").post("/api/v1/device-commands", json={"commands": [command]}).json()["results"][0]
    assert first["ok"] and again["ok"] and again["replayed"] is True
    assert again["result"] == first["result"]
    in_tote = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "lpn": tote}).json()["data"]
    assert [q["on_hand"] for q in in_tote] == [pick["quantity"]]
    with api.runtime.sessions() as session:  # the picker stands at the pick location now (next work is near it)
        picker = session.exec(select(User).where(User.username == "pick")).one()
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        assert session.get(WorkerProfile, (picker.id, site_id)).last_location_id == session.exec(
            select(Location.id).where(Location.code == pick["location"])).one()


def test_a_pick_whose_stock_went_missing_is_refused_and_its_batch_mates_stand(api, caplog):  # noqa: ANN001
    """Two confirms in one batch; the second's take finds the stock's reservation gone.

    On PostgreSQL a batch does not wait for that take's answer: the quant's CHECK constraint fails
    the batch where the take is sent (here, with the COMMIT), the batch is undone and each command
    run on its own. On SQLite the take is refused at once. Either way: the first pick is booked
    once, the second is refused and moved nothing.
    """
    _outbound_site(api)
    wave = _released_wave(api)
    tours = api.as_("sup").get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    picks = [(tour["id"], p) for tour in tours for p in tour["picks"] if not p["waits_for_task"]]
    (tour_1, first), (tour_2, second) = picks[0], next(
        (t, p) for t, p in picks[1:] if p["location"] != picks[0][1]["location"])
    tote_1, tote_2 = _totes(api, 2)
    with api.runtime.sessions() as session:
        session.exec(text("UPDATE quant SET reserved = 0 WHERE id = (SELECT quant_id FROM reservation WHERE id = "
                          "(SELECT reservation_id FROM task WHERE id = :id))").bindparams(id=second["task_id"]))
        session.commit()
    actor = _picker(api)

    outcomes = api.runtime.commands.apply_batch([
        _confirm(actor, "batch-pick-0001", first, tote_1),
        _confirm(actor, "batch-pick-0002", second,
                 tote_2 if tour_2 != tour_1 or second["tote"] != first["tote"] else tote_1),
    ])

    assert outcomes[0].ok, outcomes[0].error
    assert not outcomes[1].ok and outcomes[1].error["code"] == "reservation_missing"
    with api.runtime.sessions() as session:
        moved = dict(session.exec(select(Move.reference, func.count()).where(Move.reference.in_(
            [f"task:{first['task_id']}", f"task:{second['task_id']}"])).group_by(Move.reference)).all())
        states = {t.id: t.state for t in session.exec(select(Task).where(
            Task.id.in_([first["task_id"], second["task_id"]]))).all()}
        stored = dict(session.exec(select(DeviceCommand.command_id, DeviceCommand.ok).where(
            DeviceCommand.command_id.like("batch-pick-%"))).all())
    assert moved == {f"task:{first['task_id']}": 1}
    assert states[first["task_id"]] == "done" and states[second["task_id"]] != "done"
    assert stored == {"batch-pick-0001": True, "batch-pick-0002": False}
    if api.runtime.engine.dialect.name == "postgresql":
        assert "running them one by one" in caplog.text  # the failed take undid the batch


def test_in_a_batch_a_confirm_sees_what_an_earlier_one_changed(api):  # noqa: ANN001
    """Two picks for one tote slot in one batch, scanned into two different totes.

    On PostgreSQL the batch reads every confirm's task ahead, before any of them runs; the second's
    row says its slot has no tote yet, but the first binds one: the second must read again and be
    refused (wrong tote), not bind its own tote over the first's.
    """
    _outbound_site(api)
    wave = _released_wave(api)
    tours = api.as_("sup").get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    first, second = next(
        (a, b) for tour in tours for a in tour["picks"] for b in tour["picks"]
        if a["task_id"] < b["task_id"] and a["tote"] == b["tote"] and not a["waits_for_task"]
        and not b["waits_for_task"])
    tote_1, tote_2 = _totes(api, 2)
    actor = _picker(api)

    outcomes = api.runtime.commands.apply_batch([
        _confirm(actor, "slot-pick-0001", first, tote_1), _confirm(actor, "slot-pick-0002", second, tote_2)])

    assert outcomes[0].ok, outcomes[0].error
    assert not outcomes[1].ok and outcomes[1].error["code"] == "wrong_tote"
    in_tote = api.as_("sup").get("/api/v1/inventory", params={"site": "S1", "lpn": tote_2}).json()["data"]
    assert in_tote == []
    assert _ledger_ok(api)


def test_in_a_batch_one_tote_is_not_bound_to_two_slots(api):  # noqa: ANN001
    """Two picks of two tote slots in one batch, both scanned into the same empty tote: the first binds it,
    the second is told it is in use (on PostgreSQL it read the tote's slots ahead, before the first ran)."""
    _outbound_site(api)
    wave = _released_wave(api)
    picks = [((tour["id"], p["tote"]), p) for tour in api.as_("sup").get(f"/api/v1/waves/{wave['id']}/tours")
             .json()["data"] for p in tour["picks"] if not p["waits_for_task"]]
    slot, first = picks[0]
    second = next(p for other, p in picks if other != slot)
    (tote,) = _totes(api, 1)
    actor = _picker(api)

    outcomes = api.runtime.commands.apply_batch([
        _confirm(actor, "tote-pick-0001", first, tote), _confirm(actor, "tote-pick-0002", second, tote)])

    assert outcomes[0].ok, outcomes[0].error
    assert not outcomes[1].ok and outcomes[1].error["code"] == "tote_in_use"
    assert _ledger_ok(api)


def test_a_short_pick_is_reallocated_from_another_location_and_counted(api):  # noqa: ANN001
    _outbound_site(api)
    wave = _released_wave(api)
    sup = api.as_("sup")
    picks = [p for t in sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"] for p in t["picks"]]
    face_pick = next(p for p in picks if p["order"] == "SO-1" and p["location"] == "PF-01")
    result = _one(api, "pick", "short_pick", {"task_id": face_pick["task_id"], "location": "PF-01", "found": 0,
                                              "reason": "empty location"})
    assert result["ok"], result
    short = result["result"]
    assert short["short"] == 6 and short["backordered"] == 0
    new_id = short["reallocated"][0]["task_id"]
    tour = next(t for t in sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
                if any(p["task_id"] == face_pick["task_id"] for p in t["picks"]))
    # The new pick comes last in the same tour, into the same tote.
    last = tour["picks"][-1]
    assert (last["task_id"], last["location"], last["quantity"], last["tote"]) == (new_id, "R1-01", 6,
                                                                                 face_pick["tote"])
    exc = sup.get(f"/api/v1/exceptions/{short['exception_id']}").json()
    assert exc["kind"] == "short_pick" and exc["details"]["found"] == 0
    count = sup.get(f"/api/v1/tasks/{short['count_task_id']}").json()
    assert count["kind"] == "count" and count["from_location"] == "PF-01"
    assert _reserved_matches_reservations(api)


def _count_task(api, location: str) -> int:  # noqa: ANN001
    with api.runtime.sessions() as session:
        from backend.execution.counting import request_counts
        from backend.models import Location

        site = session.exec(select(Site).where(Site.code == "S1")).one()
        loc = session.exec(select(Location).where(Location.code == location)).one()
        (task,) = request_counts(session, site, [loc.id], reason="on_demand")
        session.commit()
        return task.id


def test_a_short_pick_where_a_count_is_open_makes_that_count_urgent_not_a_second_one(api):  # noqa: ANN001
    _outbound_site(api)
    wave = _released_wave(api)
    sup = api.as_("sup")
    waiting = _count_task(api, "PF-01")  # a cycle count, not yet done
    picks = [p for t in sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"] for p in t["picks"]]
    face_pick = next(p for p in picks if p["order"] == "SO-1" and p["location"] == "PF-01")
    result = _one(api, "pick", "short_pick", {"task_id": face_pick["task_id"], "location": "PF-01", "found": 0,
                                              "reason": "empty location"})
    assert result["ok"], result
    assert result["result"]["count_task_id"] == waiting
    with api.runtime.sessions() as session:
        open_counts = session.exec(select(Task).where(Task.kind == "count", Task.state == "pending")).all()
    assert [(t.id, t.priority) for t in open_counts] == [(waiting, 10)]


def test_counts_within_tolerance_post_and_larger_ones_wait_for_approval(api):  # noqa: ANN001
    _outbound_site(api)
    sup = api.as_("sup")
    # PF-03 holds 50 C: 2 % of 50 is 1 unit, so 49 posts at once.
    small = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 49}]})
    assert small["ok"] and small["result"]["status"] == "posted", small
    assert sup.get("/api/v1/inventory", params={"site": "S1", "location": "PF-03"}).json()["data"][0]["on_hand"] == 49
    big = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                      "lines": [{"product": SKU_C, "quantity": 40}]})
    assert big["ok"] and big["result"]["status"] == "awaiting_approval", big
    assert sup.get("/api/v1/inventory", params={"site": "S1", "location": "PF-03"}).json()["data"][0]["on_hand"] == 49
    approved = sup.post(f"/api/v1/exceptions/{big['result']['exception_id']}/approve", json={"note": "recounted"})
    assert approved.status_code == 200, approved.text
    assert sup.get("/api/v1/inventory", params={"site": "S1", "location": "PF-03"}).json()["data"][0]["on_hand"] == 40
    moves = sup.get("/api/v1/moves", params={"site": "S1", "reason": "count_adjustment"}).json()["data"]
    assert [m["quantity"] for m in moves] == [1, 9]
    assert _ledger_ok(api)


def test_cycle_counts_are_due_by_abc_class_and_not_doubled(api):  # noqa: ANN001
    _outbound_site(api)
    sup = api.as_("sup")
    first = sup.post("/api/v1/counts", json={"site": "S1", "cycle": True})
    assert first.status_code == 201, first.text
    # Never counted: every location holding stock is due.
    assert sorted(first.json()["locations"]) == ["PF-01", "PF-02", "PF-03", "R1-01", "R2-01", "R3-01"]
    again = sup.post("/api/v1/counts", json={"site": "S1", "locations": ["PF-01"]})
    assert again.status_code == 201 and again.json()["tasks"] == []
    counted = _one(api, "pick", "count", {"task_id": first.json()["tasks"][0], "location": "PF-01",
                                          "lines": [{"product": SKU_A, "quantity": 20}]})
    assert counted["ok"] and counted["result"]["status"] == "posted"
    later = sup.post("/api/v1/counts", json={"site": "S1", "cycle": True})
    assert later.json()["tasks"] == []  # PF-01 was just counted; the rest already have open counts
    bad = sup.post("/api/v1/counts", json={"site": "S1", "locations": ["NOPE"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_location"
