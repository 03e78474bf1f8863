"""Work reaches only people who can do it, and picks that change hands mid-tour stay confirmable.

Real server, real websockets, on SQLite and PostgreSQL: a wave's release pushes,
claims and a supervisor's assignments all follow backend.tasks.eligibility; a short
pick's reallocated units go to the tour's holder in the same tote; a pick reassigned
mid-tour names the tote to pick into (backend.tasks.tote_slots).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from backend.models import DeviceEvent, Site, Task, WorkerProfile
from tests.helpers import SKU_A, SKU_C, add_stock, gtin13
from tests.realtime.conftest import DeviceClient, enroll_device

API = "/api/v1"
GTIN = {SKU_A: gtin13(1), SKU_C: gtin13(3)}


def _soon() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()


def _stocked(site) -> None:  # noqa: ANN001
    r = site.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C},
        {"code": "PACK-1", "kind": "pack", "x": 0, "y": 0, "mixed_products": True}]})
    assert r.status_code == 200, r.text
    add_stock(site, "S1", "PF-01", SKU_A, 20)
    add_stock(site, "S1", "PF-03", SKU_C, 50)


def _orders(site, *orders: tuple[str, list[tuple[str, int]]]) -> None:  # noqa: ANN001
    r = site.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": ref, "cut_off": _soon(), "lines": [{"line_no": n, "sku": sku, "quantity": qty}
                                                         for n, (sku, qty) in enumerate(lines, start=1)]}
        for ref, lines in orders]})
    assert r.status_code == 201, r.text


def _release(site, totes: int = 8) -> int:  # noqa: ANN001
    sup = site.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": totes}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    return wave["id"]


def _tote(site) -> str:  # noqa: ANN001
    r = site.as_("sup").post(f"{API}/containers", json={"site": "S1", "kind": "tote", "count": 1})
    assert r.status_code == 201, r.text
    return r.json()["data"][0]["code"]


def _assigned_events(site, device_id: int) -> list[dict]:  # noqa: ANN001
    with site.runtime.sessions() as session:
        return [e.data for e in session.exec(select(DeviceEvent).where(
            DeviceEvent.device_id == device_id, DeviceEvent.type == "task.assigned")).all()]


def _confirm(pick: dict, tote: str) -> dict:
    return {"task_id": pick["id"], "location": pick["from_location"], "product": GTIN[pick["sku"]], "tote": tote,
            "quantity": pick["quantity"]}


async def test_packers_receivers_and_counters_never_get_picks_by_push_claim_or_assignment(site):  # noqa: ANN001
    _stocked(site)
    site.add_user("packer", ["packer"], ["S1"])
    site.add_user("counter", ["picker"], ["S1"])
    counter = site.user_id("counter")
    with site.runtime.sessions() as session:
        s1 = session.exec(select(Site.id).where(Site.code == "S1")).one()
        session.add(WorkerProfile(user_id=counter, site_id=s1, skills=["count"]))
        session.commit()
    station = enroll_device(site, "PACK-BENCH-1", worker="packer", kind="station")
    others = {"packer": station, "recv": enroll_device(site, "TC-RECV", worker="recv"),
              "counter": enroll_device(site, "TC-COUNT", worker="counter")}
    clients = {name: DeviceClient(site.ws_url, device["device_token"], site.login(name))
               for name, device in others.items()}
    picker = DeviceClient(site.ws_url, enroll_device(site, "TC-PICK", worker="pick")["device_token"],
                          site.login("pick"))
    for client in (*clients.values(), picker):
        assert (await client.connect())["type"] == "auth_ok"

    _orders(site, ("SO-1", [(SKU_A, 2)]), ("SO-2", [(SKU_C, 3)]))
    wave_id = _release(site, totes=1)  # one order a cart: two tours, the picker gets one of them
    pushed = await picker.event("task.assigned", reason="claimed")
    assert pushed["data"]["task"]["kind"] == "pick"
    for device in others.values():
        assert _assigned_events(site, device["id"]) == []  # (written in the release's own transaction)

    tours = site.as_("sup").get(f"{API}/waves/{wave_id}/tours").json()["data"]
    (waiting,) = [p for t in tours for p in t["picks"] if p["held_by"] is None]
    for name, client in clients.items():
        claimed = await client.command("claim_next_task", {})
        assert claimed["ok"] and claimed["result"] == {"claimed": False, "tasks": []}, name
        r = site.as_("sup").post(f"{API}/tasks/{waiting['task_id']}/assign", json={"username": name})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "worker_cannot_do_task", name
        assert r.json()["error"]["details"]["reason"].startswith(name)  # in plain words, naming the worker

    # What they can do still reaches them: the counter is given a count, not the waiting pick.
    with site.runtime.sessions() as session:
        pf01 = session.exec(select(Task.from_location_id).where(Task.id == waiting["task_id"])).one()
        count = Task(site_id=session.get(Task, waiting["task_id"]).site_id, kind="count", from_location_id=pf01)
        session.add(count)
        session.commit()
        count_id = count.id
    claimed = await clients["counter"].command("claim_next_task", {})
    assert [t["id"] for t in claimed["result"]["tasks"]] == [count_id]
    for device in others.values():
        assert all(e["task"]["kind"] != "pick" for e in _assigned_events(site, device["id"]))
    # The waiting pick is still there for a picker.
    r = site.as_("sup").post(f"{API}/tasks/{waiting['task_id']}/assign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    for client in (*clients.values(), picker):
        await client.close()


async def test_a_short_picks_reallocated_units_reach_the_holder_in_the_same_tour_and_tote(site):  # noqa: ANN001
    _stocked(site)
    add_stock(site, "S1", "R1-02", SKU_A, 10)  # reserve stock to reallocate from
    _orders(site, ("SO-1", [(SKU_A, 5), (SKU_C, 1)]))
    _release(site)
    device = enroll_device(site, "TC-PICK", worker="pick")
    picker = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await picker.connect()
    claimed = await picker.command("claim_next_task", {})
    first, second = claimed["result"]["tasks"]
    assert (first["from_location"], first["quantity"]) == ("PF-01", 5) and first["tote"] is None
    tote = _tote(site)
    short = await picker.command("short_pick", {"task_id": first["id"], "location": "PF-01", "found": 2,
                                                "reason": "not enough", "product": GTIN[SKU_A], "tote": tote})
    assert short["ok"], short
    ((new_id, quantity),) = [(r["task_id"], r["quantity"]) for r in short["result"]["reallocated"]]
    assert quantity == 3
    pushed = (await picker.event("task.assigned", id=new_id))["data"]
    assert pushed["reason"] == "reallocated"
    task = pushed["task"]
    assert (task["state"], task["assigned_to"], task["from_location"]) == ("assigned", site.user_id("pick"), "R1-02")
    assert (task["tour_id"], task["tote_no"], task["tote"]) == (first["tour_id"], first["tote_no"], tote)
    assert task["sequence"] > second["sequence"]  # at the end of the tour

    ok = await picker.command("confirm_pick", _confirm(second, tote))
    assert ok["ok"] and ok["result"]["outcome"] == "done"
    assert ok["result"]["task"]["tote"] == tote
    done = await picker.command("confirm_pick", _confirm(task, tote))
    assert done["ok"] and done["result"]["outcome"] == "done", done
    in_tote = site.as_("sup").get(f"{API}/inventory", params={"site": "S1", "lpn": tote}).json()["data"]
    assert sorted((q["sku"], q["on_hand"]) for q in in_tote) == [(SKU_A, 2), (SKU_A, 3), (SKU_C, 1)]
    order = site.as_("sup").get(f"{API}/orders/SO-1", params={"site": "S1"}).json()
    assert order["status"] == "picked"
    await picker.close()


async def test_a_pick_reassigned_mid_tour_is_confirmed_by_its_new_holder_as_the_views_say(site):  # noqa: ANN001
    _stocked(site)
    add_stock(site, "S1", "R3-03", SKU_C, 10)
    _orders(site, ("SO-1", [(SKU_A, 1), (SKU_C, 1)]), ("SO-2", [(SKU_A, 1), (SKU_C, 2)]))
    wave_id = _release(site)
    first = DeviceClient(site.ws_url, enroll_device(site, "TC-A", worker="pick")["device_token"], site.login("pick"))
    second = DeviceClient(site.ws_url, enroll_device(site, "TC-B", worker="pick2")["device_token"],
                          site.login("pick2"))
    await first.connect()
    await second.connect()
    picks = (await first.command("claim_next_task", {}))["result"]["tasks"]
    assert len(picks) == 4 and len({p["tote_no"] for p in picks}) == 2  # one tour, a tote slot per order
    tote_a, tote_b = _tote(site), _tote(site)
    by_slot: dict[int, list[dict]] = {}
    for pick in picks:
        by_slot.setdefault(pick["tote_no"], []).append(pick)
    (slot_1, slot_1_picks), (slot_2, slot_2_picks) = sorted(by_slot.items())
    assert (await first.command("confirm_pick", _confirm(slot_1_picks[0], tote_a)))["ok"]
    assert (await first.command("confirm_pick", _confirm(slot_2_picks[0], tote_b)))["ok"]
    sup = site.as_("sup")

    # The first picker carries on with slot 1; slot 2's last pick goes to pick2, whose cart is elsewhere:
    # it gets a new slot of its own and starts a tote for it.
    moved = slot_2_picks[1]
    r = sup.post(f"{API}/tasks/{moved['id']}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    assert r.json()["tote_no"] not in (slot_1, slot_2) and r.json()["tote"] is None
    moved_slot = r.json()["tote_no"]
    pushed = (await second.event("task.assigned", id=moved["id"], reason="reassigned"))["data"]["task"]
    assert pushed["tote_no"] == moved_slot and pushed["tote"] is None
    tote_c = _tote(site)
    wrong = await second.command("confirm_pick", _confirm(pushed, tote_b))
    assert wrong["ok"] is False and wrong["error"]["code"] == "tote_in_use"  # that one is on the first cart
    assert (await second.command("confirm_pick", _confirm(pushed, tote_c)))["ok"]

    # The first picker is then taken off the tour: pick2 takes over the cart, and the view names its tote.
    last = slot_1_picks[1]
    r = sup.post(f"{API}/tasks/{last['id']}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    assert (r.json()["tote_no"], r.json()["tote"]) == (slot_1, tote_a)
    pushed = (await second.event("task.assigned", id=last["id"], reason="reassigned"))["data"]["task"]
    assert (pushed["tote_no"], pushed["tote"]) == (slot_1, tote_a)
    done = await second.command("confirm_pick", _confirm(pushed, pushed["tote"]))
    assert done["ok"] and done["result"]["outcome"] == "done", done

    (tour,) = sup.get(f"{API}/waves/{wave_id}/tours").json()["data"]
    codes = {t["tote"]: t["tote_code"] for t in tour["totes"]}
    assert codes == {slot_1: tote_a, slot_2: tote_b, moved_slot: tote_c}
    assert {p["task_id"]: p["held_by"] for p in tour["picks"]}[last["id"]] == "pick2"
    # Packing follows the totes: SO-2 is in two of them.
    for tote, order in ((tote_b, "SO-2"), (tote_c, "SO-2"), (tote_a, "SO-1")):
        contents = sup.get(f"{API}/inventory", params={"site": "S1", "lpn": tote}).json()["data"]
        items = [{"product": q["sku"], "quantity": q["on_hand"]} for q in contents]
        packed = sup.post(f"{API}/device-commands", json={"commands": [{"id": str(uuid.uuid4()), "type": "pack",
                                                                        "payload": {"tote": tote, "station": "PACK-1",
                                                                                    "items": items}}]})
        result = packed.json()["results"][0]
        assert result["ok"] and result["result"]["order"] == order, result
    await first.close()
    await second.close()
