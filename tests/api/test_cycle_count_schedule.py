"""Cycle counts that schedule themselves: one pass, the app's component and `wes counts schedule`."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from backend.app import create_app
from backend.cli import main
from backend.execution import cycle_counts
from backend.execution.cycle_counts import CYCLE_COUNT_PRIORITY, SchedulingFailed, schedule_due_counts
from backend.models import AuditEntry, Location, Product, Site, Task
from backend.tasks.states import WORK_TO_COME_STATES
from tests.conftest import Api, make_settings
from tests.helpers import SKU_A, SKU_B, SKU_C, add_stock, build_site

TODAY = date(2026, 3, 2)
# Days since each location's last count (the others were never counted).
COUNTED_DAYS_AGO = {"R1-02": 10, "R1-03": 31, "R2-01": 60, "R3-01": 100}


def stocked_site(api: Api, counted_days_ago: dict[str, int] = COUNTED_DAYS_AGO) -> None:
    """S1 with A-class stock in R1-01..03, B in R2-01, C in R3-01..02, counted these days before TODAY."""
    build_site(api)
    for code in ("R1-01", "R1-02", "R1-03"):
        add_stock(api, "S1", code, SKU_A, 10)
    add_stock(api, "S1", "R2-01", SKU_B, 10, lot="L1", expiry=date(2027, 1, 1))
    add_stock(api, "S1", "R3-01", SKU_C, 10)
    add_stock(api, "S1", "R3-02", SKU_C, 10)
    with api.runtime.sessions() as session:
        for sku, abc in ((SKU_A, "A"), (SKU_B, "B"), (SKU_C, "C")):
            product = session.exec(select(Product).join(Site, Site.company_id == Product.company_id)
                                   .where(Site.code == "S1", Product.sku == sku)).one()
            product.abc_class = abc
            session.add(product)
        for code, days in counted_days_ago.items():
            loc = session.exec(select(Location).where(Location.code == code)).one()
            loc.last_counted_at = datetime.combine(TODAY - timedelta(days=days), time(9), tzinfo=timezone.utc)
            session.add(loc)
        session.commit()


def open_counts(api: Api) -> dict[str, int]:
    """Location code → open count tasks."""
    with api.runtime.sessions() as session:
        return dict(session.exec(
            select(Location.code, func.count()).join(Task, Task.from_location_id == Location.id)
            .where(Task.kind == "count", Task.state.in_(WORK_TO_COME_STATES)).group_by(Location.code)).all())


def test_a_pass_counts_the_due_locations_but_not_the_recently_counted_ones(api: Api) -> None:
    stocked_site(api)
    assert schedule_due_counts(api.runtime.engine, TODAY) == {"S1": 3}
    # A every 30 days: never counted and 31 days ago are due, 10 days ago is not; B (60 of 91) and C (100 of 365)
    # are not due; C never counted is.
    assert open_counts(api) == {"R1-01": 1, "R1-03": 1, "R3-02": 1}
    with api.runtime.sessions() as session:
        tasks = session.exec(select(Task).where(Task.kind == "count")).all()
        assert {(t.state, t.reference, t.priority, t.details["cause"]) for t in tasks} == {
            ("pending", "cycle", CYCLE_COUNT_PRIORITY, "cycle")}
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "counts.schedule")).one()
        assert audit.after == {"tasks": 3, "due": 3} and audit.user_id is None


def test_a_sites_own_intervals_decide_what_is_due(api: Api) -> None:
    stocked_site(api)
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        site.cycle_count_days = {"A": 45, "B": 45, "C": 90}
        session.add(site)
        session.commit()
    assert schedule_due_counts(api.runtime.engine, TODAY) == {"S1": 4}
    # A counted 31 days ago is no longer due; B counted 60 days ago and C counted 100 days ago now are.
    assert open_counts(api) == {"R1-01": 1, "R2-01": 1, "R3-01": 1, "R3-02": 1}


def test_a_second_pass_creates_nothing_new_nor_doubles_an_open_count(api: Api) -> None:
    stocked_site(api)
    api.add_user("sup", ["supervisor"], ["S1"])
    on_demand = api.as_("sup").post("/api/v1/counts", json={"site": "S1", "locations": ["R1-01"]})
    assert on_demand.status_code == 201, on_demand.text
    assert schedule_due_counts(api.runtime.engine, TODAY) == {"S1": 2}
    assert schedule_due_counts(api.runtime.engine, TODAY) == {"S1": 0}
    assert schedule_due_counts(api.runtime.engine, TODAY + timedelta(days=1)) == {"S1": 0}
    assert open_counts(api) == {"R1-01": 1, "R1-03": 1, "R3-02": 1}


def test_a_site_that_cannot_be_scheduled_does_not_hold_up_the_others(api: Api) -> None:
    stocked_site(api)
    root = api.as_("root")
    assert root.post("/api/v1/sites", json={"code": "S2", "name": "Site two", "company": "C1"}).status_code == 201
    assert root.post("/api/v1/zones", json={"site": "S2", "zones": [{"code": "Z"}]}).status_code == 200
    r = root.post("/api/v1/locations", json={"site": "S2", "locations": [
        {"code": "B-1", "kind": "reserve", "zone": "Z"}]})
    assert r.status_code == 200, r.text
    add_stock(api, "S2", "B-1", SKU_C, 5)
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        site.cycle_count_days = {"A": "monthly"}
        session.add(site)
        session.commit()
    with pytest.raises(SchedulingFailed) as failure:
        schedule_due_counts(api.runtime.engine, TODAY)
    assert failure.value.failed == ["S1"] and failure.value.created == {"S2": 1}
    assert open_counts(api) == {"B-1": 1}


# The component


def test_the_app_runs_a_pass_when_it_starts_and_not_at_zero_minutes(sqlite_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(cycle_counts, "schedule_due_counts",
                        lambda engine, today, *, stopping: calls.append((engine, today)) or {})
    app = create_app(make_settings(sqlite_url))
    with TestClient(app) as client:
        client.portal.call(app.state.runtime.cycle_counts_passed.wait)  # (in the background)
        assert [engine for engine, _ in calls] == [app.state.runtime.engine]
        assert isinstance(calls[0][1], date)
    calls.clear()
    with TestClient(create_app(make_settings(sqlite_url, cycle_count_every_minutes=0))):
        assert calls == []


def test_a_failing_pass_is_logged_and_the_app_still_serves(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    def broken(engine, today, *, stopping):  # noqa: ANN001, ANN202
        raise RuntimeError("database on fire")

    monkeypatch.setattr(cycle_counts, "schedule_due_counts", broken)
    app = create_app(make_settings(sqlite_url))
    with caplog.at_level(logging.ERROR, logger="wes.cycle_counts"), TestClient(app) as client:
        client.portal.call(app.state.runtime.cycle_counts_passed.wait)
        assert client.get("/health").status_code == 200
    assert "scheduling the due cycle counts failed" in caplog.text and "database on fire" in caplog.text


def test_an_app_started_on_a_site_with_due_counts_creates_them(sqlite_api: Api, sqlite_url: str) -> None:
    stocked_site(sqlite_api, {})  # never counted: every stocked location is due, whatever today is
    app = create_app(make_settings(sqlite_url))
    with TestClient(app) as client:
        client.portal.call(app.state.runtime.cycle_counts_passed.wait)
    assert open_counts(sqlite_api) == {code: 1 for code in ("R1-01", "R1-02", "R1-03", "R2-01", "R3-01", "R3-02")}


# wes counts schedule


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads its settings from the environment: a test install (it takes the development secret)."""
    monkeypatch.setenv("WES_ENVIRONMENT", "test")


@pytest.mark.usefixtures("cli_environment")
def test_the_cli_schedules_one_pass_and_prints_it_per_site(sqlite_api: Api, sqlite_url: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    stocked_site(sqlite_api, {})
    assert main(["counts", "schedule", "--database-url", sqlite_url]) == 0
    assert capsys.readouterr().out == "S1: 6 count tasks created\n"
    assert main(["counts", "schedule", "--database-url", sqlite_url]) == 0
    assert capsys.readouterr().out == "S1: 0 count tasks created\n"
    assert sum(open_counts(sqlite_api).values()) == 6


@pytest.mark.usefixtures("cli_environment")
def test_the_cli_refuses_a_bad_database_url_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["counts", "schedule", "--database-url", "not a url"]) == 2
    assert "not a usable database URL 'not a url'" in capsys.readouterr().err
    missing = tmp_path / "typo" / "wes.db"
    assert main(["counts", "schedule", "--database-url", f"sqlite:///{missing}"]) == 2
    assert f"no SQLite database at '{missing}'" in capsys.readouterr().err
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["counts", "schedule", "--database-url", f"sqlite:///{empty}"]) == 1
    err = capsys.readouterr().err
    assert "no such table: site" in err and "migrated (wes migrate)" in err


@pytest.mark.usefixtures("cli_environment")
def test_the_cli_fails_when_a_site_cannot_be_scheduled(sqlite_api: Api, sqlite_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stocked_site(sqlite_api, {})
    with sqlite_api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        site.cycle_count_days = {"A": "monthly"}
        session.add(site)
        session.commit()
    assert main(["counts", "schedule", "--database-url", sqlite_url]) == 1
    assert "S1: failed" in capsys.readouterr().err
    assert open_counts(sqlite_api) == {}
