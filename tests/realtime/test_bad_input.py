"""Bad frames get an error message each and the connection stays healthy; authentication comes first."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.helpers import PASSWORD, build_site
from tests.live import LiveServer
from tests.realtime.conftest import DeviceClient, enroll_device, make_task

API = "/api/v1"


async def _healthy(client: DeviceClient, n: int) -> None:
    await client.send_raw(json.dumps({"id": f"ping-{n}", "type": "ping"}))
    assert (await client.expect(lambda m: m.get("id") == f"ping-{n}"))["type"] == "pong"


def _error(message: dict) -> str:
    return message["error"]["code"]


async def test_bad_frames_each_get_an_error_and_the_connection_stays_up(site):  # noqa: ANN001
    build_site(site, "S2")
    other_site_task = make_task(site, site="S2")
    device = enroll_device(site, "TC52-BAD")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()
    errors = lambda m: m["type"] == "error"  # noqa: E731

    cases = [
        ("{not json", "malformed_json"),
        ("[1, 2, 3]", "not_an_object"),
        (json.dumps({"id": "x1"}), "missing_type"),
        (json.dumps({"id": "x2", "type": "teleport"}), "unknown_type"),
        (json.dumps({"id": "x3", "type": "auth", "device_token": "again"}), "already_authenticated"),
        ("x" * (200 * 1024), "message_too_large"),
        (b"\xff\xfe\x00binary", "malformed_json"),
    ]
    for n, (frame, code) in enumerate(cases):
        await client.send_raw(frame)
        assert _error(await client.expect(errors)) == code, frame[:40]
        await _healthy(client, n)

    results = {
        "bad payload": await client.command("start_task", {"task_id": "seven"}),
        "extra field": await client.command("start_task", {"task_id": 1, "force": True}),
        "another site's task": await client.command("start_task", {"task_id": other_site_task}),
        "no such task": await client.command("start_task", {"task_id": 987654}),
        "bad command id": await client.command("start_task", {"task_id": 1}, command_id="x"),
    }
    assert {what: r["error"]["code"] for what, r in results.items()} == {
        "bad payload": "invalid_payload", "extra field": "invalid_payload", "another site's task": "unknown_task",
        "no such task": "unknown_task", "bad command id": "invalid_command_id"}
    assert all(r["type"] == "result" and r["ok"] is False for r in results.values())
    await _healthy(client, 99)
    # ... and it still works for real.
    task_id = make_task(site)
    assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    await client.event("task.assigned", id=task_id)
    assert (await client.command("start_task", {"task_id": task_id}))["ok"]
    await client.close()


async def test_wrong_credentials_are_refused_and_the_socket_closed(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-AUTH")
    cases = [
        DeviceClient(site.ws_url, "not-a-device-token", site.login("pick")),
        DeviceClient(site.ws_url, device["device_token"], "not-a-user-token"),
        DeviceClient(site.ws_url, device["device_token"], username="pick", password="wrong-password"),
        # A user token is not a device token.
        DeviceClient(site.ws_url, site.login("pick"), site.login("pick")),
    ]
    for client in cases:
        answer = await client.connect()
        assert answer["type"] == "error" and answer["error"]["code"] == "auth_failed"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.ws.recv()
        assert closed.value.rcvd.code == 4401
    ok = DeviceClient(site.ws_url, device["device_token"], username="pick", password=PASSWORD)
    assert (await ok.connect())["type"] == "auth_ok"
    await ok.close()


async def test_a_revoked_device_is_disconnected_and_cannot_return(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-REV")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()
    r = site.as_("sup").post(f"{API}/devices/{device['id']}/revoke")
    assert r.status_code == 200 and r.json()["revoked_at"]
    await client.event("device.revoked")
    with pytest.raises(websockets.ConnectionClosed):
        await client.ws.recv()
    again = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    assert (await again.connect())["error"]["code"] == "auth_failed"


async def test_a_silent_client_is_closed_after_the_auth_timeout(sqlite_url):  # noqa: ANN001
    server = LiveServer(sqlite_url, ws_auth_timeout_seconds=0.5).start()
    try:
        async with websockets.connect(server.ws_url + "/ws/device") as ws:
            await ws.send(json.dumps({"id": "p", "type": "ping"}))  # pings are fine, but are not auth
            assert json.loads(await ws.recv())["type"] == "pong"
            await ws.send(json.dumps({"id": "c1", "type": "start_task", "payload": {"task_id": 1}}))
            assert _error(json.loads(await ws.recv())) == "auth_required"
            message = json.loads(await ws.recv())
            assert message["type"] == "error" and _error(message) == "auth_timeout"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4408
    finally:
        server.stop()


async def test_the_wall_screen_streams_its_state_to_supervisors_only(site):  # noqa: ANN001
    async with websockets.connect(site.ws_url + "/ws/wall") as ws:
        await ws.send(json.dumps({"id": "w1", "type": "auth", "access_token": site.login("pick"), "site": "S1"}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "error" and answer["error"]["code"] == "auth_failed"
    async with websockets.connect(site.ws_url + "/ws/wall") as ws:
        await ws.send(json.dumps({"id": "w1", "type": "auth", "access_token": site.login("sup"), "site": "S1"}))
        assert json.loads(await ws.recv())["type"] == "auth_ok"
        first = json.loads(await ws.recv())
        assert first["type"] == "wall.state" and first["data"]["work"] == []
        task_id = make_task(site)
        assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
        while True:
            state = json.loads(await ws.recv())
            if state["type"] == "wall.state" and state["data"]["work"]:
                break
        pick = next(w for w in state["data"]["workers"] if w["username"] == "pick")
        assert (pick["held"], pick["done_today"], pick["task"]["id"]) == (1, 0, task_id)
        assert state["data"]["work"] == [{"zone": None, "kind": "move", "pending": 0, "assigned": 1, "in_progress": 0,
                                          "suspended": 0, "exception": 0}]


HUGE = 99999999999999999999999  # past SQLite's 2^63 and PostgreSQL's 2^31


async def test_out_of_range_numbers_and_nul_in_command_payloads_answer_invalid_payload(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-BOUNDS")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()
    pick = {"location": "R1-01", "product": "SKU-A", "tote": "T1", "quantity": 1}
    cases = {
        "task_id past 2^63": ("start_task", {"task_id": HUGE}, "task_id"),
        "task_id past 2^31": ("start_task", {"task_id": 2**31}, "task_id"),
        "tour_id": ("bind_tote", {"tour_id": HUGE, "tote_no": 1, "tote": "T1"}, "tour_id"),
        "tote_no": ("bind_tote", {"tour_id": 1, "tote_no": HUGE, "tote": "T1"}, "tote_no"),
        "quantity": ("confirm_pick", {"task_id": 1, **pick, "quantity": HUGE}, "quantity"),
        "found": ("short_pick", {"task_id": 1, "location": "R1-01", "found": HUGE, "reason": "gone"}, "found"),
        "counted quantity": ("count", {"task_id": 1, "location": "R1-01", "lines": [
            {"product": "SKU-A", "quantity": HUGE}]}, "lines.0.quantity"),
        "NUL in a location": ("confirm_pick", {"task_id": 1, **pick, "location": "R1\x00-01"}, "location"),
        "NUL in a reason": ("short_pick", {"task_id": 1, "location": "R1-01", "found": 0, "reason": "a\x00b"},
                            "reason"),
    }
    for what, (command, payload, field) in cases.items():
        result = await client.command(command, payload)
        assert result["type"] == "result" and result["ok"] is False, (what, result)
        assert result["error"]["code"] == "invalid_payload", (what, result)
        assert [d["field"] for d in result["error"]["details"]] == [field], (what, result)
    await _healthy(client, 1)
    await client.close()


async def test_nul_and_huge_numbers_in_websocket_sign_ins_are_refused_not_crashed(site):  # noqa: ANN001
    device = enroll_device(site, "TC52-NUL")
    for client in (DeviceClient(site.ws_url, device["device_token"], username="pi\x00ck", password="password-123"),
                   DeviceClient(site.ws_url, device["device_token"], username="pick", password="pass\x00word")):
        answer = await client.connect()
        assert answer["type"] == "error" and answer["error"]["code"] == "auth_failed", answer
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.ws.recv()
        assert closed.value.rcvd.code == 4401
    huge_seq = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    assert (await huge_seq.connect(last_seq=HUGE))["type"] == "auth_ok"
    assert _error(await huge_seq.expect(lambda m: m["type"] == "error")) == "seq_ahead"
    await _healthy(huge_seq, 2)
    await huge_seq.close()

    walls = [
        ({"username": "s\x00up", "password": "password-123", "site": "S1"}, "auth_failed"),
        ({"access_token": site.login("sup"), "site": "S\x001"}, "auth_failed"),
        ({"access_token": site.login("sup"), "site": "S1", "after_seq": HUGE}, "auth_ok"),
    ]
    for auth, expected in walls:
        async with websockets.connect(site.ws_url + "/ws/wall") as ws:
            await ws.send(json.dumps({"id": "w1", "type": "auth", **auth}))
            answer = json.loads(await ws.recv())
            assert answer["type"] == expected or (answer["type"] == "error" and answer["error"]["code"] == expected), \
                (auth, answer)
            if expected == "auth_ok":
                await ws.send(json.dumps({"id": "p1", "type": "ping"}))
                while (message := json.loads(await ws.recv()))["type"] != "pong":
                    assert message["type"] != "error", message
