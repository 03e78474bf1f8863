"""Concurrency on PostgreSQL: many receivers on one ASN line, and on the last lines of one ASN."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from backend.auth.principal import load_principal
from backend.db import unit_of_work
from backend.errors import DomainError
from backend.inventory.ledger import ledger_disagreements
from backend.models import InboundLine, InboundShipment, Quant, Site, User
from backend.receiving.service import Receiver, ReceiveRequest
from tests.conftest import Api
from tests.helpers import SKU_C, add_site_users, build_site, sscc

pytestmark = pytest.mark.postgres


def test_twenty_concurrent_receipts_never_pass_the_line_tolerance(pg_api: Api) -> None:
    build_site(pg_api, tolerance=10.0)
    add_site_users(pg_api)
    r = pg_api.as_("integ").post("/api/v1/inbound-shipments", json={
        "site": "S1", "reference": "ASN-RACE", "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 40}]})
    assert r.status_code == 201, r.text
    runtime = pg_api.runtime
    with runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        receiver = load_principal(session, session.exec(select(User).where(User.username == "recv")).one())

    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def receive_three() -> None:
        start.wait()
        try:
            with unit_of_work(runtime.sessions) as session:
                Receiver(session, runtime.settings, receiver, session.get(Site, site.id)).receive(
                    ReceiveRequest(dock="DOCK-1", sku=SKU_C, quantity=3, shipment="ASN-RACE"))
            result = "ok"
        except DomainError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=receive_three) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # 40 announced + 10 % = 44 at most: 14 receipts of 3 fit, the rest are over-receipts.
    assert outcomes.count("ok") == 14
    assert outcomes.count("over_receipt") == 6
    with runtime.sessions() as session:
        line = session.exec(select(InboundLine)).one()
        assert line.quantity_received == 42
        on_hand = sum(q.on_hand for q in session.exec(select(Quant).where(Quant.site_id == site.id)).all())
        assert on_hand == 42
        assert ledger_disagreements(session, site.id) == []


def test_the_same_asn_posted_twice_at_once_is_created_once(pg_api: Api) -> None:
    build_site(pg_api)
    add_site_users(pg_api)
    body = {"site": "S1", "reference": "ASN-TWICE", "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 5}]}
    token = pg_api.login("integ")
    start = threading.Barrier(6)
    statuses: list[int] = []

    def post() -> None:
        start.wait()
        response = pg_api.client.post("/api/v1/inbound-shipments", json=body,
                                      headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 200, 200, 201]
    listed = pg_api.as_("integ").get("/api/v1/inbound-shipments", params={"site": "S1", "reference": "ASN-TWICE"})
    assert listed.json()["count"] == 1


def test_receivers_finishing_the_last_lines_of_an_asn_at_once_leave_it_received(pg_api: Api) -> None:
    build_site(pg_api)
    add_site_users(pg_api)
    receivers, repetitions = 3, 30
    # Lines 1 and 3 come on announced pallets (an SSCC scan), line 2 as cases named by line number.
    for rep in range(repetitions):
        lines = [{"line_no": n + 1, "sku": SKU_C, "quantity": 5,
                  **({"sscc": sscc(rep * receivers + n + 1)} if n % 2 == 0 else {})} for n in range(receivers)]
        r = pg_api.as_("integ").post("/api/v1/inbound-shipments", json={
            "site": "S1", "reference": f"ASN-LAST-{rep}", "lines": lines})
        assert r.status_code == 201, r.text
    runtime = pg_api.runtime
    with runtime.sessions() as session:
        site_id = session.exec(select(Site).where(Site.code == "S1")).one().id
        receiver = load_principal(session, session.exec(select(User).where(User.username == "recv")).one())

    start = threading.Barrier(receivers, timeout=120)  # (a safety net against a hang, not a measure)
    failures: list[str] = []

    def receive_own_line(n: int) -> None:
        for rep in range(repetitions):
            if n % 2 == 0:
                request = ReceiveRequest(dock="DOCK-1", scan=sscc(rep * receivers + n + 1))
            else:
                request = ReceiveRequest(dock="DOCK-1", sku=SKU_C, quantity=5, shipment=f"ASN-LAST-{rep}",
                                         line_no=n + 1)
            start.wait()
            try:
                with unit_of_work(runtime.sessions) as session:
                    Receiver(session, runtime.settings, receiver, session.get(Site, site_id)).receive(request)
            except Exception as exc:  # noqa: BLE001  (a deadlock or a refusal is a failure to report, not a crash)
                failures.append(f"ASN-LAST-{rep} line {n + 1}: {exc!r}")

    threads = [threading.Thread(target=receive_own_line, args=(n,)) for n in range(receivers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    with runtime.sessions() as session:
        shipments = session.exec(select(InboundShipment).where(InboundShipment.site_id == site_id)).all()
        assert len(shipments) == repetitions
        assert {s.reference: s.status for s in shipments if s.status != "received"} == {}
        assert all(line.quantity_received == 5 for line in session.exec(select(InboundLine)).all())
        assert ledger_disagreements(session, site_id) == []
