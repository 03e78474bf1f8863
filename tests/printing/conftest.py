"""The print spool against a real database (SQLite and PostgreSQL) and real TCP printers on ephemeral ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.app import build_runtime
from backend.migrate import upgrade
from backend.printing import firmware_profiles
from backend.runtime import Runtime
from tests.conftest import make_settings

# Short retries so an outage of a few hundred milliseconds is retried several times.
FAST = dict(print_poll_seconds=0.05, print_retry_initial_seconds=0.02, print_retry_max_seconds=0.1,
            print_connect_timeout=1.0, print_send_timeout=3.0, print_status_timeout=0.5)


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A migrated database with the firmware profiles loaded; the spool is started by each test."""
    built = build_runtime(make_settings(database_url, **FAST))
    upgrade(built.engine)
    async with firmware_profiles(built):
        yield built
    built.engine.dispose()
