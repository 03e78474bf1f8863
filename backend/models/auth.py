from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow

ROLES = ("picker", "receiver", "packer", "supervisor", "admin", "integration")


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


class UserSite(SQLModel, table=True):
    __tablename__ = "user_site"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
