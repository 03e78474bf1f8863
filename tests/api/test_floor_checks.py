"""What a handheld asks between scans: the work waiting for its worker, and whether a scan is right, at the scan."""

from __future__ import annotations

import uuid

from backend.models import Task
from tests.api.test_outbound_flow import STANDARD, _orders, _outbound_site
from tests.helpers import SKU_A, gtin13

API = "/api/v1"


def _release(api) -> list[dict]:  # noqa: ANN001
    assert _orders(api, STANDARD).status_code == 201
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    return [p for t in sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"] for p in t["picks"]]


def test_the_home_screen_sees_what_waits_for_each_worker(api):  # noqa: ANN001
    _outbound_site(api)
    picks = _release(api)
    api.add_user("packer", ["packer"], ["S1"])
    mine = api.as_("pick").get(f"{API}/tasks/waiting", params={"site": "S1"}).json()
    assert mine["may_do"] == ["putaway", "pick", "replenish", "count", "move"] and mine["device"] is None
    assert mine["waiting"]["pick"] == len(picks) - sum(1 for p in picks if p["waits_for_task"])
    assert mine["waiting"]["replenish"] >= 1 and mine["held"]["pick"] == 0
    packer = api.as_("packer").get(f"{API}/tasks/waiting", params={"site": "S1"}).json()
    assert packer == {"may_do": ["pack"], "device": None, "waiting": {"pack": 0}, "held": {"pack": 0}}


def test_claiming_can_be_narrowed_to_the_screen_the_worker_chose(api):  # noqa: ANN001
    _outbound_site(api)
    _release(api)
    r = api.as_("pick").post(f"{API}/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": "claim_next_task", "payload": {"kinds": ["replenish"]}}]})
    (answer,) = r.json()["results"]
    assert answer["ok"] and {t["kind"] for t in answer["result"]["tasks"]} == {"replenish"}
    r = api.as_("pick").post(f"{API}/device-commands", json={"commands": [
        {"id": str(uuid.uuid4()), "type": "claim_next_task", "payload": {"kinds": ["dance"]}}]})
    assert r.json()["results"][0]["error"]["code"] == "invalid_payload"


def test_each_scan_is_checked_at_the_scan_in_plain_words_and_nothing_changes(api):  # noqa: ANN001
    _outbound_site(api)
    picks = _release(api)
    pick = next(p for p in picks if p["sku"] == SKU_A and not p["waits_for_task"])
    picker = api.as_("pick")
    url = f"{API}/tasks/{pick['task_id']}/check-scan"

    r = picker.post(url, json={"step": "product", "scan": gtin13(3)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_product"
    assert r.json()["error"]["message"] == "Wrong product: you scanned SKU-C — take SKU-A"
    assert picker.post(url, json={"step": "product", "scan": gtin13(1)}).json() == {"ok": True, "step": "product",
                                                                                     "tote": None}
    r = picker.post(url, json={"step": "location", "scan": "R2-02"})
    assert r.status_code == 422 and r.json()["error"]["message"] == f"Wrong location: go to {pick['location']} and scan its label"
    assert picker.post(url, json={"step": "location", "scan": pick["location"]}).status_code == 200
    tote = api.as_("sup").post(f"{API}/containers", json={"site": "S1", "kind": "tote", "count": 1}).json()["data"][0]
    assert picker.post(url, json={"step": "tote", "scan": tote["code"]}).json()["tote"] == tote["code"]
    r = picker.post(url, json={"step": "tote", "scan": "R2-02"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_tote")
    with api.runtime.sessions() as session:  # a check binds nothing and takes nothing
        task = session.get(Task, pick["task_id"])
        assert (task.state, task.container_id) == ("pending", None)
    other_site = api.as_("root").post(f"{API}/sites", json={"code": "S2", "name": "Two", "company": "C1"})
    assert other_site.status_code == 201
    api.add_user("pick-s2", ["picker"], ["S2"])
    r = api.as_("pick-s2").post(url, json={"step": "product", "scan": gtin13(1)})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_task"
