from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from tests.conftest import Api, make_settings


@pytest.fixture
def pg_api(postgres_url: str) -> Iterator[Api]:
    """The app on a fresh PostgreSQL database, with a group-wide admin called root."""
    with TestClient(create_app(make_settings(postgres_url))) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        yield api
