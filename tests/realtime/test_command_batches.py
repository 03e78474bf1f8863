"""Commands applied together in one transaction (a batch): each keeps its own outcome."""

from __future__ import annotations

from sqlmodel import func, select

from backend.auth.principal import load_principal
from backend.commands.context import Actor
from backend.commands.dispatcher import CommandEnvelope
from backend.models import AuditEntry, DeviceCommand, DeviceEvent, Task, User
from tests.realtime.conftest import DeviceClient, enroll_device, make_task

API = "/api/v1"


def _actor(site, username: str, device_id: int) -> Actor:  # noqa: ANN001
    with site.runtime.sessions() as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return Actor(load_principal(session, user), device_id, 1)


def _events(site, device_id: int) -> list[tuple[str, int]]:  # noqa: ANN001
    with site.runtime.sessions() as session:
        rows = session.exec(select(DeviceEvent.type, DeviceEvent.data).where(DeviceEvent.device_id == device_id)
                            .order_by(DeviceEvent.seq)).all()
    return [(type_, (data.get("task") or {}).get("id", data.get("task_id"))) for type_, data in rows]


async def test_a_refused_command_in_a_batch_changes_nothing_and_the_others_stand(site):  # noqa: ANN001
    device = enroll_device(site, "TC-BATCH")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()  # signs "pick" on at the device: its events go there
    mine, other = make_task(site), make_task(site)
    sup = site.as_("sup")
    assert sup.post(f"{API}/tasks/{mine}/assign", json={"username": "pick"}).status_code == 200
    assert sup.post(f"{API}/tasks/{other}/assign", json={"username": "pick2"}).status_code == 200
    await client.event("task.assigned", id=mine)
    await client.close()
    before = _events(site, device["id"])

    actor = _actor(site, "pick", device["id"])
    start = CommandEnvelope("batch-start-0001", "start_task", {"task_id": mine})
    not_theirs = CommandEnvelope("batch-start-0002", "start_task", {"task_id": other})
    outcomes = site.runtime.commands.apply_batch([
        (actor, start, "ws"),
        (actor, not_theirs, "ws"),
        (actor, CommandEnvelope("batch-bad-0003", "start_task", {"task_id": "x"}), "ws"),  # invalid payload
        (actor, start, "ws"),  # the same command again, in the same batch
        (actor, not_theirs, "ws"),  # the refused one again
        (actor, CommandEnvelope("batch-start-0001", "start_task", {"task_id": other}), "ws"),  # its id reused
    ])

    assert [o.ok for o in outcomes] == [True, False, False, True, False, False]
    assert outcomes[1].error["code"] == "task_not_yours"
    assert outcomes[2].error["code"] == "invalid_payload"
    assert outcomes[3].replayed and outcomes[3].result == outcomes[0].result
    assert outcomes[4].replayed and outcomes[4].error == outcomes[1].error
    assert outcomes[5].replayed and outcomes[5].error["code"] == "command_id_reused"
    with site.runtime.sessions() as session:
        assert session.get(Task, mine).state == "in_progress"
        assert session.get(Task, other).state == "assigned"
        starts = session.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "task.start", AuditEntry.entity_id == str(mine))).one()
        stored = dict(session.exec(select(DeviceCommand.command_id, DeviceCommand.ok).where(
            DeviceCommand.command_id.like("batch-%"))).all())
    assert starts == 1
    # Refusals are stored (a repeat gets the same refusal); the replay is not a new command.
    assert stored == {"batch-start-0001": True, "batch-start-0002": False, "batch-bad-0003": False}
    # Only the command that stood told the device anything, once.
    assert _events(site, device["id"])[len(before):] == [("task.updated", mine)]
