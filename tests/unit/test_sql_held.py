"""backend.sql.held: psycopg's private API is used only on a driver version it was checked against."""

from __future__ import annotations

import logging

import psycopg
import pytest

from backend.sql import held as sql_held


def test_the_installed_psycopg_is_one_the_held_cursor_was_checked_against() -> None:
    # Fails on a driver bump: read backend/sql/held.py against the new psycopg (its Cursor._execute_gen
    # above all), then add the version to CHECKED_VERSIONS.
    assert sql_held.supported() is None, sql_held.supported()
    held = sql_held.held_cursor_class()
    assert held is not None and issubclass(held, psycopg.Cursor)
    assert "_execute_gen" in vars(held)


def test_a_newer_psycopg_is_refused_with_its_version_named() -> None:
    assert "psycopg 3.9.0 is newer" in sql_held.supported("3.9.0")
    assert sql_held.supported("3.2.13") is None


def test_a_psycopg_without_the_copied_internals_falls_back_to_the_plain_path_with_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    owner = next(klass for klass in psycopg.Cursor.__mro__ if "_maybe_prepare_gen" in vars(klass))
    monkeypatch.delattr(owner, "_maybe_prepare_gen")
    monkeypatch.setattr(sql_held, "_checked", {})
    assert "Cursor._maybe_prepare_gen is gone" in sql_held.supported()
    with caplog.at_level(logging.WARNING, logger="wes.db"):
        assert sql_held.held_cursor_class() is None
    assert "written one by one" in caplog.text

    class Connection:
        cursor_factory = psycopg.Cursor

    assert not sql_held.holds_statements(Connection())
