"""What a login gives (a short access token and a rotating refresh token) and how it is taken back.

Access tokens are JWTs that carry the user's `token_version`; a request whose token carries another version than
the user's row is refused (`invalid_token`), so bumping the version (`revoke_all`) refuses every access token the
user holds at once, on every replica, without a deny list.

Refresh tokens are random (256 bits), stored as their SHA-256, and used once: `rotate` marks the presented token
used and returns a new pair in the same family. A token presented again after it was rotated means two parties
hold it (a stolen copy, or a replayed request): the whole family is revoked and both must sign in again (RFC 9700
§4.14.2). A refresh token also dies with the user's token_version, when it expires (`refresh_token_hours`, a
shift), and when the user is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlmodel import Session, select

from backend.devices.stream import emit, installed, revoke_user
from backend.errors import Unauthorized
from backend.models import Device, RefreshToken, User
from backend.runtime import Runtime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_pair(session: Session, runtime: Runtime, user: User, *, family: str | None = None) -> TokenPair:
    """A new access token and a new refresh token (of `family`, or a new family: a new login); not committed."""
    access, ttl = runtime.tokens.issue(user.id, version=user.token_version)
    refresh = secrets.token_urlsafe(32)
    lifetime = timedelta(hours=runtime.settings.refresh_token_hours)
    now = datetime.now(timezone.utc)
    session.add(RefreshToken(user_id=user.id, family=family or uuid.uuid4().hex, token_hash=_digest(refresh),
                             token_version=user.token_version, issued_at=now, expires_at=now + lifetime))
    return TokenPair(access, ttl, refresh, int(lifetime.total_seconds()))


def _refused(message: str = "the refresh token is invalid, expired or revoked: sign in again",
             code: str = "invalid_refresh_token") -> Unauthorized:
    return Unauthorized(message, code=code)


def rotate(runtime: Runtime, refresh_token: str) -> TokenPair:
    """The next pair for a valid refresh token, in one transaction; the presented token is used up.

    A token already used is a reuse: its family is revoked (committed) and `refresh_token_reused` raised.
    """
    if not refresh_token or len(refresh_token) > 200:
        raise _refused()
    with runtime.sessions() as session:
        row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token))
                           .with_for_update()).first()
        if row is None or row.revoked_at is not None:
            raise _refused()
        now = datetime.now(timezone.utc)
        if row.used_at is not None:
            session.execute(update(RefreshToken).where(RefreshToken.family == row.family,
                                                       RefreshToken.revoked_at.is_(None)).values(revoked_at=now))
            session.commit()
            raise _refused("this refresh token was used before: every session it belongs to is revoked; "
                           "sign in again", code="refresh_token_reused")
        user = session.get(User, row.user_id)
        expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
        if user is None or not user.active or user.token_version != row.token_version or expires_at <= now:
            raise _refused()
        row.used_at = now
        session.add(row)
        pair = issue_pair(session, runtime, user, family=row.family)
        session.commit()
        return pair


def revoke_all(session: Session, user: User, reason: str) -> list[int]:
    """Refuse every token the user holds, at once and everywhere (not committed; the caller's transaction):
    access tokens by the bumped token_version, refresh tokens by their revocation; the devices the user is
    signed on at are signed off (a `worker.signed_off` event in their streams closes their sockets) and their
    wall sockets close (backend.devices.stream.revoke_user). Returns the devices signed off."""
    user.token_version += 1
    session.add(user)
    now = datetime.now(timezone.utc)
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    devices = session.exec(select(Device).where(Device.current_user_id == user.id).with_for_update()).all()
    for device in devices:
        device.current_user_id = None
        session.add(device)
    if installed(session):  # (not in a script's own session: it has no sockets to close)
        if devices:
            emit(session, [d.id for d in devices], "worker.signed_off", {"user_id": user.id, "reason": reason})
        revoke_user(session, user.id)
    return [d.id for d in devices]
