"""The permission walk: every operation in /openapi.json × every role × callers of two sites of two companies,
plus an all-sites admin and anonymous, each answer checked against the access matrix (backend/api/access.py).

Site ALPHA (company ACME) and site BRAVO (company BOLT) are seeded alike through the API: stock, orders, a
released wave with its tours and picks, an ASN received (a putaway task) and a damaged receipt (an exception),
a printer and a print job, an enrolled device, a tote. Path parameters name ALPHA's objects. Each answer must be:

- anonymous: 401 `not_authenticated`, except on public lines (which it passes);
- a role the line does not tick, at either site: 403 `role_forbidden`;
- a ticked role of BRAVO, on a site line: the line's refusal (status and code, the answer a missing site or row
  gets) when it names ALPHA's site or row, and — for a row looked up within a named site — when it names its own
  site with ALPHA's row; on a device line: ALPHA's device token refused; on `own` and `company` lines: an answer
  holding nothing of ALPHA (or the line's refusal). Nothing of ALPHA changes while BRAVO's callers try.
- a ticked role of ALPHA, and the all-sites admin, pass the check: any answer but 401, 403 and a 404 with the
  line's refusal code while the row still exists. (A 409 for a task already done, a 422 for a body the route
  finds wrong, a 404 `no_tours` or a 403 `label_type_forbidden` — a label type the caller's role does not
  print, backend.printing.service.LABEL_MAKERS — are the route's business, after the check.)

BRAVO's and the refused callers go first (they change nothing); ALPHA's callers then act for real, in matrix
order. The seeded database is built once per module and every caller's client reused.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel, select

from backend.api.access import ACCESS, API, Access, Scope
from backend.app import create_app
from backend.auth.signins import issue_pair
from backend.models import Site, User, UserSite
from backend.models.webhooks import IntegrationEvent, WebhookDelivery
from backend.roles import ROLES
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import Api, make_settings
from tests.helpers import PASSWORD, SKU_A, SKU_C, add_stock, build_site, gtin13, sscc
from tests.live import LiveServer

SITE_A, COMPANY_A = "ALPHA", "ACME"
SITE_B, COMPANY_B = "BRAVO", "BOLT"
A_ONLY_SKU = "ACME-WIDGET"  # a product only ALPHA's company has
# Text that must never reach BRAVO's callers in an answer: ALPHA's site, company, users and product.
A_MARKERS = (SITE_A, COMPANY_A, "alpha-")
SOON = (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat()

ANONYMOUS, ROOT = "anonymous", "root"


@dataclass
class Site_:
    """One seeded site: its codes and the ids and codes of its objects, by kind (the matrix's row kinds)."""

    code: str
    company: str
    prefix: str
    rows: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # a bearer token per role, one user each
    new_enrollment_token: Callable[[], str] | None = None  # a fresh one-time token of one of the site's devices
    new_refresh_token: Callable[[], str] | None = None  # a fresh refresh token of the site's picker
    device_token: str = ""  # the HTTP walk's device (ALPHA's callers revoke it at the end)
    socket_device_token: str = ""  # the websockets' device


@dataclass
class Caller:
    name: str
    site: str | None  # None: anonymous or the all-sites admin
    role: str | None
    headers: dict[str, str]


@dataclass
class Answer:
    operation: tuple[str, str]
    caller: str
    variant: str
    status: int
    code: str | None
    text: str


# --- seeding ------------------------------------------------------------------------------------------------


def _user(api: Api, username: str, roles: list[str], site: str | None, *, all_sites: bool = False) -> dict:
    """A user with a bearer token issued directly (no password hashing: fast)."""
    with api.runtime.sessions() as session:
        user = User(username=username, roles=roles, all_sites=all_sites, password_hash="!")
        session.add(user)
        session.flush()
        if site:
            site_id = session.exec(select(Site.id).where(Site.code == site)).one()
            session.add(UserSite(user_id=user.id, site_id=site_id))
        session.commit()
        user_id = user.id
    token, _ttl = api.runtime.tokens.issue(user_id)
    return {"Authorization": f"Bearer {token}"}


def _ok(response, status: int = 200) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    return response.json()


def _seed(api: Api, site: Site_, n: int) -> None:
    """A working site: stock, orders, a released wave, an ASN received, an exception, printing, a device, a tote."""
    client, root = api.client, api.as_("root").headers
    build_site(api, site.code, company=site.company)
    p = site.prefix
    _ok(client.post(f"{API}/locations", headers=root, json={"site": site.code, "locations": [
        {"code": "PF-03", "kind": "pick_face", "zone": "PF", "x": 12, "y": 2, "capacity": 100, "fixed_sku": SKU_C},
        {"code": "PACK-1", "kind": "pack", "x": 0, "y": 0, "mixed_products": True},
        # codes only this site has: a row of another site is never one of the caller's own by chance
        {"code": f"{p}-DOCK", "kind": "dock", "zone": "DOCK", "x": 0, "y": 1},
        {"code": f"{p}-R-1", "kind": "reserve", "zone": "RES", "x": 16, "y": 4, "capacity": 1000}]}))
    add_stock(api, site.code, "PF-01", SKU_A, 40)
    add_stock(api, site.code, "R1-01", SKU_A, 48, lpn=f"{p}-P-1")
    add_stock(api, site.code, "PF-03", SKU_C, 50)
    for role in ROLES:
        site.headers[role] = _user(api, f"{site.code.lower()}-{role}", [role], site.code)
    site.rows["worker"] = f"{site.code.lower()}-picker"
    orders = [{"reference": f"{p}-SO-{i}", "cut_off": SOON, "carrier": "DHL", "customer": f"{p} customer",
               "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 3}, {"line_no": 2, "sku": SKU_C, "quantity": 2}]}
              for i in (1, 2, 3)]
    _ok(client.post(f"{API}/orders", headers=root, json={"site": site.code, "orders": orders}), 201)
    wave = _ok(client.post(f"{API}/waves", headers=root, json={"site": site.code, "cart": {"totes": 4}}), 201)
    _ok(client.post(f"{API}/waves/{wave['id']}/release", headers=root))
    tours = _ok(client.get(f"{API}/waves/{wave['id']}/tours", headers=root))["data"]
    site.rows.update(wave=wave["id"], tour=tours[0]["id"], order=f"{p}-SO-1")
    lines = [{"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(n * 10 + 1)},
             {"line_no": 2, "sku": SKU_A, "quantity": 24, "sscc": sscc(n * 10 + 2)}]
    _ok(client.post(f"{API}/inbound-shipments", headers=root,
                    json={"site": site.code, "reference": f"{p}-ASN-1", "lines": lines}), 201)
    receipt = _ok(client.post(f"{API}/receipts", headers=root,
                              json={"site": site.code, "dock": "DOCK-1", "scan": sscc(n * 10 + 1)}), 201)
    damaged = _ok(client.post(f"{API}/receipts", headers=root, json={
        "site": site.code, "dock": "DOCK-1", "sku": SKU_A, "quantity": 2, "damaged": True, "blind": True}), 201)
    site.rows.update(task=receipt["putaway_task_id"], exception=damaged["exception_id"], asn=f"{p}-ASN-1",
                     container=sscc(n * 10 + 1), lpn=sscc(n * 10 + 1), second_pallet=sscc(n * 10 + 2),
                     location=f"{p}-R-1", dock=f"{p}-DOCK")
    _ok(client.post(f"{API}/printers", headers=root, json={
        "site": site.code, "code": f"{p}-ZT", "host": "127.0.0.1", "port": 9, "profile": "zebra-zt411-203"}), 201)
    job = _ok(client.post(f"{API}/print-jobs", headers=root, json={
        "site": site.code, "label_type": "location", "printer": f"{p}-ZT",
        "data": {"code": "R1-01", "check_digits": "42"}}), 201)
    site.rows.update(**{"print job": job["id"], "printer": f"{p}-ZT"})
    tote = _ok(client.post(f"{API}/containers", headers=root, json={"site": site.code, "kind": "tote"}), 201)
    site.rows["tote"] = tote["data"][0]["code"]

    def new_enrollment_token() -> str:
        return _ok(client.post(f"{API}/devices", headers=root, json={
            "site": site.code, "name": f"{p}-{uuid.uuid4().hex[:8]}"}), 201)["enrollment_token"]

    site.new_enrollment_token = new_enrollment_token
    # enrolled: its device token is the one /ws/device and X-Device-Token take
    for name in ("1", "ws"):
        enrollment = _ok(client.post(f"{API}/devices", headers=root, json={"site": site.code,
                                                                           "name": f"{p}-{name}"}), 201)
        token = _ok(client.post(f"{API}/devices/enroll", headers=site.headers["picker"],
                                json={"enrollment_token": enrollment["enrollment_token"]}))["device_token"]
        if name == "ws":
            site.socket_device_token = token
        else:
            site.device_token, site.rows["device"] = token, enrollment["device"]["id"]
    site.rows["product"] = A_ONLY_SKU if site.code == SITE_A else SKU_A
    site.rows["site"] = site.code
    # a user of the site to disable, enable and reset (not one of the callers)
    _user(api, f"{site.code.lower()}-walked", ["picker"], site.code)
    with api.runtime.sessions() as session:
        site.rows["user"] = session.exec(select(User.id).where(User.username == f"{site.code.lower()}-walked")).one()

    def new_refresh_token() -> str:
        with api.runtime.sessions() as session:
            user = session.exec(select(User).where(User.username == f"{site.code.lower()}-picker")).one()
            pair = issue_pair(session, api.runtime, user)
            session.commit()
        return pair.refresh_token

    site.new_refresh_token = new_refresh_token
    # an ERP's webhook subscription, and one delivery of its log
    subscription = _ok(client.post(f"{API}/webhooks", headers=root, json={
        "site": site.code, "url": f"http://127.0.0.1:9/{p}-hook", "start_after": 0}), 201)
    with api.runtime.sessions() as session:
        site_id = session.exec(select(Site.id).where(Site.code == site.code)).one()
        event = session.exec(select(IntegrationEvent).where(IntegrationEvent.site_id == site_id)
                             .order_by(IntegrationEvent.id)).first()
        delivery = WebhookDelivery(subscription_id=subscription["id"], event_id=event.id, event_type=event.type,
                                   state="failed", http_status=503, error="walk")
        session.add(delivery)
        session.commit()
        site.rows.update(**{"webhook subscription": subscription["id"], "webhook delivery": delivery.id,
                            "event": event.id})


# --- the requests ---------------------------------------------------------------------------------------------

# A valid body for each operation that takes one (the site, when the line names it there, is filled in). BRAVO's
# callers must be refused with it; ALPHA's callers send it for real.
Body = Callable[[Site_], dict]
BODIES: dict[tuple[str, str], Body] = {
    ("POST", f"{API}/users"): lambda s: {"username": f"walk-{uuid.uuid4().hex[:8]}", "password": PASSWORD,
                                         "roles": ["picker"], "sites": [s.code]},
    ("POST", f"{API}/companies"): lambda s: {"code": f"W{uuid.uuid4().hex[:6]}", "name": "walk"},
    ("POST", f"{API}/sites"): lambda s: {"name": f"Site {s.code}", "company": s.company},
    ("PUT", f"{API}/sites/{{code}}/layout"): lambda s: {"aisle_x": [4, 8, 12], "aisle_length": 10, "depot": [0, 0]},
    ("POST", f"{API}/zones"): lambda s: {"zones": [{"code": "WZ"}]},
    ("PUT", f"{API}/putaway-rules"): lambda s: {"rules": [{"category": "beverage", "zone": "BEV"}]},
    ("POST", f"{API}/locations"): lambda s: {"locations": [{"code": "W-1", "kind": "reserve"}]},
    ("POST", f"{API}/products"): lambda s: {"products": [{"sku": s.rows["product"], "description": "walked"}]},
    ("POST", f"{API}/containers"): lambda s: {"kind": "pallet"},
    ("POST", f"{API}/inbound-shipments"): lambda s: {"reference": f"W-ASN-{uuid.uuid4().hex[:6]}",
                                                     "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]},
    ("POST", f"{API}/receipts"): lambda s: {"dock": "DOCK-1", "scan": s.rows["second_pallet"]},
    ("POST", f"{API}/receipts/lpn-label"): lambda s: {"dock": "DOCK-1", "lpn": s.rows["lpn"]},
    ("POST", f"{API}/tasks/{{task_id}}/check-scan"): lambda s: {"step": "to_location", "scan": "R1-01"},
    ("POST", f"{API}/tasks/{{task_id}}/confirm-putaway"): lambda s: {"scan": "R1-02", "reason": "walk"},
    ("POST", f"{API}/tasks/{{task_id}}/assign"): lambda s: {"username": s.rows["worker"]},
    ("POST", f"{API}/tasks/{{task_id}}/reassign"): lambda s: {"username": None},
    ("POST", f"{API}/tasks/{{task_id}}/unassign"): lambda s: {},
    ("POST", f"{API}/tasks/{{task_id}}/suspend"): lambda s: {"reason": "walk"},
    ("POST", f"{API}/tasks/{{task_id}}/resume"): lambda s: {},
    ("POST", f"{API}/tasks/{{task_id}}/cancel"): lambda s: {"reason": "walk"},
    ("POST", f"{API}/tasks/{{task_id}}/reprioritise"): lambda s: {"priority": 5},
    ("POST", f"{API}/exceptions/{{exception_id}}/approve"): lambda s: {"note": "walk"},
    ("POST", f"{API}/exceptions/{{exception_id}}/reject"): lambda s: {"note": "walk"},
    ("POST", f"{API}/scans/classify"): lambda s: {"raw": "R1-01"},
    ("POST", f"{API}/orders"): lambda s: {"orders": [{"reference": f"W-SO-{uuid.uuid4().hex[:6]}",
                                                      "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 1}]}]},
    ("POST", f"{API}/orders/{{reference}}/hold"): lambda s: {},
    ("POST", f"{API}/orders/{{reference}}/release"): lambda s: {},
    ("POST", f"{API}/orders/{{reference}}/cancel"): lambda s: {},
    ("POST", f"{API}/orders/allocate"): lambda s: {},
    ("POST", f"{API}/replenishments"): lambda s: {},
    ("POST", f"{API}/counts"): lambda s: {"locations": ["R1-01"]},
    ("POST", f"{API}/waves"): lambda s: {"cart": {"totes": 2}},
    ("POST", f"{API}/tours/{{tour_id}}/reassign"): lambda s: {"username": None},
    ("POST", f"{API}/totes/{{code}}/packing/check"): lambda s: {"scan": gtin13(1)},
    ("POST", f"{API}/printers"): lambda s: {"code": "W-ZT", "host": "127.0.0.1", "port": 9,
                                            "profile": "zebra-zt411-203"},
    ("PUT", f"{API}/printer-routes"): lambda s: {"routes": [{"label_type": "lpn", "printer": s.rows["printer"]}]},
    ("POST", f"{API}/print-jobs"): lambda s: {"label_type": "location", "printer": s.rows["printer"],
                                              "data": {"code": "R1-02", "check_digits": "17"}},
    ("POST", f"{API}/print-jobs/{{job_id}}/reprint"): lambda s: {},
    ("POST", f"{API}/devices"): lambda s: {"name": f"walk-{uuid.uuid4().hex[:6]}"},
    ("POST", f"{API}/devices/{{device_id}}/messages"): lambda s: {"text": "walk"},
    ("POST", f"{API}/devices/enroll"): lambda s: {"enrollment_token": s.new_enrollment_token()},
    ("POST", f"{API}/device-commands"): lambda s: {"commands": [{"id": str(uuid.uuid4()), "type": "heartbeat"}]},
    ("PUT", f"{API}/workers/{{username}}"): lambda s: {"zones": [], "skills": [], "equipment": []},
    ("POST", f"{API}/at-risk/{{reference}}/release"): lambda s: {},
    ("POST", f"{API}/auth/token"): lambda s: {},
    ("POST", f"{API}/auth/refresh"): lambda s: {"refresh_token": s.new_refresh_token()},
    # a wrong current password: 422, and no caller's token is revoked by the walk
    ("POST", f"{API}/auth/password"): lambda s: {"current_password": "not-the-password",
                                                 "new_password": "walked-long-passphrase-42"},
    ("POST", f"{API}/users/{{user_id}}/password"): lambda s: {"new_password": "walked-long-passphrase-42"},
    ("POST", f"{API}/webhooks"): lambda s: {"url": "http://127.0.0.1:9/walk", "event_types": ["order.shipped"]},
    ("PUT", f"{API}/webhooks/{{subscription_id}}"): lambda s: {"description": "walked"},
    ("POST", f"{API}/webhooks/{{subscription_id}}/rotate-secret"): lambda s: {"overlap_hours": 1},
    ("POST", f"{API}/webhooks/{{subscription_id}}/redeliver"): lambda s: {"event_id": s.rows["event"]},
    ("POST", f"{API}/webhooks/deliveries/{{delivery_id}}/redeliver"): lambda s: {},
}
QUERY = {("GET", f"{API}/printer-routes/resolve"): {"label_type": "lpn"}}
OTHER_PATH_VALUES = {"table": "pick_rate"}


@dataclass
class Request:
    method: str
    url: str
    params: dict[str, str]
    json: dict | None
    headers: dict[str, str]
    data: dict | None = None


def build_request(operation: tuple[str, str], access: Access, target: Site_, *, name_site: bool = True) -> Request:
    """The request for `operation` about `target`'s objects; `name_site=False` leaves the site to the caller's
    default (their only site) while the path still names `target`'s row."""
    method, path = operation
    values = {}
    for name in re.findall(r"\{(\w+)\}", path):
        if access.row and name == access.row[0]:
            if access.row[1] not in target.rows:
                raise LookupError(f"no {access.row[1]} seeded: give _seed one for {method} {path}")
            values[name] = target.rows[access.row[1]]
        elif name == "code" and access.site == "{code}":
            values[name] = target.code
        elif name == "user_id":
            values[name] = target.rows["user"]
        elif name in OTHER_PATH_VALUES:
            values[name] = OTHER_PATH_VALUES[name]
        else:
            raise LookupError(f"no value for {{{name}}}: declare it a row in the matrix or add it to OTHER_PATH_VALUES")
    url = path.format(**values)
    params = dict(QUERY.get(operation, {}))
    body = BODIES[operation](target) if operation in BODIES else None
    if access.site == "?site" and name_site:
        params["site"] = target.code
    if access.site == "body.site" and name_site:
        body = {**(body or {}), "site": target.code}
    if access.site == "body.code":
        body = {**(body or {}), "code": target.code}
    headers = {"X-Device-Token": target.device_token} if access.scope is Scope.DEVICE else {}
    if operation == ("POST", f"{API}/auth/token"):
        return Request(method, url, params, None, headers, data={})
    return Request(method, url, params, body, headers)


# --- the walk -------------------------------------------------------------------------------------------------


@dataclass
class World:
    api: Api
    database_url: str
    a: Site_
    b: Site_
    callers: list[Caller]
    operations: list[tuple[str, str]]
    answers: list[Answer] = field(default_factory=list)
    changes_of_a: dict[tuple[str, str], list[str]] = field(default_factory=dict)


SIGN_OUT = ("POST", f"{API}/auth/logout")


def _send(api: Api, caller: Caller, request: Request):  # noqa: ANN202
    kwargs: dict[str, Any] = {"params": request.params, "headers": {**request.headers, **caller.headers}}
    if request.json is not None:
        kwargs["json"] = request.json
    if request.data is not None:
        kwargs["data"] = request.data
    response = api.client.request(request.method, request.url, **kwargs)
    if (request.method, request.url) == SIGN_OUT and response.status_code == 204:
        # Signed out everywhere: the caller signs in again (a new token of the user's new token version).
        caller.headers = _fresh_headers(api, caller)
    return response


def _fresh_headers(api: Api, caller: Caller) -> dict[str, str]:
    username = ROOT if caller.name == ROOT else f"{caller.site.lower()}-{caller.role}"
    with api.runtime.sessions() as session:
        user = session.exec(select(User).where(User.username == username)).one()
        token, _ttl = api.runtime.tokens.issue(user.id, version=user.token_version)
    return {"Authorization": f"Bearer {token}"}


def _answer(operation, caller: Caller, variant: str, response) -> Answer:  # noqa: ANN001
    code = None
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
    return Answer(operation, caller.name, variant, response.status_code, code, response.text[:2000])


VOLATILE = {"device": {"last_seen_at"}}  # columns that change without a request (the app's workers are off)


MASTER_TABLES = ("product", "product_gtin", "site", "company")  # shared rows: only changes to existing ones count


def fingerprint(api: Api, site_code: str) -> dict[str, set]:
    """Every row of the site (tables with a site_id), and every row of the shared master tables."""
    tables: dict[str, set] = {}
    site_table = SQLModel.metadata.tables["site"]
    with api.runtime.engine.connect() as conn:
        site_id = conn.execute(select(site_table.c.id).where(site_table.c.code == site_code)).scalar_one()
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name not in VOLATILE.get(table.name, ())]
            if "site_id" in table.columns:
                query = table.select().with_only_columns(*columns).where(table.c.site_id == site_id)
            elif table.name in MASTER_TABLES:
                query = table.select().with_only_columns(*columns)
            else:
                continue
            tables[table.name] = {json.dumps(list(row), default=str) for row in conn.execute(query)}
    return tables


def _diff(before: dict[str, set], after: dict[str, set]) -> list[str]:
    changes = []
    for name in before:
        gone, new = before[name] - after[name], after[name] - before[name]
        if gone or (new and name not in MASTER_TABLES):
            changes.append(f"{name}: {len(gone)} rows changed or gone, {len(new)} new")
    return changes


def _last(operation: tuple[str, str]) -> tuple[int, str]:
    """ALPHA's callers read first, then write, and revoke, cancel, discard and delete last; signing out (which
    revokes the caller's own token) is the very last."""
    method, path = operation
    if path == f"{API}/auth/logout":
        return 3, path
    final = method == "DELETE" or path.endswith(("/revoke", "/cancel", "/discard"))
    return (0 if method == "GET" else 2 if final else 1), path


def _walk(world: World) -> None:
    api, a = world.api, world.a
    refused_first = [c for c in world.callers if c.site != SITE_A and c.name != ROOT]
    acting = [c for c in world.callers if c.site == SITE_A or c.name == ROOT]
    # 1. anonymous, BRAVO's callers and ALPHA's refused roles: none of them may change anything of ALPHA.
    for operation in sorted(world.operations, key=lambda op: op == SIGN_OUT):
        access = ACCESS.get(operation)
        if access is None:
            world.answers.append(Answer(operation, "-", "undeclared", 0, None, ""))
            continue
        sends = []  # (the requests are made first: a body may create something, e.g. an enrollment token)
        try:
            for caller in refused_first + [c for c in acting if c.role and c.role not in access.roles
                                           and access.checks_roles]:
                sends.append((caller, "names A", build_request(operation, access, a)))
                if caller.site == SITE_B and access.row and access.site in ("?site", "body.site"):
                    sends.append((caller, "own site, A's row", build_request(operation, access, a, name_site=False)))
        except LookupError as missing:
            world.answers.append(Answer(operation, "-", "unwalkable", 0, None, str(missing)))
            continue
        before = fingerprint(api, SITE_A) if operation[0] != "GET" else None
        for caller, variant, request in sends:
            world.answers.append(_answer(operation, caller, variant, _send(api, caller, request)))
        if before is not None:
            changed = _diff(before, fingerprint(api, SITE_A))
            if changed:
                world.changes_of_a[operation] = changed
    # 2. ALPHA's ticked roles and the all-sites admin act for real.
    for operation in sorted(world.operations, key=_last):
        access = ACCESS.get(operation)
        if access is None:
            continue
        for caller in acting:
            if caller.role and access.checks_roles and caller.role not in access.roles:
                continue
            try:
                request = build_request(operation, access, a)
            except LookupError:
                break
            if caller.name == ROOT and access.scope is Scope.COMPANY:
                # The all-sites admin has every company: they name ALPHA's (a one-company caller needs not).
                if request.json is not None:
                    request.json = {**request.json, "company": a.company}
                else:
                    request.params = {**request.params, "company": a.company}
            world.answers.append(_answer(operation, caller, "names A", _send(api, caller, request)))


QUIET = {"print_spool_enabled": False, "cycle_count_every_minutes": 0, "at_risk_sweep_seconds": 0,
         "webhook_delivery_enabled": False}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database = tmp_path_factory.mktemp("walk") / "wes.db"
    # No background workers: the spool, the cycle-count scheduler and the at-risk sweeper would change the sites
    # between two requests (and the check is that nothing of ALPHA changes while BRAVO's callers try).
    app = create_app(make_settings(f"sqlite:///{database}", **QUIET))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        a, b = Site_(SITE_A, COMPANY_A, "A"), Site_(SITE_B, COMPANY_B, "B")
        _seed(api, a, 1)
        _seed(api, b, 2)
        root = api.as_("root").headers
        _ok(client.post(f"{API}/products", headers=root, json={"company": COMPANY_A, "products": [
            {"sku": A_ONLY_SKU, "description": "ACME's own widget", "gtins": {"each": gtin13(77)},
             "lot_tracked": True}]}))
        callers = [Caller(ANONYMOUS, None, None, {}), Caller(ROOT, None, "admin", root)]
        for site in (a, b):
            callers += [Caller(f"{site.code}/{role}", site.code, role, site.headers[role]) for role in ROLES]
        operations = sorted((method.upper(), path) for path, methods in app.openapi()["paths"].items()
                            for method in methods)
        world = World(api, f"sqlite:///{database}", a, b, callers, operations)
        _walk(world)
        yield world


# --- what each answer must be ---------------------------------------------------------------------------------


def _role_of(world: World, answer: Answer) -> str | None:
    return next(c.role for c in world.callers if c.name == answer.caller)


def _site_of(world: World, answer: Answer) -> str | None:
    return next(c.site for c in world.callers if c.name == answer.caller)


def _expected_refusal(access: Access, variant: str) -> tuple[int, str]:
    if variant == "own site, A's row" or access.site not in ("?site", "body.site"):
        return access.status, access.refusal
    return 404, "site_not_found"


AFTER_THE_CHECK = {"label_type_forbidden"}  # refusals of what a body asks, by a route the caller passed


def violations(world: World) -> dict[tuple[str, str], list[str]]:
    """Every answer that breaks its line of the matrix, by operation."""
    found: dict[tuple[str, str], list[str]] = {}

    def bad(answer: Answer, why: str) -> None:
        found.setdefault(answer.operation, []).append(
            f"{answer.caller} ({answer.variant}): {why}; got {answer.status} {answer.code} {answer.text[:160]}")

    for answer in world.answers:
        access = ACCESS.get(answer.operation)
        if access is None:
            found.setdefault(answer.operation, []).append("no line in the access matrix")
            continue
        if answer.variant == "unwalkable":
            found.setdefault(answer.operation, []).append(answer.text)
            continue
        if answer.status == 422 and answer.operation[0] != "GET" and answer.operation not in BODIES:
            bad(answer, "422 for want of a body: give the operation a valid one in BODIES")
            continue
        role, site = _role_of(world, answer), _site_of(world, answer)
        if answer.status >= 500:
            bad(answer, "server error")
        elif answer.caller == ANONYMOUS:
            if access.needs_token and (answer.status, answer.code) != (401, "not_authenticated"):
                bad(answer, "anonymous not refused with 401")
            if not access.needs_token and answer.status in (401, 403):
                bad(answer, "public line refused")
        elif access.checks_roles and role not in access.roles:
            if (answer.status, answer.code) != (403, "role_forbidden"):
                bad(answer, "a role the line does not tick was not refused with 403 role_forbidden")
        elif access.scope is Scope.ALL_SITES and answer.caller != ROOT:
            if (answer.status, answer.code) != (403, "all_sites_forbidden"):
                bad(answer, "a one-site caller was not refused with 403 all_sites_forbidden")
        elif site == SITE_B:
            if access.scope in (Scope.SITE, Scope.DEVICE) or (access.refusal and answer.status == access.status):
                expected = _expected_refusal(access, answer.variant)
                if (answer.status, answer.code) != expected:
                    bad(answer, f"BRAVO's caller not refused with {expected}")
            elif any(marker in answer.text for marker in A_MARKERS):
                bad(answer, "BRAVO's caller was answered with ALPHA's data")
        else:  # ALPHA's ticked roles and the all-sites admin
            if answer.status in (401, 403) and answer.code not in AFTER_THE_CHECK:
                bad(answer, "a ticked role of the site was refused")
            elif answer.status == 404 and answer.code in ("site_not_found", "unknown_site", access.refusal):
                if _row_exists(world, access):
                    bad(answer, "a ticked role of the site was answered as if the object did not exist")
    for operation, changed in world.changes_of_a.items():
        found.setdefault(operation, []).append(f"ALPHA changed while BRAVO's callers tried: {changed}")
    return found


def _row_exists(world: World, access: Access) -> bool:
    """Whether ALPHA's row the line names is still there (an earlier caller may have deleted it, e.g. a discard)."""
    if not access.row:
        return True
    kind, value = access.row[1], world.a.rows[access.row[1]]
    probe = {"wave": f"{API}/waves/{value}", "tour": f"{API}/tours/{value}", "task": f"{API}/tasks/{value}",
             "print job": f"{API}/print-jobs/{value}", "device": f"{API}/devices/{value}",
             "exception": f"{API}/exceptions/{value}", "webhook subscription": f"{API}/webhooks/{value}"}.get(kind)
    if probe is None:
        return True
    root = next(c for c in world.callers if c.name == ROOT)
    return world.api.client.get(probe, headers=root.headers).status_code == 200


def test_every_operation_of_the_openapi_document_was_walked_for_every_caller(world: World):
    walked = {(answer.operation, answer.caller) for answer in world.answers}
    assert len(world.operations) >= 100
    for operation in world.operations:
        assert ACCESS.get(operation) is not None, f"{operation} has no line in backend/api/access.py"
        assert {caller for op, caller in walked if op == operation} == {c.name for c in world.callers}, operation


def test_every_answer_keeps_to_its_line_of_the_access_matrix(world: World):
    found = violations(world)
    assert found == {}, "\n".join(f"{' '.join(op)}:\n  " + "\n  ".join(problems) for op, problems in found.items())


def test_bravo_s_callers_were_refused_with_alpha_s_objects_named(world: World):
    """The walk is not vacuous: BRAVO's ticked roles met the site check on every site line (and saw 404s)."""
    site_lines = [op for op in world.operations if ACCESS[op].scope is Scope.SITE]
    for operation in site_lines:
        refusals = [a for a in world.answers if a.operation == operation and a.caller.startswith(SITE_B)
                    and a.status == ACCESS[operation].status]
        assert refusals, operation


def test_alpha_s_callers_got_through_to_real_answers(world: World):
    """Not vacuous either: ALPHA's ticked roles got a 2xx on most operations (the rest are the route's refusals
    of a request that is valid for the check but not for the state it finds, e.g. a task already cancelled)."""
    passed = {a.operation for a in world.answers if a.caller.startswith(SITE_A) and 200 <= a.status < 300}
    assert len(passed) >= 0.6 * len(world.operations), sorted(set(world.operations) - passed)


# --- the websockets -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sockets(world: World) -> Iterator[str]:
    """The seeded database served by uvicorn on a real port: the websockets' base URL."""
    server = LiveServer(world.database_url, **QUIET).start()
    try:
        yield server.ws_url
    finally:
        server.stop()


def _socket_auth(base_url: str, path: str, message: dict) -> tuple[str, str | None]:
    """The first answer to an auth message: ("auth_ok", None) or ("error", the refusal's reason)."""
    with connect(base_url + path, open_timeout=10) as socket:
        socket.send(json.dumps({"id": 1, "type": "auth", **message}))
        reply = json.loads(socket.recv(timeout=10))
    if reply["type"] == "error":
        assert reply["error"]["code"] == "auth_failed", reply
        return "error", reply["error"]["details"]["reason"]
    return reply["type"], None


def _token(caller: Caller) -> str | None:
    header = caller.headers.get("Authorization")
    return header.split(" ", 1)[1] if header else None


def test_the_wall_lets_in_the_ticked_roles_of_the_site_named_and_no_one_else(world: World, sockets: str):
    access = ACCESS[("WS", "/ws/wall")]
    wrong = []
    for caller in world.callers:
        got = _socket_auth(sockets, "/ws/wall", {"access_token": _token(caller), "site": SITE_A})
        if caller.name == ANONYMOUS:
            expected = ("error", "invalid_credentials")
        elif caller.role not in access.roles:
            expected = ("error", "role_forbidden")
        elif caller.site == SITE_B:
            expected = ("error", access.refusal)
        else:
            expected = ("auth_ok", None)
        if got != expected:
            wrong.append((caller.name, got, expected))
    assert wrong == []


def test_a_device_socket_takes_only_workers_of_the_device_s_own_site(world: World, sockets: str):
    access = ACCESS[("WS", "/ws/device")]
    wrong = []
    for device_site, device_token in ((SITE_A, world.a.socket_device_token), (SITE_B, world.b.socket_device_token)):
        for caller in world.callers:
            got = _socket_auth(sockets, "/ws/device", {"device_token": device_token, "access_token": _token(caller)})
            if caller.name == ANONYMOUS:
                expected = ("error", "invalid_credentials")
            elif caller.role not in access.roles or caller.site not in (device_site, None):
                expected = ("error", access.refusal)
            else:
                expected = ("auth_ok", None)
            if got != expected:
                wrong.append((device_site, caller.name, got, expected))
    assert wrong == []


def test_a_device_token_of_another_site_does_not_sign_on_even_with_the_right_worker(world: World, sockets: str):
    """BRAVO's device token with ALPHA's picker, and a made-up token: refused before the worker counts."""
    picker = next(c for c in world.callers if c.name == f"{SITE_A}/picker")
    assert _socket_auth(sockets, "/ws/device", {"device_token": world.b.socket_device_token,
                                              "access_token": _token(picker)}) == ("error", "worker_not_allowed")
    assert _socket_auth(sockets, "/ws/device", {"device_token": "not-a-token", "access_token": _token(picker)}) \
        == ("error", "invalid_device_token")


def test_the_echo_socket_is_not_served_unless_the_benchmark_turns_it_on(sockets: str):
    """Its line asks for a signed-in user; off (the default) it is not there at all (tests/api/test_perimeter.py
    walks it turned on)."""
    assert ACCESS[("WS", "/ws/echo")].scope is Scope.SIGNED_IN
    with pytest.raises(InvalidStatus):
        with connect(sockets + "/ws/echo", open_timeout=10):
            pass
