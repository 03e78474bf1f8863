"""KPIs of a scripted shift on a fixed clock equal the figures worked out by hand, on SQLite and PostgreSQL.

The shift runs through the real HTTP API and device commands, with the app's clock (backend.models.base.utcnow,
behind every created_at, done_at, released_at…) held at scripted times of 2 March 2026 (UTC):

  07:00 LPN 1 received at DOCK-1          07:30 put away (dock-to-stock 1800 s)
  07:10 LPN 2 received                    08:10 put away (3600 s)
  08:00 wave of SO-1 (A5 C3), SO-2 (C4), SO-3 (A2 C1) released
  08:10 pick: SO-1 A5 at PF-01            08:20 pick: SO-1 C3 at PF-03
  08:30 pick2 scans SKU-A for SO-2's C at the check: refused
  08:35 pick2 confirms SO-2 at the wrong location: refused
  08:40 pick2 short-picks SO-2: 3 of 4 C found, nothing else to take (1 backordered)
  08:50 pick2 short-picks SO-3's A2 at PF-01: none found; reallocated to R1-01 (zone RES)
  09:00 pick2 picks SO-3 A2 at R1-01
  09:05 the supervisor gives SO-3's C1 to pick2; 09:10 pick confirms it anyway: a task conflict
  09:30-09:50 one carton per order closed (a shipping label each)
  10:00 SO-1 ships, 10:30 SO-2 (3 of 4 C), 11:00 SO-3
  11:10-11:30 counts: R1-02 exact (empty), PF-03 2 for 3 (posted), PF-01 60 for 63 (waits for approval;
               both LPNs of A went to its fixed pick face PF-01: 20 + 24 + 24 - 5 = 63)
  then SO-4, SO-5 (cut-off 2099-03-02 15:30 and 15:45: the import wants them ahead) and SO-6 (no cut-off)
  are imported and stay open.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

import backend.models.base
from backend.app import create_app
from backend.insights.kpis import Period, kpi_tables, refresh_rollups, rolled_until, wall_kpis
from backend.models import KpiPickHour, KpiShippedOrder, PrintJob, Site
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_C, add_site_users, add_stock, build_site, gtin13, sscc

API = "/api/v1"
DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)
WINDOW = {"site": "S1", "from": "2026-03-02T07:00:00Z", "to": "2026-03-02T12:00:00Z"}  # 5 hours


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes))


class ScriptedClock:
    """The app's clock, set by the script (backend.models.base.utcnow reads it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = at("06:00")
        clock = self

        class ScriptedDateTime(datetime):
            @classmethod
            def now(cls, tz=None):  # noqa: ANN001, ANN206
                return clock.now.astimezone(tz) if tz is not None else clock.now.replace(tzinfo=None)

        monkeypatch.setattr(backend.models.base, "datetime", ScriptedDateTime)

    def set(self, hhmm: str) -> None:
        self.now = at(hhmm)


@pytest.fixture
def shift_api(database_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """An app without its print spool (the labels' outcomes are the script's), on the scripted clock."""
    clock = ScriptedClock(monkeypatch)
    app = create_app(make_settings(database_url, print_spool_enabled=False))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        api.clock = clock
        yield api


def _commands(api: Api, user: str, type_: str, payload: dict) -> dict:
    r = api.as_(user).post(f"{API}/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": type_, "payload": payload}]})
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    return result


def _ok(api: Api, user: str, type_: str, payload: dict) -> dict:
    result = _commands(api, user, type_, payload)
    assert result["ok"], (type_, result.get("error"))
    return result["result"]


def _site(api: Api) -> None:
    build_site(api)
    add_site_users(api)
    api.add_user("pick2", ["picker"], ["S1"])
    api.add_user("packer", ["packer"], ["S1"])
    root = api.as_("root")
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C},
        {"code": "PACK-1", "kind": "pack", "x": 0, "y": 0, "mixed_products": True},
    ]})
    assert r.status_code == 200, r.text
    add_stock(api, "S1", "PF-01", SKU_A, 20)
    add_stock(api, "S1", "R1-01", SKU_A, 48, lpn="P-A-1")
    add_stock(api, "S1", "PF-03", SKU_C, 10)
    r = api.as_("sup").post(f"{API}/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1", "port": 9,
                                                    "profile": "zebra-zt411-203", "station": "PACK-1"})
    assert r.status_code in (200, 201), r.text


def _receive_and_put_away(api: Api) -> None:
    clock = api.clock
    r = api.as_("integ").post(f"{API}/inbound-shipments", json={"site": "S1", "reference": "ASN-1", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 24, "sscc": sscc(1)},
        {"line_no": 2, "sku": SKU_A, "quantity": 24, "sscc": sscc(2)}]})
    assert r.status_code == 201, r.text
    recv = api.as_("recv")
    tasks = {}
    for n, hhmm in ((1, "07:00"), (2, "07:10")):
        clock.set(hhmm)
        r = recv.post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": "]C100" + sscc(n)})
        assert r.status_code == 201, r.text
        tasks[n] = r.json()["putaway_task_id"]
    for n, hhmm in ((1, "07:30"), (2, "08:10")):
        clock.set(hhmm)
        task = recv.get(f"{API}/tasks/{tasks[n]}").json()
        r = recv.post(f"{API}/tasks/{tasks[n]}/confirm-putaway", json={"scan": task["to_check_digits"]})
        assert r.status_code == 200, r.text


def _picks_of_the_wave(api: Api) -> tuple[dict, dict[str, str]]:
    """The wave's picks by (order, sku) and the tote each order goes into."""
    clock, sup = api.clock, api.as_("sup")
    r = api.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": "SO-1", "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 5},
                                                          {"line_no": 2, "sku": SKU_C, "quantity": 3}]},
        {"reference": "SO-2", "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 4}]},
        {"reference": "SO-3", "carrier": "DHL", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 2},
                                                          {"line_no": 2, "sku": SKU_C, "quantity": 1}]}]})
    assert r.status_code == 201, r.text
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}})
    assert wave.status_code == 201, wave.text
    clock.set("08:00")
    assert sup.post(f"{API}/waves/{wave.json()['id']}/release").status_code == 200
    picks = {(p["order"], p["sku"]): p for t in sup.get(f"{API}/waves/{wave.json()['id']}/tours").json()["data"]
             for p in t["picks"]}
    assert sorted(picks) == [("SO-1", SKU_A), ("SO-1", SKU_C), ("SO-2", SKU_C), ("SO-3", SKU_A), ("SO-3", SKU_C)]
    r = sup.post(f"{API}/containers", json={"site": "S1", "kind": "tote", "count": 3})
    assert r.status_code == 201, r.text
    totes = dict(zip(("SO-1", "SO-2", "SO-3"), (c["code"] for c in r.json()["data"])))
    return picks, totes


def _confirm(api: Api, user: str, pick: dict, tote: str, **changes) -> dict:  # noqa: ANN003
    return _commands(api, user, "confirm_pick", {
        "task_id": pick["task_id"], "location": pick["location"], "product": gtin13(1 if pick["sku"] == SKU_A else 3),
        "tote": tote, "quantity": pick["quantity"], **changes})


def _pick(api: Api) -> dict[str, str]:
    clock = api.clock
    picks, totes = _picks_of_the_wave(api)
    clock.set("08:10")
    assert _confirm(api, "pick", picks[("SO-1", SKU_A)], totes["SO-1"])["ok"]
    clock.set("08:20")
    assert _confirm(api, "pick", picks[("SO-1", SKU_C)], totes["SO-1"])["ok"]
    so2 = picks[("SO-2", SKU_C)]
    clock.set("08:30")
    refused = api.as_("pick2").post(f"{API}/tasks/{so2['task_id']}/check-scan",
                                    json={"step": "product", "scan": gtin13(1)})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "wrong_product", refused.text
    clock.set("08:35")
    wrong_place = _confirm(api, "pick2", so2, totes["SO-2"], location="PF-01")
    assert not wrong_place["ok"] and wrong_place["error"]["code"] == "wrong_location", wrong_place
    clock.set("08:40")
    short = _ok(api, "pick2", "short_pick", {"task_id": so2["task_id"], "location": "PF-03", "found": 3,
                                             "reason": "only 3 there", "product": gtin13(3), "tote": totes["SO-2"]})
    assert (short["short"], short["backordered"]) == (1, 1)
    clock.set("08:50")
    empty = _ok(api, "pick2", "short_pick", {"task_id": picks[("SO-3", SKU_A)]["task_id"], "location": "PF-01",
                                             "found": 0, "reason": "nothing there"})
    (again,) = empty["reallocated"]
    clock.set("09:00")
    moved = api.as_("sup").get(f"{API}/tasks/{again['task_id']}").json()
    assert (moved["from_location"], moved["quantity"]) == ("R1-01", 2)
    assert _confirm(api, "pick2", {"task_id": again["task_id"], "location": "R1-01", "sku": SKU_A, "quantity": 2},
                    totes["SO-3"])["ok"]
    so3_c = picks[("SO-3", SKU_C)]
    clock.set("09:05")
    r = api.as_("sup").post(f"{API}/tasks/{so3_c['task_id']}/assign", json={"username": "pick2"})
    assert r.status_code == 200, r.text
    clock.set("09:10")
    conflict = _confirm(api, "pick", so3_c, totes["SO-3"])
    assert conflict["ok"] and conflict["result"]["outcome"] == "conflict", conflict
    return totes


def _pack_and_ship(api: Api, totes: dict[str, str]) -> None:
    clock = api.clock
    contents = {"SO-1": [(gtin13(1), 5), (gtin13(3), 3)], "SO-2": [(gtin13(3), 3)],
                "SO-3": [(gtin13(1), 2), (gtin13(3), 1)]}
    cartons = {}
    for order, hhmm in (("SO-1", "09:30"), ("SO-2", "09:40"), ("SO-3", "09:50")):
        clock.set(hhmm)
        packed = _ok(api, "packer", "pack", {"tote": totes[order], "station": "PACK-1", "weight_kg": 2.0, "items": [
            {"product": product, "quantity": quantity} for product, quantity in contents[order]]})
        cartons[order] = packed["sscc"]
        _ok(api, "packer", "load", {"dock": "DOCK-1", "carton": packed["sscc"]})
    for order, hhmm in (("SO-1", "10:00"), ("SO-2", "10:30"), ("SO-3", "11:00")):
        clock.set(hhmm)
        _ok(api, "packer", "ship", {"order": order, "dock": "DOCK-1"})
    # The spool's outcomes: SO-1's label printed, SO-2's failed (paper out), SO-3's still waiting.
    with api.runtime.sessions() as session:
        jobs = session.exec(select(PrintJob).where(PrintJob.label_type == "shipping").order_by(PrintJob.id)).all()
        assert [job.data["sscc"] for job in jobs] == [cartons["SO-1"], cartons["SO-2"], cartons["SO-3"]]
        jobs[0].state, jobs[1].state = "sent", "failed"
        session.add_all(jobs)
        session.commit()


def _count(api: Api) -> None:
    clock, sup = api.clock, api.as_("sup")
    stock = sup.get(f"{API}/inventory", params={"site": "S1", "location": "PF-01"}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [(SKU_A, 63)]
    r = sup.post(f"{API}/counts", json={"site": "S1", "locations": ["R1-02"]})
    assert r.status_code in (200, 201), r.text
    counts = {t["from_location"]: t["id"] for t in sup.get(f"{API}/tasks", params={
        "site": "S1", "kind": "count", "state": "pending"}).json()["data"]}
    assert sorted(counts) == ["PF-01", "PF-03", "R1-02"]  # (the short picks asked for PF-01 and PF-03)
    for location, lines, hhmm, status in (("R1-02", [], "11:10", "posted"),
                                          ("PF-03", [{"product": SKU_C, "quantity": 2}], "11:20", "posted"),
                                          ("PF-01", [{"product": SKU_A, "quantity": 60}], "11:30",
                                           "awaiting_approval")):
        clock.set(hhmm)
        done = _ok(api, "pick", "count", {"task_id": counts[location], "location": location, "lines": lines})
        assert done["status"] == status, done


def _open_orders(api: Api) -> None:
    api.clock.set("11:40")
    r = api.as_("integ").post(f"{API}/orders", json={"site": "S1", "orders": [
        {"reference": "SO-4", "cut_off": "2099-03-02T15:30:00Z", "lines": [
            {"line_no": 1, "sku": SKU_A, "quantity": 1}, {"line_no": 2, "sku": SKU_C, "quantity": 1}]},
        {"reference": "SO-5", "cut_off": "2099-03-02T15:45:00Z", "lines": [
            {"line_no": 1, "sku": SKU_A, "quantity": 3}]},
        {"reference": "SO-6", "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 2}]}]})
    assert r.status_code == 201, r.text


def _run_shift(api: Api) -> None:
    _site(api)
    _receive_and_put_away(api)
    totes = _pick(api)
    _pack_and_ship(api, totes)
    _count(api)
    _open_orders(api)


def _kpis(api: Api, user: str = "sup", **params) -> dict:  # noqa: ANN003
    r = api.as_(user).get(f"{API}/kpis", params={**WINDOW, **params})
    assert r.status_code == 200, r.text
    return r.json()


def _rate(scope: str, zone: str | None, worker: str | None, lines: int, units: int, hours: float = 5.0) -> dict:
    return {"scope": scope, "zone": zone, "worker": worker, "lines": lines, "units": units,
            "lines_per_hour": lines / hours, "units_per_hour": units / hours}


def _only_row(tables: dict, name: str) -> dict:
    (row,) = tables[name]["rows"]
    return row


def test_the_shift_s_kpis_equal_the_hand_computed_figures(shift_api):  # noqa: ANN001
    api = shift_api
    _run_shift(api)

    body = _kpis(api)

    assert (body["site"], body["from"], body["to"], body["hours"]) == ("S1", "2026-03-02T07:00:00Z",
                                                                        "2026-03-02T12:00:00Z", 5.0)
    tables = body["tables"]
    assert list(tables) == ["pick_rate", "cycle_time", "dock_to_stock", "backlog", "fill_rate", "pick_accuracy",
                            "inventory_accuracy", "labels", "at_risk_predictions"]
    # Lines booked: pick SO-1 A5, SO-1 C3, SO-3 C1 (PF); pick2 SO-2 C3 (PF), SO-3 A2 (RES); over 5 hours.
    assert tables["pick_rate"]["rows"] == [
        _rate("site", None, None, 5, 14), _rate("zone", "PF", None, 4, 12), _rate("zone", "RES", None, 1, 2),
        _rate("worker", None, "pick", 3, 9), _rate("worker", None, "pick2", 2, 5)]
    # Released 08:00; shipped 10:00, 10:30, 11:00: 7200, 9000, 10800 s; p90 = 9000 + 0.8 × 1800.
    assert _only_row(tables, "cycle_time") == {"orders": 3, "with_release": 3, "p50_s": 9000.0, "p90_s": 10440.0}
    # 1800 s and 3600 s: p50 halfway, p90 = 1800 + 0.9 × 1800.
    assert _only_row(tables, "dock_to_stock") == {"putaways": 2, "p50_s": 2700.0, "p90_s": 3420.0}
    assert tables["backlog"]["rows"] == [{"cut_off": "2099-03-02T15:00:00Z", "orders": 2, "lines": 3, "units": 5},
                                         {"cut_off": None, "orders": 1, "lines": 1, "units": 2}]
    # 15 units ordered in 5 lines, SO-2's C shipped 3 of 4.
    assert _only_row(tables, "fill_rate") == {"orders": 3, "units_ordered": 15, "units_shipped": 14,
                                              "unit_fill_rate": round(14 / 15, 6), "lines": 5,
                                              "lines_fully_shipped": 4, "line_fill_rate": 0.8}
    # 5 lines + 1 short pick that found nothing; 2 short picks (1 + 2 units); a refused check and a refused
    # confirm; one pick confirmed on a task the supervisor had given to someone else.
    assert _only_row(tables, "pick_accuracy") == {"picks": 6, "short_picks": 2, "units_short": 3,
                                                  "wrong_scans_refused": 2, "task_conflicts": 1,
                                                  "accuracy": round(1 - 2 / 6, 6)}
    # R1-02 exact; PF-03 off by 1 (posted), PF-01 off by 3 (waiting for a supervisor).
    assert _only_row(tables, "inventory_accuracy") == {"counts": 3, "counts_without_variance": 1,
                                                       "record_accuracy": round(1 / 3, 6), "units_variance": 4}
    assert tables["labels"]["rows"] == [
        {"label_type": "all", "jobs": 3, "printed": 1, "failed": 1, "waiting": 1, "cancelled": 0},
        {"label_type": "shipping", "jobs": 3, "printed": 1, "failed": 1, "waiting": 1, "cancelled": 0}]
    assert {name: table["filtered_by"] for name, table in tables.items() if table["filtered_by"]} == {
        name: ["zone", "worker"] for name in ("pick_rate", "dock_to_stock", "pick_accuracy", "inventory_accuracy")}

    # A zone keeps its own work: PF's 4 lines, its short picks, refusals, conflict and counts.
    zone = _kpis(api, zone="PF")["tables"]
    assert zone["pick_rate"]["rows"] == [
        _rate("site", None, None, 4, 12), _rate("zone", "PF", None, 4, 12), _rate("worker", None, "pick", 3, 9),
        _rate("worker", None, "pick2", 1, 3)]
    assert _only_row(zone, "pick_accuracy") == {"picks": 5, "short_picks": 2, "units_short": 3,
                                                "wrong_scans_refused": 2, "task_conflicts": 1, "accuracy": 0.6}
    assert _only_row(zone, "inventory_accuracy") == {"counts": 2, "counts_without_variance": 0,
                                                     "record_accuracy": 0.0, "units_variance": 4}
    assert _only_row(zone, "dock_to_stock")["putaways"] == 2  # both LPNs went to PF-01
    assert _only_row(zone, "cycle_time") == _only_row(tables, "cycle_time")  # order-level: site-wide
    # A worker keeps theirs: pick2 picked 2 lines, short-picked twice, was refused twice, counted nothing.
    worker = _kpis(api, worker="pick2")["tables"]
    assert worker["pick_rate"]["rows"] == [
        _rate("site", None, None, 2, 5), _rate("zone", "PF", None, 1, 3), _rate("zone", "RES", None, 1, 2),
        _rate("worker", None, "pick2", 2, 5)]
    assert _only_row(worker, "pick_accuracy") == {"picks": 3, "short_picks": 2, "units_short": 3,
                                                  "wrong_scans_refused": 2, "task_conflicts": 0,
                                                  "accuracy": round(1 - 2 / 3, 6)}
    assert _only_row(worker, "dock_to_stock") == {"putaways": 0, "p50_s": None, "p90_s": None}
    assert _only_row(worker, "inventory_accuracy") == {"counts": 0, "counts_without_variance": 0,
                                                       "record_accuracy": None, "units_variance": 0}
    # A window of the first hour of picking only: SO-1's two lines, nothing shipped yet.
    early = _kpis(api, **{"from": "2026-03-02T08:00:00Z", "to": "2026-03-02T08:30:00Z"})["tables"]
    assert early["pick_rate"]["rows"][0] == _rate("site", None, None, 2, 8, hours=0.5)
    assert _only_row(early, "cycle_time") == {"orders": 0, "with_release": 0, "p50_s": None, "p90_s": None}


def test_the_rollups_give_the_figures_the_ledger_gives(shift_api):  # noqa: ANN001
    api = shift_api
    _run_shift(api)
    periods = [(at("07:00"), at("12:00")), (at("07:20"), at("10:40")), (at("08:00"), at("09:00")),
               (DAY, DAY + timedelta(days=1))]

    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        assert rolled_until(session, site_id) is None
        from_the_ledger = [kpi_tables(session, Period(site_id, a, b)) for a, b in periods]
        # One hour at a time (a long history is rolled up over several requests): the rest still comes raw.
        assert refresh_rollups(session, site_id, at("23:00"), limit=timedelta(hours=1)) == at("09:00")
        partly = [kpi_tables(session, Period(site_id, a, b)) for a, b in periods]
        assert refresh_rollups(session, site_id, at("23:00")) == at("22:00")  # (settled: ten minutes past)
        assert refresh_rollups(session, site_id, at("23:05")) == at("22:00")  # nothing new: nothing added
        from_the_rollups = [kpi_tables(session, Period(site_id, a, b)) for a, b in periods]
        hours = session.exec(select(KpiPickHour.hour, KpiPickHour.lines, KpiPickHour.units)).all()
        shipped = session.exec(select(KpiShippedOrder.cycle_s, KpiShippedOrder.units_ordered,
                                      KpiShippedOrder.units_shipped, KpiShippedOrder.lines,
                                      KpiShippedOrder.lines_full).order_by(KpiShippedOrder.shipped_at)).all()

    assert partly == from_the_ledger
    assert from_the_rollups == from_the_ledger
    # 08:00: pick A5 + C3, pick2 C3; 09:00: pick2 A2 (RES), pick C1.
    assert sorted((h.astimezone(timezone.utc), lines, units) for h, lines, units in hours) == [
        (at("08:00"), 1, 3), (at("08:00"), 2, 8), (at("09:00"), 1, 1), (at("09:00"), 1, 2)]
    assert [(round(c), o, s, n, f) for c, o, s, n, f in shipped] == [
        (7200, 8, 8, 2, 2), (9000, 4, 3, 1, 0), (10800, 3, 3, 2, 2)]


def test_the_wall_gets_the_last_hour_s_rates_open_orders_and_today_s_shipments(shift_api):  # noqa: ANN001
    api = shift_api
    _run_shift(api)

    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        mid_shift = wall_kpis(session, site_id, at("09:30"))
        end_of_shift = wall_kpis(session, site_id, at("11:30"))

    # 08:30-09:30: SO-2 C3 (08:40), SO-3 A2 (09:00), SO-3 C1 (09:10). Open now: SO-4, SO-5, SO-6.
    assert mid_shift == {"lines_per_hour": 3.0, "units_per_hour": 6.0, "open_orders": 3, "orders_shipped_today": 0}
    assert end_of_shift == {"lines_per_hour": 0.0, "units_per_hour": 0.0, "open_orders": 3,
                            "orders_shipped_today": 3}


def test_each_kpi_table_downloads_as_csv_with_a_header_and_its_rows(shift_api):  # noqa: ANN001
    api = shift_api
    _run_shift(api)
    tables = _kpis(api)["tables"]

    for name, table in tables.items():
        r = api.as_("sup").get(f"{API}/kpis/{name}.csv", params=WINDOW)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == (
            f'attachment; filename="kpis-S1-{name}-20260302T0700-20260302T1200.csv"')
        header, *rows = list(csv.reader(io.StringIO(r.text)))
        assert header == table["columns"], name
        assert rows == [["" if row[c] is None else str(row[c]) for c in header] for row in table["rows"]], name
    picked = list(csv.DictReader(io.StringIO(api.as_("sup").get(f"{API}/kpis/pick_rate.csv",
                                                                 params={**WINDOW, "worker": "pick"}).text)))
    assert [(row["scope"], row["zone"], row["worker"], row["lines"], row["units"]) for row in picked] == [
        ("site", "", "", "3", "9"), ("zone", "PF", "", "3", "9"), ("worker", "", "pick", "3", "9")]


# --- who may ask, and what a bad question gets ---------------------------------------------------------------


def _two_sites(api: Api) -> None:
    build_site(api)
    add_site_users(api)
    r = api.as_("root").post(f"{API}/sites", json={"code": "S2", "name": "Site two", "company": "C1"})
    assert r.status_code == 201, r.text
    api.add_user("sup2", ["supervisor"], ["S2"])


def _error(response) -> tuple[int, str]:  # noqa: ANN001
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    return response.status_code, body["error"]["code"]


def test_only_supervisors_and_admins_of_the_site_get_its_kpis(api):  # noqa: ANN001
    _two_sites(api)

    assert _error(api.as_("pick").get(f"{API}/kpis", params={"site": "S1"})) == (403, "role_forbidden")
    assert _error(api.as_("pick").get(f"{API}/kpis/labels.csv", params={"site": "S1"})) == (403, "role_forbidden")
    assert _error(api.as_("sup2").get(f"{API}/kpis", params={"site": "S1"})) == (404, "site_not_found")
    assert _error(api.as_("sup2").get(f"{API}/kpis/labels.csv", params={"site": "S1"})) == (404, "site_not_found")
    assert api.as_("sup2").get(f"{API}/kpis", params={"site": "S2"}).status_code == 200
    # Without a period: the last 24 hours.
    body = api.as_("sup").get(f"{API}/kpis", params={"site": "S1"}).json()
    assert body["hours"] == 24.0 and body["tables"]["pick_rate"]["rows"][0]["lines"] == 0
    assert api.as_("root").get(f"{API}/kpis", params={"site": "S2"}).status_code == 200


def test_a_bad_period_table_zone_or_worker_is_refused_in_plain_words(api):  # noqa: ANN001
    _two_sites(api)
    sup = api.as_("sup")

    backwards = sup.get(f"{API}/kpis", params={"site": "S1", "from": "2026-03-02T12:00:00Z",
                                               "to": "2026-03-02T07:00:00Z"})
    empty = sup.get(f"{API}/kpis", params={"site": "S1", "from": "2026-03-02T07:00:00Z",
                                           "to": "2026-03-02T07:00:00Z"})
    too_long = sup.get(f"{API}/kpis/pick_rate.csv", params={"site": "S1", "from": "2025-01-01T00:00:00Z",
                                                            "to": "2026-03-02T00:00:00Z"})
    not_a_time = sup.get(f"{API}/kpis", params={"site": "S1", "from": "yesterday"})
    unknown_table = sup.get(f"{API}/kpis/speed.csv", params={"site": "S1"})
    unknown_zone = sup.get(f"{API}/kpis", params={"site": "S1", "zone": "NOPE"})
    unknown_worker = sup.get(f"{API}/kpis", params={"site": "S1", "worker": "nobody"})

    assert _error(backwards) == (422, "invalid_period")
    assert backwards.json()["error"]["message"] == "'to' must be later than 'from'"
    assert _error(empty) == (422, "invalid_period")
    assert _error(too_long) == (422, "period_too_long")
    assert too_long.json()["error"]["message"] == "ask for at most 366 days at a time"
    assert _error(not_a_time)[0] == 422 and not_a_time.json()["error"]["details"][0]["field"] == "query.from"
    assert _error(unknown_table) == (404, "unknown_kpi_table")
    assert "pick_rate" in unknown_table.json()["error"]["message"]
    assert _error(unknown_zone) == (404, "unknown_zone")
    assert _error(unknown_worker) == (404, "unknown_worker")
    # 366 days exactly is allowed; an offset-less time is UTC.
    year = sup.get(f"{API}/kpis", params={"site": "S1", "from": "2025-03-01T00:00:00", "to": "2026-03-02T00:00:00"})
    assert year.status_code == 200 and year.json()["from"] == "2025-03-01T00:00:00Z"
