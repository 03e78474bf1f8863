"""Typed dependency aliases; routes only declare them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session, select

from backend.auth.principal import Principal
from backend.errors import Forbidden, NotFound, Unauthorized
from backend.models import Company, Site, User, UserSite
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


def load_principal(session: Session, user: User) -> Principal:
    site_ids = session.exec(select(UserSite.site_id).where(UserSite.user_id == user.id)).all()
    return Principal(
        id=user.id,
        username=user.username,
        roles=frozenset(user.roles),
        all_sites=user.all_sites,
        site_ids=frozenset(site_ids),
    )


def get_principal(runtime: RuntimeDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise Unauthorized("a bearer token is required")
    user_id = runtime.tokens.read(token)
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Unauthorized("user is unknown or disabled", code="invalid_token")
    return load_principal(session, user)


CurrentUser = Annotated[Principal, Depends(get_principal)]

ALL_ROLES = ("picker", "receiver", "packer", "supervisor", "admin", "integration")


def require_roles(*roles: str):  # noqa: ANN201
    def check(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}", code="role_forbidden")
        return user

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
