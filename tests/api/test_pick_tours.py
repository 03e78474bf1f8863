"""A pick tour's cart from start to end: totes bound to its slots, picks in order, the drop at the pack station."""

from __future__ import annotations

import uuid

from sqlmodel import select

from backend.models import Container, Device, DeviceEvent, Location, Site, User
from tests.api.test_execution_flow import _gtin_of, _totes
from tests.api.test_outbound_flow import STANDARD, _orders, _outbound_site

API = "/api/v1"


def _command(api, user: str, type_: str, payload: dict) -> dict:  # noqa: ANN001
    r = api.as_(user).post(f"{API}/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": type_, "payload": payload}]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def _claimed_tour(api) -> dict:  # noqa: ANN001
    """STANDARD's wave released on a cart of 8 totes; "pick" claims the tour with the waiting pick in it."""
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    tours = sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"]
    tour = next(t for t in tours if any(p["waits_for_task"] for p in t["picks"]))
    pick = next(p for p in tour["picks"] if not p["waits_for_task"])
    r = sup.post(f"{API}/tasks/{pick['task_id']}/assign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    for other in tour["picks"]:
        if other["task_id"] != pick["task_id"]:
            assert sup.post(f"{API}/tasks/{other['task_id']}/assign", json={"username": "pick"}).status_code == 200
    return api.as_("pick").get(f"{API}/tours/{tour['id']}").json()


def test_a_tour_shows_its_slots_its_picks_in_walking_order_and_what_is_left(api):  # noqa: ANN001
    _outbound_site(api)
    tour = _claimed_tour(api)
    assert tour["open"] == len(tour["picks"]) and tour["done"] == 0
    assert tour["drop_location"] == "PACK-1"
    assert all(slot["tote"] is None for slot in tour["slots"])
    waiting = [p for p in tour["picks"] if p["waits_for_replenishment"]]
    ready = [p for p in tour["picks"] if not p["waits_for_replenishment"]]
    assert waiting and ready
    # Walked in sequence with the waiting picks last, what is left never grows from one pick to the next.
    walk = sorted(ready, key=lambda p: p["sequence"]) + sorted(waiting, key=lambda p: p["sequence"])
    left = [(p["metres_left"], p["seconds_left"]) for p in walk]
    assert left == sorted(left, reverse=True) and all(s > 0 for _, s in left)
    r = api.as_("pick").get(f"{API}/tours/999999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_tour"


def test_totes_are_bound_at_the_start_and_dropped_at_the_pack_station_at_the_end(api):  # noqa: ANN001
    _outbound_site(api)
    tour = _claimed_tour(api)
    slots = sorted({s["tote_no"] for s in tour["slots"]})
    totes = _totes(api, len(slots) + 1)
    for slot, tote in zip(slots, totes):
        bound = _command(api, "pick", "bind_tote", {"tour_id": tour["id"], "tote_no": slot, "tote": tote})
        assert bound["ok"] and bound["result"]["tote"] == tote, bound
    again = _command(api, "pick", "bind_tote", {"tour_id": tour["id"], "tote_no": slots[0], "tote": totes[1]})
    assert again["ok"] is False and again["error"]["code"] in ("wrong_tote", "tote_in_use")
    tour = api.as_("pick").get(f"{API}/tours/{tour['id']}").json()
    assert {s["tote_no"]: s["tote"] for s in tour["slots"]} == dict(zip(slots, totes))
    assert all(p["tote"] == dict(zip(slots, totes))[p["tote_no"]] for p in tour["picks"])

    early = _command(api, "pick", "drop_totes", {"tour_id": tour["id"], "location": "PACK-1"})
    assert early["ok"] is False and early["error"]["code"] == "tour_not_finished"
    replenish = api.as_("sup").get(f"{API}/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    assert _command(api, "pick", "confirm_replenish", {"task_id": replenish["id"], "location": "PF-03"})["ok"]
    for pick in tour["picks"]:
        done = _command(api, "pick", "confirm_pick", {
            "task_id": pick["task_id"], "location": pick["location"], "product": _gtin_of(pick["sku"]),
            "tote": pick["tote"], "quantity": pick["quantity"]})
        assert done["ok"], done
    wrong = _command(api, "pick", "drop_totes", {"tour_id": tour["id"], "location": "R1-01"})
    assert wrong["ok"] is False and wrong["error"]["code"] == "not_a_drop_location"
    dropped = _command(api, "pick", "drop_totes", {"tour_id": tour["id"], "location": "PACK-1"})
    assert dropped["ok"] and sorted(dropped["result"]["totes"]) == sorted(totes[:len(slots)])
    assert dropped["result"]["finished"] is True
    with api.runtime.sessions() as session:
        pack = session.exec(select(Location.id).where(Location.code == "PACK-1")).one()
        assert {c.location_id for c in session.exec(select(Container).where(Container.code.in_(totes[:len(slots)])))} == {pack}
    assert api.as_("pick").get(f"{API}/tours/{tour['id']}").json()["dropped_at"] == "PACK-1"

    # A tote still full of picked stock is not free for another tour until it is packed.
    api.add_user("pick9", ["picker"], ["S1"])
    assert _orders(api, [{"reference": "SO-9", "cut_off": STANDARD[0]["cut_off"], "lines": [
        {"line_no": 1, "sku": "SKU-A", "quantity": 1}]}]).status_code == 201
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    (new_pick,) = [p for t in sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"] for p in t["picks"]]
    r = _command(api, "pick9", "confirm_pick", {"task_id": new_pick["task_id"], "location": new_pick["location"],
                                                "product": _gtin_of(new_pick["sku"]), "tote": totes[0], "quantity": 1})
    assert r["ok"] is False and r["error"]["code"] == "tote_in_use"


def test_the_holder_of_a_waiting_pick_hears_when_its_replenishment_is_done(api):  # noqa: ANN001
    _outbound_site(api)
    tour = _claimed_tour(api)
    waiting = next(p for p in tour["picks"] if p["waits_for_replenishment"])
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        picker = session.exec(select(User).where(User.username == "pick")).one()
        device = Device(site_id=site.id, name="HH-1", kind="handheld", current_user_id=picker.id)
        session.add(device)
        session.commit()
        device_id = device.id
    replenish = api.as_("sup").get(f"{API}/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    assert _command(api, "recv", "confirm_replenish", {"task_id": replenish["id"], "location": "PF-03"})["ok"]
    with api.runtime.sessions() as session:
        updates = [e.data["task"] for e in session.exec(select(DeviceEvent).where(
            DeviceEvent.device_id == device_id, DeviceEvent.type == "task.updated")).all()]
    assert [(u["id"], u["waits_for_task"]) for u in updates if u["id"] == waiting["task_id"]] == [
        (waiting["task_id"], None)]


def test_a_picker_prints_labels_for_new_totes_already_bound_to_the_tours_slots(api):  # noqa: ANN001
    _outbound_site(api)
    sup = api.as_("sup")
    r = sup.post(f"{API}/printers", json={"site": "S1", "code": "ZQ-1", "host": "127.0.0.1", "port": 9,
                                          "profile": "zebra-zq520-203"})
    assert r.status_code in (200, 201), r.text
    assert sup.put(f"{API}/printer-routes", json={"site": "S1", "routes": [
        {"label_type": "tote", "printer": "ZQ-1"}]}).status_code == 200
    tour = _claimed_tour(api)
    r = api.as_("pick").post(f"{API}/tours/{tour['id']}/tote-labels")
    assert r.status_code == 200, r.text
    made = r.json()
    assert sorted(t["tote_no"] for t in made["totes"]) == sorted({s["tote_no"] for s in tour["slots"]})
    assert len(made["print_job_ids"]) == len(made["totes"])
    for job_id, tote in zip(made["print_job_ids"], made["totes"]):
        job = sup.get(f"{API}/print-jobs/{job_id}").json()
        assert (job["label_type"], job["printer"], job["data"]["tote_code"]) == ("tote", "ZQ-1", tote["tote"])
    tour = api.as_("pick").get(f"{API}/tours/{tour['id']}").json()
    assert {s["tote_no"]: s["tote"] for s in tour["slots"]} == {t["tote_no"]: t["tote"] for t in made["totes"]}
    # Asked again, nothing more: every slot has its tote.
    assert api.as_("pick").post(f"{API}/tours/{tour['id']}/tote-labels").json()["totes"] == []
