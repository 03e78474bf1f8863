"""The supervisor desk's routes: unassign, tour reassign, candidates, exception detail, floor map, heat, location
detail and wave preview — their answers, their refusals in plain words, and who may ask, on SQLite and PostgreSQL.
The last tests watch real device websockets: an action reaches the affected handhelds at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import select

from backend.models import AuditEntry, Device, Location, Site, Task, Tour, User, WarehouseException, Wave, Zone
from tests.api.test_execution_flow import _count_task, _one
from tests.api.test_outbound_flow import STANDARD, _orders, _outbound_site
from tests.helpers import SKU_A, SKU_C, add_site_users, build_site, gtin13, gtin14_case, sscc
from tests.realtime.conftest import DeviceClient, enroll_device, live  # noqa: F401  (the live server fixture)

API = "/api/v1"


def _task(api, *, kind: str = "pick", site: str = "S1", location: str = "PF-01", zone: str | None = "PF",  # noqa: ANN001
          **fields) -> int:  # noqa: ANN003
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == site)).one()
        loc = session.exec(select(Location).where(Location.site_id == site_id, Location.code == location)).one()
        zone_id = session.exec(select(Zone.id).where(Zone.site_id == site_id, Zone.code == zone)).one() if zone \
            else None
        task = Task(site_id=site_id, kind=kind, from_location_id=loc.id, zone_id=zone_id, **fields)
        session.add(task)
        session.commit()
        return task.id


def _sign_on(api, username: str, site: str = "S1", kind: str = "handheld") -> None:  # noqa: ANN001
    """The worker is signed on at a device of the site (as a device's websocket sign-on leaves it)."""
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == site)).one()
        user_id = session.exec(select(User.id).where(User.username == username)).one()
        session.add(Device(site_id=site_id, name=f"{kind}-{username}", kind=kind, current_user_id=user_id,
                           last_seen_at=datetime.now(timezone.utc)))
        session.commit()


def _desk_site(api) -> None:  # noqa: ANN001
    build_site(api)
    add_site_users(api)
    api.add_user("pick2", ["picker"], ["S1"])


# --- unassign --------------------------------------------------------------------------------------


def test_unassign_puts_a_held_task_back_in_the_pool_and_explains_a_stale_or_pointless_one(api):  # noqa: ANN001
    _desk_site(api)
    sup = api.as_("sup")
    task_id = _task(api, kind="move", location="R1-01", zone="RES")
    assigned = sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"})
    assert assigned.status_code == 200, assigned.text
    version = assigned.json()["version"]

    stale = sup.post(f"{API}/tasks/{task_id}/unassign", json={"expected_version": version - 1})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["message"] == (f"Task {task_id} was changed meanwhile (now held by pick): "
                                                "refresh and try again")

    freed = sup.post(f"{API}/tasks/{task_id}/unassign", json={"expected_version": version})
    assert freed.status_code == 200, freed.text
    assert (freed.json()["state"], freed.json()["assigned_to"], freed.json()["version"]) == ("pending", None,
                                                                                            version + 1)
    again = sup.post(f"{API}/tasks/{task_id}/unassign", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert again.json()["error"]["message"] == (f"Task {task_id} is waiting in the pool and held by nobody: there "
                                                "is nothing to unassign")
    with api.runtime.sessions() as session:
        actions = session.exec(select(AuditEntry.action, AuditEntry.user_id).where(
            AuditEntry.entity == "task", AuditEntry.entity_id == str(task_id)).order_by(AuditEntry.id)).all()
        sup_id = session.exec(select(User.id).where(User.username == "sup")).one()
    assert actions == [("task.assign", sup_id), ("task.unassign", sup_id)]


def test_refusals_of_finished_tasks_read_as_plain_words(api):  # noqa: ANN001
    _desk_site(api)
    sup = api.as_("sup")
    task_id = _task(api, kind="move", location="R1-01", zone="RES", state="done")
    refused = sup.post(f"{API}/tasks/{task_id}/reassign", json={"username": "pick"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"
    assert refused.json()["error"]["message"] == f"Task {task_id} is already done: it can't be given to anyone now."
    refused = sup.post(f"{API}/tasks/{task_id}/reprioritise", json={"priority": 1})
    assert refused.json()["error"]["message"] == f"Task {task_id} is already done: its priority can't change any more"


def test_the_task_list_filters_by_zone_and_holder_and_names_both(api):  # noqa: ANN001
    _desk_site(api)
    sup = api.as_("sup")
    in_pf = _task(api)
    no_zone = _task(api, kind="move", location="R1-01", zone=None)
    assert sup.post(f"{API}/tasks/{no_zone}/assign", json={"username": "pick"}).status_code == 200
    ids = lambda **params: [t["id"] for t in sup.get(f"{API}/tasks", params={"site": "S1", **params}).json()["data"]]  # noqa: E731
    assert ids(zone="PF") == [in_pf]
    assert ids(zone="none") == [no_zone]
    assert ids(assigned_to="pick") == [no_zone]
    assert ids(assigned_to="nobody") == []
    (row,) = sup.get(f"{API}/tasks", params={"site": "S1", "assigned_to": "pick"}).json()["data"]
    assert (row["assigned_username"], row["zone"], row["tour_id"]) == ("pick", None, None)
    assert sup.get(f"{API}/tasks/{in_pf}").json()["zone"] == "PF"


# --- candidates ------------------------------------------------------------------------------------


def test_candidates_are_the_sites_workers_each_eligible_or_told_why_not(api):  # noqa: ANN001
    _desk_site(api)
    api.add_user("pick3", ["picker"], ["S1"])
    api.add_user("packer", ["packer"], ["S1"])
    sup = api.as_("sup")
    assert sup.put(f"{API}/workers/pick2", json={"site": "S1", "zones": ["RES"], "skills": [],
                                                 "equipment": []}).status_code == 200
    for username in ("pick", "pick2", "recv", "packer"):
        _sign_on(api, username)
    held = _task(api, kind="move", location="R1-01", zone="RES")
    assert sup.post(f"{API}/tasks/{held}/assign", json={"username": "pick"}).status_code == 200
    task_id = _task(api)  # a pick in zone PF

    r = sup.get(f"{API}/tasks/{task_id}/candidates")
    assert r.status_code == 200, r.text
    by_name = {c["username"]: c for c in r.json()["data"]}
    assert by_name["pick"] == {"username": "pick", "eligible": True, "why_not": None, "held": 1, "zone": "RES",
                               "signed_on": True}
    assert by_name["pick2"]["why_not"] == "pick2 does not work in this task's zone"
    assert by_name["pick3"]["why_not"] == "pick3 is not signed on at a device here now"
    assert by_name["recv"]["why_not"] == "recv is a receiver: pick work is not theirs"
    assert by_name["packer"]["why_not"] == "packer is a packer: pick work is not theirs"
    assert "integ" not in by_name  # an integration user does no floor work
    names = [c["username"] for c in r.json()["data"]]
    assert names.index("pick") < min(names.index(n) for n in ("pick2", "pick3", "recv", "packer"))

    assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    mine = {c["username"]: c for c in sup.get(f"{API}/tasks/{task_id}/candidates").json()["data"]}["pick"]
    assert (mine["eligible"], mine["why_not"], mine["held"]) == (False, "pick holds this task now", 2)


# --- exceptions ------------------------------------------------------------------------------------


def test_an_over_receipts_detail_shows_who_where_the_scan_and_the_stock_before_and_after_approval(api):  # noqa: ANN001
    _desk_site(api)
    r = api.as_("integ").post(f"{API}/inbound-shipments", json={"site": "S1", "reference": "ASN-1", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)}]})
    assert r.status_code == 201, r.text
    recv, sup = api.as_("recv"), api.as_("sup")
    assert recv.post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": sscc(1)}).status_code == 201
    extra = recv.post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": gtin14_case(1)})
    assert extra.status_code == 409, extra.text
    exception_id = extra.json()["error"]["details"]["exception_id"]

    detail = sup.get(f"{API}/exceptions/{exception_id}/detail")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["kind"], body["state"], body["who"], body["where"], body["scanned"]) == (
        "over_receipt", "open", "recv", "DOCK-1", gtin14_case(1))
    assert (body["stock_before"], body["stock_after"]) == (48, 60)  # 48 at the dock now, +12 if approved
    assert body["stock_lines"] == [{"sku": SKU_A, "lot": None, "location": "DOCK-1", "before": 48, "after": 60}]
    assert body["effect"] == f"approving receives 12 × {SKU_A} at DOCK-1"

    assert sup.post(f"{API}/exceptions/{exception_id}/approve", json={"note": "ok"}).status_code == 200
    body = sup.get(f"{API}/exceptions/{exception_id}/detail").json()
    assert (body["state"], body["resolved_by_name"], body["stock_before"], body["stock_after"]) == (
        "approved", "sup", 48, 60)


def test_a_count_variances_detail_shows_what_was_counted_against_the_stock(api):  # noqa: ANN001
    _outbound_site(api)
    counted = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                          "lines": [{"product": gtin13(3), "quantity": 40}]})
    assert counted["result"]["status"] == "awaiting_approval", counted
    body = api.as_("sup").get(f"{API}/exceptions/{counted['result']['exception_id']}/detail").json()
    assert (body["who"], body["where"], body["scanned"], body["stock_before"], body["stock_after"]) == (
        "pick", "PF-03", f"{SKU_C}: 40", 50, 40)
    assert body["effect"] == "approving books the counted quantities at PF-03"


# --- the floor map ---------------------------------------------------------------------------------


def test_the_floor_map_has_every_location_its_aisles_and_bounds(api):  # noqa: ANN001
    _desk_site(api)
    r = api.as_("sup").get(f"{API}/sites/S1/floor-map")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bounds"] == {"min_x": 0.0, "min_y": 0.0, "max_x": 12.0, "max_y": 8.0}
    assert {"code": "R2-03", "kind": "reserve", "zone": "RES", "aisle": "A2", "x": 8.0, "y": 8.0} in body["locations"]
    assert {"code": "DOCK-1", "kind": "dock", "zone": "DOCK", "aisle": None, "x": 0.0, "y": 0.0} in body["locations"]
    assert len(body["locations"]) == 12
    assert body["aisles"] == [{"aisle": f"A{n}", "x0": 4.0 * n, "y0": 4.0, "x1": 4.0 * n, "y1": 8.0}
                              for n in (1, 2, 3)]


def test_the_heat_map_counts_pick_lines_done_per_aisle_in_the_period(api):  # noqa: ANN001
    _desk_site(api)
    now = datetime.now(timezone.utc)
    for location, minutes_ago in (("R1-01", 10), ("R1-02", 20), ("R2-01", 30), ("R1-01", 300), ("PF-01", 5)):
        _task(api, location=location, zone=None, state="done", done_at=now - timedelta(minutes=minutes_ago))
    _task(api, location="R3-01", zone=None, state="pending")  # not done: not counted
    sup = api.as_("sup")
    r = sup.get(f"{API}/sites/S1/floor-map/heat", params={"from": (now - timedelta(hours=1)).isoformat(),
                                                           "to": now.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["aisles"] == [{"aisle": "A1", "picks": 2}, {"aisle": "A2", "picks": 1}, {"aisle": "A3", "picks": 0}]
    assert r.json()["outside_aisles"] == 1  # PF-01 has no aisle label
    day = sup.get(f"{API}/sites/S1/floor-map/heat", params={"from": (now - timedelta(hours=6)).isoformat()}).json()
    assert day["aisles"][0] == {"aisle": "A1", "picks": 3}
    backwards = sup.get(f"{API}/sites/S1/floor-map/heat", params={"from": now.isoformat(),
                                                                   "to": (now - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_period"
    naive = sup.get(f"{API}/sites/S1/floor-map/heat", params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["error"]["code"] == "validation_failed"


def test_a_locations_detail_has_its_stock_open_tasks_and_last_count(api):  # noqa: ANN001
    _outbound_site(api)
    sup = api.as_("sup")
    first = _one(api, "pick", "count", {"task_id": _count_task(api, "PF-03"), "location": "PF-03",
                                        "lines": [{"product": gtin13(3), "quantity": 49}]})
    assert first["result"]["status"] == "posted", first
    open_task = _task(api, kind="move", location="PF-03", zone="PF")
    assert sup.post(f"{API}/tasks/{open_task}/assign", json={"username": "pick"}).status_code == 200

    r = sup.get(f"{API}/locations/PF-03/detail", params={"site": "S1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stock"] == [{"sku": SKU_C, "lot": None, "expiry": None, "quantity": 49, "reserved": 0, "lpn": None}]
    assert body["open_tasks"] == [{"id": open_task, "kind": "move", "state": "assigned", "assigned_to": "pick"}]
    assert {k: body["last_count"][k] for k in ("by", "variance", "status")} == {"by": "pick", "variance": -1,
                                                                                 "status": "posted"}
    assert sup.get(f"{API}/locations/NOPE/detail", params={"site": "S1"}).json()["error"]["code"] == "unknown_location"
    assert sup.get(f"{API}/locations/R1-02/detail", params={"site": "S1"}).json()["last_count"] is None


# --- wave preview ----------------------------------------------------------------------------------


def _path_length(path: list[list[float]]) -> float:
    return sum(abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in zip(path, path[1:]))


def test_a_waves_preview_draws_each_tours_walk_the_planned_length_before_and_after_release(api):  # noqa: ANN001
    _outbound_site(api)
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 2}}).json()
    r = sup.get(f"{API}/waves/{wave['id']}/preview")
    assert r.status_code == 200, r.text
    planned = r.json()["tours"]
    assert len(planned) == wave["tours"] >= 2
    with api.runtime.sessions() as session:
        depot = session.exec(select(Site).where(Site.code == "S1")).one()
    for tour, summary in zip(planned, wave["tour_plan"]):
        assert tour["id"] is None and tour["number"] == summary["number"]
        assert tour["path"][0] == tour["path"][-1] == [0.0, 0.0]  # from PACK-1, the inferred depot, and back
        assert abs(_path_length(tour["path"]) - tour["metres"]) < 0.05
        assert tour["minutes"] == round(summary["seconds"] / 60, 1)
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(tour["path"], tour["path"][1:]))  # along aisles
    assert depot.layout is None

    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    released = sup.get(f"{API}/waves/{wave['id']}/preview").json()["tours"]
    tour_ids = [t["id"] for t in sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"]]
    assert [t["id"] for t in released] == tour_ids
    for tour in released:
        assert abs(_path_length(tour["path"]) - tour["metres"]) < 0.05
    assert sup.get(f"{API}/waves/999999/preview").json()["error"]["code"] == "unknown_wave"


# --- who may ---------------------------------------------------------------------------------------


def test_a_supervisor_of_one_site_gets_404_for_another_sites_things_and_a_picker_403(api):  # noqa: ANN001
    _desk_site(api)
    build_site(api, "S2")
    api.add_user("sup2", ["supervisor"], ["S2"])
    other_task = _task(api, site="S2", kind="move", location="R1-01", zone="RES")
    with api.runtime.sessions() as session:
        site2 = session.exec(select(Site.id).where(Site.code == "S2")).one()
        wave = Wave(site_id=site2, status="released")
        session.add(wave)
        session.flush()
        tour = Tour(site_id=site2, wave_id=wave.id, number=1)
        exc = WarehouseException(site_id=site2, kind="damaged", message="crushed")
        session.add_all([tour, exc])
        session.commit()
        other_tour, other_wave, other_exc = tour.id, wave.id, exc.id
    sup = api.as_("sup")
    for method, url, kwargs, code in (
        ("post", f"{API}/tasks/{other_task}/unassign", {"json": {}}, "unknown_task"),
        ("get", f"{API}/tasks/{other_task}/candidates", {}, "unknown_task"),
        ("post", f"{API}/tours/{other_tour}/reassign", {"json": {"username": "pick"}}, "unknown_tour"),
        ("get", f"{API}/exceptions/{other_exc}/detail", {}, "unknown_exception"),
        ("get", f"{API}/sites/S2/floor-map", {}, "unknown_site"),
        ("get", f"{API}/sites/S2/floor-map/heat", {}, "unknown_site"),
        ("get", f"{API}/locations/R1-01/detail", {"params": {"site": "S2"}}, "site_not_found"),
        ("get", f"{API}/waves/{other_wave}/preview", {}, "unknown_wave"),
    ):
        r = getattr(sup, method)(url, **kwargs)
        assert r.status_code == 404 and r.json()["error"]["code"] == code, (url, r.text)
    assert api.as_("sup2").get(f"{API}/tasks/{other_task}/candidates").status_code == 200
    own_task = _task(api, kind="move", location="R1-01", zone="RES")
    pick = api.as_("pick")
    for method, url in (("post", f"{API}/tasks/{own_task}/unassign"), ("get", f"{API}/tasks/{own_task}/candidates"),
                        ("post", f"{API}/tours/{other_tour}/reassign"), ("get", f"{API}/sites/S1/floor-map/heat")):
        r = getattr(pick, method)(url, **({"json": {}} if method == "post" else {}))
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden", (url, r.text)
    assert sup.post(f"{API}/tasks/{own_task}/unassign", json={"expected_version": 0}).status_code == 422


# --- reaching the handhelds -----------------------------------------------------------------------


async def test_unassign_takes_the_task_off_the_holders_device_at_once(live):  # noqa: ANN001, F811
    _desk_site(live)
    device = enroll_device(live, "TC52-U")
    client = DeviceClient(live.ws_url, device["device_token"], live.login("pick"))
    assert (await client.connect())["type"] == "auth_ok"
    task_id = _task(live, kind="move", location="R1-01", zone="RES")
    sup = live.as_("sup")
    assert sup.post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    await client.event("task.assigned", id=task_id)
    assert sup.post(f"{API}/tasks/{task_id}/unassign", json={}).status_code == 200
    revoked = await client.event("task.revoked", task_id=task_id)
    assert revoked["data"]["reason"] == "unassigned"
    await client.close()


async def test_a_tour_reassigned_leaves_the_old_pickers_device_and_arrives_on_the_new_one(live):  # noqa: ANN001, F811
    _outbound_site(live)
    live.add_user("pick2", ["picker"], ["S1"])
    assert _orders(live, STANDARD).status_code == 201
    sup = live.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    tour = max(sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"], key=lambda t: len(t["picks"]))
    picks = [p["task_id"] for p in tour["picks"]]
    assert len(picks) >= 2
    clients = {}
    for username in ("pick", "pick2"):
        device = enroll_device(live, f"TC52-{username}", worker=username)
        clients[username] = DeviceClient(live.ws_url, device["device_token"], live.login(username))
        assert (await clients[username].connect())["type"] == "auth_ok"

    r = sup.post(f"{API}/tours/{tour['id']}/reassign", json={"username": "pick"})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["moved"]) == sorted(picks)
    for task_id in picks:
        await clients["pick"].event("task.assigned", id=task_id)

    r = sup.post(f"{API}/tours/{tour['id']}/reassign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    assert {p["assigned_to"] for p in r.json()["tour"]["picks"]} == {_user_id(live, "pick2")}
    for task_id in picks:
        revoked = await clients["pick"].event("task.revoked", task_id=task_id)
        assert revoked["data"]["reason"] == "reassigned"
        await clients["pick2"].event("task.assigned", id=task_id, reason="reassigned")
    with live.runtime.sessions() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "tour.reassign")
                             .order_by(AuditEntry.id.desc())).first()
    assert audit.entity_id == str(tour["id"]) and audit.after["holder"] == _user_id(live, "pick2")

    r = sup.post(f"{API}/tours/{tour['id']}/reassign", json={"username": None})
    assert r.status_code == 200, r.text
    assert {p["state"] for p in r.json()["tour"]["picks"]} == {"pending"}
    for task_id in picks:
        assert (await clients["pick2"].event("task.revoked", task_id=task_id))["data"]["reason"] == "unassigned"
    unknown = sup.post(f"{API}/tours/{tour['id']}/reassign", json={"username": "nobody"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_worker"
    for client in clients.values():
        await client.close()


def _user_id(api, username: str) -> int:  # noqa: ANN001
    with api.runtime.sessions() as session:
        return session.exec(select(User.id).where(User.username == username)).one()
