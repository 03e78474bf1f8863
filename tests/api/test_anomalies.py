"""Anomalies (backend.insights.anomalies): a location that keeps shorting, a SKU whose counts keep differing.

On SQLite and PostgreSQL; the site has no history before today, so its normal rates are zero and any location or
SKU reaching the minimum (2 events) stands out.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import select

from backend.insights.anomalies import suggestions, window_start
from backend.models import Location, Site, Task, WarehouseException
from tests.api.test_at_risk import api  # noqa: F401  (the app, its background sweep off)
from tests.api.test_execution_flow import _count_task, _one
from tests.api.test_outbound_flow import _orders, _outbound_site
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_C, gtin13

API = "/api/v1"
SOON = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()


def _picks_at(api: Api, location: str) -> list[dict]:
    sup = api.as_("sup")
    waves = sup.get(f"{API}/waves", params={"site": "S1", "status": "released"}).json()["data"]
    return [p for w in waves for t in sup.get(f"{API}/waves/{w['id']}/tours").json()["data"] for p in t["picks"]
            if p["location"] == location]


def _short(api: Api, pick: dict) -> dict:
    result = _one(api, "pick", "short_pick", {"task_id": pick["task_id"], "location": pick["location"], "found": 0,
                                              "reason": "empty location"})
    assert result["ok"], result
    return result["result"]


def _suggested(api: Api) -> list[dict]:
    r = api.as_("sup").get(f"{API}/anomalies", params={"site": "S1"})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_three_short_picks_at_one_location_today_suggest_counting_it(api):  # noqa: ANN001
    _outbound_site(api)
    r = _orders(api, [{"reference": f"SO-{n}", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}
                      for n in (1, 2, 3)] + [
        {"reference": "SO-4", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 1}]}])
    assert r.status_code == 201, r.text
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    shorts = [_short(api, pick) for pick in _picks_at(api, "PF-01")]
    _short(api, _picks_at(api, "PF-03")[0])  # one short elsewhere is nothing unusual
    assert len(shorts) == 3 and len({s["count_task_id"] for s in shorts}) == 1

    waiting = _suggested(api)

    # The short picks made a count of PF-01 already: nothing to call, the label says which task.
    count_task = shorts[0]["count_task_id"]
    assert waiting == [{"kind": "count_location", "subject": "PF-01", "reason": "count PF-01: 3 shorts today",
                        "action": {"kind": "count_location", "method": None, "path": None, "body": None,
                                   "label": f"A count of PF-01 is waiting already (task {count_task}): 3 of its 3 "
                                            "picks today were short; no short picks before to compare with"}}]

    counted = _one(api, "pick", "count", {"task_id": count_task, "location": "PF-01",
                                          "lines": [{"product": gtin13(1), "quantity": 20}]})
    assert counted["ok"] and counted["result"]["status"] == "posted", counted
    (suggestion,) = _suggested(api)
    action = suggestion["action"]
    assert suggestion["reason"] == "count PF-01: 3 shorts today"
    assert (action["kind"], action["method"], action["path"], action["body"]) == (
        "count_location", "POST", f"{API}/counts", {"site": "S1", "locations": ["PF-01"]})

    posted = sup.post(action["path"], json=action["body"])

    assert posted.status_code == 201, posted.text
    assert posted.json()["locations"] == ["PF-01"]
    with api.runtime.sessions() as session:
        task = session.get(Task, posted.json()["tasks"][0])
    assert (task.kind, task.state) == ("count", "pending")


def test_two_count_variances_of_a_sku_this_week_suggest_checking_it(api):  # noqa: ANN001
    _outbound_site(api)
    # PF-03 holds 50 × C: 49, then 48, are within tolerance (2 % or 1 unit) and posted; PF-01's count matches.
    for location, product, quantity in (("PF-03", gtin13(3), 49), ("PF-03", gtin13(3), 48), ("PF-01", gtin13(1), 20)):
        result = _one(api, "pick", "count", {"task_id": _count_task(api, location), "location": location,
                                             "lines": [{"product": product, "quantity": quantity}]})
        assert result["ok"] and result["result"]["status"] == "posted", result

    (suggestion,) = _suggested(api)

    assert (suggestion["kind"], suggestion["subject"], suggestion["reason"]) == (
        "check_sku", SKU_C, "check SKU-C: 2 count variances this week")
    action = suggestion["action"]
    assert action == {"kind": "count_location", "label": "Count the 2 locations holding SKU-C (PF-03, R3-01)",
                      "method": "POST", "path": f"{API}/counts",
                      "body": {"site": "S1", "locations": ["PF-03", "R3-01"]}}
    posted = api.as_("sup").post(action["path"], json=action["body"])
    assert posted.status_code == 201 and posted.json()["locations"] == ["PF-03", "R3-01"], posted.text


def _short_history(api: Api, days_ago: int, picks: int, shorts: int) -> None:
    """Picks done at PF-03 `days_ago` days back, the first `shorts` of them short."""
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        location_id = session.exec(select(Location.id).where(Location.code == "PF-03")).one()
        when = datetime.now(timezone.utc) - timedelta(days=days_ago)
        for n in range(picks):
            task = Task(site_id=site_id, kind="pick", state="done", from_location_id=location_id, quantity=1,
                        reference="history", created_at=when, updated_at=when, done_at=when)
            session.add(task)
            session.flush()
            if n < shorts:
                session.add(WarehouseException(site_id=site_id, kind="short_pick", task_id=task.id, created_at=when,
                                               message="PF-03: 0 of 1 found", state="approved"))
        session.commit()


def test_shorts_at_the_site_s_usual_rate_are_not_an_anomaly(api):  # noqa: ANN001
    _outbound_site(api)
    _short_history(api, days_ago=10, picks=4, shorts=2)  # the site's usual: half its picks short
    r = _orders(api, [{"reference": f"SO-{n}", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}
                      for n in (1, 2)])
    assert r.status_code == 201, r.text
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    for pick in _picks_at(api, "PF-01"):
        _short(api, pick)
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        now = datetime.now(timezone.utc)
        strict = make_settings("sqlite://", anomaly_factor=1.5)

        usual = suggestions(session, site_id, now, api.runtime.settings)
        against_strict = suggestions(session, site_id, now, strict)

    # 2 shorts of 2 picks where the usual rate predicts 1: not 3 times that; 1.5 times is.
    assert usual == []
    assert [(s["subject"], s["reason"]) for s in against_strict] == [("PF-01", "count PF-01: 2 shorts today")]
    assert against_strict[0]["action"]["label"].endswith("2 of its 2 picks today were short; the site's usual rate "
                                                         "is 50.0%")


def test_the_window_starts_at_midnight_where_the_site_is():
    site = Site(code="X", name="X", company_id=1, timezone="Europe/Berlin")
    now = datetime(2030, 6, 1, 21, 30, tzinfo=timezone.utc)  # 23:30 in Berlin (UTC+2)
    assert window_start(site, now, 1) == datetime(2030, 5, 31, 22, 0, tzinfo=timezone.utc)
    assert window_start(site, now, 7) == datetime(2030, 5, 25, 22, 0, tzinfo=timezone.utc)


def test_anomalies_are_for_the_site_s_supervisors_only(api):  # noqa: ANN001
    _outbound_site(api)
    root = api.as_("root")
    assert root.post(f"{API}/sites", json={"code": "S2", "name": "Site two", "company": "C1"}).status_code == 201
    api.add_user("sup2", ["supervisor"], ["S2"])

    other = api.as_("sup2").get(f"{API}/anomalies", params={"site": "S1"})
    picker = api.as_("pick").get(f"{API}/anomalies", params={"site": "S1"})

    assert other.status_code == 404 and other.json()["error"]["code"] == "site_not_found"
    assert picker.status_code == 403 and picker.json()["error"]["code"] == "role_forbidden"
    assert _suggested(api) == []
