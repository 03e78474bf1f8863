"""The token secret fails closed: production unless said otherwise, a strong WES_SECRET_KEY there, `wes secret`."""

from __future__ import annotations

import logging
import secrets

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend import cli
from backend.app import create_app
from backend.config import DEV_SECRET, Settings, secret_problem

WEAK = {
    "32 × a": "a" * 32,
    "a word repeated": "password" * 4,
    "a long word twice": "supercalifragilisticexpialidocious" * 2,
    "a keyboard walk": "qwertyuiopasdfghjklzxcvbnm1234567890",
    "a phrase": "correct horse battery staple and more words",
    "32 hex digits (exactly 128 bits, estimated lower)": "bcb62ae7dcce70ad40ad6f8afca5ade5",
    "short": secrets.token_urlsafe(16),
}


@pytest.fixture(autouse=True)
def _no_wes_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WES_ENVIRONMENT", "WES_SECRET_KEY", "WES_METRICS_TOKEN", "WES_PRINTER_NETWORKS"):
        monkeypatch.delenv(name, raising=False)


def test_without_an_environment_the_public_development_secret_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "public development secret" in str(refused.value)
    assert Settings(environment="development").secret_key == DEV_SECRET  # said explicitly: allowed
    assert Settings(environment="test").uses_public_secret


@pytest.mark.parametrize("what", sorted(WEAK))
def test_weak_secrets_are_refused_in_production_and_the_error_does_not_print_them(what: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", secret_key=WEAK[what])
    assert "WES_SECRET_KEY" in str(refused.value)
    assert WEAK[what] not in str(refused.value)


def test_a_secret_from_wes_secret_is_accepted_in_production(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["secret"]) == 0
    printed = capsys.readouterr().out.strip()
    assert len(printed) == 64 and secret_problem(printed) is None
    settings = Settings(environment="production", secret_key=printed)
    assert settings.secret_key == printed and not settings.uses_public_secret
    assert cli.main(["secret"]) == 0 and capsys.readouterr().out.strip() != printed


def test_wes_serve_without_a_secret_stops_before_serving_and_says_why(capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    served = []
    monkeypatch.setattr(cli, "_serve", lambda *args, **kw: served.append(args))
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "public development secret" in err and "wes secret" in err and "WES_ENVIRONMENT=development" in err
    assert served == []
    monkeypatch.setenv("WES_SECRET_KEY", "a" * 40)
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "too easy to guess" in err and "a" * 40 not in err
    monkeypatch.setenv("WES_SECRET_KEY", secrets.token_urlsafe(48))
    assert cli.main(["serve"]) == 0 and len(served) == 1


def test_a_short_metrics_token_is_refused_in_production() -> None:
    strong = secrets.token_urlsafe(48)
    with pytest.raises(ValidationError, match="WES_METRICS_TOKEN"):
        Settings(environment="production", secret_key=strong, metrics_token="letmein")
    assert Settings(environment="production", secret_key=strong, metrics_token=strong).metrics_token == strong


def _start(settings: Settings, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wes"), TestClient(create_app(settings)):
        pass
    return [r for r in caplog.records if r.name == "wes"]


def test_start_up_says_loudly_when_tokens_can_be_forged(tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'wes.db'}"
    records = _start(Settings(environment="development", database_url=url, print_spool_enabled=False), caplog)
    loud = [r for r in records if r.levelno == logging.WARNING]
    assert len(loud) == 1
    assert "DEVELOPMENT mode with the PUBLIC development secret" in loud[0].getMessage()

    records = _start(Settings(environment="production", database_url=url, secret_key=secrets.token_urlsafe(48),
                              print_spool_enabled=False), caplog)
    assert [r.levelno for r in records if "mode" in r.getMessage()] == [logging.INFO]
    assert "production mode" in records[0].getMessage()


def test_printer_networks_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WES_PRINTER_NETWORKS", "10.20.0.0/16, 192.168.7.0/24")
    assert [str(n) for n in Settings(environment="test").printer_networks] == ["10.20.0.0/16", "192.168.7.0/24"]
    monkeypatch.setenv("WES_PRINTER_NETWORKS", "10.20.0.1/16")  # host bits set: not a network
    with pytest.raises(ValidationError, match="printer_networks"):
        Settings(environment="test")


def test_the_readme_s_wes_demo_runs_on_a_fresh_machine_in_development_mode(tmp_path) -> None:  # noqa: ANN001
    """`wes demo` with no WES_ variable at all (the README's quick start) says development itself."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {name: value for name, value in os.environ.items() if not name.startswith("WES_")}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "backend.cli", "demo", "--no-serve", "--printer-port", "0"],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "demo users" in done.stdout and (tmp_path / "var" / "demo.db").exists()
    refused = subprocess.run([sys.executable, "-m", "backend.cli", "demo", "--no-serve"], cwd=tmp_path,
                             env={**env, "PYTHONPATH": str(root), "WES_ENVIRONMENT": "production"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "refuses to run with WES_ENVIRONMENT=production" in refused.stderr
    # A database named in the environment is the one the demo seeds (as every other command reads it there).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    named = subprocess.run([sys.executable, "-m", "backend.cli", "demo", "--no-serve", "--printer-port", "0"],
                           cwd=elsewhere, env={**env, "PYTHONPATH": str(root),
                                               "WES_DATABASE_URL": f"sqlite:///{tmp_path / 'named.db'}"},
                           capture_output=True, text=True, timeout=300)
    assert named.returncode == 0, named.stderr[-2000:]
    assert (tmp_path / "named.db").exists() and not (elsewhere / "var" / "demo.db").exists()
