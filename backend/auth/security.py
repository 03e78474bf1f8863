"""Password hashing (argon2) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.errors import Unauthorized


class PasswordHashing:
    """argon2id; the cost is argon2-cffi's default (t=3, 64 MiB, p=4) unless the settings lower it (tests only:
    production refuses less than OWASP's minimum, backend.config)."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)

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

    def issue(self, user_id: int, *, kind: str = "user", version: int = 0) -> tuple[str, int]:
        """A signed token for `user_id` (or a device's id); `version`: the user's token_version now ("ver")."""
        now = datetime.now(timezone.utc)
        claims = {"sub": str(user_id), "kind": kind, "ver": version, "iat": now, "exp": now + self._ttl}
        return jwt.encode(claims, self._secret, algorithm=self.algorithm), int(self._ttl.total_seconds())

    def read(self, token: str, *, kind: str = "user") -> int:
        return self.read_versioned(token, kind=kind)[0]

    def read_versioned(self, token: str, *, kind: str = "user") -> tuple[int, int]:
        """(id, token_version) of a valid, unexpired token of this kind; the caller compares the version."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[self.algorithm], options={"require": ["exp", "sub"]})
            # A token of another kind (a device's) carries another table's id: never read it as this kind.
            if claims.get("kind") != kind:
                raise ValueError(f"a {claims.get('kind')!r} token is not a {kind!r} token")
            version = claims.get("ver", 0)
            if not isinstance(version, int) or isinstance(version, bool):
                raise ValueError("the token's version is not a whole number")
            return int(claims["sub"]), version
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized("invalid or expired token", code="invalid_token") from exc
