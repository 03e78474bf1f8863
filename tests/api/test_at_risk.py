"""Orders at risk of missing their cut-off (backend.insights.at_risk), on SQLite and PostgreSQL, on a fixed clock.

Pickers' pace is scripted as done picks in the last hour (12 each: 12 lines/h), so every reason and action
below is computed by hand: with 2 pickers a line in zone PF takes 2.5 min, with 3 pickers 1.67 min; packing and
shipping take 15 min, the margin is 10 min.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.app import create_app
from backend.insights.at_risk import orders_at_risk, predict, sweep, sweep_site
from backend.models import AuditEntry, Device, Location, Order, OrderLine, OrderRiskPrediction, Site, Task, User, Zone
from tests.api.test_outbound_flow import _orders, _outbound_site
from tests.api.test_packing_station import _load, _packed_in_two_cartons
from tests.api.test_execution_flow import _one
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_B, SKU_C

API = "/api/v1"


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """The app with its background sweep off: each test sweeps on its own clock."""
    with TestClient(create_app(make_settings(database_url, at_risk_sweep_seconds=0))) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def _t0() -> datetime:
    """The fixed clock: the next whole second (after every pick made so far)."""
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)


def _order(reference: str, cut_off: datetime, skus: list[tuple[str, int]], **extra) -> dict:  # noqa: ANN003
    return {"reference": reference, "cut_off": cut_off.isoformat(), "carrier": "DHL",
            "lines": [{"line_no": n, "sku": sku, "quantity": qty} for n, (sku, qty) in enumerate(skus, 1)], **extra}


def _site_id(api: Api) -> int:
    with api.runtime.sessions() as session:
        return session.exec(select(Site.id).where(Site.code == "S1")).one()


def _picked_lately(api: Api, username: str, zone: str, location: str, count: int, now: datetime,
                   every: timedelta = timedelta(minutes=4)) -> None:
    """`count` picks done by the worker in the zone, the latest one `every` before `now`, then one each `every`."""
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        zone_id = session.exec(select(Zone.id).where(Zone.site_id == site_id, Zone.code == zone)).one()
        loc_id = session.exec(select(Location.id).where(Location.code == location)).one()
        user_id = session.exec(select(User.id).where(User.username == username)).one()
        for k in range(1, count + 1):
            done = now - every * k
            session.add(Task(site_id=site_id, kind="pick", state="done", zone_id=zone_id, from_location_id=loc_id,
                             assigned_to=user_id, quantity=1, reference="history", created_at=done, updated_at=done,
                             done_at=done))
        session.commit()


def _release_all(api: Api) -> None:
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}})
    assert wave.status_code == 201, wave.text
    assert sup.post(f"{API}/waves/{wave.json()['id']}/release").status_code == 200


def _backlog(api: Api, t0: datetime) -> None:
    """Zone PF: EARLY (3 lines, cut-off in 21 min) and NEAR (3 lines, 23 min) released, then COMFY (2 lines,
    6 h); LATE (2 lines, 44 min) allocated, not released; HELD on hold (50 min). pick and pick2 picked 12 lines in
    PF in the last hour; pick3 picks in RES, where nothing waits."""
    _outbound_site(api)
    api.add_user("pick2", ["picker"], ["S1"])
    api.add_user("pick3", ["picker"], ["S1"])
    minutes = lambda m: t0 + timedelta(minutes=m)  # noqa: E731
    abc = [(SKU_A, 1), (SKU_B, 1), (SKU_C, 1)]
    r = _orders(api, [_order("EARLY", minutes(21), abc), _order("NEAR", minutes(23), abc),
                      _order("COMFY", minutes(360), [(SKU_B, 1), (SKU_C, 1)]),
                      _order("HELD", minutes(50), [(SKU_C, 1)])])
    assert r.status_code == 201, r.text
    assert api.as_("sup").post(f"{API}/orders/HELD/hold", json={"site": "S1"}).status_code == 200
    _release_all(api)
    assert _orders(api, [_order("LATE", minutes(44), [(SKU_A, 1), (SKU_C, 1)])]).status_code == 201
    r = api.as_("sup").post(f"{API}/orders/allocate", json={"site": "S1", "references": ["LATE"]})
    assert r.status_code == 200 and r.json()["reservations"] == 2, r.text
    _picked_lately(api, "pick", "PF", "PF-01", 12, t0)
    _picked_lately(api, "pick2", "PF", "PF-02", 12, t0)
    _picked_lately(api, "pick3", "RES", "R1-02", 5, t0, every=timedelta(minutes=2))


def _at_risk(api: Api, now: datetime) -> list[dict]:
    with api.runtime.sessions() as session:
        return orders_at_risk(session, _site_id(api), now, api.runtime.settings)


def test_a_backlog_near_its_cut_off_is_flagged_with_the_reason_and_what_to_do(api):  # noqa: ANN001
    t0 = _t0()
    _backlog(api, t0)

    found = _at_risk(api, t0)

    assert [(a["order"], a["minutes_left"], a["remaining_lines"], a["zones"], a["reason"]) for a in found] == [
        # 3 lines ahead (EARLY) + its 3: 15 min of picking + 15 min packing = 30 > 23.
        ("NEAR", 23.0, 3, ["PF"], "6 lines in zone PF, 2 pickers at 12 lines/h, cut-off in 23 min: misses it by 7 min"),
        ("EARLY", 21.0, 3, ["PF"],
         "3 lines in zone PF, 2 pickers at 12 lines/h, cut-off in 21 min: misses it by 2 min"),
        ("LATE", 44.0, 2, ["PF"], "not released: 8 lines in zone PF, 2 pickers at 12 lines/h, cut-off in 44 min: "
                                  "only 9 min to spare"),
        ("HELD", 50.0, 1, [], "on hold, cut-off in 50 min: nothing is picked while it is held"),
    ]
    actions = {a["order"]: a["action"] for a in found}
    # A third picker makes EARLY (5 + 15 = 20 min ≤ 21), not NEAR (10 + 15 = 25 > 23).
    assert actions["EARLY"] == {
        "kind": "move_picker", "label": "Move pick3 to zone PF: zone RES keeps its orders on time without them",
        "method": "PUT", "path": f"{API}/workers/pick3",
        "body": {"site": "S1", "zones": ["PF"], "skills": [], "equipment": []}}
    assert actions["NEAR"] == {"kind": "none", "label": "Will miss it by 2 min whatever is done: tell the carrier",
                               "method": None, "path": None, "body": None}
    assert actions["LATE"] == {"kind": "release_now", "label": "Release LATE now, in a wave of its own",
                               "method": "POST", "path": f"{API}/at-risk/LATE/release", "body": {"site": "S1"}}
    assert actions["HELD"]["kind"] == "none" and actions["HELD"]["method"] is None
    # COMFY (6 h away, 10 lines through PF: 40 min) is not at risk.
    assert "COMFY" not in actions

    listed = api.as_("sup").get(f"{API}/at-risk", params={"site": "S1"})
    assert listed.status_code == 200, listed.text
    assert [(a["order"], a["action"]["kind"]) for a in listed.json()["data"]] == [
        ("NEAR", "none"), ("EARLY", "move_picker"), ("LATE", "release_now"), ("HELD", "none")]


def _tap(client, action: dict):  # noqa: ANN001, ANN202
    """What the desk does when the action is tapped: its one call, as given."""
    return {"POST": client.post, "PUT": client.put}[action["method"]](action["path"], json=action["body"])


def test_one_tap_releases_the_order_and_moves_the_picker(api):  # noqa: ANN001
    t0 = _t0()
    _backlog(api, t0)
    actions = {a["order"]: a["action"] for a in _at_risk(api, t0)}
    sup = api.as_("sup")

    released = _tap(sup, actions["LATE"])
    moved = _tap(sup, actions["EARLY"])

    assert released.status_code == 200, released.text
    assert (released.json()["order"], released.json()["status"], released.json()["picks"]) == ("LATE", "released", 2)
    with api.runtime.sessions() as session:
        late = session.exec(select(Order).where(Order.reference == "LATE")).one()
        picks = session.exec(select(Task).join(OrderLine, OrderLine.id == Task.order_line_id)
                             .where(OrderLine.order_id == late.id, Task.kind == "pick")).all()
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "order.release_now")).all()
    assert late.status == "in_wave" and late.wave_id == released.json()["wave_id"]
    assert sorted((t.state, t.quantity) for t in picks) == [("pending", 1), ("pending", 1)]
    assert [(a.entity_id, a.after["wave_id"]) for a in audited] == [(str(late.id), late.wave_id)]
    again = _tap(sup, actions["LATE"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_releasable"

    assert moved.status_code == 200, moved.text
    workers = {w["username"]: w for w in sup.get(f"{API}/workers", params={"site": "S1"}).json()["data"]}
    assert workers["pick3"]["zones"] == ["PF"]
    # pick3 now counts in PF: EARLY is picked in time, still within the margin.
    after = {a["order"]: a for a in _at_risk(api, t0)}
    assert after["EARLY"]["reason"] == ("3 lines in zone PF, 3 pickers at 12 lines/h, cut-off in 21 min: "
                                        "only 1 min to spare")


def test_part_of_an_order_that_can_make_the_truck_is_named_and_an_idle_picker_is_sent(api):  # noqa: ANN001
    t0 = _t0()
    _outbound_site(api)
    api.add_user("pick2", ["picker"], ["S1"])
    # 24 × A are two full cases from reserve (zone RES, nobody there); 1 × C from the pick face (PF).
    r = _orders(api, [_order("SPLIT", t0 + timedelta(minutes=30), [(SKU_A, 24), (SKU_C, 1)]),
                      _order("WHOLE", t0 + timedelta(minutes=31), [(SKU_A, 24), (SKU_C, 1)],
                             backorder_policy="ship_complete")])
    assert r.status_code == 201, r.text
    _release_all(api)
    _picked_lately(api, "pick", "PF", "PF-01", 12, t0)

    found = {a["order"]: a for a in _at_risk(api, t0)}

    assert found["SPLIT"]["reason"] == "1 line in zone RES, no picker there, cut-off in 30 min: misses it"
    assert found["SPLIT"]["zones"] == ["PF", "RES"]
    assert found["SPLIT"]["action"] == {
        "kind": "split_order", "label": "Line 2 can make the truck, line 1 cannot (zone RES): split the order in the "
                                        "system it came from and ship the first part — orders are not split here",
        "method": None, "path": None, "body": None}
    # Shipped complete or not at all: one picker in RES would do (2 lines at 60 lines/h), nobody can go.
    assert found["WHOLE"]["action"]["label"] == ("Misses it unless a picker joins zone RES, and none is idle or can "
                                                 "be spared: tell the carrier")

    site_id = _site_id(api)
    with api.runtime.sessions() as session:  # pick2 signs on at a handheld and holds nothing
        pick2 = session.exec(select(User.id).where(User.username == "pick2")).one()
        session.add(Device(site_id=site_id, name="TC52-7", kind="handheld", current_user_id=pick2))
        session.commit()
    sent = {a["order"]: a["action"] for a in _at_risk(api, t0)}

    assert sent["SPLIT"]["kind"] == sent["WHOLE"]["kind"] == "move_picker"
    assert sent["SPLIT"]["label"] == "Move pick2 (idle) to zone RES"
    assert sent["SPLIT"]["body"] == {"site": "S1", "zones": ["RES"], "skills": [], "equipment": []}

    assert _tap(api.as_("sup"), sent["SPLIT"]).status_code == 200
    after = {a["order"]: a for a in _at_risk(api, t0)}

    # pick2 picks in RES now (at the site default: nobody picked there yet): SPLIT is out in 1 + 15 min of its 30.
    assert "SPLIT" not in after
    assert after["WHOLE"]["reason"] == ("2 lines in zone PF, 1 picker at 12 lines/h, cut-off in 31 min: "
                                        "only 6 min to spare")


def _rows(api: Api) -> list[tuple]:
    with api.runtime.sessions() as session:
        return [(order, r.at_risk, r.action, r.outcome) for r, order in session.exec(
            select(OrderRiskPrediction, Order.reference).join(Order, Order.id == OrderRiskPrediction.order_id)
            .order_by(OrderRiskPrediction.id)).all()]


def test_predictions_are_recorded_on_change_and_scored_once_orders_ship_or_miss(api):  # noqa: ANN001
    one, two = _packed_in_two_cartons(api)  # SO-9, cut-off in 3 h, packed
    t0 = _t0()
    r = _orders(api, [_order("MISSME", t0 + timedelta(minutes=5), [(SKU_C, 1)]),
                      _order("GONE", t0 + timedelta(minutes=6), [(SKU_C, 1)]),
                      _order("OKAY", t0 + timedelta(hours=2), [(SKU_C, 1)])])
    assert r.status_code == 201, r.text

    alerts = sweep(api.runtime, t0)
    quiet = sweep(api.runtime, t0 + timedelta(seconds=30))

    assert sorted(a["order"] for a in alerts["S1"]) == ["GONE", "MISSME"]
    assert {a["action"]["kind"] for a in alerts["S1"]} == {"release_now"}
    assert quiet == {"S1": []}
    # OKAY and SO-9 are not flagged: nothing written for them.
    assert sorted(_rows(api)) == [("GONE", True, "release_now", None), ("MISSME", True, "release_now", None)]
    assert api.as_("sup").post(f"{API}/orders/GONE/cancel", json={"site": "S1"}).status_code == 200
    assert sweep(api.runtime, t0 + timedelta(seconds=60)) == {"S1": []}
    assert _rows(api)[-1] == ("GONE", False, "none", None)  # the flag is lifted, once
    assert sweep(api.runtime, t0 + timedelta(seconds=90)) == {"S1": []} and len(_rows(api)) == 3

    assert _load(api, "SHIP-1", one)["ok"] and _load(api, "SHIP-1", two)["ok"]
    shipped = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})
    assert shipped["ok"], shipped.get("error")
    assert _rows(api)[-1] == ("SO-9", False, "none", "made")  # scored at the ship: never flagged, made it

    assert sweep_site(api.runtime, _site_id(api), t0 + timedelta(hours=4)) == []
    assert sorted(_rows(api)) == [("GONE", False, "none", None), ("GONE", True, "release_now", None),
                                  ("MISSME", True, "release_now", "missed"), ("OKAY", False, "none", "missed"),
                                  ("SO-9", False, "none", "made")]  # cancelled orders are not scored

    period = {"site": "S1", "from": (t0 - timedelta(hours=1)).isoformat(), "to": (t0 + timedelta(hours=5)).isoformat()}
    rate = api.as_("sup").get(f"{API}/at-risk/hit-rate", params=period)
    assert rate.status_code == 200, rate.text
    # MISSME flagged and missed, SO-9 not flagged and made it: hits; OKAY not flagged and missed: wrong.
    body = rate.json()
    assert {k: v for k, v in body.items() if k not in ("from", "to")} == {
        "site": "S1", "scored": 3, "hits": 2, "hit_rate": 0.6667, "flagged": 1, "flagged_missed": 1}
    assert datetime.fromisoformat(body["to"]) == t0 + timedelta(hours=5)
    # The hit rate is a KPI too, over the same orders.
    kpis = api.as_("sup").get(f"{API}/kpis", params=period)
    assert kpis.status_code == 200, kpis.text
    assert kpis.json()["tables"]["at_risk_predictions"]["rows"] == [
        {"scored": 3, "hits": 2, "hit_rate": 0.6667, "flagged": 1, "flagged_missed": 1}]
    backwards = api.as_("sup").get(f"{API}/at-risk/hit-rate", params={**period, "from": period["to"]})
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_period"


def test_only_the_site_s_supervisors_and_admins_see_and_act(api):  # noqa: ANN001
    t0 = _t0()
    _backlog(api, t0)
    root = api.as_("root")
    r = root.post(f"{API}/sites", json={"code": "S2", "name": "Site two", "company": "C1"})
    assert r.status_code == 201, r.text
    api.add_user("sup2", ["supervisor"], ["S2"])
    other, picker = api.as_("sup2"), api.as_("pick")

    for call in (lambda c: c.get(f"{API}/at-risk", params={"site": "S1"}),
                 lambda c: c.get(f"{API}/at-risk/hit-rate", params={"site": "S1"}),
                 lambda c: c.post(f"{API}/at-risk/LATE/release", json={"site": "S1"})):
        refused = call(other)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "site_not_found"
        forbidden = call(picker)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "role_forbidden"
    assert other.get(f"{API}/at-risk", params={"site": "S2"}).json()["data"] == []
    assert root.get(f"{API}/at-risk", params={"site": "S1"}).status_code == 200
    with api.runtime.sessions() as session:
        late = session.exec(select(Order).where(Order.reference == "LATE")).one()
    assert late.wave_id is None


def test_a_shift_just_starting_is_not_read_as_a_rate_of_one_line_an_hour(api):  # noqa: ANN001
    """One pick in the first minutes of a shift is too little to measure a pace: the site's default rate is used,
    and the reason says so (the demo's wall once called every order lost at "1 picker at 1 lines/h")."""
    t0 = _t0()
    _outbound_site(api)
    assert _orders(api, [_order("SOON", t0 + timedelta(minutes=30), [(SKU_A, 1), (SKU_B, 1), (SKU_C, 1)])]
                   ).status_code == 201
    _release_all(api)
    _picked_lately(api, "pick", "PF", "PF-01", 1, t0, every=timedelta(seconds=30))

    found = {a["order"]: a for a in _at_risk(api, t0)}

    # 3 lines at 60 lines/h: 3 min of picking + 15 min packing = 18 min, 12 min to spare: not at risk.
    assert "SOON" not in found
    with api.runtime.sessions() as session:
        reasons = {p.order.reference: p.reason for p in predict(session, _site_id(api), t0, api.runtime.settings)}
    assert reasons["SOON"] == ("3 lines in zone PF, 1 picker at 60 lines/h (site default: too few picks there in the "
                               "last hour to go by), cut-off in 30 min: 12 min to spare")
