"""Cycle counts on PostgreSQL with several processes: each due count is created exactly once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from backend.execution.counting import request_counts
from backend.execution.cycle_counts import schedule_due_counts
from backend.models import Location, Site
from tests.api.test_cycle_count_schedule import TODAY, open_counts, stocked_site
from tests.conftest import Api

pytestmark = pytest.mark.postgres


def test_two_passes_at_once_create_each_due_count_once(pg_api: Api) -> None:
    stocked_site(pg_api, {})  # six stocked locations, all due
    start = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def one_pass() -> None:
        start.wait()
        results.append(schedule_due_counts(pg_api.runtime.engine, TODAY))

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Whichever got the site made all six (the other skipped it, or came after and found them open).
    assert sorted(r.get("S1", 0) for r in results) == [0, 6]
    assert open_counts(pg_api) == {code: 1 for code in ("R1-01", "R1-02", "R1-03", "R2-01", "R3-01", "R3-02")}


def _site_and_location(session, code: str) -> tuple[Site, int]:  # noqa: ANN001
    site = session.exec(select(Site).where(Site.code == "S1")).one()
    return site, session.exec(select(Location.id).where(Location.code == code)).one()


def test_a_count_request_waits_for_a_transaction_making_the_sites_counts(pg_api: Api) -> None:
    stocked_site(pg_api, {})
    sessions = pg_api.runtime.sessions
    with sessions() as first, sessions() as second:
        site, loc_id = _site_and_location(first, "R1-01")
        assert len(request_counts(first, site, [loc_id], reason="on_demand")) == 1  # not committed yet
        # A pass finds the site taken and leaves it to the holder, without waiting.
        assert schedule_due_counts(pg_api.runtime.engine, TODAY) == {}
        # Another request would have to wait for the first to commit (a lock timeout turns the wait into an error);
        # reading before it commits, it would find no open count and make a second one.
        site2, _ = _site_and_location(second, "R1-01")
        second.execute(text("SET LOCAL lock_timeout = '100ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            request_counts(second, site2, [loc_id], reason="on_demand")
        second.rollback()
        first.commit()
        assert request_counts(second, site2, [loc_id], reason="on_demand") == []
        second.commit()
    assert open_counts(pg_api) == {"R1-01": 1}
