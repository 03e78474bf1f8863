"""Who may call what: bearer tokens, the roles each route allows, and sites kept apart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from fastapi.routing import APIRoute, APIWebSocketRoute
from sqlmodel import func, select

from backend.api.access import ACCESS, WORKERS, Scope, render_markdown
from backend.api.deps import ALL_ROLES, api_path, authorize
from backend.api.router import api_router
from backend.app import create_app
from backend.commands.registry import WORKER_ROLES
from backend.config import Settings
from backend.models import Container, InboundShipment, Location, Site, User, UserSite, WarehouseException, Zone
from tests.conftest import Api, UserClient
from tests.helpers import PASSWORD, SKU_A, build_site, sscc

API = "/api/v1"
EVERYONE = frozenset(ALL_ROLES)

# The roles that pass each /api/v1 route's role check, as the access matrix (backend/api/access.py) declares
# them, keyed by the path under /api/v1 ("signed in" lines: every role).
ROUTE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    (method, path[len(API):]): access.roles if access.checks_roles else EVERYONE
    for (method, path), access in ACCESS.items() if path.startswith(API + "/") and access.needs_token
}

PATH_VALUES = {"code": "R1-01", "sku": SKU_A, "reference": "ASN-1", "task_id": "1", "exception_id": "1",
               "wave_id": "1"}
PATH_VALUES.update(job_id="1", tour_id="1")  # printing and documents
PATH_VALUES.update(device_id="1", username="root")  # devices and workers
PATH_VALUES.update(table="pick_rate")  # KPIs
PATH_VALUES.update(user_id="999999")  # accounts: nobody, so the walk disables no one
# Routes open to anyone (they are how a token is got) and routes that end the caller's own session (the walk
# would sign its callers out; tests/api/test_accounts.py covers them).
PUBLIC = {"/auth/token", "/auth/refresh"}
SIGNS_OUT = {("POST", "/auth/logout")}
PATH_VALUES.update(subscription_id="1", delivery_id="1")  # webhooks


def _api_routes(app) -> list[tuple[str, str]]:  # noqa: ANN001
    """Every (METHOD, path under /api/v1) in the OpenAPI document, except the PUBLIC ones."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith(API + "/") or path[len(API):] in PUBLIC:
            continue
        routes += [(method.upper(), path[len(API):]) for method in operations]
    return sorted(routes)


def _url(path: str) -> str:
    return API + path.format(**PATH_VALUES)


def _call(client, method: str, path: str, headers: dict | None = None):  # noqa: ANN001, ANN202
    # An empty JSON body: enough to get past parsing, never enough to write anything.
    body = {"json": {}} if method in ("POST", "PUT") else {}
    return client.request(method, _url(path), headers=headers or {}, **body)


def add_user_with_token(api: Api, username: str, roles: list[str], sites: Sequence[str] = (), *,
                        all_sites: bool = False, active: bool = True) -> UserClient:
    """A user who cannot log in by password (no hashing: fast), with a bearer token issued directly."""
    with api.runtime.sessions() as session:
        user = User(username=username, roles=roles, all_sites=all_sites, active=active, password_hash="!")
        session.add(user)
        session.flush()
        for code in sites:
            site = session.exec(select(Site).where(Site.code == code)).one()
            session.add(UserSite(user_id=user.id, site_id=site.id))
        session.commit()
        user_id = user.id
    api.tokens[username], _ttl = api.runtime.tokens.issue(user_id)
    return api.as_(username)


def _is_envelope(body: dict) -> bool:
    error = body.get("error")
    return isinstance(error, dict) and set(error) == {"code", "message", "details"}


# --- the role table ------------------------------------------------------------------------


def _app():  # noqa: ANN202
    return create_app(Settings(environment="test", database_url="sqlite://", echo_socket_enabled=True))


def _operations(app) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations}


def test_every_operation_in_the_openapi_document_has_a_line_in_the_access_matrix_and_no_line_is_stale():
    app = _app()
    websockets = {("WS", route.path) for route in app.routes if isinstance(route, APIWebSocketRoute)}
    assert sorted(_operations(app) | websockets) == sorted(ACCESS)


def _flatten(dependant) -> list:  # noqa: ANN001
    calls = []
    for sub in dependant.dependencies:
        calls += [sub.call, *_flatten(sub)]
    return calls


def _api_route_checks() -> dict[tuple[str, str], list]:
    """Per /api/v1 operation, the dependency callables its route declares (its router's and its own)."""
    found: dict[tuple[str, str], list] = {}

    def visit(routes, router_calls: list) -> None:  # noqa: ANN001
        for route in routes:
            inner = getattr(route, "original_router", None)  # recent FastAPI keeps an included router whole
            if inner is not None:
                visit(inner.routes, router_calls + [d.dependency for d in inner.dependencies])
            elif isinstance(route, APIRoute):
                for method in route.methods:
                    found[(method, api_path(route.path_format))] = router_calls + _flatten(route.dependant)

    visit(api_router.routes, [])
    return found


def test_every_route_s_checks_agree_with_its_line_in_the_matrix():
    assert authorize in [d.dependency for d in api_router.dependencies]
    app = _app()
    checks = _api_route_checks()
    operations = _operations(app)
    # Every /api/v1 operation is api_router's (so authorize guards it); nothing outside it needs a token.
    assert {op for op in operations if op[1].startswith(API + "/")} == set(checks)
    # … but /metrics, which checks its own (the metrics token or an all-sites admin: tests/api/test_perimeter.py).
    assert [op for op in operations if op not in checks and ACCESS[op].needs_token] == [("GET", "/metrics")]
    disagreements = []
    for operation, calls in sorted(checks.items()):
        access = ACCESS[operation]
        for call in calls:  # a route-level require_roles(...) left over, or added since
            roles = getattr(call, "roles", None)
            if roles is not None and roles != access.roles:
                disagreements.append((operation, f"route checks {sorted(roles)}, matrix says {sorted(access.roles)}"))
    assert disagreements == []


def test_the_matrix_s_lines_are_well_formed():
    assert WORKERS == frozenset(WORKER_ROLES)  # the floor roles, as the device commands know them
    for operation, access in ACCESS.items():
        assert access.roles <= EVERYONE, operation
        assert bool(access.roles) == access.checks_roles, operation
        if access.scope is Scope.SITE:
            assert access.site and access.refusal, operation
        if access.row:
            assert "{" + access.row[0] + "}" in operation[1], operation


def test_docs_permissions_md_is_the_rendered_matrix():
    committed = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "run: python -m backend.api.access --write"


def test_a_route_missing_from_the_matrix_is_refused_whoever_asks(api, monkeypatch):  # noqa: ANN001
    monkeypatch.delitem(ACCESS, ("GET", f"{API}/tasks"))
    r = api.as_("root").get(f"{API}/tasks")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "access_undeclared")


def test_anonymous_requests_are_refused_with_401_on_every_api_route(api):  # noqa: ANN001
    accepted = []
    for method, path in _api_routes(api.client.app):
        r = _call(api.client, method, path)
        body = r.json()
        if not (r.status_code == 401 and _is_envelope(body) and body["error"]["code"] == "not_authenticated"
                and r.headers.get("www-authenticate") == "Bearer"):
            accepted.append((method, path, r.status_code, body))
    assert accepted == []


def test_each_route_refuses_roles_outside_its_list_and_lets_its_roles_through(api):  # noqa: ANN001
    build_site(api)
    clients = {role: add_user_with_token(api, f"only-{role}", [role], ["S1"]) for role in ALL_ROLES}
    wrong = []
    for (method, path), allowed in sorted(ROUTE_ROLES.items()):
        if (method, path) in SIGNS_OUT:
            continue
        for role in ALL_ROLES:
            r = _call(clients[role].client, method, path, clients[role].headers)
            # PDF routes answer 200 with a document, not JSON
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            code = body["error"]["code"] if _is_envelope(body) else None
            if role in allowed and (r.status_code in (401, 403) and code in ("role_forbidden", "invalid_token")):
                wrong.append((method, path, role, "refused although allowed", r.status_code, code))
            if role not in allowed and (r.status_code, code) != (403, "role_forbidden"):
                wrong.append((method, path, role, "not refused", r.status_code, code))
            if r.status_code >= 500:
                wrong.append((method, path, role, "server error", r.status_code, code))
    assert wrong == []


def test_a_user_with_no_roles_is_refused_everywhere_but_who_am_i(api):  # noqa: ANN001
    build_site(api)
    nobody = add_user_with_token(api, "nobody", [], ["S1"])
    assert nobody.get(f"{API}/auth/me").status_code == 200
    for method, path in ROUTE_ROLES:
        if path.startswith("/auth/"):  # one's own account (who am I, password, sign out) needs no role
            continue
        r = _call(nobody.client, method, path, nobody.headers)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "role_forbidden"), (method, path)


# --- tokens and passwords -------------------------------------------------------------------


def _token(api: Api, **claims) -> str:  # noqa: ANN003
    now = datetime.now(timezone.utc)
    claims = {"sub": "1", "kind": "user", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return jwt.encode(claims, api.runtime.settings.secret_key, algorithm="HS256")


def _me(api: Api, token: str):  # noqa: ANN202
    return api.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_a_well_formed_token_for_root_is_accepted(api):  # noqa: ANN001
    root_id = api.client.get(f"{API}/auth/me", headers=api.as_("root").headers).json()["id"]
    r = _me(api, _token(api, sub=str(root_id)))
    assert r.status_code == 200 and r.json()["username"] == "root"


def test_expired_forged_garbage_and_foreign_kind_tokens_are_refused_as_invalid_token(api):  # noqa: ANN001
    root_id = api.client.get(f"{API}/auth/me", headers=api.as_("root").headers).json()["id"]
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    tokens = {
        "expired": _token(api, sub=str(root_id), iat=past - timedelta(hours=1), exp=past),
        "signed with another key": jwt.encode({"sub": str(root_id), "kind": "user", "exp": datetime.now(timezone.utc)
                                               + timedelta(minutes=5)}, "another-secret-of-32-characters!!",
                                              algorithm="HS256"),
        "unsigned": jwt.encode({"sub": str(root_id), "kind": "user"}, None, algorithm="none"),
        "garbage": "not-a-token",
        "no expiry": jwt.encode({"sub": str(root_id), "kind": "user"}, api.runtime.settings.secret_key,
                                algorithm="HS256"),
        "subject not a number": _token(api, sub="root"),
        "unknown user": _token(api, sub="987654"),
        # A token of another kind (e.g. a device's) names a row of another table: not this user.
        "device kind": _token(api, sub=str(root_id), kind="device"),
    }
    for what, token in tokens.items():
        r = _me(api, token)
        assert r.status_code == 401, what
        assert _is_envelope(r.json()) and r.json()["error"]["code"] == "invalid_token", what


def test_a_disabled_user_s_token_stops_working(api):  # noqa: ANN001
    build_site(api)
    picker = add_user_with_token(api, "leaver", ["picker"], ["S1"])
    assert picker.get(f"{API}/tasks").status_code == 200
    with api.runtime.sessions() as session:
        user = session.exec(select(User).where(User.username == "leaver")).one()
        user.active = False
        session.add(user)
        session.commit()
    r = picker.get(f"{API}/tasks")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_wrong_password_unknown_user_and_disabled_user_get_the_same_invalid_credentials(api):  # noqa: ANN001
    api.add_user("alice", ["picker"], password="right-password")
    api.add_user("gone", ["picker"], password="right-password")
    with api.runtime.sessions() as session:
        gone = session.exec(select(User).where(User.username == "gone")).one()
        gone.active = False
        session.add(gone)
        session.commit()
    attempts = [("alice", "wrong-password"), ("nobody-by-that-name", "right-password"), ("gone", "right-password")]
    answers = []
    for username, password in attempts:
        r = api.client.post(f"{API}/auth/token", data={"username": username, "password": password})
        answers.append((r.status_code, r.json()))
    assert [status for status, _ in answers] == [401, 401, 401]
    assert all(_is_envelope(body) and body["error"]["code"] == "invalid_credentials" for _, body in answers)
    # Nothing tells a wrong password from a name that does not exist.
    assert len({body["error"]["message"] for _, body in answers}) == 1
    ok = api.client.post(f"{API}/auth/token", data={"username": "alice", "password": "right-password"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"


# --- sites kept apart -----------------------------------------------------------------------


def _two_sites_with_work_at_s1(api: Api) -> dict:
    """S1 with an ASN, a pallet at the dock with its putaway task, and an open exception; S2 empty."""
    build_site(api, "S1")
    for username, role in (("recv", "receiver"), ("sup", "supervisor"), ("integ", "integration")):
        add_user_with_token(api, username, [role], ["S1"])
    lines = [{"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
             {"line_no": 2, "sku": SKU_A, "quantity": 24, "sscc": sscc(2)}]
    r = api.as_("integ").post(f"{API}/inbound-shipments", json={"site": "S1", "reference": "ASN-1", "lines": lines})
    assert r.status_code == 201, r.text
    r = api.as_("recv").post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": sscc(1)})
    assert r.status_code == 201, r.text
    task_id = r.json()["putaway_task_id"]
    r = api.as_("sup").post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_A, "quantity": 2,
                                                     "damaged": True, "blind": True})
    assert r.status_code == 201, r.text
    exception_id = r.json()["exception_id"]
    build_site(api, "S2")
    s2 = {
        "admin": add_user_with_token(api, "s2-admin", ["admin"], ["S2"]),
        "supervisor": add_user_with_token(api, "s2-sup", ["supervisor"], ["S2"]),
        "receiver": add_user_with_token(api, "s2-recv", ["receiver"], ["S2"]),
    }
    return {"task_id": task_id, "exception_id": exception_id, "s2": s2}


def _s1_counts(api: Api) -> dict[str, int]:
    with api.runtime.sessions() as session:
        s1 = session.exec(select(Site).where(Site.code == "S1")).one()
        return {
            table.__tablename__: session.exec(
                select(func.count()).select_from(table).where(table.site_id == s1.id)
            ).one()
            for table in (Location, Zone, Container, InboundShipment, WarehouseException)
        }


S1_READS = [
    "/locations", "/locations/R1-01", "/inventory", "/moves", "/tasks", "/inbound-shipments",
    "/inbound-shipments/ASN-1", "/exceptions", "/containers", f"/containers/{sscc(1)}", "/zones", "/putaway-rules",
]


def test_s2_users_get_site_not_found_for_every_s1_listing(api):  # noqa: ANN001
    world = _two_sites_with_work_at_s1(api)
    s1_supervisor = api.as_("sup")
    for path in S1_READS:
        # The S1 data is there for S1's own supervisor ...
        assert s1_supervisor.get(API + path, params={"site": "S1"}).status_code == 200, path
        for who, client in world["s2"].items():
            if who == "receiver" and path == "/exceptions":
                continue  # refused earlier, by role
            # ... and for S2 the site answers exactly like one that does not exist.
            for site in ("S1", "NO-SUCH-SITE"):
                r = client.get(API + path, params={"site": site})
                assert r.status_code == 404, (who, path, site, r.text)
                assert r.json()["error"]["code"] == "site_not_found", (who, path, site)


def test_s2_users_cannot_write_into_s1(api):  # noqa: ANN001
    world = _two_sites_with_work_at_s1(api)
    admin, receiver = world["s2"]["admin"], world["s2"]["receiver"]
    before = _s1_counts(api)
    stock_before = api.as_("sup").get(f"{API}/inventory", params={"site": "S1"}).json()
    writes = [
        (admin, "POST", "/locations", {"site": "S1", "locations": [{"code": "X-1", "kind": "reserve"}]}),
        (admin, "POST", "/zones", {"site": "S1", "zones": [{"code": "XZ"}]}),
        (admin, "PUT", "/putaway-rules", {"site": "S1", "rules": []}),
        (admin, "POST", "/containers", {"site": "S1", "kind": "pallet", "count": 3}),
        (admin, "POST", "/inbound-shipments", {"site": "S1", "reference": "ASN-2",
                                               "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}),
        (admin, "POST", "/scans/classify", {"site": "S1", "raw": "R1-01"}),
        (receiver, "POST", "/receipts", {"site": "S1", "dock": "DOCK-1", "scan": sscc(2)}),
        (receiver, "POST", "/receipts", {"site": "S1", "dock": "DOCK-1", "sku": SKU_A, "quantity": 5}),
    ]
    for client, method, path, body in writes:
        r = client.client.request(method, API + path, json=body, headers=client.headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "site_not_found", path
    assert _s1_counts(api) == before
    assert api.as_("sup").get(f"{API}/inventory", params={"site": "S1"}).json() == stock_before
    assert api.as_("sup").get(f"{API}/putaway-rules", params={"site": "S1"}).json()["count"] == 1


def test_s1_task_and_exception_ids_look_like_missing_ones_to_s2(api):  # noqa: ANN001
    world = _two_sites_with_work_at_s1(api)
    task_id, exception_id = world["task_id"], world["exception_id"]
    admin = world["s2"]["admin"]
    missing_task = admin.get(f"{API}/tasks/987654").json()["error"]
    missing_exception = admin.get(f"{API}/exceptions/987654").json()["error"]
    assert missing_task["code"] == "unknown_task" and missing_exception["code"] == "unknown_exception"

    reads_and_writes = [
        ("GET", f"/tasks/{task_id}", None, "unknown_task"),
        ("POST", f"/tasks/{task_id}/confirm-putaway", {"scan": "R1-01", "reason": "mine now"}, "unknown_task"),
        ("GET", f"/exceptions/{exception_id}", None, "unknown_exception"),
        ("POST", f"/exceptions/{exception_id}/approve", {"note": "ok"}, "unknown_exception"),
        ("POST", f"/exceptions/{exception_id}/reject", {"note": "no"}, "unknown_exception"),
    ]
    for who in ("admin", "supervisor", "receiver"):
        client = world["s2"][who]
        for method, path, body, code in reads_and_writes:
            if who == "receiver" and path.startswith("/exceptions"):
                continue  # refused earlier, by role
            r = client.client.request(method, API + path, json=body, headers=client.headers)
            assert r.status_code == 404, (who, path, r.text)
            assert r.json()["error"]["code"] == code, (who, path)
            assert r.json()["error"]["details"] is None, (who, path)

    s1 = api.as_("sup")
    task = s1.get(f"{API}/tasks/{task_id}").json()
    assert task["state"] == "pending"
    assert s1.get(f"{API}/inventory", params={"site": "S1", "location": "DOCK-1"}).json()["count"] == 1
    assert s1.get(f"{API}/exceptions/{exception_id}").json()["state"] == "open"


def test_s2_users_see_only_s2_in_sites_me_and_users(api):  # noqa: ANN001
    world = _two_sites_with_work_at_s1(api)
    for client in world["s2"].values():
        sites = client.get(f"{API}/sites").json()
        assert [s["code"] for s in sites["data"]] == ["S2"] and sites["count"] == 1
        assert client.get(f"{API}/auth/me").json()["sites"] == ["S2"]
    users = world["s2"]["admin"].get(f"{API}/users").json()
    assert {u["username"] for u in users["data"]} == {"s2-admin", "s2-sup", "s2-recv"}
    assert [s["code"] for s in api.as_("root").get(f"{API}/sites").json()["data"]] == ["S1", "S2"]


def test_an_s2_admin_cannot_grant_itself_s1(api):  # noqa: ANN001
    world = _two_sites_with_work_at_s1(api)
    admin = world["s2"]["admin"]
    r = admin.post(f"{API}/users", json={"username": "mole", "password": PASSWORD, "roles": ["supervisor"],
                                         "sites": ["S1"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_site"
    r = admin.post(f"{API}/users", json={"username": "mole", "password": PASSWORD, "roles": ["supervisor"],
                                         "all_sites": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "all_sites_forbidden"
    with api.runtime.sessions() as session:
        assert session.exec(select(User).where(User.username == "mole")).first() is None
