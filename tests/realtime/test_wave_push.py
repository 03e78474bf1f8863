"""Releasing a wave pushes its first picks to signed-on handhelds that are idle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.helpers import SKU_A, add_stock
from tests.realtime.conftest import DeviceClient, enroll_device

API = "/api/v1"


async def test_an_idle_handheld_gets_picks_when_a_wave_is_released(site):  # noqa: ANN001
    add_stock(site, "S1", "PF-01", SKU_A, 20)
    soon = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    r = site.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": "SO-W1", "cut_off": soon, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 3}]}]})
    assert r.status_code == 201, r.text
    device = enroll_device(site, "TC52-W")
    client = DeviceClient(site.ws_url, device["device_token"], site.login("pick"))
    await client.connect()
    sup = site.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1"}).json()
    released = sup.post(f"{API}/waves/{wave['id']}/release")
    assert released.status_code == 200, released.text
    pushed = await client.event("task.assigned")
    task = pushed["data"]["task"]
    assert (task["kind"], task["from_location"], task["quantity"], task["sku"]) == ("pick", "PF-01", 3, SKU_A)
    await client.close()
