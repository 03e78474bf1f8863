"""Everything one running app owns, built by create_app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from backend.auth.login import LoginGuard
from backend.auth.security import PasswordHashing, TokenIssuer
from backend.config import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    passwords: PasswordHashing
    tokens: TokenIssuer
    logins: LoginGuard  # the one place a password is checked (backend.auth.login)
    # Optional parts later capabilities hang here (hub, print spool, profiles…).
    extras: dict[str, Any] = field(default_factory=dict)
