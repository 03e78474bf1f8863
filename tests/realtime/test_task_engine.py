"""The task engine's rules on their own: transitions, ranking, claiming by zone, skill and equipment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.app import create_app
from backend.errors import Conflict
from backend.models import Location, Site, Task, User, WorkerProfile, Zone
from backend.tasks import dispatch, transitions
from backend.tasks.states import TRANSITIONS, InvalidTransition, check_transition
from tests.conftest import Api, make_settings
from tests.helpers import build_site


def test_done_and_cancelled_are_final_and_suspended_only_resumes_or_cancels():
    assert TRANSITIONS["done"] == frozenset() and TRANSITIONS["cancelled"] == frozenset()
    assert TRANSITIONS["suspended"] == {"pending", "cancelled"}
    check_transition(1, "assigned", "in_progress")
    for current, target in (("done", "assigned"), ("cancelled", "pending"), ("suspended", "in_progress")):
        with pytest.raises(InvalidTransition) as refused:
            check_transition(1, current, target)
        assert refused.value.code == "invalid_transition" and refused.value.status_code == 409


def _row(id_: int, priority: int, at: int, equipment: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=id_, priority=priority, from_location_id=at, to_location_id=None, equipment=equipment)


def test_ranking_prefers_urgent_work_then_nearby_work_and_skips_missing_equipment():
    starts = {1: (0.0, 0.0), 2: (30.0, 0.0), 3: (2.0, 1.0)}
    rows = [_row(10, 500, 2), _row(11, 500, 3), _row(12, 100, 2), _row(13, 500, 1, equipment="forklift")]
    ranked = dispatch.rank_candidates(rows, starts, (0.0, 0.0), 1.0, equipment=())
    assert [c.task.id for c in ranked] == [12, 11, 10]  # urgent first though far; forklift work skipped
    assert ranked[1].distance_m == 3.0  # rectilinear: along the aisle, then across
    ranked = dispatch.rank_candidates(rows, starts, (0.0, 0.0), 0.0, equipment=("forklift",))
    assert [c.task.id for c in ranked] == [12, 10, 11, 13]  # weight 0: priority, then id; forklift allowed


@pytest.fixture
def world(sqlite_url):  # noqa: ANN001, ANN201
    app = create_app(make_settings(sqlite_url))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        build_site(api)
        api.add_user("pick", ["picker"], ["S1"])
        yield api.runtime


def _ids(session, site_code: str = "S1"):  # noqa: ANN001, ANN202
    site = session.exec(select(Site).where(Site.code == site_code)).one()
    zones = {z.code: z.id for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
    locations = {loc.code: loc.id for loc in session.exec(select(Location).where(Location.site_id == site.id)).all()}
    worker = session.exec(select(User.id).where(User.username == "pick")).one()
    return site.id, zones, locations, worker


def test_claiming_respects_zones_skills_dependencies_and_prefers_nearby(world):  # noqa: ANN001
    with world.sessions() as session:
        site_id, zones, locations, worker = _ids(session)
        session.add(WorkerProfile(user_id=worker, site_id=site_id, zone_ids=[zones["RES"]], skills=["pick", "putaway"]))
        blocker = Task(site_id=site_id, kind="replenish", from_location_id=locations["R1-01"])
        session.add(blocker)
        session.flush()
        tasks = {
            "other zone": Task(site_id=site_id, kind="pick", zone_id=zones["PF"], from_location_id=locations["PF-01"]),
            "no skill": Task(site_id=site_id, kind="count", zone_id=zones["RES"], from_location_id=locations["R1-01"]),
            "waiting": Task(site_id=site_id, kind="pick", zone_id=zones["RES"], from_location_id=locations["R1-01"],
                            depends_on_task_id=blocker.id),
            "far": Task(site_id=site_id, kind="pick", zone_id=zones["RES"], from_location_id=locations["R3-03"]),
            "near": Task(site_id=site_id, kind="putaway", zone_id=zones["RES"], from_location_id=locations["R1-02"]),
        }
        session.add_all(tasks.values())
        session.commit()
        ids = {name: t.id for name, t in tasks.items()}

    with world.sessions() as session:
        claimed = dispatch.claim_next(session, worker, site_id, position_location_id=locations["R1-01"])
        assert [t["id"] for t in claimed] == [ids["near"]]
        session.commit()
    with world.sessions() as session:
        assert [t["id"] for t in dispatch.claim_next(session, worker, site_id)] == [ids["far"]]
        session.commit()
    with world.sessions() as session:
        assert dispatch.claim_next(session, worker, site_id) == []  # the rest does not fit this worker
        blocked = session.get(Task, ids["waiting"])
        assert blocked.state == "pending" and blocked.assigned_to is None


def test_only_the_holder_starts_a_task_and_a_stale_version_is_refused(world):  # noqa: ANN001
    with world.sessions() as session:
        site_id, _zones, locations, worker = _ids(session)
        task = Task(site_id=site_id, kind="move", from_location_id=locations["R1-01"])
        session.add(task)
        session.commit()
        with pytest.raises(Conflict) as refused:
            transitions.start(session, task, worker)
        assert refused.value.code == "task_not_yours"
        transitions.assign(session, task, worker, actor_id=None)
        transitions.start(session, task, worker)
        assert task.state == "in_progress" and task.version == 3
        with pytest.raises(Conflict) as stale:
            transitions.reprioritise(session, task, 10, actor_id=None, expected_version=2)
        assert stale.value.code == "version_conflict"
        session.commit()


def test_new_work_is_offered_to_signed_on_workers_who_hold_nothing(world):  # noqa: ANN001
    from backend.models import Device

    with world.sessions() as session:
        site_id, _zones, locations, worker = _ids(session)
        session.add(Device(site_id=site_id, name="HH-1", kind="handheld", current_user_id=worker))
        session.commit()
    with world.sessions() as session:
        assert dispatch.offer_idle_workers(session, site_id) == 0  # nothing to do yet
        first, second = (Task(site_id=site_id, kind="move", from_location_id=locations["R1-01"]) for _ in range(2))
        session.add_all([first, second])
        session.flush()
        assert dispatch.offer_idle_workers(session, site_id) == 1
        session.commit()
        assert first.assigned_to == worker and first.state == "assigned" and second.state == "pending"
    with world.sessions() as session:
        assert dispatch.offer_idle_workers(session, site_id) == 0  # busy now


def test_the_next_task_pushed_is_of_the_kind_just_finished_while_any_waits(world):  # noqa: ANN001
    from backend.models import Device

    with world.sessions() as session:
        site_id, _zones, locations, worker = _ids(session)
        session.add(Device(site_id=site_id, name="HH-1", kind="handheld", current_user_id=worker))
        urgent_move = Task(site_id=site_id, kind="move", priority=1, from_location_id=locations["R1-01"])
        replenishment = Task(site_id=site_id, kind="replenish", priority=500, from_location_id=locations["R1-02"])
        session.add_all([urgent_move, replenishment])
        session.commit()
        ids = (urgent_move.id, replenishment.id)
    with world.sessions() as session:
        offered = dispatch.offer_next(session, worker, site_id, position_location_id=None, same_kind="replenish")
        assert [t["id"] for t in offered] == [ids[1]]  # the replenishment screen gets a replenishment
        session.commit()
    with world.sessions() as session:
        session.get(Task, ids[1]).state = "done"
        session.commit()
    with world.sessions() as session:
        offered = dispatch.offer_next(session, worker, site_id, position_location_id=None, same_kind="replenish")
        assert [t["id"] for t in offered] == [ids[0]]  # none left of that kind: the most urgent of any other
