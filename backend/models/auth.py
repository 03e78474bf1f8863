from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Group-wide access (every site); otherwise the sites in user_site.
    all_sites: bool = False
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # In every access token the user holds; bumped (disable, password change or reset, sign-out) to refuse them all.
    token_version: int = 0
    password_changed_at: datetime | None = None


class UserSite(SQLModel, table=True):
    __tablename__ = "user_site"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)


class LoginThrottle(SQLModel, table=True):
    """Failed logins for one user name (known or not), shared by every API replica."""

    __tablename__ = "login_throttle"
    username: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow)
    # No login for this name is even tried before then (answered 429 with Retry-After).
    locked_until: datetime | None = None


class RefreshToken(SQLModel, table=True):
    """One refresh token (stored as its SHA-256): used once, then replaced by the next of its family."""

    __tablename__ = "refresh_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    # Every token rotated from one login shares the family: reusing a rotated token revokes them all.
    family: str = Field(max_length=32, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    token_version: int
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
