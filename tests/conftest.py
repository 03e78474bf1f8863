"""Shared fixtures: one fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from WES_TEST_POSTGRES_URL (default: the local server). In
CI (CI=true) an unreachable server is a failure, never a silent skip.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from backend.app import create_app
from backend.config import Settings
from backend.db import make_engine
from backend.migrate import upgrade
from tests.helpers import PASSWORD, insert_user

PG_URL = os.environ.get("WES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_admin_conninfo(url: str) -> str:
    u = make_url(url)
    parts = [f"host={u.host or '127.0.0.1'}", f"port={u.port or 5432}", f"dbname={u.database or 'postgres'}",
             f"user={u.username or 'postgres'}"]
    if u.password:
        parts.append(f"password={u.password}")
    return " ".join(parts)


class PostgresDatabases:
    """Makes a migrated template once, then one cheap copy of it per test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conninfo = _pg_admin_conninfo(url)
        self.template = f"wes_tpl_{uuid.uuid4().hex[:10]}"
        self._admin("CREATE DATABASE {}".format(self.template))
        engine = make_engine(self.url_for(self.template))
        upgrade(engine)
        engine.dispose()

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql)

    def url_for(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        name = f"wes_t_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return name

    def drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self.drop(self.template)


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    try:
        with psycopg.connect(_pg_admin_conninfo(PG_URL), connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_URL}: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    dbs = PostgresDatabases(PG_URL)
    yield dbs
    dbs.close()


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    name = postgres_databases.create()
    yield postgres_databases.url_for(name)
    postgres_databases.drop(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    return f"sqlite:///{tmp_path / 'wes.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


def make_settings(database_url: str, **overrides) -> Settings:  # noqa: ANN003
    # argon2 at its lowest cost: the suite signs in thousands of times (production refuses this cost).
    cheap_hashing = {"password_hash_time_cost": 1, "password_hash_memory_kib": 64, "password_hash_parallelism": 1}
    # Refused logins answered at once: the lockout tests make dozens (the hold-back has a test of its own).
    quick_refusals = {"login_refusal_delay_seconds": 0}
    return Settings(database_url=database_url, environment="test",
                    **{**cheap_hashing, **quick_refusals, **overrides})


class Api:
    """A TestClient that logs users in and keeps their tokens."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.runtime = client.app.state.runtime

    def add_user(self, username: str, roles: list[str], sites: list[str] | None = None, *,
                 all_sites: bool = False, password: str = PASSWORD) -> None:
        insert_user(self.runtime.sessions, self.runtime.passwords, username, roles, sites, all_sites=all_sites,
                    password=password)

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str) -> "UserClient":
        if username not in self.tokens:
            self.login(username)
        return UserClient(self.client, self.tokens[username])


class UserClient:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.post(url, headers=self.headers, **kw)

    def put(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.put(url, headers=self.headers, **kw)

    def delete(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.delete(url, headers=self.headers, **kw)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    app = create_app(make_settings(database_url))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


@pytest.fixture
def sqlite_api(sqlite_url: str) -> Iterator[Api]:
    app = create_app(make_settings(sqlite_url))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def pytest_configure(config: pytest.Config) -> None:
    """Name this test run once: pytest-xdist's workers inherit it (the browser tests' timings file)."""
    os.environ.setdefault("WES_TEST_RUN_ID", uuid.uuid4().hex[:12])


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    """Scan to feedback on screen, over every scan the browser tests made (figures, not a test)."""
    timings = Path(__file__).parent / "browser" / "artifacts" / f"scan-to-feedback-{os.environ['WES_TEST_RUN_ID']}.jsonl"
    if not timings.exists():
        return
    by_database: dict[str, list[float]] = {}
    for line in timings.read_text().splitlines():
        row = json.loads(line)
        by_database.setdefault(row["database"], []).extend(row["ms"])
    for database, values in sorted(by_database.items()):
        values.sort()
        pick = lambda q: values[max(0, math.ceil(q * len(values)) - 1)]  # noqa: E731 (nearest rank)
        terminalreporter.write_line(f"scan to feedback, {database}: {len(values)} scans, p50 {pick(0.5):.0f} ms, "
                                    f"p95 {pick(0.95):.0f} ms, max {values[-1]:.0f} ms")
