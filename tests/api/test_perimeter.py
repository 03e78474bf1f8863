"""The app's perimeter: security headers on every response, /metrics behind a token, /ws/echo only for the bench."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.app import DOCS_CSP, create_app
from backend.security_headers import APP_CSP
from tests.api.test_access_control import add_user_with_token
from tests.conftest import Api, make_settings
from tests.helpers import build_site

METRICS_TOKEN = secrets.token_urlsafe(48)
COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


@pytest.fixture
def perimeter(sqlite_url: str) -> Iterator[Api]:
    app = create_app(make_settings(sqlite_url, metrics_token=METRICS_TOKEN, print_spool_enabled=False))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def _headers_of(response) -> dict[str, str]:  # noqa: ANN001
    return {name: response.headers.get(name) for name in (*COMMON, "content-security-policy", "cache-control",
                                                          "strict-transport-security")}


# --- security headers -------------------------------------------------------------------------


def test_api_answers_carry_the_security_headers_and_are_never_cached(perimeter: Api) -> None:
    root = perimeter.as_("root")
    answers = [
        root.get("/api/v1/auth/me"),  # 200
        perimeter.client.get("/api/v1/auth/me"),  # 401 in the envelope
        root.get("/api/v1/tasks/987654"),  # 404
        root.post("/api/v1/print-jobs", json={"label_type": "nope"}),  # 422
        perimeter.client.post("/api/v1/auth/token", content=b"x" * (33 * 1024 * 1024),  # 413 before parsing
                              headers={"content-type": "application/x-www-form-urlencoded"}),
    ]
    assert [r.status_code for r in answers] == [200, 401, 404, 422, 413]
    for r in answers:
        headers = _headers_of(r)
        assert {k: headers[k] for k in COMMON} == COMMON, r.request.url
        assert headers["content-security-policy"] == APP_CSP
        assert headers["cache-control"] == "no-store"
        assert headers["strict-transport-security"] is None  # plain HTTP: no HSTS


def test_the_handheld_app_and_the_wall_get_a_csp_without_unsafe_inline_and_stay_cacheable(perimeter: Api) -> None:
    for path in ("/app/", "/app/wall/", "/app/lib/main.js", "/app/wall/wall.css", "/app/sw.js",
                 "/app/manifest.webmanifest", "/health", "/no-such-page"):
        r = perimeter.client.get(path)
        headers = _headers_of(r)
        assert {k: headers[k] for k in COMMON} == COMMON, path
        csp = headers["content-security-policy"]
        assert csp == APP_CSP and "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert headers["cache-control"] != "no-store", path  # static files keep their ETag; the SW caches them


def test_the_offline_api_docs_keep_their_own_csp_and_are_not_framed(perimeter: Api) -> None:
    for path in ("/docs", "/redoc"):
        r = perimeter.client.get(path)
        assert r.status_code == 200
        headers = _headers_of(r)
        assert headers["content-security-policy"] == DOCS_CSP
        assert "frame-ancestors 'none'" in DOCS_CSP and headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_over_https_every_answer_asks_the_browser_to_stay_on_https(perimeter: Api) -> None:
    secure = TestClient(perimeter.client.app, base_url="https://testserver")
    for path in ("/app/", "/api/v1/auth/me", "/health"):
        hsts = secure.get(path).headers.get("strict-transport-security")
        assert hsts is not None and hsts.startswith("max-age=31536000"), path


# --- /metrics -----------------------------------------------------------------------------------


def test_metrics_need_the_metrics_token_or_an_all_sites_admin(perimeter: Api) -> None:
    build_site(perimeter)
    client = perimeter.client
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated" and "wes_tasks" not in anonymous.text
    wrong = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN[:-1]}x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"

    prometheus = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert prometheus.status_code == 200 and "wes_open_exceptions" in prometheus.text
    assert prometheus.headers["content-type"].startswith("text/plain")
    assert prometheus.headers["cache-control"] == "no-store"
    assert perimeter.as_("root").get("/metrics").status_code == 200

    for roles, code in ((["admin"], "all_sites_forbidden"), (["supervisor"], "role_forbidden"),
                        (["integration"], "role_forbidden")):
        user = add_user_with_token(perimeter, f"{roles[0]}-of-s1", roles, ["S1"])
        r = user.get("/metrics")
        assert (r.status_code, r.json()["error"]["code"]) == (403, code), roles
    everywhere = add_user_with_token(perimeter, "sup-everywhere", ["supervisor"], all_sites=True)
    assert everywhere.get("/metrics").status_code == 403


def test_without_a_metrics_token_only_an_all_sites_admin_reads_metrics(api: Api) -> None:
    assert api.runtime.settings.metrics_token == ""
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert api.as_("root").get("/metrics").status_code == 200


# --- /ws/echo -----------------------------------------------------------------------------------


def test_the_echo_socket_does_not_exist_unless_the_benchmark_turns_it_on(perimeter: Api) -> None:
    with pytest.raises(WebSocketDisconnect):
        with perimeter.client.websocket_connect("/ws/echo") as ws:
            ws.send_text('{"type": "echo"}')
            ws.receive_text()
    assert not any(getattr(route, "path", "") == "/ws/echo" for route in perimeter.client.app.routes)


@pytest.fixture
def echo_api(sqlite_url: str) -> Iterator[Api]:
    app = create_app(make_settings(sqlite_url, echo_socket_enabled=True, ws_auth_timeout_seconds=0.3,
                                   print_spool_enabled=False))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def test_the_benchmark_s_echo_socket_wants_a_token_first_and_within_the_auth_timeout(echo_api: Api) -> None:
    with echo_api.client.websocket_connect("/ws/echo") as ws:  # says nothing
        answer = json.loads(ws.receive_text())
        assert answer["error"]["code"] == "auth_timeout"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4408

    with echo_api.client.websocket_connect("/ws/echo") as ws:
        ws.send_text('{"type": "echo", "payload": 1}')  # no auth first
        answer = json.loads(ws.receive_text())
        assert answer["error"]["code"] == "auth_failed" and answer["error"]["details"]["reason"] == "auth_required"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4401

    with echo_api.client.websocket_connect("/ws/echo") as ws:
        ws.send_text(json.dumps({"type": "auth", "access_token": "forged"}))
        assert json.loads(ws.receive_text())["error"]["code"] == "auth_failed"

    token = echo_api.login("root")
    with echo_api.client.websocket_connect("/ws/echo") as ws:
        ws.send_text(json.dumps({"type": "auth", "access_token": token}))
        assert json.loads(ws.receive_text()) == {"type": "auth_ok"}
        ws.send_text('{"id": "1", "type": "echo", "payload": {"t": 1.5}}')
        assert ws.receive_text() == '{"id": "1", "type": "echo", "payload": {"t": 1.5}}'
