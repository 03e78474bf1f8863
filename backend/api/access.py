"""Who may call what: every operation's roles and scope, declared once.

`ACCESS` is the access matrix: for each operation (HTTP method, or `WS` for a websocket, and the path
template exactly as /openapi.json writes it) the roles allowed and the scope the answer is kept to:

- `public`: anyone, no token;
- `signed in`: any valid bearer token, whatever its roles;
- `site`: one site's data; `site` says what names it (`?site` the query parameter, `body.site` the JSON
  field, both defaulting to the caller's only site; `{code}` a site code in the path; `{task_id}` a row
  whose site decides); `row` a path parameter naming a row of that site. A site or row that is not the
  caller's is answered exactly like one that does not exist: `refusal` (404, or the `status` given);
- `company`: master data of the companies the caller's sites belong to;
- `own`: answers hold only the caller's own sites' rows (lists of sites, users …);
- `device`: the device token decides the site;
- `all sites`: an all-sites admin only.

The roles are enforced from here: `backend.api.deps.authorize` (a dependency of every /api/v1 route)
reads the entry of the route it guards, and the websockets check the same groups of backend.roles as
their lines here (`DEVICE_SOCKET`, `WALL_SOCKET`); a route without an entry is refused. The scope
beyond roles is kept by the routes (`resolve_site`, `ensure_site_access`) and proved by the permission
walk (tests/api/test_permission_walk.py) for every operation × role × site.
`python -m backend.api.access --write` renders the matrix into docs/permissions.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum

from backend.roles import (
    ADMINS, DEVICE_SOCKET, EVERYONE, INTEGRATORS, MASTER_DATA, NOBODY, ORDER_DESK, PACKING, RECEIVING, ROLES,
    SITE_SETUP, SUPERVISORS, WALL_SOCKET, WORKERS, Role,
)

API = "/api/v1"


class Scope(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed in"
    SITE = "site"
    COMPANY = "company"
    OWN = "own"
    DEVICE = "device"
    ALL_SITES = "all sites"


@dataclass(frozen=True)
class Access:
    """One operation's access: who (roles) and to what (scope, and what names the site or row)."""

    roles: frozenset[str]
    scope: Scope
    site: str | None = None
    row: tuple[str, str] | None = None  # (path parameter, the kind of row it names)
    refusal: str | None = None  # the error code for another site's site or row (as for a missing one)
    status: int = 404
    note: str = ""

    @property
    def needs_token(self) -> bool:
        return self.scope is not Scope.PUBLIC

    @property
    def checks_roles(self) -> bool:
        return self.scope not in (Scope.PUBLIC, Scope.SIGNED_IN)




def public(note: str = "") -> Access:
    return Access(NOBODY, Scope.PUBLIC, note=note)


def signed_in(note: str = "") -> Access:
    return Access(NOBODY, Scope.SIGNED_IN, note=note)


def site(roles: frozenset[str], by: str = "?site", *, row: tuple[str, str] | None = None,
         refusal: str | None = None, status: int = 404, note: str = "") -> Access:
    """A site-scoped operation. `by` names the site; a row given by the site's lookup (`by` a `{param}`
    naming a row, or `row`) is refused with `refusal`; a site named by code with `site_not_found`."""
    if refusal is None:
        refusal = "unknown_site" if by == "{code}" else "site_not_found"
    return Access(frozenset(roles), Scope.SITE, by, row, refusal, status, note)


def company(roles: frozenset[str], *, row: tuple[str, str] | None = None, refusal: str | None = None,
            note: str = "") -> Access:
    return Access(frozenset(roles), Scope.COMPANY, None, row, refusal, note=note)


def own(roles: frozenset[str], note: str = "", *, refusal: str | None = None, status: int = 404) -> Access:
    return Access(frozenset(roles), Scope.OWN, refusal=refusal, status=status, note=note)


def device(roles: frozenset[str], refusal: str, status: int, note: str = "") -> Access:
    return Access(frozenset(roles), Scope.DEVICE, "X-Device-Token", refusal=refusal, status=status, note=note)


def all_sites(roles: frozenset[str], note: str = "") -> Access:
    return Access(frozenset(roles), Scope.ALL_SITES, note=note)


TASK = ("task_id", "task")
WAVE = ("wave_id", "wave")
TOUR = ("tour_id", "tour")
EXCEPTION = ("exception_id", "exception")
DEVICE = ("device_id", "device")
PRINT_JOB = ("job_id", "print job")
SUBSCRIPTION = ("subscription_id", "webhook subscription")
DELIVERY = ("delivery_id", "webhook delivery")


def _row(param: tuple[str, str]) -> str:
    return "{" + param[0] + "}"


def by_task(roles: frozenset[str]) -> Access:
    return site(roles, _row(TASK), row=TASK, refusal="unknown_task")


def by_wave(roles: frozenset[str]) -> Access:
    return site(roles, _row(WAVE), row=WAVE, refusal="unknown_wave")


def by_tour(roles: frozenset[str]) -> Access:
    return site(roles, _row(TOUR), row=TOUR, refusal="unknown_tour")


def by_exception(roles: frozenset[str]) -> Access:
    return site(roles, _row(EXCEPTION), row=EXCEPTION, refusal="unknown_exception")


def by_device(roles: frozenset[str]) -> Access:
    return site(roles, _row(DEVICE), row=DEVICE, refusal="unknown_device")


def by_print_job(roles: frozenset[str]) -> Access:
    return site(roles, _row(PRINT_JOB), row=PRINT_JOB, refusal="unknown_print_job")


LOCATION = ("code", "location")
ORDER = ("reference", "order")

# One line per operation. Adding a route: add its line here (docs/development.md says how).
ACCESS: dict[tuple[str, str], Access] = {
    # outside the API
    ("GET", "/health"): public("database reachable"),
    ("GET", "/metrics"): all_sites(ADMINS, "or the WES_METRICS_TOKEN bearer (Prometheus)"),
    ("GET", "/demo"): public("the demo sign-in screen's data"),
    ("GET", "/demo/scan-sheet.pdf"): public("the demo's scan sheet"),
    ("WS", "/ws/device"): device(DEVICE_SOCKET, "worker_not_allowed", 4401,
                                 "device token + a worker of the device's site (bearer token or password)"),
    ("WS", "/ws/wall"): site(WALL_SOCKET, "auth.site", refusal="site_not_found", status=4401),
    ("WS", "/ws/echo"): signed_in("the benchmark's floor: served only with WES_ECHO_SOCKET_ENABLED"),
    # auth and users
    ("POST", f"{API}/auth/token"): public("OAuth2 password flow"),
    ("POST", f"{API}/auth/refresh"): public("a refresh token traded for a new pair (docs/accounts.md)"),
    ("GET", f"{API}/auth/me"): signed_in(),
    ("POST", f"{API}/auth/logout"): signed_in("signs the caller out everywhere"),
    ("POST", f"{API}/auth/password"): signed_in("the caller's own password, the old one required"),
    ("GET", f"{API}/users"): own(ADMINS, "users all of whose sites are the caller's"),
    ("POST", f"{API}/users"): own(ADMINS, "sites among the caller's; all_sites only by an all-sites admin",
                                          refusal="unknown_site", status=422),
    ("POST", f"{API}/users/{{user_id}}/disable"): own(ADMINS, "users all of whose sites are the caller's",
                                                      refusal="unknown_user"),
    ("POST", f"{API}/users/{{user_id}}/enable"): own(ADMINS, "users all of whose sites are the caller's",
                                                     refusal="unknown_user"),
    ("POST", f"{API}/users/{{user_id}}/password"): own(ADMINS, "users all of whose sites are the caller's",
                                                       refusal="unknown_user"),
    # companies, sites, zones, layout
    ("GET", f"{API}/companies"): own(EVERYONE, "the companies of the caller's sites"),
    ("POST", f"{API}/companies"): all_sites(ADMINS, "the group's: an all-sites admin"),
    ("GET", f"{API}/sites"): own(EVERYONE, "the caller's sites"),
    ("POST", f"{API}/sites"): all_sites(ADMINS, "creating or changing a site (its company, its "
                                                "receiving tolerances): an all-sites admin"),
    ("GET", f"{API}/sites/{{code}}/layout"): site(EVERYONE, "{code}"),
    ("PUT", f"{API}/sites/{{code}}/layout"): site(SITE_SETUP, "{code}"),
    ("DELETE", f"{API}/sites/{{code}}/layout"): site(SITE_SETUP, "{code}"),
    ("GET", f"{API}/sites/{{code}}/floor-map"): site(EVERYONE, "{code}"),
    ("GET", f"{API}/sites/{{code}}/floor-map/heat"): site(SUPERVISORS, "{code}"),
    ("GET", f"{API}/zones"): site(EVERYONE),
    ("POST", f"{API}/zones"): site(SITE_SETUP, "body.site"),
    ("GET", f"{API}/putaway-rules"): site(EVERYONE),
    ("PUT", f"{API}/putaway-rules"): site(SITE_SETUP, "body.site"),
    # master data
    ("GET", f"{API}/locations"): site(EVERYONE),
    ("POST", f"{API}/locations"): site(MASTER_DATA, "body.site"),
    ("GET", f"{API}/locations/{{code}}"): site(EVERYONE, row=LOCATION, refusal="unknown_location"),
    ("GET", f"{API}/locations/{{code}}/detail"): site(EVERYONE, row=LOCATION, refusal="unknown_location"),
    ("GET", f"{API}/locations/labels.pdf"): site(EVERYONE),
    ("GET", f"{API}/products"): company(EVERYONE),
    ("POST", f"{API}/products"): company(MASTER_DATA),
    ("GET", f"{API}/products/{{sku}}"): company(EVERYONE, row=("sku", "product"), refusal="unknown_sku"),
    ("GET", f"{API}/containers"): site(EVERYONE),
    ("POST", f"{API}/containers"): site(RECEIVING | PACKING | {Role.INTEGRATION}, "body.site"),
    ("GET", f"{API}/containers/{{code}}"): site(EVERYONE, row=("code", "container"), refusal="unknown_lpn"),
    ("GET", f"{API}/inventory"): site(EVERYONE),
    ("GET", f"{API}/moves"): site(EVERYONE),
    # receiving
    ("GET", f"{API}/inbound-shipments"): site(RECEIVING | {Role.INTEGRATION}),
    ("POST", f"{API}/inbound-shipments"): site(ORDER_DESK, "body.site"),
    ("GET", f"{API}/inbound-shipments/{{reference}}"): site(RECEIVING | {Role.INTEGRATION}, row=("reference", "asn"),
                                                            refusal="unknown_shipment"),
    ("POST", f"{API}/receipts"): site(RECEIVING, "body.site"),
    ("POST", f"{API}/receipts/lpn-label"): site(RECEIVING, "body.site"),
    ("GET", f"{API}/docks/{{code}}/expected"): site(RECEIVING, row=("code", "dock"), refusal="unknown_location"),
    # tasks
    ("GET", f"{API}/tasks"): site(EVERYONE),
    ("GET", f"{API}/tasks/waiting"): site(WORKERS),
    ("GET", f"{API}/tasks/{{task_id}}"): by_task(EVERYONE),
    ("POST", f"{API}/tasks/{{task_id}}/check-scan"): by_task(WORKERS),
    ("POST", f"{API}/tasks/{{task_id}}/confirm-putaway"): by_task(RECEIVING | {Role.PICKER}),
    ("POST", f"{API}/tasks/{{task_id}}/assign"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/reassign"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/unassign"): by_task(SUPERVISORS),
    ("GET", f"{API}/tasks/{{task_id}}/candidates"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/suspend"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/resume"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/cancel"): by_task(SUPERVISORS),
    ("POST", f"{API}/tasks/{{task_id}}/reprioritise"): by_task(SUPERVISORS),
    # exceptions
    ("GET", f"{API}/exceptions"): site(SUPERVISORS),
    ("GET", f"{API}/exceptions/{{exception_id}}"): by_exception(SUPERVISORS),
    ("GET", f"{API}/exceptions/{{exception_id}}/detail"): by_exception(SUPERVISORS),
    ("POST", f"{API}/exceptions/{{exception_id}}/approve"): by_exception(SUPERVISORS),
    ("POST", f"{API}/exceptions/{{exception_id}}/reject"): by_exception(SUPERVISORS),
    ("POST", f"{API}/scans/classify"): site(EVERYONE, "body.site"),
    # orders, waves, tours
    ("GET", f"{API}/orders"): site(EVERYONE),
    ("POST", f"{API}/orders"): site(ORDER_DESK, "body.site"),
    ("GET", f"{API}/orders/{{reference}}"): site(EVERYONE, row=ORDER, refusal="unknown_order"),
    ("POST", f"{API}/orders/{{reference}}/hold"): site(ORDER_DESK, "body.site", row=ORDER, refusal="unknown_order"),
    ("POST", f"{API}/orders/{{reference}}/release"): site(ORDER_DESK, "body.site", row=ORDER,
                                                          refusal="unknown_order"),
    ("POST", f"{API}/orders/{{reference}}/cancel"): site(ORDER_DESK, "body.site", row=ORDER, refusal="unknown_order"),
    ("POST", f"{API}/orders/allocate"): site(ORDER_DESK, "body.site"),
    ("GET", f"{API}/orders/{{reference}}/packing-slip.pdf"): site(EVERYONE, row=ORDER, refusal="unknown_order"),
    ("POST", f"{API}/replenishments"): site(SUPERVISORS, "body.site"),
    ("POST", f"{API}/counts"): site(SUPERVISORS, "body.site"),
    ("GET", f"{API}/waves"): site(EVERYONE),
    ("POST", f"{API}/waves"): site(SUPERVISORS, "body.site"),
    ("GET", f"{API}/waves/{{wave_id}}"): by_wave(EVERYONE),
    ("POST", f"{API}/waves/{{wave_id}}/release"): by_wave(SUPERVISORS),
    ("POST", f"{API}/waves/{{wave_id}}/discard"): by_wave(SUPERVISORS),
    ("POST", f"{API}/waves/{{wave_id}}/cancel"): by_wave(SUPERVISORS),
    ("GET", f"{API}/waves/{{wave_id}}/tours"): by_wave(EVERYONE),
    ("GET", f"{API}/waves/{{wave_id}}/preview"): by_wave(EVERYONE),
    ("GET", f"{API}/waves/{{wave_id}}/pick-lists.pdf"): by_wave(EVERYONE),
    ("GET", f"{API}/waves/{{wave_id}}/summary.pdf"): by_wave(EVERYONE),
    ("GET", f"{API}/tours/{{tour_id}}"): by_tour(EVERYONE),
    ("POST", f"{API}/tours/{{tour_id}}/tote-labels"): by_tour(WORKERS),
    ("POST", f"{API}/tours/{{tour_id}}/reassign"): by_tour(SUPERVISORS),
    ("GET", f"{API}/tours/{{tour_id}}/pick-list.pdf"): by_tour(EVERYONE),
    # the pack bench and the dock door
    ("GET", f"{API}/totes/{{code}}/packing"): site(PACKING, row=("code", "tote"), refusal="unknown_code"),
    ("POST", f"{API}/totes/{{code}}/packing/check"): site(PACKING, "body.site", row=("code", "tote"),
                                                          refusal="unknown_code"),
    ("GET", f"{API}/docks/{{code}}/load"): site(PACKING, row=("code", "dock"), refusal="unknown_code"),
    # printing
    ("GET", f"{API}/printers"): site(EVERYONE),
    ("POST", f"{API}/printers"): site(SUPERVISORS, "body.site"),
    ("GET", f"{API}/printer-routes"): site(EVERYONE),
    ("PUT", f"{API}/printer-routes"): site(SUPERVISORS, "body.site"),
    ("GET", f"{API}/printer-routes/resolve"): site(EVERYONE),
    ("GET", f"{API}/print-jobs"): site(EVERYONE),
    ("POST", f"{API}/print-jobs"): site(EVERYONE, "body.site"),
    ("GET", f"{API}/print-jobs/{{job_id}}"): by_print_job(EVERYONE),
    ("GET", f"{API}/print-jobs/{{job_id}}/label.pdf"): by_print_job(EVERYONE),
    ("POST", f"{API}/print-jobs/{{job_id}}/reprint"): by_print_job(RECEIVING | PACKING),
    ("POST", f"{API}/print-jobs/{{job_id}}/cancel"): by_print_job(RECEIVING | PACKING | {Role.INTEGRATION}),
    # devices and workers
    ("GET", f"{API}/devices"): site(SUPERVISORS),
    ("POST", f"{API}/devices"): site(SUPERVISORS, "body.site"),
    ("GET", f"{API}/devices/{{device_id}}"): by_device(SUPERVISORS),
    ("POST", f"{API}/devices/{{device_id}}/enrollment"): by_device(SUPERVISORS),
    ("POST", f"{API}/devices/{{device_id}}/revoke"): by_device(SUPERVISORS),
    ("POST", f"{API}/devices/{{device_id}}/messages"): by_device(SUPERVISORS),
    ("POST", f"{API}/devices/enroll"): own(WORKERS, "an enrollment token of one of the caller's sites",
                                           refusal="unknown_enrollment_token"),
    ("POST", f"{API}/device-commands"): device(WORKERS, "device_forbidden", 403,
                                               "with X-Device-Token, a device of one of the caller's sites"),
    ("GET", f"{API}/workers"): site(SUPERVISORS),
    ("PUT", f"{API}/workers/{{username}}"): site(SUPERVISORS, "body.site", row=("username", "worker"),
                                                 refusal="unknown_worker"),
    # insights
    ("GET", f"{API}/kpis"): site(SUPERVISORS),
    ("GET", f"{API}/kpis/{{table}}.csv"): site(SUPERVISORS),
    ("GET", f"{API}/at-risk"): site(SUPERVISORS),
    ("GET", f"{API}/at-risk/hit-rate"): site(SUPERVISORS),
    ("POST", f"{API}/at-risk/{{reference}}/release"): site(SUPERVISORS, "body.site", row=ORDER,
                                                           refusal="unknown_order"),
    ("GET", f"{API}/anomalies"): site(SUPERVISORS),
    # ERP webhooks and the pull feed of events (backend/api/routes/webhooks.py)
    ("POST", f"{API}/webhooks"): site(INTEGRATORS, "body.site"),
    ("GET", f"{API}/webhooks"): site(INTEGRATORS),
    ("GET", f"{API}/webhooks/{{subscription_id}}"): site(INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION,
                                                        refusal="unknown_subscription"),
    ("PUT", f"{API}/webhooks/{{subscription_id}}"): site(INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION,
                                                        refusal="unknown_subscription"),
    ("DELETE", f"{API}/webhooks/{{subscription_id}}"): site(INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION,
                                                           refusal="unknown_subscription"),
    ("POST", f"{API}/webhooks/{{subscription_id}}/rotate-secret"): site(
        INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION, refusal="unknown_subscription"),
    ("GET", f"{API}/webhooks/{{subscription_id}}/deliveries"): site(
        INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION, refusal="unknown_subscription"),
    ("POST", f"{API}/webhooks/{{subscription_id}}/redeliver"): site(
        INTEGRATORS, _row(SUBSCRIPTION), row=SUBSCRIPTION, refusal="unknown_subscription"),
    ("POST", f"{API}/webhooks/deliveries/{{delivery_id}}/redeliver"): site(
        INTEGRATORS, _row(DELIVERY), row=DELIVERY, refusal="unknown_delivery"),
    ("GET", f"{API}/events"): site(INTEGRATORS),
}


def access_for(method: str, path: str) -> Access | None:
    """The declared access of an operation (`path` as /openapi.json writes it), or None if undeclared."""
    return ACCESS.get((method.upper(), path))


# --- docs/permissions.md -------------------------------------------------------------------------------

ROLE_COLUMNS = ROLES


def _where(access: Access) -> str:
    if access.scope is Scope.SITE:
        named = {"?site": "`?site=`", "body.site": "body `site`", "{code}": "path `{code}` (site code)",
                 "body.code": "body `code` (site code)",
                 "auth.site": "the auth message's `site`"}.get(access.site or "", f"the {access.row[1]} "
                                                                              f"`{access.site}`" if access.row else "")
        text = f"site by {named}"
        if access.row and access.site != _row(access.row):
            text += f"; `{{{access.row[0]}}}` names the {access.row[1]}, within that site"
        return text
    if access.scope is Scope.DEVICE:
        return f"site of the device (`{access.site}`)"
    return ""


def _refusal(access: Access) -> str:
    return f"{access.status} `{access.refusal}`" if access.refusal else ""


def render_markdown() -> str:
    """docs/permissions.md: the matrix as a table (generated; edit backend/api/access.py instead)."""
    lines = [
        "# Permissions",
        "",
        "<!-- Generated by `python -m backend.api.access --write`; edit backend/api/access.py, not this file. -->",
        "",
        "Who may call each operation, and what the answer is kept to. ✓ = the role passes the role check",
        "(a caller needs one of the ticked roles); *any* = any signed-in user; *anyone* = no token needed.",
        "Scopes: **site** — one site's data, named as the *site* column says (a site or row that is not the",
        "caller's gets the same answer as one that does not exist: the *refusal*, and a site named by `?site=`",
        "or body `site`, 404 `site_not_found`); **company** — master data",
        "shared by the sites of the caller's companies; **own** — the answer holds only the caller's own",
        "sites' rows; **device** — the device token decides the site; **all sites** — all-sites admins only.",
        "Without a token every operation but the public ones answers 401 `not_authenticated`; a role not",
        "ticked, 403 `role_forbidden`. The permission walk (tests/api/test_permission_walk.py) checks every",
        "line for every role at two sites of two companies.",
        "",
        "| operation | " + " | ".join(ROLE_COLUMNS) + " | scope | site | refusal | note |",
        "|---|" + "---|" * len(ROLE_COLUMNS) + "---|---|---|---|",
    ]
    for (method, path), access in ACCESS.items():
        if access.scope is Scope.PUBLIC:
            ticks = ["anyone"] * len(ROLE_COLUMNS)
        elif access.scope is Scope.SIGNED_IN:
            ticks = ["any"] * len(ROLE_COLUMNS)
        else:
            ticks = ["✓" if role in access.roles else "" for role in ROLE_COLUMNS]
        cells = [f"`{method} {path}`", *ticks, access.scope.value, _where(access), _refusal(access), access.note]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python -m backend.api.access` prints docs/permissions.md; `--write` writes it."""
    text = render_markdown()
    if "--write" in argv:
        from pathlib import Path

        target = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
