"""Who is asking: the authenticated user, their roles and sites."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from backend.errors import Unauthorized
from backend.models import User, UserSite
from backend.runtime import Runtime


@dataclass(frozen=True)
class Principal:
    """The authenticated user, with what they may do and where."""

    id: int
    username: str
    roles: frozenset[str]
    all_sites: bool
    site_ids: frozenset[int]

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))

    def may_access(self, site_id: int) -> bool:
        return self.all_sites or site_id in self.site_ids


def load_principal(session: Session, user: User) -> Principal:
    site_ids = session.exec(select(UserSite.site_id).where(UserSite.user_id == user.id)).all()
    return Principal(
        id=user.id,
        username=user.username,
        roles=frozenset(user.roles),
        all_sites=user.all_sites,
        site_ids=frozenset(site_ids),
    )


def read_principal(runtime: Runtime, session: Session, token: str | None) -> Principal:
    """The user a bearer token names (401 without one, for an unknown or disabled user, or a bad token)."""
    if not token:
        raise Unauthorized("a bearer token is required")
    user_id, version = runtime.tokens.read_versioned(token)
    user = session.get(User, user_id)
    if user is None or not user.active or user.token_version != version:
        # Disabled, signed out, or the password changed since the token was issued (backend.auth.signins).
        raise Unauthorized("the token is revoked or its user disabled: sign in again", code="invalid_token")
    return load_principal(session, user)
