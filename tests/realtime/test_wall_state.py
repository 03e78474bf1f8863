"""The supervisor wall: the wall.state picture, one shared read for every wall of a site, alerts resumed by seq,
and who may watch — on SQLite and PostgreSQL, with real websocket clients where it matters."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
import websockets
from sqlmodel import select

from backend.models import Location, Printer, PrintJob, Site, Task, User, WarehouseException, WorkerProfile
from backend.realtime.wall import Walls, alert, wall_state
from tests.conftest import make_settings
from tests.helpers import build_site
from tests.realtime.conftest import SocketClient, make_task

API = "/api/v1"
NOW = datetime(2030, 3, 4, 15, 0, tzinfo=timezone.utc)  # a fixed clock for the figures


class Wall(SocketClient):
    """A wall screen on /ws/wall: keeps every message; waits for the ones a test wants."""

    def __init__(self, server, username: str = "sup", site: str = "S1") -> None:  # noqa: ANN001
        self.server, self.username, self.site = server, username, site
        super().__init__()

    async def connect(self, after_seq: int | None = None) -> dict:
        self.ws = await websockets.connect(self.server.ws_url + "/ws/wall", max_size=None)
        auth = {"id": "a1", "type": "auth", "access_token": self.server.login(self.username), "site": self.site}
        if after_seq is not None:
            auth["after_seq"] = after_seq
        await self.ws.send(json.dumps(auth))
        return await self.expect(lambda m: m["type"] in ("auth_ok", "error"))

    async def state(self, predicate=lambda data: True) -> dict:  # noqa: ANN001
        return await self.expect(lambda m: m["type"] == "wall.state" and predicate(m["data"]))


def _ids(server, site: str = "S1") -> tuple[int, dict[str, int], dict[str, int]]:  # noqa: ANN001
    with server.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == site)).one()
        users = dict(session.exec(select(User.username, User.id)).all())
        places = dict(session.exec(select(Location.code, Location.id).where(Location.site_id == site_id)).all())
        return site_id, users, places


# --- the picture ----------------------------------------------------------------------------------


def test_the_state_counts_work_by_zone_kind_and_state_and_each_workers_last_hour(site):  # noqa: ANN001
    """A fixed set-up read at a fixed clock: every figure is known."""
    site_id, users, places = _ids(site)
    pick, pick2 = users["pick"], users["pick2"]
    with site.runtime.sessions() as session:
        pf = session.exec(select(Location.zone_id).where(Location.id == places["PF-01"])).one()
        for minutes_ago, kind in ((5, "pick"), (20, "pick"), (59, "pick"), (61, "pick"), (30, "count"),
                                  (14 * 60 + 30, "pick")):
            session.add(Task(site_id=site_id, kind=kind, state="done", assigned_to=pick, zone_id=pf,
                             from_location_id=places["PF-01"], done_at=NOW - timedelta(minutes=minutes_ago)))
        session.add(Task(site_id=site_id, kind="pick", state="done", assigned_to=pick2, zone_id=pf,
                         from_location_id=places["PF-01"], done_at=NOW - timedelta(hours=1, minutes=1)))
        held = Task(site_id=site_id, kind="pick", state="in_progress", assigned_to=pick, zone_id=pf, priority=3,
                    from_location_id=places["PF-01"], reference="order:7", version=4)
        session.add(held)
        session.add(Task(site_id=site_id, kind="pick", state="assigned", assigned_to=pick, zone_id=pf, priority=1,
                         from_location_id=places["PF-01"]))
        for state in ("pending", "pending", "suspended"):
            session.add(Task(site_id=site_id, kind="move", state=state, from_location_id=places["R1-01"]))
        session.add(Task(site_id=site_id, kind="count", state="pending", zone_id=pf, from_location_id=places["PF-01"]))
        session.add(Task(site_id=site_id, kind="pick", state="cancelled", zone_id=pf))
        session.add(WorkerProfile(user_id=pick, site_id=site_id, last_location_id=places["R1-02"],
                                  updated_at=NOW - timedelta(minutes=3)))
        session.add(WarehouseException(site_id=site_id, kind="short_pick", raised_by=pick2, message="2 of 3 found",
                                       details={"location": "R1-03"}, created_at=NOW - timedelta(minutes=1)))
        session.add(WarehouseException(site_id=site_id, kind="damaged", raised_by=pick, message="crushed",
                                       created_at=NOW - timedelta(minutes=2), state="approved"))
        printer = Printer(site_id=site_id, code="ZT-1", name="Dock printer", host="127.0.0.1",
                          profile_id="zebra-zt411-203", status="not_ready", status_detail="paper_out",
                          retry_at=datetime.now(timezone.utc) + timedelta(days=1))  # the spool leaves it be
        session.add(printer)
        session.flush()
        for n, (state, at) in enumerate((("queued", NOW), ("sending", NOW), ("failed", NOW),
                                         ("failed", NOW - timedelta(days=2)), ("sent", NOW)), 1):
            session.add(PrintJob(site_id=site_id, printer_id=printer.id, sequence=n, label_type="lpn", data={},
                                 zpl="^XA^XZ", state=state, updated_at=at))
        session.commit()
        held_id = held.id

    with site.runtime.read_sessions() as session:
        data = wall_state(session, site_id, NOW)
    assert data["site"] == "S1" and data["at"] == NOW.isoformat()
    zero = dict.fromkeys(("pending", "assigned", "in_progress", "suspended", "exception"), 0)
    assert data["work"] == [
        {**zero, "zone": "PF", "kind": "count", "pending": 1},
        {**zero, "zone": None, "kind": "move", "pending": 2, "suspended": 1},  # no zone: under its kind, no "-"
        {**zero, "zone": "PF", "kind": "pick", "assigned": 1, "in_progress": 1},
    ]
    workers = {w["username"]: w for w in data["workers"]}
    assert set(workers) == {"pick", "pick2", "recv"}  # floor workers; the supervisor and integration user are not
    me = workers["pick"]
    assert me["task"] == {"id": held_id, "kind": "pick", "state": "in_progress", "version": 4, "location": "PF-01",
                          "reference": "order:7", "tour_id": None}  # in progress before the more urgent assigned one
    # Done today: 6 (one at 00:30, site time UTC); picks done in the last hour: 3 (61 minutes ago is not).
    assert (me["zone"], me["held"], me["done_today"], me["lines_per_hour"]) == ("PF", 2, 6, 3.0)
    assert me["idle_s"] == 180  # the last scan, 3 minutes ago, is later than the last task done
    assert me["last_scan"] == {"location": "R1-02", "x": 4.0, "y": 6.0, "at": (NOW - timedelta(minutes=3)).isoformat()}
    other = workers["pick2"]
    assert (other["task"], other["held"], other["done_today"], other["lines_per_hour"], other["idle_s"]) == (
        None, 0, 1, 0.0, 3660)
    assert (workers["recv"]["idle_s"], workers["recv"]["last_scan"], workers["recv"]["done_today"]) == (None, None, 0)
    assert data["printers"] == [{"code": "ZT-1", "name": "Dock printer", "online": True, "status": "paper out",
                                 "queued": 2, "failed": 1}]
    assert data["exceptions_open"] == 1
    assert [(e["kind"], e["raised_by"], e["location"]) for e in data["exceptions"]] == [("short_pick", "pick2",
                                                                                          "R1-03")]
    assert data["waves"] == [] and isinstance(data["at_risk"], list) and set(data["kpis"]) == {
        "lines_per_hour", "units_per_hour", "open_orders", "orders_shipped_today"}


# --- live walls -----------------------------------------------------------------------------------


async def test_every_wall_of_a_site_gets_the_same_state_from_one_read_per_change(site):  # noqa: ANN001
    walls = [Wall(site) for _ in range(5)]
    for w in walls:
        answer = await w.connect()
        assert answer["type"] == "auth_ok" and answer["site"] == "S1" and isinstance(answer["seq"], int)
    firsts = [await w.state() for w in walls]
    assert len({m["seq"] for m in firsts}) == 1  # one state, the same message for all
    board = site.runtime.walls.sites[_ids(site)[0]]
    reads = board.reads

    task_id = make_task(site, kind="move")
    assert site.as_("sup").post(f"{API}/tasks/{task_id}/assign", json={"username": "pick"}).status_code == 200
    changed = [await w.state(lambda d: any(x["username"] == "pick" and x["held"] == 1 for x in d["workers"]))
               for w in walls]
    assert len({m["seq"] for m in changed}) == 1 and changed[0]["seq"] > firsts[0]["seq"]
    # Five walls, one change: a read or two (a periodic refresh may fall in between), not one per wall.
    assert board.reads - reads <= 3
    for w in walls:
        await w.close()


async def test_a_wall_resuming_after_seq_gets_the_alerts_it_missed_then_the_state(site):  # noqa: ANN001
    site_id, _, _ = _ids(site)
    w = Wall(site)
    await w.connect()
    await w.state()
    alert(site.runtime, site_id, "at_risk", {"order": "SO-1", "reason": "SO-1: 14 lines in zone C"})
    first = await w.expect(lambda m: m["type"] == "wall.alert")
    assert first["data"] == {"kind": "at_risk", "message": "SO-1: 14 lines in zone C",
                             "detail": {"order": "SO-1", "reason": "SO-1: 14 lines in zone C"}}
    await w.close()

    with site.runtime.sessions() as session:  # raised in a transaction: out only once it commits
        session.exec(select(Site)).all()
        alert(session, site_id, "anomaly", {"subject": "R1-01"}, message="count R1-01: 3 shorts today")
        session.commit()
    with site.runtime.sessions() as session:
        session.exec(select(Site)).all()
        alert(session, site_id, "anomaly", {"subject": "R1-02"}, message="never committed")
        session.rollback()
    alert(site.runtime, site_id, "at_risk", {"order": "SO-2"}, message="SO-2 will miss its truck")

    again = Wall(site)
    answer = await again.connect(after_seq=first["seq"])
    assert answer["type"] == "auth_ok" and answer["seq"] > first["seq"]
    missed = [await again.expect(lambda m: m["type"] in ("wall.alert", "wall.state")) for _ in range(3)]
    assert [(m["type"], m["data"].get("message")) for m in missed] == [
        ("wall.alert", "count R1-01: 3 shorts today"), ("wall.alert", "SO-2 will miss its truck"),
        ("wall.state", None)]
    assert first["seq"] < missed[0]["seq"] < missed[1]["seq"]
    fresh = Wall(site)
    await fresh.connect()
    assert (await fresh.expect(lambda m: m["type"] in ("wall.alert", "wall.state")))["type"] == "wall.state"
    bad = Wall(site)
    refused = await bad.connect(after_seq=-1)
    assert refused["type"] == "error" and refused["error"]["code"] == "invalid_after_seq"
    await bad.expect(lambda m: m["type"] == "auth_ok")
    await bad.state()  # the current state all the same
    for wall_client in (again, fresh, bad):
        await wall_client.close()


def test_orders_newly_at_risk_and_new_suggestions_are_alerted_once():
    walls = Walls(None, None, make_settings("sqlite:///never-opened.db"))
    board = walls.site(1)
    late = {"order": "SO-1", "reason": "already late"}
    board._alert_news({"at_risk": [late], "suggestions": []})
    assert list(board.alerts) == []  # there at the first read: the state shows it, no alert
    risky = {"order": "SO-2", "reason": "14 lines in zone C, 2 pickers at 70 lines/h, cut-off in 25 min"}
    shorts = {"kind": "count_location", "subject": "A03-017-4", "reason": "count A03-017-4: 3 shorts today"}
    board._alert_news({"at_risk": [late, risky], "suggestions": [shorts]})
    board._alert_news({"at_risk": [risky], "suggestions": [shorts]})  # nothing new
    sent = [json.loads(text) for _, text in board.alerts]
    assert [(m["type"], m["data"]["kind"], m["data"]["message"], m["data"]["detail"]) for m in sent] == [
        ("wall.alert", "at_risk", risky["reason"], risky), ("wall.alert", "anomaly", shorts["reason"], shorts)]
    assert sent[0]["seq"] < sent[1]["seq"] and [seq for seq, _ in board.alerts] == [m["seq"] for m in sent]


# --- who may watch --------------------------------------------------------------------------------


async def test_the_wall_socket_refuses_other_roles_and_other_sites(site):  # noqa: ANN001
    build_site(site, "S2")
    refused = Wall(site, "pick")
    answer = await refused.connect()
    assert answer["type"] == "error" and answer["error"]["code"] == "auth_failed"
    assert answer["error"]["details"]["reason"] == "role_forbidden"
    other = Wall(site, "sup", site="S2")
    answer = await other.connect()
    assert answer["type"] == "error" and answer["error"]["details"]["reason"] == "site_not_found"
    with pytest.raises(websockets.ConnectionClosed):
        await other.ws.recv()
