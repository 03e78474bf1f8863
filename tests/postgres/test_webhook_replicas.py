"""Two apps on one PostgreSQL database, each with its webhook sender: every event is delivered once, in order,
signed; and a sender that dies holding a subscription's lease leaves its event to the other one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.app import create_app
from backend.bench.webhook_receiver import Receiver
from backend.models import WebhookSubscription, utcnow
from tests.api.test_webhooks import FAST, _blind_receipts, _feed, _subscribe, _subscription, _until, verify
from tests.conftest import Api, make_settings
from tests.helpers import add_site_users, build_site

pytestmark = pytest.mark.postgres


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_two_replicas_deliver_each_event_once_in_order_with_valid_signatures(postgres_url, receiver):  # noqa: ANN001
    one, two = (create_app(make_settings(postgres_url, **FAST)) for _ in range(2))
    with TestClient(one) as c1, TestClient(two) as c2:
        a1, a2 = Api(c1), Api(c2)
        a1.add_user("root", ["admin"], all_sites=True)
        build_site(a1)
        add_site_users(a1)
        senders = {a.runtime.webhook_sender.owner for a in (a1, a2)}
        assert len(senders) == 2  # (both replicas run a sender)
        sub = _subscribe(a1, receiver.url)
        for n in range(30):
            _blind_receipts(a1 if n % 2 else a2, 1)  # each replica makes half of them (and wakes its own sender)
        ids = [e["id"] for e in _feed(a1)]
        assert len(ids) == 30
        assert receiver.wait_for(lambda got: len(got) >= 30)
        assert _until(lambda: _subscription(a2, sub["id"])["delivered_through"] == ids[-1])
        assert [r.event_id for r in receiver.received] == ids  # once each, in id (commit) order
        assert all(verify(sub["secret"], r.headers["x-wes-signature"], r.body) for r in receiver.received)
        log = a2.as_("root").get(f"/api/v1/webhooks/{sub['id']}/deliveries", params={"limit": 1000}).json()
        assert sorted(d["event_id"] for d in log["data"]) == ids and {d["state"] for d in log["data"]} == {"delivered"}


def test_a_lease_left_by_a_dead_sender_expires_and_the_other_replica_delivers(postgres_url, receiver):  # noqa: ANN001
    with TestClient(create_app(make_settings(postgres_url, **FAST))) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        build_site(api)
        add_site_users(api)
        sub = _subscribe(api, receiver.url)
        # A sender in another process died holding the lease (as if killed mid-delivery).
        with api.runtime.sessions() as session:
            session.execute(update(WebhookSubscription).where(WebhookSubscription.id == sub["id"]).values(
                lease_owner="dead-replica:1:0", lease_until=utcnow() + timedelta(seconds=2)))
            session.commit()
        _blind_receipts(api, 2)
        ids = [e["id"] for e in _feed(api)]
        assert receiver.wait_for(lambda got: len(got) >= 2)
        assert [r.event_id for r in receiver.received] == ids
        with api.runtime.sessions() as session:
            row = session.get(WebhookSubscription, sub["id"])
            assert row.lease_owner != "dead-replica:1:0"


def test_deleting_a_subscription_while_a_sender_records_its_deliveries_leaves_nothing_behind(postgres_url):  # noqa: ANN001
    """The sender updates the subscription row, then logs its deliveries, in one transaction; the delete waits for
    that row first, so the log rows committed meanwhile go with it (not a foreign key error, a 500)."""
    import threading

    from sqlalchemy import text

    with TestClient(create_app(make_settings(postgres_url, webhook_delivery_enabled=False))) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        build_site(api)
        add_site_users(api)
        sub = _subscribe(api, "http://127.0.0.1:9/")
        answers: list[int] = []
        deleting = threading.Thread(target=lambda: answers.append(
            api.as_("root").delete(f"/api/v1/webhooks/{sub['id']}").status_code))
        with api.runtime.engine.connect() as sender:  # a sender's record, in flight: the row first, then the log
            sender.execute(text("UPDATE webhook_subscription SET failures = 0 WHERE id = :id"), {"id": sub["id"]})
            deleting.start()
            with api.runtime.engine.connect() as watch:
                while deleting.is_alive() and not watch.execute(text(
                        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database() AND pid <> pg_backend_pid()")).first():
                    watch.rollback()
            sender.execute(text(
                "INSERT INTO webhook_delivery (subscription_id, event_id, event_type, state, manual, attempt, error, "
                "created_at) VALUES (:id, 1, 'receipt.completed', 'delivered', false, 1, '', now())"), {"id": sub["id"]})
            sender.commit()
        deleting.join(30)
        assert answers == [204]
        with api.runtime.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM webhook_delivery")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM webhook_subscription")).scalar_one() == 0
