"""Device tokens: long-lived signed tokens of kind "device", retired by revoking or re-enrolling."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from backend.auth.security import TokenIssuer
from backend.errors import Unauthorized
from backend.models import Device, User
from backend.runtime import Runtime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_enrollment_secret() -> str:
    return secrets.token_urlsafe(24)


def device_tokens(runtime: Runtime) -> TokenIssuer:
    """Signs device tokens (kind "device", so they are never read as a user's)."""
    if runtime.device_tokens is None:
        settings = runtime.settings
        runtime.device_tokens = TokenIssuer(settings.secret_key, settings.device_token_days * 24 * 60)
    return runtime.device_tokens


def authenticate_device(session: Session, runtime: Runtime, token: object, *, lock: bool = False) -> Device:
    """The enrolled, unrevoked device this token belongs to (its newest token only)."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("a device token is required", code="invalid_device_token")
    try:
        device_id = device_tokens(runtime).read(token, kind="device")
    except Unauthorized:
        raise Unauthorized("invalid or expired device token", code="invalid_device_token") from None
    query = select(Device).where(Device.id == device_id)
    device = session.exec(query.with_for_update() if lock else query).first()
    if (device is None or device.revoked_at is not None or device.token_hash is None
            or not hmac.compare_digest(device.token_hash, digest(token))):
        raise Unauthorized("invalid or expired device token", code="invalid_device_token")
    return device


def authenticate_worker(session: Session, runtime: Runtime, *, access_token: object = None, username: object = None,
                        password: object = None, client: str | None = None) -> User:
    """The worker by bearer token (of the user's current token_version), or by username and password through
    the app's LoginGuard (backoff, lockout and bounded hashing: `TooManyRequests`); the same answer for every
    other failure. `client`: the remote address, for the per-client backoff."""
    user = None
    if isinstance(access_token, str) and access_token:
        try:
            user_id, version = runtime.tokens.read_versioned(access_token)
            user = session.get(User, user_id)
            if user is not None and user.token_version != version:
                user = None
        except Unauthorized:
            user = None
    elif isinstance(username, str) and isinstance(password, str) and username and password:
        try:
            found = runtime.logins.verify(runtime.sessions, username, password, client)
        except Unauthorized:
            found = None
        user = session.get(User, found.id) if found is not None else None
    if user is None or not user.active:
        raise Unauthorized("wrong login: give access_token, or username and password", code="invalid_credentials")
    return user
