"""ERP webhooks against a real HTTP receiver on a local port: every event type arrives, in order, signed (checked
with the README's snippet), at least once with its id; the receiver down then up; a restart mid-delivery; secret
rotation; redelivery; and the pull feed's cursor."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.app import create_app
from backend.bench.webhook_receiver import Receiver
from backend.models import IntegrationEvent, Order, Site, WebhookSubscription
from backend.webhooks import outbox, payloads
from tests.api import test_execution_flow, test_inbound_flow
from tests.conftest import Api, make_settings
from tests.helpers import SKU_C, add_site_users, build_site

API = "/api/v1"
# Short backoff and leases, so retries happen within a test (never slept on: conditions are polled).
FAST = dict(webhook_poll_seconds=0.1, webhook_retry_initial_seconds=0.05, webhook_retry_max_seconds=0.4,
            webhook_timeout_seconds=1.0, webhook_lease_seconds=3.0)


def _readme_verify() -> Callable[[str, str, bytes], bool]:
    """The verification snippet as the README prints it, run as a receiver would."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## ERP webhooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(code, scope)  # noqa: S102  (our own README)
    return scope["verify"]


verify = _readme_verify()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _app(database_url: str):  # noqa: ANN202
    return create_app(make_settings(database_url, **FAST))


@pytest.fixture
def hook_api(database_url: str) -> Iterator[Api]:
    with TestClient(_app(database_url)) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        yield api


def _subscribe(api: Api, url: str, **extra) -> dict:  # noqa: ANN003
    r = api.as_("root").post(f"{API}/webhooks", json={"site": "S1", "url": url, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _feed(api: Api, site: str = "S1", after: int = 0, **params) -> list[dict]:  # noqa: ANN003
    """Every event of the site after `after`, page by page through the pull API's cursor."""
    events = []
    while True:
        r = api.as_("root").get(f"{API}/events", params={"site": site, "after": after, "limit": 7, **params})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["data"]
        if not page["data"]:
            return events
        after = page["next_after"]


def _blind_receipts(api: Api, n: int) -> None:
    """n `receipt.completed` events: a supervisor receives goods without an ASN."""
    for _ in range(n):
        r = api.as_("sup").post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 1,
                                                           "blind": True})
        assert r.status_code == 201, r.text


def _subscription(api: Api, sub_id: int) -> dict:
    return api.as_("root").get(f"{API}/webhooks/{sub_id}").json()


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- every event type, from the flows the other tests script --------------------------------------------------

SCRIPTS = {
    "inbound": (test_inbound_flow.test_asn_sscc_receipt_putaway_shows_stock_at_destination,
                {"receipt.completed", "putaway.completed"}),
    "over_receipt": (test_inbound_flow.test_over_receipt_beyond_tolerance_is_refused_and_queued_then_approved,
                     {"receipt.completed", "exception.raised", "exception.resolved"}),
    "outbound": (test_execution_flow.test_a_tour_is_picked_packed_and_shipped,
                 {"order.allocated", "wave.released", "order.picked", "order.packed", "order.shipped"}),
    "counts": (test_execution_flow.test_counts_within_tolerance_post_and_larger_ones_wait_for_approval,
               {"count.posted", "inventory.adjusted", "exception.raised", "exception.resolved"}),
}


def test_the_scripted_flows_make_every_event_type():
    assert set().union(*(types for _, types in SCRIPTS.values())) == set(outbox.EVENT_TYPES)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_event_of_a_scripted_flow_arrives_in_order_signed_and_as_the_feed_has_it(hook_api, receiver, script):  # noqa: ANN001
    run, expected = SCRIPTS[script]
    run(hook_api)
    sub = _subscribe(hook_api, receiver.url, start_after=0)  # from the site's first event
    feed = _feed(hook_api)
    assert expected <= {e["type"] for e in feed}
    assert [e["id"] for e in feed] == sorted(e["id"] for e in feed)
    assert receiver.wait_for(lambda got: len(got) >= len(feed))
    got = receiver.received[:len(feed)]
    assert [r.event_id for r in got] == [e["id"] for e in feed]
    assert [(r.event["id"], r.event["type"], r.event["site"], r.event["data"]) for r in got] == \
        [(e["id"], e["type"], e["site"], e["data"]) for e in feed]
    assert all(r.headers["x-wes-event-type"] == r.event["type"] for r in got)
    assert all(verify(sub["secret"], r.headers["x-wes-signature"], r.body) for r in got)
    assert not any(verify("whsec_someone-else", r.headers["x-wes-signature"], r.body) for r in got)
    assert _until(lambda: _subscription(hook_api, sub["id"])["pending"] == 0)
    log = hook_api.as_("root").get(f"{API}/webhooks/{sub['id']}/deliveries", params={"limit": 1000}).json()
    assert {d["event_id"] for d in log["data"] if d["state"] == "delivered"} >= {e["id"] for e in feed}
    if script == "outbound":
        _picked_events_say_what_the_order_lines_say(hook_api, [e for e in feed if e["type"] == "order.picked"])
        shipped = next(e for e in feed if e["type"] == "order.shipped")["data"]
        assert shipped["order"]["reference"] == "SO-1" and shipped["dock"] == "DOCK-1" and shipped["units"] == 32
        assert [c["sscc"] for c in shipped["cartons"]] and all(len(c["sscc"]) == 18 for c in shipped["cartons"])
        assert sum(i["quantity"] for c in shipped["cartons"] for i in c["items"]) == 32


def _picked_events_say_what_the_order_lines_say(api: Api, picked: list[dict]) -> None:
    """order.picked is written by the confirm's own SQL on PostgreSQL: it says what the Python builder says."""
    assert picked
    with api.runtime.sessions() as session:
        for e in picked:
            order = session.get(Order, e["data"]["order"]["id"])
            assert e["data"]["order"] == payloads.order_ref(order, "picked")
            assert e["data"]["lines"] == payloads.order_lines(session, order.id)
    assert len({e["data"]["order"]["id"] for e in picked}) == len(picked)  # once per order


def test_picks_confirmed_in_one_batch_of_commands_record_each_order_picked_once(hook_api):  # noqa: ANN001
    """A batch runs its commands in one transaction, a SAVEPOINT each: the events are numbered at its COMMIT."""
    test_execution_flow._outbound_site(hook_api)
    wave = test_execution_flow._released_wave(hook_api)
    sup = hook_api.as_("sup")
    replenish = sup.get(f"{API}/tasks", params={"site": "S1", "kind": "replenish"}).json()["data"][0]
    done = test_execution_flow._one(hook_api, "pick", "confirm_replenish",
                                    {"task_id": replenish["id"], "to_location": "PF-03"})
    assert done["ok"], done
    tours = sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"]
    totes, tote_for = test_execution_flow._totes(hook_api, 8), {}
    actor = test_execution_flow._picker(hook_api)
    batch = [test_execution_flow._confirm(actor, f"batch-pick-{n:04d}", pick,
                                          tote_for.setdefault((tour["id"], pick["tote"]), totes[len(tote_for)]))
             for n, (tour, pick) in enumerate((t, p) for t in tours for p in t["picks"])]
    outcomes = hook_api.runtime.commands.apply_batch(batch)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    orders = sup.get(f"{API}/orders", params={"site": "S1"}).json()["data"]
    assert {o["status"] for o in orders} == {"picked"}
    picked = [e for e in _feed(hook_api) if e["type"] == "order.picked"]
    assert sorted(e["data"]["order"]["reference"] for e in picked) == sorted(o["reference"] for o in orders)
    _picked_events_say_what_the_order_lines_say(hook_api, picked)
    with hook_api.runtime.sessions() as session:
        assert session.exec(select(IntegrationEvent).where(IntegrationEvent.id.is_(None))).all() == []


# --- the receiver down, then up -----------------------------------------------------------------------------


def test_while_the_receiver_is_down_the_first_event_is_retried_with_backoff_and_all_arrive_in_order_after(  # noqa: ANN001
        hook_api, receiver):
    build_site(hook_api)
    add_site_users(hook_api)
    sub = _subscribe(hook_api, receiver.url)
    receiver.stop()
    _blind_receipts(hook_api, 5)
    ids = [e["id"] for e in _feed(hook_api)]
    assert len(ids) == 5
    assert _until(lambda: _subscription(hook_api, sub["id"])["failures"] >= 4)
    with hook_api.runtime.sessions() as session:
        row = session.get(WebhookSubscription, sub["id"])
        # after n failures the next try waits initial × 2^(n-1) seconds, at most the cap
        assert row.retry_at - row.updated_at == timedelta(seconds=min(0.4, 0.05 * 2 ** (row.failures - 1)))
    failed = hook_api.as_("root").get(f"{API}/webhooks/{sub['id']}/deliveries", params={"state": "failed"}).json()
    assert failed["count"] >= 4
    assert {d["event_id"] for d in failed["data"]} == {ids[0]}  # nothing overtakes the event that waits
    assert all(d["http_status"] is None and d["error"] for d in failed["data"])
    receiver.start()  # (the same port)
    assert receiver.wait_for(lambda got: len(got) >= 5)
    assert [r.event_id for r in receiver.received] == ids
    assert _until(lambda: _subscription(hook_api, sub["id"])["delivered_through"] == ids[-1])
    assert _subscription(hook_api, sub["id"])["failures"] == 0


def test_an_error_answer_is_retried_like_a_refused_connection(hook_api, receiver):  # noqa: ANN001
    build_site(hook_api)
    add_site_users(hook_api)
    sub = _subscribe(hook_api, receiver.url)
    receiver.status = 503
    _blind_receipts(hook_api, 2)
    assert receiver.wait_for(lambda got: len(got) >= 3)
    assert {r.event_id for r in receiver.received} == {receiver.received[0].event_id}
    receiver.status = 200
    ids = [e["id"] for e in _feed(hook_api)]
    assert _until(lambda: _subscription(hook_api, sub["id"])["delivered_through"] == ids[-1])
    log = hook_api.as_("root").get(f"{API}/webhooks/{sub['id']}/deliveries", params={"state": "failed"}).json()
    assert {d["http_status"] for d in log["data"]} == {503}


# --- a restart mid-delivery -----------------------------------------------------------------------------------


def test_an_event_in_flight_when_the_server_stops_arrives_again_with_the_same_id_after_a_restart(  # noqa: ANN001
        database_url, receiver):
    receiver.hold()
    with TestClient(_app(database_url)) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        build_site(api)
        add_site_users(api)
        sub = _subscribe(api, receiver.url)
        _blind_receipts(api, 1)
        assert receiver.wait_for(lambda got: len(got) == 1)  # in flight: the receiver holds it
        (event_id,) = [e["id"] for e in _feed(api)]
    # The server has stopped (the POST timed out on its side); the receiver did get the body.
    receiver.release()
    with TestClient(_app(database_url)) as client:
        api = Api(client)
        assert receiver.wait_for(lambda got: len(got) >= 2)
        assert _until(lambda: _subscription(api, sub["id"])["delivered_through"] == event_id)
    assert len(receiver.received) >= 2 and {r.event_id for r in receiver.received} == {event_id}
    assert {r.body for r in receiver.received} == {receiver.received[0].body}  # the same event, byte for byte


# --- secrets, redelivery --------------------------------------------------------------------------------------


def test_after_a_rotation_both_secrets_sign_during_the_overlap_and_then_only_the_new_one(hook_api, receiver):  # noqa: ANN001
    build_site(hook_api)
    add_site_users(hook_api)
    sub = _subscribe(hook_api, receiver.url)
    old = sub["secret"]
    _blind_receipts(hook_api, 1)
    assert receiver.wait_for(lambda got: len(got) == 1)
    rotated = hook_api.as_("integ").post(f"{API}/webhooks/{sub['id']}/rotate-secret", json={"overlap_hours": 1})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["secret_hint"] == new[-4:]
    assert "secret" not in hook_api.as_("root").get(f"{API}/webhooks/{sub['id']}").json()
    _blind_receipts(hook_api, 1)
    assert receiver.wait_for(lambda got: len(got) == 2)
    during = receiver.received[1]
    assert during.headers["x-wes-signature"].count("v1=") == 2
    assert verify(old, during.headers["x-wes-signature"], during.body)
    assert verify(new, during.headers["x-wes-signature"], during.body)
    again = hook_api.as_("integ").post(f"{API}/webhooks/{sub['id']}/rotate-secret", json={"overlap_hours": 0})
    newest = again.json()["secret"]
    _blind_receipts(hook_api, 1)
    assert receiver.wait_for(lambda got: len(got) == 3)
    after = receiver.received[2]
    assert after.headers["x-wes-signature"].count("v1=") == 1
    assert verify(newest, after.headers["x-wes-signature"], after.body)
    assert not verify(new, after.headers["x-wes-signature"], after.body)
    assert not verify(old, after.headers["x-wes-signature"], after.body)


def test_a_delivered_event_can_be_sent_again_and_the_log_says_so(hook_api, receiver):  # noqa: ANN001
    build_site(hook_api)
    add_site_users(hook_api)
    sub = _subscribe(hook_api, receiver.url)
    _blind_receipts(hook_api, 2)
    assert receiver.wait_for(lambda got: len(got) == 2)
    first = receiver.received[0].event_id
    assert _until(lambda: _subscription(hook_api, sub["id"])["delivered_through"] == receiver.received[1].event_id)
    integ = hook_api.as_("integ")
    r = integ.post(f"{API}/webhooks/{sub['id']}/redeliver", json={"event_id": first})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    assert receiver.wait_for(lambda got: len(got) == 3)
    assert receiver.received[2].event_id == first and receiver.received[2].body == receiver.received[0].body
    manual = r.json()["delivery"]["id"]
    assert _until(lambda: next(d for d in integ.get(f"{API}/webhooks/{sub['id']}/deliveries").json()["data"]
                               if d["id"] == manual)["state"] == "delivered")
    # A failed try of an event not delivered yet: it is tried again now, in order.
    receiver.status = 500
    _blind_receipts(hook_api, 1)
    assert receiver.wait_for(lambda got: len(got) == 4)

    def failed_tries() -> list[dict]:
        return integ.get(f"{API}/webhooks/{sub['id']}/deliveries", params={"state": "failed"}).json()["data"]

    assert _until(lambda: failed_tries() != [])
    failed = failed_tries()[0]
    receiver.status = 200
    r = integ.post(f"{API}/webhooks/deliveries/{failed['id']}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("next_in_order", "queued")  # (queued: it was delivered meanwhile)
    assert _until(lambda: _subscription(hook_api, sub["id"])["delivered_through"] == failed["event_id"])
    assert integ.post(f"{API}/webhooks/{sub['id']}/redeliver", json={"event_id": 10**9}).status_code == 404


# --- subscriptions: types, sites, changes -----------------------------------------------------------------------


def test_a_subscription_gets_only_its_types_and_its_site(hook_api, receiver):  # noqa: ANN001
    build_site(hook_api)
    add_site_users(hook_api)
    r = hook_api.as_("root").post(f"{API}/sites", json={"code": "S2", "name": "Two", "company": "C1"})
    assert r.status_code == 201, r.text
    shipped_only = _subscribe(hook_api, receiver.url, event_types=["order.shipped"])
    receipts = _subscribe(hook_api, receiver.url + "?receipts", event_types=["receipt.completed"])
    _blind_receipts(hook_api, 2)
    assert receiver.wait_for(lambda got: len(got) == 2)
    assert all(r.event["type"] == "receipt.completed" for r in receiver.received)
    assert _until(lambda: _subscription(hook_api, shipped_only["id"])["delivered_through"]
                  == _subscription(hook_api, receipts["id"])["delivered_through"])  # (skipped past, not stuck)
    # Another site's integration user sees none of it.
    hook_api.add_user("integ2", ["integration"], ["S2"])
    other = hook_api.as_("integ2")
    assert other.get(f"{API}/webhooks/{receipts['id']}").status_code == 404
    assert other.get(f"{API}/webhooks", params={"site": "S1"}).status_code == 404
    assert other.get(f"{API}/events", params={"site": "S1"}).status_code == 404
    assert other.get(f"{API}/events", params={"site": "S2"}).json()["data"] == []
    # Paused, changed, deleted: audited.
    integ = hook_api.as_("integ")
    r = integ.put(f"{API}/webhooks/{receipts['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["url"] == receipts["url"]
    _blind_receipts(hook_api, 1)
    assert _until(lambda: _subscription(hook_api, receipts["id"])["pending"] == 1)
    r = integ.put(f"{API}/webhooks/{receipts['id']}", json={"active": True, "description": "ERP"})
    assert r.json()["description"] == "ERP"
    assert receiver.wait_for(lambda got: len(got) == 3)
    assert integ.delete(f"{API}/webhooks/{receipts['id']}").status_code == 204
    assert integ.get(f"{API}/webhooks/{receipts['id']}").status_code == 404
    bad = integ.post(f"{API}/webhooks", json={"site": "S1", "url": "ftp://erp.example/in"})
    assert bad.status_code == 422 and bad.json()["error"]["code"]
    bad = integ.post(f"{API}/webhooks", json={"site": "S1", "url": receiver.url, "event_types": ["order.lost"]})
    assert bad.status_code == 422
    with hook_api.runtime.sessions() as session:
        from backend.models import AuditEntry

        actions = set(session.exec(select(AuditEntry.action).where(AuditEntry.entity == "webhook_subscription")))
    assert {"webhook.create", "webhook.update", "webhook.delete"} <= actions


# --- the pull feed --------------------------------------------------------------------------------------------


def test_the_pull_feed_pages_by_id_and_filters_by_type(hook_api):  # noqa: ANN001
    build_site(hook_api)
    add_site_users(hook_api)
    _blind_receipts(hook_api, 5)
    integ = hook_api.as_("integ")
    first = integ.get(f"{API}/events", params={"site": "S1", "limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_after"] == first["data"][-1]["id"]
    rest = integ.get(f"{API}/events", params={"site": "S1", "after": first["next_after"]}).json()
    ids = [e["id"] for e in first["data"] + rest["data"]]
    assert len(ids) == 5 and ids == sorted(set(ids))
    end = integ.get(f"{API}/events", params={"site": "S1", "after": ids[-1]}).json()
    assert end == {"data": [], "next_after": ids[-1]}
    receipt = first["data"][0]
    assert receipt["type"] == "receipt.completed" and receipt["site"] == "S1"
    assert receipt["data"]["lines"][0]["sku"] == SKU_C and receipt["data"]["lines"][0]["blind"] is True
    assert integ.get(f"{API}/events", params={"site": "S1", "types": "order.shipped"}).json()["data"] == []
    bad = integ.get(f"{API}/events", params={"site": "S1", "types": "order.shipped,order.lost"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_event_type"
    assert integ.get(f"{API}/events", params={"site": "S1", "after": 2**70}).status_code == 422


@pytest.mark.postgres
def test_event_ids_follow_commit_order_not_insert_order(postgres_url):  # noqa: ANN001
    """A transaction that recorded its event first but commits last gets the larger id: a reader that has seen
    an id never misses a smaller one committed later."""
    with TestClient(create_app(make_settings(postgres_url, webhook_delivery_enabled=False))) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        build_site(api)
        sessions = api.runtime.sessions
        with sessions() as early, sessions() as late:
            site_id = early.exec(select(Site.id).where(Site.code == "S1")).one()
            outbox.record(early, site_id, "exception.raised", {"n": "first inserted"})
            early.flush()
            outbox.record(late, site_id, "exception.raised", {"n": "second inserted"})
            late.flush()
            late.commit()
            seen = _feed(api)
            assert [e["data"]["n"] for e in seen] == ["second inserted"]
            early.commit()
        feed = _feed(api, after=seen[-1]["id"])
        assert [e["data"]["n"] for e in feed] == ["first inserted"]
        with sessions() as session:
            assert session.exec(select(IntegrationEvent).where(IntegrationEvent.id.is_(None))).all() == []
