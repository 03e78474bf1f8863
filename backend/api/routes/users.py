from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field
from sqlmodel import select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from backend.api.schemas import Page, Strict
from backend.auth.passwords import check_password
from backend.auth.signins import revoke_all
from backend.bounds import Id, StrictBool, Text
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.models import Site, User, UserSite, utcnow
from backend.roles import ROLE_NAMES

router = APIRouter(prefix="/users", tags=["users"])

RoleName = Literal[ROLE_NAMES]  # type: ignore[valid-type]  (the one list: backend.roles)


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*$")
    password: Text = Field(min_length=1, max_length=1000, description="the password policy: docs/accounts.md")
    full_name: Text = Field(default="", max_length=200)
    roles: Annotated[list[RoleName], Field(min_length=1)]
    sites: list[Text] = Field(default_factory=list)
    all_sites: StrictBool = False


class UserPublic(Strict):
    id: int
    username: str
    full_name: str
    roles: list[str]
    sites: list[str]
    all_sites: bool
    active: bool


def _public(session, user: User) -> UserPublic:  # noqa: ANN001
    sites = session.exec(
        select(Site.code).join(UserSite, UserSite.site_id == Site.id).where(UserSite.user_id == user.id)
    ).all()
    return UserPublic(id=user.id, username=user.username, full_name=user.full_name, roles=user.roles,
                      sites=sorted(sites), all_sites=user.all_sites, active=user.active)


@router.post("", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> UserPublic:
    if session.exec(select(User).where(User.username == body.username)).first():
        raise Conflict(f"user {body.username!r} exists", code="username_taken", details={"field": "username"})
    if body.all_sites and not me.all_sites:
        raise Forbidden("only a group-wide admin may create group-wide users", code="all_sites_forbidden")
    sites = []
    for code in body.sites:
        site = session.exec(select(Site).where(Site.code == code)).first()
        if site is None or not me.may_access(site.id):
            raise Invalid(f"unknown site {code!r}", code="unknown_site", details={"field": "sites"})
        sites.append(site)
    check_password(body.password, username=body.username, full_name=body.full_name, site_codes=body.sites)
    user = User(username=body.username, full_name=body.full_name, roles=sorted(set(body.roles)),
                all_sites=body.all_sites, password_hash=runtime.passwords.hash(body.password))
    session.add(user)
    session.flush()
    for site in sites:
        session.add(UserSite(user_id=user.id, site_id=site.id))
    audit.record(session, user_id=me.id, site_id=None, action="user.create", entity="user", entity_id=user.id,
                 after={"username": user.username, "roles": user.roles, "sites": body.sites})
    session.commit()
    return _public(session, user)


@router.get("", response_model=Page[UserPublic])
def list_users(me: CurrentUser, session: SessionDep) -> Page[UserPublic]:
    users = session.exec(select(User).order_by(User.username)).all()
    visible = []
    for user in users:
        public = _public(session, user)
        if me.all_sites or user.id == me.id or (not user.all_sites and public.sites and all(
            me.may_access(s) for s in session.exec(select(UserSite.site_id).where(UserSite.user_id == user.id))
        )):
            visible.append(public)
    return Page(data=visible, count=len(visible))


class PasswordReset(Strict):
    new_password: str = Field(min_length=1, max_length=1000, description="the password policy: docs/accounts.md")


def _site_ids(session, user_id: int) -> list[int]:  # noqa: ANN001
    return list(session.exec(select(UserSite.site_id).where(UserSite.user_id == user_id)).all())


def _managed(session, me, user_id: int) -> User:  # noqa: ANN001
    """The user `me` may manage, locked: any user for an all-sites admin; otherwise a user whose every site is one
    of `me`'s (never an all-sites user, never one without sites). Others answer as if they did not exist."""
    user = session.get(User, user_id, with_for_update=True)
    if user is not None and (me.all_sites or user.id == me.id):
        return user
    if user is None or user.all_sites:
        raise NotFound(f"user {user_id} not found", code="unknown_user")
    sites = _site_ids(session, user.id)
    if not sites or not all(me.may_access(s) for s in sites):
        raise NotFound(f"user {user_id} not found", code="unknown_user")
    return user


@router.post("/{user_id}/disable", response_model=UserPublic)
def disable_user(user_id: Id, me: CurrentUser, session: SessionDep) -> UserPublic:
    """The user can no longer sign in; every token they hold is refused at once, their wall screens close and
    the devices they are signed on at are signed off."""
    user = _managed(session, me, user_id)
    if user.id == me.id:
        raise Conflict("you cannot disable yourself", code="cannot_disable_self")
    if user.active:
        user.active = False
        devices = revoke_all(session, user, "disabled")
        audit.record(session, user_id=me.id, site_id=None, action="user.disable", entity="user", entity_id=user.id,
                     before={"active": True}, after={"active": False, "devices_signed_off": devices})
        session.commit()
    return _public(session, user)


@router.post("/{user_id}/enable", response_model=UserPublic)
def enable_user(user_id: Id, me: CurrentUser, session: SessionDep) -> UserPublic:
    """The user may sign in again (their old tokens stay revoked)."""
    user = _managed(session, me, user_id)
    if not user.active:
        user.active = True
        session.add(user)
        audit.record(session, user_id=me.id, site_id=None, action="user.enable", entity="user", entity_id=user.id,
                     before={"active": False}, after={"active": True})
        session.commit()
    return _public(session, user)


@router.post("/{user_id}/password", response_model=UserPublic)
def reset_password(user_id: Id, body: PasswordReset, me: CurrentUser, runtime: RuntimeDep,
                   session: SessionDep) -> UserPublic:
    """An admin sets a new password (the password policy applies); every token the user holds is revoked."""
    user = _managed(session, me, user_id)
    if user.id == me.id:
        raise Conflict("change your own password with POST /auth/password (your current one is needed there)",
                       code="use_own_password_change")
    site_codes = session.exec(select(Site.code).where(Site.id.in_(_site_ids(session, user.id) or [-1]))).all()
    check_password(body.new_password, username=user.username, full_name=user.full_name, site_codes=site_codes,
                   field="new_password")
    user.password_hash = runtime.passwords.hash(body.new_password)
    user.password_changed_at = utcnow()
    devices = revoke_all(session, user, "password_reset")
    audit.record(session, user_id=me.id, site_id=None, action="user.password_reset", entity="user",
                 entity_id=user.id, after={"devices_signed_off": devices})
    session.commit()
    return _public(session, user)
