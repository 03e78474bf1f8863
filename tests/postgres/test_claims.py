"""Claiming on PostgreSQL: a tour another picker is claiming right now is passed over, not waited for."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from backend.models import AuditEntry, Site, Task, User, WorkerProfile
from backend.tasks.dispatch import claim_next
from tests.api.test_execution_flow import _released_wave
from tests.api.test_outbound_flow import _outbound_site
from tests.conftest import Api

pytestmark = pytest.mark.postgres


def test_a_picker_gets_the_next_tour_while_the_best_one_is_being_claimed(pg_api: Api) -> None:
    _outbound_site(pg_api)
    wave = _released_wave(pg_api, totes=1)  # a tour per order
    sessions = pg_api.runtime.sessions
    with sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        picker = session.exec(select(User.id).where(User.username == "pick")).one()
        tours = set(session.exec(select(Task.tour_id).where(Task.wave_id == wave["id"])).all()) - {None}
        session.add(WorkerProfile(user_id=picker, site_id=site_id, skills=["pick"], zone_ids=[],
                                  equipment=[]))  # picks only
        session.commit()
    with sessions() as session:  # the tour this picker would be given, claimed and given back
        best_tour = claim_next(session, picker, site_id, candidates=1)[0]["tour_id"]
        session.rollback()
    assert best_tour is not None and len(tours) > 1

    with pg_api.runtime.engine.connect() as other:  # another picker's claim holds the best tour's row
        other.execute(text("SELECT id FROM tour WHERE id = :id FOR UPDATE"), {"id": best_tour})
        with sessions() as session:
            # One candidate at a time: all of them belong to the tour being claimed.
            claimed = claim_next(session, picker, site_id, candidates=1)
            session.commit()
        other.rollback()

    assert claimed, "the picker was left without work while other tours waited"
    assert {view["tour_id"] for view in claimed} == {claimed[0]["tour_id"]} != {best_tour}
    with sessions() as session:
        holders = session.exec(select(Task.assigned_to).where(Task.tour_id == claimed[0]["tour_id"])).all()
        untouched = session.exec(select(Task.state).where(Task.tour_id == best_tour)).all()
    assert set(holders) == {picker}  # the whole tour came along
    assert set(untouched) == {"pending"}


def test_a_tour_claim_audits_every_task_it_took(pg_api: Api) -> None:
    _outbound_site(pg_api)
    _released_wave(pg_api, totes=4)
    with pg_api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        picker = session.exec(select(User.id).where(User.username == "pick")).one()
        session.add(WorkerProfile(user_id=picker, site_id=site_id, skills=["pick"], zone_ids=[],
                                  equipment=[]))  # picks only
        session.flush()
        claimed = claim_next(session, picker, site_id)
        session.commit()
    assert len(claimed) > 1  # a tour: its rows go in one statement
    with pg_api.runtime.sessions() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "task.claim")).all()
    by_task = {int(row.entity_id): row for row in rows}
    assert sorted(by_task) == sorted(view["id"] for view in claimed) and len(rows) == len(claimed)
    for view in claimed:
        row = by_task[view["id"]]
        assert (row.user_id, row.site_id, row.entity) == (picker, site_id, "task")
        assert row.before == {"state": "pending", "assigned_to": None, "priority": view["priority"],
                              "version": view["version"] - 1}
        assert row.after == {"state": "assigned", "assigned_to": picker, "priority": view["priority"],
                             "version": view["version"]}
        assert row.at.tzinfo is not None


def test_a_claim_among_tasks_without_a_location_does_not_fail(pg_api: Api) -> None:
    """Dispatch ranks candidates by walking distance; with no location among them there is nothing to read (the
    empty `IN ()` it once sent is no SQL for PostgreSQL) and the claim goes by priority."""
    _outbound_site(pg_api)
    sessions = pg_api.runtime.sessions
    with sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == "S1")).one()
        picker = session.exec(select(User.id).where(User.username == "pick")).one()
        session.add(WorkerProfile(user_id=picker, site_id=site_id, skills=["count"], zone_ids=[], equipment=[]))
        session.add(Task(site_id=site_id, kind="count", reference="no location yet", priority=100))
        session.commit()
    with sessions() as session:
        claimed = claim_next(session, picker, site_id)
        session.commit()
    assert [(view["kind"], view["reference"]) for view in claimed] == [("count", "no location yet")]
