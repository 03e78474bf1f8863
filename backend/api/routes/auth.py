from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlmodel import select

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from backend.errors import Unauthorized
from backend.models import Site, User

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    sites: list[str]
    all_sites: bool


@router.post("/token", response_model=TokenOut)
def issue_token(
    runtime: RuntimeDep, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    """OAuth2 password flow: form fields `username` and `password`."""
    user = session.exec(select(User).where(User.username == form.username)).first()
    # Hash even for unknown users so timing does not reveal which names exist.
    stored = user.password_hash if user else runtime.extras.setdefault("dummy_hash", runtime.passwords.hash("x"))
    ok = runtime.passwords.verify(stored, form.password)
    if user is None or not ok or not user.active:
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    token, ttl = runtime.tokens.issue(user.id)
    return TokenOut(access_token=token, expires_in=ttl)


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser, session: SessionDep) -> MeOut:
    query = select(Site.code).order_by(Site.code)
    if not user.all_sites:
        query = query.where(Site.id.in_(user.site_ids or {-1}))
    return MeOut(id=user.id, username=user.username, roles=sorted(user.roles),
                 sites=list(session.exec(query).all()), all_sites=user.all_sites)
