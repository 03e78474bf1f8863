"""The realtime hub: one facade, a backend picked by URL (like encode/broadcaster).

- ``memory://``: one process; commits wake this process's connections.
- ``postgresql://…``: several replicas on one database. Each commit wakes
  local connections at once (with the events themselves) and is announced
  to the other replicas with ``NOTIFY wes_events``. The payload carries
  only wake-ups ("device D has events up to seq N", "site S changed"), and
  everything announced while the previous NOTIFY was being sent goes out
  together in the next one, so a busy replica sends far fewer NOTIFYs than
  it commits transactions. A woken connection reads what it missed from
  the database: the notification is a hint, the stream table the truth.

`announce` may be called from any thread (it is called after commits, in
worker threads); delivery happens on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.engine import make_url

from backend.devices.stream import Announcement, StreamEvent

log = logging.getLogger("wes.realtime.hub")

CHANNEL = "wes_events"
_MAX_PAYLOAD = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
EVERYTHING = 1 << 62  # a stream head past any real one: "read until there is no more"


class DeviceListener(Protocol):
    def wake(self, head: int, events: list[StreamEvent] | None) -> None: ...


class SiteListener(Protocol):
    def site_changed(self) -> None: ...


class UserListener(Protocol):
    def user_revoked(self) -> None: ...


class Hub:
    def __init__(self, backend: "HubBackend") -> None:
        self.backend = backend
        self.replica_id = uuid.uuid4().hex[:12]
        self._devices: dict[int, set[DeviceListener]] = {}
        self._sites: dict[int, set[SiteListener]] = {}
        self._users: dict[int, set[UserListener]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await self.backend.start(self)

    async def stop(self) -> None:
        await self.backend.stop()
        self._loop = None

    # --- subscriptions (event loop only) ---

    def subscribe_device(self, device_id: int, listener: DeviceListener) -> Callable[[], None]:
        self._devices.setdefault(device_id, set()).add(listener)
        return lambda: self._drop(self._devices, device_id, listener)

    def subscribe_site(self, site_id: int, listener: SiteListener) -> Callable[[], None]:
        self._sites.setdefault(site_id, set()).add(listener)
        return lambda: self._drop(self._sites, site_id, listener)

    def subscribe_user(self, user_id: int, listener: UserListener) -> Callable[[], None]:
        """`listener.user_revoked()` when the user's tokens are revoked (on any replica)."""
        self._users.setdefault(user_id, set()).add(listener)
        return lambda: self._drop(self._users, user_id, listener)

    @staticmethod
    def _drop(table: dict, key: int, listener: object) -> None:
        listeners = table.get(key)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del table[key]

    def device_listeners(self, device_id: int) -> set[DeviceListener]:
        return set(self._devices.get(device_id, ()))

    # --- announcing ---

    def announce(self, announcement: Announcement) -> None:
        """After a commit, from any thread: wake local connections, tell the other replicas."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._announce(announcement)
        else:
            try:
                loop.call_soon_threadsafe(self._announce, announcement)
            except RuntimeError:
                pass  # the loop is closing: the app is stopping

    def _announce(self, announcement: Announcement) -> None:
        self.deliver(announcement)
        self.backend.send(announcement)

    def deliver(self, announcement: Announcement) -> None:
        """Wake this process's connections (events attached when they were made here)."""
        for device_id, head in announcement.heads.items():
            for listener in tuple(self._devices.get(device_id, ())):
                try:
                    listener.wake(head, announcement.events.get(device_id))
                except Exception:  # one broken connection must not stop the others hearing
                    log.exception("waking device %s failed", device_id)
        for site_id in announcement.sites:
            for listener in tuple(self._sites.get(site_id, ())):
                try:
                    listener.site_changed()
                except Exception:
                    log.exception("waking site %s listener failed", site_id)
        for user_id in announcement.users:
            for listener in tuple(self._users.get(user_id, ())):
                try:
                    listener.user_revoked()
                except Exception:
                    log.exception("telling user %s's connection of the revocation failed", user_id)

    def wake_all(self) -> None:
        """Missed notifications possible (the LISTEN connection dropped): every connection re-reads."""
        for device_id, listeners in list(self._devices.items()):
            for listener in tuple(listeners):
                listener.wake(EVERYTHING, None)
        for listeners in list(self._sites.values()):
            for listener in tuple(listeners):
                listener.site_changed()


class HubBackend(Protocol):
    async def start(self, hub: Hub) -> None: ...

    async def stop(self) -> None: ...

    def send(self, announcement: Announcement) -> None: ...


class MemoryBackend:
    """One process: local delivery is all there is."""

    url = "memory://"

    async def start(self, hub: Hub) -> None:
        return None

    async def stop(self) -> None:
        return None

    def send(self, announcement: Announcement) -> None:
        return None


def encode_wakeups(replica_id: str, announcement: Announcement) -> list[str]:
    """NOTIFY payloads (each under PostgreSQL's limit) carrying stream heads, changed sites and revoked users."""
    payloads: list[str] = []
    heads = list(announcement.heads.items())
    sites = sorted(announcement.sites)
    users = sorted(announcement.users)
    while heads or sites or users or not payloads:
        body: dict = {"r": replica_id, "h": {}, "s": []}
        size = 40
        while users and size < _MAX_PAYLOAD - 40:  # revoked users first: rare, and closing sockets must not wait
            body.setdefault("u", []).append(users.pop())
            size += len(str(body["u"][-1])) + 1
        while heads and size < _MAX_PAYLOAD - 40:
            device_id, seq = heads.pop()
            body["h"][str(device_id)] = seq
            size += len(str(device_id)) + len(str(seq)) + 4
        while sites and size < _MAX_PAYLOAD - 20:
            body["s"].append(sites.pop())
            size += len(str(body["s"][-1])) + 1
        payloads.append(json.dumps(body, separators=(",", ":")))
        if not heads and not sites and not users:
            break
    return payloads


def decode_wakeups(payload: str) -> tuple[str, Announcement]:
    body = json.loads(payload)
    heads = {int(device_id): int(seq) for device_id, seq in body.get("h", {}).items()}
    return str(body.get("r", "")), Announcement(heads=heads, sites={int(s) for s in body.get("s", [])},
                                                users={int(u) for u in body.get("u", [])})


class PostgresBackend:
    """LISTEN/NOTIFY on the database, through two psycopg 3 async connections (one listens, one notifies)."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.url = make_url(url).render_as_string(hide_password=True)
        self.channel = channel
        self._hub: Hub | None = None
        self._pending = Announcement()
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._listening = asyncio.Event()
        self.sent = 0  # NOTIFYs sent, for the curious (and the tests)

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        self._tasks = [asyncio.create_task(self._listen(), name="hub-listen"),
                       asyncio.create_task(self._notify(), name="hub-notify")]
        try:
            await asyncio.wait_for(self._listening.wait(), timeout=10)
        except asyncio.TimeoutError:
            log.warning("hub: LISTEN not ready after 10 s; carrying on, will keep trying")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def send(self, announcement: Announcement) -> None:
        self._pending.merge(announcement)
        self._wanted.set()

    async def _connect(self):  # noqa: ANN202
        import psycopg

        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                conn = await self._connect()
                async with conn:
                    await conn.execute(f"LISTEN {self.channel}")
                    self._listening.set()
                    delay = 0.2
                    # Whatever was announced while we were not listening: everyone re-reads.
                    self._hub.wake_all()
                    async for note in conn.notifies():
                        self._received(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or the network dropped: listen again
                log.warning("hub: LISTEN connection lost (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _received(self, payload: str) -> None:
        try:
            sender, announcement = decode_wakeups(payload)
        except (ValueError, TypeError, AttributeError):
            log.warning("hub: ignoring a malformed notification %.80r", payload)
            return
        if sender != self._hub.replica_id:
            self._hub.deliver(announcement)

    async def _notify(self) -> None:
        conn = None
        delay = 0.2
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            announcement, self._pending = self._pending, Announcement()
            if not announcement:
                continue
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                for payload in encode_wakeups(self._hub.replica_id, announcement):
                    await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    self.sent += 1
                delay = 0.2
            except asyncio.CancelledError:
                if conn is not None:
                    await conn.close()
                raise
            except Exception as exc:
                log.warning("hub: NOTIFY failed (%s); retrying in %.1f s", exc, delay)
                self._pending.merge(announcement)
                conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._wanted.set()


def make_hub(hub_url: str, database_url: str) -> Hub:
    """memory:// or postgres(ql)://…; "" means memory for SQLite and the database's own NOTIFY for PostgreSQL."""
    url = hub_url or ("memory://" if database_url.startswith("sqlite") else database_url)
    if url.startswith("memory://"):
        return Hub(MemoryBackend())
    if url.startswith(("postgres://", "postgresql://", "postgresql+")):
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        return Hub(PostgresBackend(url))
    raise ValueError(f"unknown realtime hub URL {hub_url!r}: use memory:// or postgresql://…")
