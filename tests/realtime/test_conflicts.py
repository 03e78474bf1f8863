"""A supervisor reassigning work while a worker confirms it: exactly one outcome, never a lost fact."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from backend.models import Move, WarehouseException
from tests.realtime.conftest import DeviceClient, enroll_device, receive_pallet

API = "/api/v1"


def _moves(site, task_id: int) -> int:  # noqa: ANN001
    with site.runtime.sessions() as session:
        return session.exec(select(func.count()).select_from(Move).where(Move.reference == f"task:{task_id}")).one()


def _conflicts(site, task_id: int) -> list[WarehouseException]:  # noqa: ANN001
    with site.runtime.sessions() as session:
        return list(session.exec(select(WarehouseException).where(WarehouseException.task_id == task_id,
                                                                  WarehouseException.kind == "task_conflict")).all())


async def _two_pickers(site, task_id: int):  # noqa: ANN001, ANN202
    first = DeviceClient(site.ws_url, enroll_device(site, "TC-A", worker="pick")["device_token"], site.login("pick"))
    second = DeviceClient(site.ws_url, enroll_device(site, "TC-B", worker="pick2")["device_token"],
                          site.login("pick2"))
    await first.connect()
    await second.connect()
    assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    task = (await first.event("task.assigned", id=task_id))["data"]["task"]
    return first, second, task


async def test_a_confirm_after_a_reassign_still_moves_the_stock_and_raises_an_exception(site):  # noqa: ANN001
    task_id = receive_pallet(site)
    first, second, task = await _two_pickers(site, task_id)
    r = site.as_("sup").post(f"{API}/tasks/{task_id}/reassign", json={"username": "pick2"})
    assert r.status_code == 200 and r.json()["assigned_to"] == site.user_id("pick2")
    await second.event("task.assigned", id=task_id, reason="reassigned")
    # The first picker had already driven the pallet there: the confirm arrives late.
    confirmed = await first.command("confirm_putaway", {"task_id": task_id, "scan": task["to_location"]})
    assert confirmed["ok"] and confirmed["result"]["outcome"] == "conflict"
    assert confirmed["result"]["task"]["state"] == "done"
    (exception,) = _conflicts(site, task_id)
    assert exception.id == confirmed["result"]["exception_id"] and exception.state == "open"
    assert exception.details["holder_before"] == site.user_id("pick2")
    revoked = await second.event("task.revoked", task_id=task_id)
    assert revoked["data"]["reason"] == "completed_by_other"
    assert _moves(site, task_id) == 1
    # The supervisor's late second thought changes nothing.
    r = site.as_("sup").post(f"{API}/tasks/{task_id}/reassign", json={"username": "pick"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    await first.close()
    await second.close()


async def test_a_reassign_after_the_confirm_is_refused_and_nobody_is_told(site):  # noqa: ANN001
    task_id = receive_pallet(site)
    first, second, task = await _two_pickers(site, task_id)
    confirmed = await first.command("confirm_putaway", {"task_id": task_id, "scan": task["to_location"]})
    assert confirmed["ok"] and confirmed["result"]["outcome"] == "done"
    r = site.as_("sup").post(f"{API}/tasks/{task_id}/reassign", json={"username": "pick2"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert _conflicts(site, task_id) == [] and _moves(site, task_id) == 1
    await first.close()
    await second.close()


async def test_confirm_racing_reassign_has_exactly_one_outcome(site):  # noqa: ANN001
    task_id = receive_pallet(site)
    first, second, task = await _two_pickers(site, task_id)
    version = task["version"]

    def reassign():  # noqa: ANN202
        return site.as_("sup").post(f"{API}/tasks/{task_id}/reassign",
                                    json={"username": "pick2", "expected_version": version})

    confirm = first.command("confirm_putaway", {"task_id": task_id, "scan": task["to_location"]})
    confirmed, reassigned = await asyncio.gather(confirm, asyncio.to_thread(reassign))
    assert confirmed["ok"] and _moves(site, task_id) == 1
    final = site.as_("sup").get(f"{API}/tasks/{task_id}").json()
    assert final["state"] == "done"
    if reassigned.status_code == 200:
        # The reassign won: the confirm that followed is the physical fact, flagged for the supervisor.
        assert confirmed["result"]["outcome"] == "conflict" and len(_conflicts(site, task_id)) == 1
    else:
        assert reassigned.status_code == 409
        assert reassigned.json()["error"]["code"] in ("invalid_transition", "version_conflict")
        assert confirmed["result"]["outcome"] == "done" and _conflicts(site, task_id) == []
    await first.close()
    await second.close()


async def test_a_stale_supervisor_action_gets_version_conflict(site):  # noqa: ANN001
    task_id = receive_pallet(site)
    sup = site.as_("sup")
    version = sup.get(f"{API}/tasks/{task_id}").json()["version"]
    assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    r = sup.post(f"{API}/tasks/{task_id}/reassign", json={"username": "pick2", "expected_version": version})
    assert r.status_code == 409 and r.json()["error"]["code"] == "version_conflict"
    r = sup.post(f"{API}/tasks/{task_id}/resume", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"


async def test_a_confirm_of_a_cancelled_task_is_refused_and_the_supervisor_is_still_told(site):  # noqa: ANN001
    from tests.realtime.conftest import make_task

    task_id = make_task(site, kind="count")
    picker = DeviceClient(site.ws_url, enroll_device(site, "TC-C", worker="pick")["device_token"], site.login("pick"))
    await picker.connect()
    sup = site.as_("sup")
    assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    await picker.event("task.assigned", id=task_id)
    assert sup.post(f"{API}/tasks/{task_id}/cancel", json={"reason": "recount later"}).status_code == 200
    # The count was done on the floor before the handheld heard of the cancel.
    answer = await picker.command("count", {"task_id": task_id, "location": "R1-01", "lines": []})
    assert not answer["ok"] and answer["error"]["code"] == "task_conflict"
    (exception,) = _conflicts(site, task_id)  # kept although the refused command was rolled back
    assert answer["error"]["details"] == {"state": "cancelled", "exception_id": exception.id}
    assert exception.state == "open" and exception.details["state_before"] == "cancelled"
    # Sent again (an outbox replay): the same refusal, no second exception.
    again = await picker.command("count", {"task_id": task_id, "location": "R1-01", "lines": []},
                                  command_id=answer["id"])
    assert again["replayed"] and again["error"] == answer["error"]
    assert len(_conflicts(site, task_id)) == 1
    await picker.close()
