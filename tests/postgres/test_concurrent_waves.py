"""Concurrent wave releases on PostgreSQL never reserve more than is on hand."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import func, select

from backend.inventory.ledger import ledger_disagreements
from backend.models import Quant, Reservation, Site
from tests.conftest import Api
from tests.helpers import SKU_C, add_site_users, add_stock, build_site

pytestmark = pytest.mark.postgres


def test_two_waves_released_at_once_never_over_reserve(pg_api: Api) -> None:
    build_site(pg_api)
    add_site_users(pg_api)
    r = pg_api.as_("root").post("/api/v1/locations", json={"site": "S1", "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C}]})
    assert r.status_code == 200
    add_stock(pg_api, "S1", "PF-03", SKU_C, 50)
    soon = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    orders = [{"reference": f"SO-{carrier}-{n}", "carrier": carrier, "cut_off": soon,
               "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 10}]}
              for carrier in ("DHL", "UPS") for n in range(4)]
    assert pg_api.as_("integ").post("/api/v1/orders", json={"site": "S1", "orders": orders}).status_code == 201
    sup = pg_api.as_("sup")
    # Both plans see all 50 units free: each would take 40.
    waves = [sup.post("/api/v1/waves", json={"site": "S1", "carriers": [c]}).json() for c in ("DHL", "UPS")]
    assert [w["orders"] for w in waves] == [4, 4]

    token = pg_api.login("sup")
    start = threading.Barrier(2)
    statuses: list[int] = []

    def release(wave_id: int) -> None:
        start.wait()
        response = pg_api.client.post(f"/api/v1/waves/{wave_id}/release", headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=release, args=(w["id"],)) for w in waves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]

    with pg_api.runtime.sessions() as session:
        quant = session.exec(select(Quant)).one()
        reserved_rows = session.exec(select(func.sum(Reservation.quantity))).one()
        assert quant.on_hand == 50
        assert quant.reserved == 50 == reserved_rows
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        assert ledger_disagreements(session, site.id) == []
    picks = sup.get("/api/v1/tasks", params={"site": "S1", "kind": "pick"}).json()["data"]
    assert sum(p["quantity"] for p in picks) == 50
