from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field
from sqlmodel import select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, require_roles
from backend.api.schemas import Page, Strict
from backend.bounds import StrictBool, Text
from backend.errors import Conflict, Forbidden, Invalid
from backend.models import Site, User, UserSite

router = APIRouter(prefix="/users", tags=["users"], dependencies=[require_roles("admin")])

Role = Literal["picker", "receiver", "packer", "supervisor", "admin", "integration"]


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*$")
    password: Text = Field(min_length=8, max_length=200)
    full_name: Text = Field(default="", max_length=200)
    roles: Annotated[list[Role], Field(min_length=1)]
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
