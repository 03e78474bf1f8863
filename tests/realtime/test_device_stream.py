"""A handheld's stream: work pushed to it, confirmed from it, and nothing lost across reconnects."""

from __future__ import annotations

from sqlmodel import func, select

from backend.models import DeviceEvent, Move
from tests.realtime.conftest import DeviceClient, enroll_device, make_task, receive_pallet

API = "/api/v1"


async def test_a_handheld_gets_a_pushed_putaway_and_confirms_it(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-01")
    assert device["scanner"]["profile"] == "zebra-tc52"
    task_id = receive_pallet(site)
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    welcome = await client.connect()
    assert welcome["type"] == "auth_ok" and welcome["device"]["name"] == "TC52-01"
    assert welcome["user"]["username"] == "pick" and welcome["scanner"]["profile"] == "zebra-tc52"
    assert {"scan", "start_task", "confirm_putaway", "claim_next_task"} <= set(welcome["commands"])

    r = site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    pushed = await client.event("task.assigned", id=task_id)
    task = pushed["data"]["task"]
    assert pushed["data"]["reason"] == "assigned" and task["kind"] == "putaway" and task["lpn"]

    started = await client.command("start_task", {"task_id": task_id})
    assert started["ok"] and started["result"]["task"]["state"] == "in_progress"
    confirmed = await client.command("confirm_putaway", {"task_id": task_id, "scan": task["to_location"]})
    assert confirmed["ok"], confirmed
    assert confirmed["result"]["outcome"] == "done" and confirmed["result"]["task"]["state"] == "done"
    done = await client.event("task.updated", id=task_id, state="done")
    assert done["data"]["task"]["to_location"] == task["to_location"]
    stock = site.as_("sup").get(f"{API}/inventory", params={"site": "S1", "location": task["to_location"]}).json()
    assert sum(q["on_hand"] for q in stock["data"]) == 24
    await client.close()


async def test_a_worker_claims_the_nearest_task_and_gets_the_next_after_confirming(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-02")
    far = make_task(site, from_location="R3-03")
    near = make_task(site, from_location="R1-01")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()
    claimed = await client.command("claim_next_task", {"position": "PF-01"})
    assert claimed["ok"] and [t["id"] for t in claimed["result"]["tasks"]] == [near]
    await client.event("task.assigned", id=near)
    again = await client.command("claim_next_task")
    assert again["result"] == {"claimed": False, "tasks": claimed["result"]["tasks"]}
    r = site.as_("sup").post(f"{API}/tasks/{near}/cancel", json={"reason": "not needed"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    revoked = await client.event("task.revoked", task_id=near)
    assert revoked["data"]["reason"] == "cancelled"
    # Freed, the worker is offered the next task at once.
    await client.event("task.assigned", id=far)
    await client.close()


async def test_a_reconnecting_device_gets_exactly_the_events_it_missed(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-03")
    token = site.login("pick")
    client = DeviceClient(site.ws_url, device["device_token"], token)
    await client.connect()
    sup = site.as_("sup")
    tasks = [make_task(site) for _ in range(6)]
    for task_id in tasks[:2]:
        assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    await client.event("task.assigned", id=tasks[1])
    held = client.last_seq
    await client.close()

    # While the device is away: more work, a reprioritisation, a message, a reassignment away.
    for task_id in tasks[2:]:
        assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    assert sup.post(f"{API}/tasks/{tasks[0]}/reprioritise", json={"priority": 5}).status_code == 200
    assert sup.post(f"{API}/devices/{device['id']}/messages", json={"text": "break at 10"}).status_code == 201
    assert sup.post(f"{API}/tasks/{tasks[1]}/reassign", json={"username": "pick2"}).status_code == 200

    with site.runtime.sessions() as session:
        stored = session.exec(select(DeviceEvent.seq).where(DeviceEvent.device_id == device["id"])
                              .order_by(DeviceEvent.seq)).all()
    assert stored == list(range(1, len(stored) + 1))
    missed = stored[held:]
    assert len(missed) == 4 + 1 + 1 + 1

    again = DeviceClient(site.ws_url, device["device_token"], token)
    again.last_seq = held
    welcome = await again.connect()
    assert welcome["head"] == stored[-1]
    for _ in missed:
        await again.expect(lambda m: "seq" in m)
    got = [m["seq"] for m in again.inbox if "seq" in m]
    assert got == missed  # no gap, no duplicate
    types = [m["type"] for m in again.inbox if "seq" in m]
    assert types == ["task.assigned"] * 4 + ["task.updated", "message", "task.revoked"]

    # Live events continue after the catch-up, numbered on.
    extra = make_task(site)
    assert sup.post(f"{API}/tasks/{extra}/assign", json={"username": "pick"}).status_code == 200
    live = await again.event("task.assigned", id=extra)
    assert live["seq"] == stored[-1] + 1
    await again.close()


async def test_a_device_disconnected_mid_stream_resumes_without_gaps(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-04")
    token = site.login("pick")
    sup = site.as_("sup")
    tasks = [make_task(site) for _ in range(30)]
    client = DeviceClient(site.ws_url, device["device_token"], token)
    await client.connect()
    for task_id in tasks:
        assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    # Read a few, then drop the connection with the rest in flight.
    for _ in range(7):
        await client.expect(lambda m: "seq" in m)
    client.ws.transport.abort()  # no closing handshake: like Wi-Fi dropping
    await client.close()
    resumed = DeviceClient(site.ws_url, device["device_token"], token)
    resumed.last_seq = client.last_seq
    await resumed.connect()
    while resumed.last_seq < 30:
        await resumed.expect(lambda m: "seq" in m)
    seen = [m["data"]["task"]["id"] for m in client.inbox + resumed.inbox if m.get("type") == "task.assigned"]
    assert seen == tasks
    await resumed.close()


async def test_the_same_command_over_websocket_and_http_moves_stock_once(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-05")
    token = site.login("pick")
    task_id = receive_pallet(site)
    client = DeviceClient(site.ws_url, device["device_token"], token)
    await client.connect()
    assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    task = (await client.event("task.assigned", id=task_id))["data"]["task"]
    command_id = "5b0d9a52-6a3e-4d0e-9f7a-0c7c2f1f0a11"
    payload = {"task_id": task_id, "scan": task["to_location"]}
    first = await client.command("confirm_putaway", payload, command_id=command_id)
    assert first["ok"] and not first["replayed"]
    second = await client.command("confirm_putaway", payload, command_id=command_id)
    assert second["ok"] and second["replayed"] and second["result"] == first["result"]
    r = site.as_("pick").post(f"{API}/device-commands", headers={"X-Device-Token": device["device_token"]},
                              json={"commands": [{"id": command_id, "type": "confirm_putaway", "payload": payload}]})
    assert r.status_code == 200, r.text
    (third,) = r.json()["results"]
    assert third["ok"] and third["replayed"] and third["result"] == first["result"]
    # The same id with another payload is refused, not applied.
    r = site.as_("pick").post(f"{API}/device-commands", json={"commands": [
        {"id": command_id, "type": "confirm_putaway", "payload": {**payload, "scan": "R2-02"}}]})
    assert r.json()["results"][0]["error"]["code"] == "command_id_reused"
    with site.runtime.sessions() as session:
        moves = session.exec(select(func.count()).select_from(Move).where(Move.reference == f"task:{task_id}")).one()
    assert moves == 1
    await client.close()


async def test_http_outbox_applies_commands_in_order_with_one_answer_each(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-06")
    task_id = make_task(site)
    pick = site.as_("pick")
    assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    commands = [
        {"id": "cmd-0001-start", "type": "start_task", "payload": {"task_id": task_id}},
        {"id": "cmd-0002-scan", "type": "scan", "payload": {"raw": "R1-01"}},
        {"id": "cmd-0003-bogus", "type": "fly_to_the_moon", "payload": {}},
        {"id": "cmd-0004-release", "type": "release_task", "payload": {"task_id": task_id}},
        {"id": "cmd-0005-start", "type": "start_task", "payload": {"task_id": task_id}},
    ]
    r = pick.post(f"{API}/device-commands", headers={"X-Device-Token": device["device_token"]},
                  json={"commands": commands})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["id"] for x in results] == [c["id"] for c in commands]
    assert [x["ok"] for x in results] == [True, True, False, True, False]
    assert results[1]["result"]["scan"]["kind"] == "location"
    assert results[2]["error"]["code"] == "unknown_command"
    assert results[4]["error"]["code"] == "task_not_yours"
    # Replayed, the same answers, and the task is not started again.
    again = pick.post(f"{API}/device-commands", json={"commands": commands}).json()["results"]
    assert [x["ok"] for x in again] == [True, True, False, True, False]
    assert all(x["replayed"] for i, x in enumerate(again) if i != 2)
    assert site.as_("sup").get(f"{API}/tasks/{task_id}").json()["state"] == "pending"
