"""Checking a user name and password: the one place that does it (HTTP token route, /ws/device, /ws/wall).

`LoginGuard.verify(username, password, client)` promises:

- Constant work whoever is named: exactly one argon2 verification per attempt that is let through, against the
  user's hash or, for a name nobody has, against a dummy hash made once when the guard is built (at app start).
  A disabled user is verified too, and refused with the same answer as a wrong password.
- Backoff and lockout per user name and per client address. The first `login_free_failures_per_user` failures of a
  name are free; each later one makes the name wait 1 s, 2 s, 4 s… up to `login_lockout_seconds` before any password
  is even tried (not the right one either): 429 `too_many_attempts` with `Retry-After` (the first wait is
  `login_backoff_seconds`). The per-name count lives in
  the database (`login_throttle`), so every API replica sees it, and it is kept for unknown names as for known
  ones (the answer never tells which names exist); a successful login clears it, and it is forgotten
  `login_failure_memory_seconds` after its last failure. Per client address the same rule holds with
  `login_free_failures_per_client` free failures, counted in this process (a success does not clear it: one valid
  account must not buy an attacker unlimited guesses at the others).
- Bounded hashing: at most `login_hash_slots` attempts are checked at once in this process; an attempt that finds
  every slot taken is refused at once with 429 `login_busy` (Retry-After 1), before any database work, instead of
  queueing, so a flood of logins cannot starve the CPU that every other request needs. A locked client is refused
  before it takes a slot, a locked name right after its row is read: neither costs any hashing.
- Refusals held back (HTTP): `verify_async` answers a 429 only after `login_refusal_delay_seconds` (at most the
  Retry-After), on the event loop with nothing held. A flood's clients send their next attempt when answered, so
  answering at once only invites the next one: each refusal then costs the whole request path (parsing,
  routing, the envelope) and a 50-client flood kept the event loop busy answering 450 refusals a second, while
  other users' requests queued behind them. Held back, a connection gets one answer per delay.
- No database transaction is open while a password is hashed (on SQLite every transaction holds the writer lock).
- Hashing yields the CPU: argon2 runs on threads of its own whose scheduling priority is lowered (Linux: nice 10
  per thread), so when the CPU is short the floor's requests run first and a flood's checks take what is left.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import anyio
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.auth.security import PasswordHashing
from backend.config import Settings
from backend.errors import TooManyRequests, Unauthorized
from backend.models import LoginThrottle, User

_USERNAME_MAX = 64
_CLIENTS_KEPT = 10_000  # client addresses remembered before the stale ones are dropped


@dataclass(slots=True)
class _ClientFailures:
    failures: int
    last_failure: float  # time.monotonic()
    locked_until: float


HASHING_NICENESS = 10
_hashers: ThreadPoolExecutor | None = None
_hashers_lock = threading.Lock()


def _lower_priority() -> None:
    try:  # (Linux: the nice value is per thread; elsewhere the threads keep the process's priority)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):
        pass


def hashing_threads() -> ThreadPoolExecutor:
    """The process's password-hashing threads, at a lower priority (one per core; the slots bound their use)."""
    global _hashers
    with _hashers_lock:
        if _hashers is None:
            _hashers = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2",
                                          initializer=_lower_priority)
        return _hashers


def hash_slots(settings: Settings) -> int:
    return settings.login_hash_slots or max(1, (os.cpu_count() or 2) // 2)


def backoff_seconds(failures: int, free: int, lockout: int, first: float = 1.0) -> float:
    """How long a name (or client) waits after its `failures`-th failure in a row: 0 while free, then `first`,
    doubling with each further failure, never more than `lockout`."""
    if failures < free:
        return 0.0
    return float(min(first * 2 ** min(failures - free, 40), lockout))


def invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong username or password", code="invalid_credentials")


class LoginGuard:
    """Verifies logins for one running app (see the module docstring); built once, in build_runtime."""

    def __init__(self, settings: Settings, passwords: PasswordHashing) -> None:
        self.settings = settings
        self.passwords = passwords
        # Unknown names are checked against this: one verification, like a known name's (made once, here).
        self.dummy_hash = passwords.hash(secrets.token_urlsafe(24))
        self.slots = threading.BoundedSemaphore(hash_slots(settings))
        self.slot_count = hash_slots(settings)
        self._clients: dict[str, _ClientFailures] = {}
        self._clients_lock = threading.Lock()
        self.sleep = anyio.sleep  # (how refusals are held back: backend.auth.login's docstring)

    # --- the one entry point ---

    def verify(self, sessions, username: object, password: object, client: str | None) -> User:  # noqa: ANN001
        """The active user with this name and password, or `Unauthorized` (invalid_credentials) or
        `TooManyRequests` (too_many_attempts, login_busy). `sessions`: the app's sessionmaker. Blocks while the
        password is hashed: call it from a worker thread (the websockets do), or use `verify_async`."""
        name = self._admit(username, password, client)
        try:
            return self._check(sessions, name, password, client)
        finally:
            self.slots.release()

    async def verify_async(self, sessions, username: object, password: object,  # noqa: ANN001
                           client: str | None) -> User:
        """`verify` for the event loop: an attempt refused (locked client, no free slot) never takes a worker
        thread, so a flood of logins cannot fill the thread pool every other request needs."""
        try:
            name = self._admit(username, password, client)
        except TooManyRequests as refused:
            await self._hold_back(refused)
            raise
        held = True
        try:
            return await anyio.to_thread.run_sync(self._check, sessions, name, password, client)
        except TooManyRequests as refused:  # the name is locked: the slot goes back before the wait
            self.slots.release()
            held = False
            await self._hold_back(refused)
            raise
        finally:
            if held:
                self.slots.release()

    async def _hold_back(self, refused: TooManyRequests) -> None:
        delay = min(float(refused.retry_after), self.settings.login_refusal_delay_seconds)
        if delay > 0:
            await self.sleep(delay)

    def _admit(self, username: object, password: object, client: str | None) -> str | None:
        """Checks that need no database; on success a hashing slot is held (the caller releases it)."""
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise invalid_credentials()
        self._check_client(client)
        # A slot before any database work: an attempt beyond them costs next to nothing.
        if not self.slots.acquire(blocking=False):
            raise TooManyRequests("the server is busy checking other logins: try again in a moment",
                                  code="login_busy", retry_after=1, details={"scope": "server"})
        # A name no user can have (too long, control characters: PostgreSQL refuses NUL) is looked up by nobody
        # and throttled by client only; it is still verified once, against the dummy hash.
        return username if len(username) <= _USERNAME_MAX and username.isprintable() else None

    def _check(self, sessions, name: str | None, password: str, client: str | None) -> User:  # noqa: ANN001
        """One verification (the slot held), the name's throttle read before and written after."""
        now = datetime.now(timezone.utc)
        with sessions() as session:
            throttle = session.get(LoginThrottle, name) if name is not None else None
            if throttle is not None and throttle.locked_until is not None:
                wait = (_aware(throttle.locked_until) - now).total_seconds()
                if wait > 0:
                    raise TooManyRequests("too many failed logins for this user: wait before trying again",
                                          code="too_many_attempts", retry_after=wait, details={"scope": "user"})
            user = session.exec(select(User).where(User.username == name)).first() if name is not None else None
            had_failures = throttle is not None
            session.commit()  # nothing written: end the transaction before hashing
        stored = user.password_hash if user is not None else self.dummy_hash
        verified = hashing_threads().submit(self.passwords.verify, stored, password).result()
        if user is not None and verified and user.active:
            if had_failures:
                self._forget_name(sessions, name)
            return user
        self._fail_client(client)
        if name is not None:
            self.record_failure(sessions, name)
        raise invalid_credentials()

    # --- per user name (database) ---

    def record_failure(self, sessions, name: str) -> None:  # noqa: ANN001
        """Count one failed login for `name` and set its wait; safe when replicas record at the same moment."""
        settings = self.settings
        for _attempt in range(3):
            now = datetime.now(timezone.utc)
            try:
                with sessions() as session:
                    row = session.exec(select(LoginThrottle).where(LoginThrottle.username == name)
                                       .with_for_update()).first()
                    if row is None:
                        row = LoginThrottle(username=name, failures=0, last_failure_at=now)
                    elif (now - _aware(row.last_failure_at)).total_seconds() > settings.login_failure_memory_seconds:
                        row.failures = 0
                    row.failures += 1
                    row.last_failure_at = now
                    wait = backoff_seconds(row.failures, settings.login_free_failures_per_user,
                                           settings.login_lockout_seconds, settings.login_backoff_seconds)
                    row.locked_until = now + timedelta(seconds=wait) if wait else None
                    session.add(row)
                    session.commit()
                    return
            except IntegrityError:
                continue  # another replica inserted the name's first failure at the same moment: count on top

    def _forget_name(self, sessions, name: str) -> None:  # noqa: ANN001
        with sessions() as session:
            row = session.get(LoginThrottle, name)
            if row is not None:
                session.delete(row)
                session.commit()

    # --- per client address (this process) ---

    def _check_client(self, client: str | None) -> None:
        if client is None:
            return
        with self._clients_lock:
            entry = self._clients.get(client)
            wait = entry.locked_until - time.monotonic() if entry is not None else 0.0
        if wait > 0:
            raise TooManyRequests("too many failed logins from this address: wait before trying again",
                                  code="too_many_attempts", retry_after=wait, details={"scope": "client"})

    def _fail_client(self, client: str | None) -> None:
        if client is None:
            return
        settings = self.settings
        now = time.monotonic()
        with self._clients_lock:
            entry = self._clients.get(client)
            if entry is None or now - entry.last_failure > settings.login_failure_memory_seconds:
                if len(self._clients) >= _CLIENTS_KEPT:
                    self._drop_stale_clients(now)
                entry = self._clients[client] = _ClientFailures(0, now, 0.0)
            entry.failures += 1
            entry.last_failure = now
            entry.locked_until = now + backoff_seconds(entry.failures, settings.login_free_failures_per_client,
                                                       settings.login_lockout_seconds, settings.login_backoff_seconds)

    def _drop_stale_clients(self, now: float) -> None:
        memory = self.settings.login_failure_memory_seconds
        for address in [a for a, e in self._clients.items() if now - e.last_failure > memory]:
            del self._clients[address]
        if len(self._clients) >= _CLIENTS_KEPT:  # all recent: drop the oldest half rather than grow without bound
            for address in sorted(self._clients, key=lambda a: self._clients[a].last_failure)[:_CLIENTS_KEPT // 2]:
                del self._clients[address]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
