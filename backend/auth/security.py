"""Password hashing (argon2) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.errors import Unauthorized


class PasswordHashing:
    def __init__(self) -> None:
        self._hasher = PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class TokenIssuer:
    algorithm = "HS256"

    def __init__(self, secret: str, minutes: int) -> None:
        self._secret = secret
        self._ttl = timedelta(minutes=minutes)

    def issue(self, user_id: int, *, kind: str = "user") -> tuple[str, int]:
        now = datetime.now(timezone.utc)
        claims = {"sub": str(user_id), "kind": kind, "iat": now, "exp": now + self._ttl}
        return jwt.encode(claims, self._secret, algorithm=self.algorithm), int(self._ttl.total_seconds())

    def read(self, token: str, *, kind: str = "user") -> int:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[self.algorithm], options={"require": ["exp", "sub"]})
            # A token of another kind (a device's) carries another table's id: never read it as this kind.
            if claims.get("kind") != kind:
                raise ValueError(f"a {claims.get('kind')!r} token is not a {kind!r} token")
            return int(claims["sub"])
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("invalid or expired token", code="invalid_token") from exc
