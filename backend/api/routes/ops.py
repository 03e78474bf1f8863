"""GET /metrics (Prometheus text), for the monitoring system or an all-sites admin — never for anyone else.

The figures cover every site of the install, so a caller needs one of:
- the `WES_METRICS_TOKEN` bearer token (what Prometheus sends: `authorization: {credentials: …}` in its
  scrape config), compared in constant time;
- a user token of an active all-sites admin.
No token or a wrong one: 401 `not_authenticated` / `invalid_token`; a user without the admin role: 403
`role_forbidden`; an admin of some sites only: 403 `all_sites_forbidden` (as its line in backend.api.access says).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from backend.api.deps import RuntimeDep, oauth2_scheme
from backend.auth.principal import read_principal
from backend.errors import Forbidden, Unauthorized
from backend.roles import Role

router = APIRouter(tags=["ops"])

_REFUSALS = {
    401: {"description": "no token, or a token that is neither the metrics token nor a valid user token"},
    403: {"description": "a user who is not an all-sites admin"},
}


def require_metrics_access(runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> None:
    if not token:
        raise Unauthorized("a bearer token is required (WES_METRICS_TOKEN, or an all-sites admin's token)")
    expected = runtime.settings.metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    # A session of its own, closed before the figures are read (SQLite: one writer's transaction at a time).
    with runtime.sessions() as session:
        principal = read_principal(runtime, session, token)
    if Role.ADMIN not in principal.roles:
        raise Forbidden("metrics cover every site: they need the metrics token or an all-sites admin",
                        code="role_forbidden")
    if not principal.all_sites:
        raise Forbidden("metrics cover every site: they need the metrics token or an all-sites admin",
                        code="all_sites_forbidden")


@router.get("/metrics", response_class=PlainTextResponse, responses=_REFUSALS,
            dependencies=[Depends(require_metrics_access)])
def metrics(runtime: RuntimeDep) -> str:
    """Task counts by kind and state, open exceptions, ledger moves (Prometheus text format)."""
    from backend.kpis import prometheus_text

    return prometheus_text(runtime)
