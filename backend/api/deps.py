"""Typed dependency aliases; routes only declare them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session, select

from backend.api.access import API, Scope, access_for
from backend.auth.principal import Principal, read_principal
from backend.errors import Forbidden, NotFound, Unauthorized
from backend.models import Company, Site
from backend.roles import ROLES, in_order
from backend.runtime import Runtime

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    session = runtime.sessions()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def api_path(path_format: str) -> str:
    """The route's path as /openapi.json writes it: FastAPI hands a route of an included router over as
    declared there (recent versions, without the /api/v1 of the include) or as copied into the app (older)."""
    return path_format if path_format.startswith(API + "/") else API + path_format


def authorize(request: Request, runtime: RuntimeDep, session: SessionDep,
              token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal | None:
    """The caller, let through as the route's line in the access matrix (backend.api.access) says.

    A dependency of every /api/v1 route (and of `CurrentUser`): an undeclared route is refused (403
    `access_undeclared`), a public one needs no token (None), any other a valid one (401), and a role the
    line ticks (403 `role_forbidden`) or an all-sites user for an `all sites` line (403 `all_sites_forbidden`).
    The site beyond that is the route's to check (`resolve_site`, `ensure_site_access`)."""
    route = request.scope.get("route")
    access = access_for(request.method, api_path(route.path_format)) if isinstance(route, APIRoute) else None
    if access is None:
        raise Forbidden("this operation's access is not declared", code="access_undeclared")
    if not access.needs_token:
        return None
    principal = read_principal(runtime, session, token)
    if access.checks_roles and not principal.roles & access.roles:
        allowed = ", ".join(in_order(access.roles))
        raise Forbidden(f"this action needs one of the roles: {allowed}", code="role_forbidden")
    if access.scope is Scope.ALL_SITES and not principal.all_sites:
        raise Forbidden("only group-wide users may do this", code="all_sites_forbidden")
    return principal


def get_principal(principal: Annotated[Principal | None, Depends(authorize)]) -> Principal:
    if principal is None:  # a public route asking for its caller: declare it signed in instead
        raise Unauthorized("a bearer token is required")
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]

ALL_ROLES = ROLES


def require_roles(*roles: str):  # noqa: ANN201
    """A route-level role check (the matrix in backend.api.access is the one to use; kept for routes not yet
    moved there: test_access_control checks that its roles agree with the matrix)."""
    def check(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}", code="role_forbidden")
        return user

    check.roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(check)


def resolve_site(session: Session, user: Principal, site_code: str | None) -> Site:
    """The site a request is about: named by code, or the user's only site."""
    if site_code is None:
        if not user.all_sites and len(user.site_ids) == 1:
            site = session.get(Site, next(iter(user.site_ids)))
            if site is not None:
                return site
        raise Forbidden("name the site with the 'site' parameter", code="site_required")
    site = session.exec(select(Site).where(Site.code == site_code)).first()
    if site is None or not user.may_access(site.id):
        # Same answer for "no such site" and "not yours": nothing leaks.
        raise NotFound(f"site {site_code!r} not found", code="site_not_found")
    return site


def caller_company_ids(session: Session, user: Principal) -> list[int]:
    """The companies whose master data the caller sees: those of their sites (every company for all-sites)."""
    if user.all_sites:
        return list(session.exec(select(Company.id).order_by(Company.id)).all())
    if not user.site_ids:
        return []
    return list(session.exec(select(Site.company_id).where(Site.id.in_(sorted(user.site_ids)))
                             .distinct().order_by(Site.company_id)).all())


def resolve_company(session: Session, user: Principal, site_code: str | None = None,
                    company_code: str | None = None) -> Company:
    """The company whose master data (products) a request is about.

    Named by one of its sites (`site`) or by its code (`company`), or else the caller's only company
    (their sites all belong to one). A company none of the caller's sites belongs to answers like an
    unknown one (404): nothing leaks.
    """
    if site_code is not None:
        site = resolve_site(session, user, site_code)
        company = session.get(Company, site.company_id)
        if company_code is not None and company.code != company_code:
            raise Forbidden(f"site {site.code} belongs to company {company.code}, not {company_code}",
                            code="site_not_in_company")
        return company
    mine = caller_company_ids(session, user)
    if company_code is not None:
        company = session.exec(select(Company).where(Company.code == company_code)).first()
        if company is None or company.id not in mine:
            raise NotFound(f"company {company_code!r} not found", code="company_not_found")
        return company
    if len(mine) != 1:
        raise Forbidden("name the company with the 'company' parameter (or one of its sites with 'site')",
                        code="company_required")
    return session.get(Company, mine[0])


def ensure_site_access(user: Principal, site_id: int, what: str, code: str = "not_found") -> None:
    # Same answer as for a row that does not exist: the caller passes its "unknown_…" code.
    if not user.may_access(site_id):
        raise NotFound(f"{what} not found", code=code)
