"""Accounts over the websockets, with real clients against a served app: the worker sign-on on /ws/device and the
wall's authentication share the HTTP login's backoff and lockout (an error with retry_after), and disabling a
user, signing out or changing a password closes their live wall and signs them off their device at once."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlmodel import select

from backend.models import Device
from tests.helpers import PASSWORD, add_site_users, build_site
from tests.live import LiveServer
from tests.realtime.conftest import WAIT, DeviceClient, enroll_device

API = "/api/v1"


@pytest.fixture
def locking_site(database_url: str):  # noqa: ANN201
    """Like the `site` fixture, with a first backoff long enough that a lock still holds at the next attempt."""
    server = LiveServer(database_url, login_backoff_seconds=300).start()
    try:
        server.add_user("root", ["admin"], all_sites=True)
        build_site(server)
        add_site_users(server)
        yield server
    finally:
        server.stop()


async def _wall_auth(server, **auth) -> tuple[object, dict]:  # noqa: ANN001, ANN003
    ws = await websockets.connect(server.ws_url + "/ws/wall", max_size=None)
    await ws.send(json.dumps({"id": "a1", "type": "auth", "site": "S1", **auth}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] in ("auth_ok", "error"):
            return ws, message


async def _closed_with(ws, code: int) -> list[dict]:  # noqa: ANN001
    """Read until the server closes the socket; the messages read on the way."""
    seen = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code, (closed.value, seen[-3:])
    return seen


async def test_the_device_sign_on_is_locked_out_after_the_free_failures_with_retry_after(locking_site):  # noqa: ANN001
    site = locking_site
    device = enroll_device(site, "TC52-LOCK")
    free = site.runtime.settings.login_free_failures_per_user
    for _ in range(free):
        client = DeviceClient(site.ws_url, device["device_token"], username="pick", password="wrong-password")
        answer = await client.connect()
        assert answer["error"]["details"]["reason"] == "invalid_credentials"
        await _closed_with(client.ws, 4401)
    client = DeviceClient(site.ws_url, device["device_token"], username="pick", password=PASSWORD)
    answer = await client.connect()
    error = answer["error"]
    assert error["code"] == "auth_failed" and error["details"]["reason"] == "too_many_attempts"
    assert error["details"]["retry_after"] >= 1 and error["details"]["scope"] == "user"
    await _closed_with(client.ws, 4401)
    # The HTTP login shares the count: the right password is refused there too.
    r = site.http.post(f"{API}/auth/token", data={"username": "pick", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


async def test_the_wall_authentication_is_locked_out_after_the_free_failures_with_retry_after(locking_site):  # noqa: ANN001
    site = locking_site
    free = site.runtime.settings.login_free_failures_per_user
    for _ in range(free):
        ws, answer = await _wall_auth(site, username="sup", password="wrong-password")
        assert answer["error"]["details"]["reason"] == "invalid_credentials"
        await _closed_with(ws, 4401)
    ws, answer = await _wall_auth(site, username="sup", password=PASSWORD)
    assert answer["error"]["details"]["reason"] == "too_many_attempts" and answer["error"]["details"]["retry_after"] >= 1
    await _closed_with(ws, 4401)


async def test_disabling_a_user_closes_their_wall_and_signs_them_off_their_device_at_once(site):  # noqa: ANN001
    site.add_user("sup2", ["supervisor"], ["S1"])
    device = enroll_device(site, "TC52-OFF", worker="sup2")
    handheld = DeviceClient(site.ws_url, device["device_token"], site.login("sup2"))
    assert (await handheld.connect())["type"] == "auth_ok"
    wall, answer = await _wall_auth(site, access_token=site.login("sup2"))
    assert answer["type"] == "auth_ok"
    r = site.as_("root").post(f"{API}/users/{site.user_id('sup2')}/disable")
    assert r.status_code == 200, r.text
    told = await _closed_with(handheld.ws, 4410)
    assert {"type": "worker.signed_off", "reason": "disabled"} in [
        {"type": m["type"], "reason": m.get("data", {}).get("reason")} for m in told] or any(
        m["type"] == "error" and m["error"]["code"] == "signed_off" for m in told)
    seen = await _closed_with(wall, 4410)
    assert any(m["type"] == "error" and m["error"]["code"] == "signed_off" for m in seen)
    with site.runtime.sessions() as session:
        assert session.exec(select(Device.current_user_id).where(Device.id == device["id"])).one() is None
    # Coming back with the old token is refused.
    again = DeviceClient(site.ws_url, device["device_token"], site.tokens["sup2"])
    assert (await again.connect())["error"]["code"] == "auth_failed"


async def test_signing_out_and_changing_the_password_close_the_users_wall(site):  # noqa: ANN001
    for how in ("logout", "password"):
        token = site.login("sup")
        wall, answer = await _wall_auth(site, access_token=token)
        assert answer["type"] == "auth_ok"
        if how == "logout":
            r = site.http.post(f"{API}/auth/logout", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 204
        else:
            r = site.http.post(f"{API}/auth/password", headers={"Authorization": f"Bearer {token}"},
                               json={"current_password": PASSWORD, "new_password": "crate-lifter-5591"})
            assert r.status_code == 200, r.text
        await _closed_with(wall, 4410)
