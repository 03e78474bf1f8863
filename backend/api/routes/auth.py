from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from backend.api.schemas import Strict
from backend.auth.passwords import MAX_LENGTH, check_password
from backend.auth.signins import TokenPair, issue_pair, revoke_all, rotate
from backend.errors import Invalid, Unauthorized
from backend.models import Site, User, UserSite, utcnow

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token lasts")
    refresh_token: str = Field(description="trade it at POST /auth/refresh for the next pair; it works once")
    refresh_expires_in: int = Field(description="seconds the refresh token lasts (a shift)")


class MeOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    sites: list[str]
    all_sites: bool


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=1000)


def _out(pair: TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token,
                    refresh_expires_in=pair.refresh_expires_in)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def site_codes_of(session, user_id: int) -> list[str]:  # noqa: ANN001
    return list(session.exec(select(Site.code).join(UserSite, UserSite.site_id == Site.id)
                             .where(UserSite.user_id == user_id)).all())


@router.post("/token", response_model=TokenOut, responses={429: {"description": "too many failed logins for this "
             "user or address, or every password check busy: retry after `Retry-After` seconds"}})
async def issue_token(runtime: RuntimeDep, request: Request,
                      form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """OAuth2 password flow: form fields `username` and `password`. Backoff and lockout per user and address
    (429 with `Retry-After`); see docs/accounts.md."""
    user = await runtime.logins.verify_async(runtime.sessions, form.username, form.password, _client(request))

    def issue() -> TokenPair:
        with runtime.sessions() as session:
            pair = issue_pair(session, runtime, session.get(User, user.id))
            session.commit()
            return pair

    return _out(await run_in_threadpool(issue))


@router.post("/refresh", response_model=TokenOut)
def refresh(body: RefreshIn, runtime: RuntimeDep) -> TokenOut:
    """A new access token and the next refresh token for a refresh token, which is used up. A refresh token
    presented a second time revokes its whole family (401 `refresh_token_reused`)."""
    return _out(rotate(runtime, body.refresh_token))


@router.post("/logout", status_code=204, response_class=Response)
def sign_out(me: CurrentUser, session: SessionDep) -> Response:
    """Sign out everywhere: every access and refresh token of the caller is refused from now on, and their
    wall screens and signed-on devices are disconnected."""
    user = session.get(User, me.id, with_for_update=True)
    devices = revoke_all(session, user, "signed_out")
    audit.record(session, user_id=me.id, site_id=None, action="user.sign_out", entity="user", entity_id=me.id,
                 after={"devices_signed_off": devices})
    session.commit()
    return Response(status_code=204)


@router.post("/password", response_model=TokenOut, responses={429: {"description": "too many wrong passwords"}})
def change_password(body: PasswordChange, me: CurrentUser, runtime: RuntimeDep, session: SessionDep,
                    request: Request) -> TokenOut:
    """Change your own password (the current one is required, and checked like a login: wrong ones count
    towards the backoff). Every token you hold elsewhere is revoked; the answer is a fresh pair for this client."""
    site_codes = site_codes_of(session, me.id)
    full_name = session.get(User, me.id).full_name
    session.commit()  # end the read before the password is checked (no transaction is held while argon2 runs)
    check_password(body.new_password, username=me.username, full_name=full_name, site_codes=site_codes,
                   field="new_password")
    try:
        runtime.logins.verify(runtime.sessions, me.username, body.current_password, _client(request))
    except Unauthorized:
        raise Invalid("the current password is wrong", code="wrong_password",
                      details={"field": "current_password"}) from None
    new_hash = runtime.passwords.hash(body.new_password)
    user = session.get(User, me.id, with_for_update=True)
    user.password_hash = new_hash
    user.password_changed_at = utcnow()
    devices = revoke_all(session, user, "password_changed")
    pair = issue_pair(session, runtime, user)
    audit.record(session, user_id=me.id, site_id=None, action="user.password_change", entity="user", entity_id=me.id,
                 after={"devices_signed_off": devices})
    session.commit()
    return _out(pair)


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser, session: SessionDep) -> MeOut:
    query = select(Site.code).order_by(Site.code)
    if not user.all_sites:
        query = query.where(Site.id.in_(user.site_ids or {-1}))
    return MeOut(id=user.id, username=user.username, roles=sorted(user.roles),
                 sites=list(session.exec(query).all()), all_sites=user.all_sites)
