"""A handheld's or station's connection (/ws/device): its ordered event stream out, its commands in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from backend.auth.principal import Principal, load_principal
from backend.commands.context import Actor
from backend.commands.dispatcher import CommandDispatcher, CommandEnvelope
from backend.devices.profiles import scanner_settings
from backend.devices.stream import StreamEvent, read_events
from backend.devices.tokens import authenticate_device, authenticate_worker
from backend.models import Device, Site
from backend.realtime import errors as close
from backend.realtime.connection import Connection
from backend.realtime.errors import ProtocolError
from backend.realtime.hub import EVERYTHING
from backend.roles import DEVICE_SOCKET
from backend.runtime import Runtime
from backend.tasks.transitions import sign_on

_MAX_PENDING_COMMANDS = 64


@dataclass(frozen=True)
class DeviceSession:
    device_id: int
    device_name: str
    device_kind: str
    site_id: int
    site_code: str
    firmware_profile: str | None
    principal: Principal
    head: int


class DeviceConnection(Connection):
    """A handheld or station: its ordered event stream out, its commands in."""

    kind = "device"

    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        super().__init__(websocket, runtime)
        self.hub = runtime.hub
        self.dispatcher: CommandDispatcher = runtime.commands
        self.session_info: DeviceSession | None = None
        self.actor: Actor | None = None
        self.last_sent = 0
        self.target = 0
        self.announced = 0  # the highest stream head announced to this connection
        self._catching_up = False
        self._catch_up_task: asyncio.Task | None = None
        self._commands: asyncio.Queue[CommandEnvelope] = asyncio.Queue(maxsize=_MAX_PENDING_COMMANDS)
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_user: Callable[[], None] | None = None

    def check_auth(self, message: dict[str, Any]) -> DeviceSession:
        runtime = self.runtime
        with runtime.sessions() as session:
            # The worker first: a password is checked before this session opens a transaction (SQLite's writer
            # lock, the device's row lock) and is not held while argon2 runs.
            user = authenticate_worker(session, runtime, access_token=message.get("access_token"),
                                       username=message.get("username"), password=message.get("password"),
                                       client=self.client)
            device = authenticate_device(session, runtime, message.get("device_token"), lock=True)
            principal = load_principal(session, user)
            if not principal.may_access(device.site_id) or not principal.has_any(DEVICE_SOCKET):
                raise ProtocolError("worker_not_allowed", f"{user.username} may not work at this device's site")
            sign_on(session, device, user.id)
            site = session.get(Site, device.site_id)
            session.commit()
            head = session.get(Device, device.id, populate_existing=True).last_seq
            session.commit()
            return DeviceSession(device.id, device.name, device.kind, device.site_id, site.code,
                                 device.firmware_profile, principal, head)

    def authenticated(self, message: dict[str, Any], info: DeviceSession) -> None:
        self.session_info = info
        self.actor = Actor(info.principal, info.device_id, info.site_id)
        self.rename(f"device {info.device_id} ({info.principal.username})")
        registry = self.runtime.device_connections
        older = registry.get(info.device_id)
        if older is not None and older is not self:
            older.log.info("replaced by a newer connection of the same device")
            older.close(close.CLOSE_REPLACED, "the device connected again")
        registry[info.device_id] = self
        self._unsubscribe = self.hub.subscribe_device(info.device_id, self)
        # Also when this device no longer holds the worker's sign-on (they signed on elsewhere since).
        self._unsubscribe_user = self.hub.subscribe_user(info.principal.id, self)
        last_seq = message.get("last_seq", 0)
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
            self.send_error(message.get("id"), "invalid_last_seq", "last_seq must be a whole number ≥ 0; "
                            "starting from 0", {"last_seq": last_seq})
            last_seq = 0
        self.send({"id": message.get("id"), "type": "auth_ok", "device": {
            "id": info.device_id, "name": info.device_name, "kind": info.device_kind, "site": info.site_code,
            "firmware_profile": info.firmware_profile},
            "user": {"id": info.principal.id, "username": info.principal.username,
                     "roles": sorted(info.principal.roles)},
            "scanner": scanner_settings(self.runtime, info.firmware_profile),
            "head": info.head, "commands": self.dispatcher.registry.names(),
            "heartbeat_seconds": self.settings.ws_heartbeat_seconds,
            "max_message_bytes": self.settings.ws_max_message_bytes})
        if last_seq > info.head:
            # The client holds events this server never wrote (another database?): it must start afresh.
            self.send_error(None, "seq_ahead", f"last_seq {last_seq} is past this device's stream head {info.head}; "
                            "drop local state", {"head": info.head})
            last_seq = info.head
        self.last_sent = last_seq
        self.log.info("authenticated; resuming after seq %d (head %d)", last_seq, info.head)
        self._tasks.append(asyncio.create_task(self._run_commands(), name=f"{self.name} commands"))
        # Read until the stream runs dry: events committed between sign-on and subscribing are found too.
        self.wake(EVERYTHING, None)

    def user_revoked(self) -> None:
        """The worker's tokens were revoked (any replica): their commands stop here, now."""
        self.send_error(None, "signed_off", "your session was ended: sign in again")
        self.close(close.CLOSE_SIGNED_OFF, "worker signed off")

    def stopped(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unsubscribe_user is not None:
            self._unsubscribe_user()
        if self.session_info is not None:
            registry = self.runtime.device_connections
            if registry.get(self.session_info.device_id) is self:
                del registry[self.session_info.device_id]
        if self._catch_up_task is not None:
            self._catch_up_task.cancel()

    # --- the event stream ---

    def wake(self, head: int, events: list[StreamEvent] | None) -> None:
        """The device's stream reached `head` (events attached when made in this process)."""
        if head < EVERYTHING:
            self.announced = max(self.announced, head)
        if head <= self.last_sent or self._closing.is_set():
            return
        if not self._catching_up and events:
            for event in events:
                if event.seq == self.last_sent + 1:
                    self._push(event)
                elif event.seq > self.last_sent + 1:
                    break
            if self.last_sent >= head:
                return
        self.target = max(self.target, head)
        if not self._catching_up:
            self._catching_up = True
            self._catch_up_task = asyncio.create_task(self._catch_up(), name=f"{self.name} catch-up")

    def _push(self, event: StreamEvent) -> None:
        if self.send(event.message()):
            self.last_sent = event.seq
            if event.type == "device.revoked":
                self.close(close.CLOSE_REVOKED, "device revoked")
            elif event.type == "worker.signed_off":  # disabled, signed out or password changed: sign in again
                self.close(close.CLOSE_SIGNED_OFF, "worker signed off")

    async def _catch_up(self) -> None:
        read_sessions = self.runtime.read_sessions
        device_id = self.session_info.device_id
        misses = 0
        try:
            while self.last_sent < self.target and not self._closing.is_set():
                after = self.last_sent

                def read() -> list[StreamEvent]:
                    with read_sessions() as session:
                        return read_events(session, device_id, after, limit=200)

                events = await asyncio.to_thread(read)
                if self.last_sent != after:
                    continue  # delivered meanwhile (should not happen: we hold the catch-up flag)
                if not events:
                    if self.announced > self.last_sent and misses < 100:
                        # Announced, but this read's snapshot began before that commit: read again.
                        misses += 1
                        await asyncio.sleep(0.002)
                        continue
                    if self.target < EVERYTHING:
                        self.log.warning("stream head %d announced but not readable after %d", self.target, after)
                    self.target = self.last_sent
                    break
                for event in events:
                    if event.seq != self.last_sent + 1:
                        self.log.error("gap in stream after seq %d (found %d)", self.last_sent, event.seq)
                        return
                    if self.queue.qsize() >= self.queue.maxsize - 1:
                        # Too far behind to hold the rest: let the client come back and resume.
                        self.log.warning("catch-up would overflow the queue at seq %d: disconnecting", event.seq)
                        self.close(close.CLOSE_TOO_SLOW, "too slow: reconnect and resume")
                        return
                    self._push(event)
        finally:
            self._catching_up = False
        if self.last_sent < self.target and not self._closing.is_set():
            self.wake(self.target, None)

    # --- commands ---

    async def handle_other(self, message: dict[str, Any]) -> None:
        type_ = message["type"]
        if self.dispatcher.registry.get(type_) is None:
            self.send_error(message.get("id"), "unknown_type", f"unknown message type {type_!r}",
                            {"commands": self.dispatcher.registry.names()})
            return
        envelope = CommandEnvelope(message.get("id"), type_, message.get("payload", {}))
        try:
            self._commands.put_nowait(envelope)
        except asyncio.QueueFull:
            self.send_error(message.get("id"), "too_many_commands", f"at most {_MAX_PENDING_COMMANDS} commands "
                            "may wait for their results; send again later")

    async def _run_commands(self) -> None:
        runner = self.runtime.command_runner
        while True:
            envelope = await self._commands.get()
            try:
                outcome = await runner.run(self.actor, envelope, "ws")
                self.send(outcome.message())
            except Exception as exc:  # noqa: BLE001  (not stored: the device may send it again)
                self.log.exception("command %s %s failed", envelope.type, envelope.id)
                self.send({"id": envelope.id, "type": "result", "command": envelope.type, "ok": False,
                           "replayed": False, "error": {"code": "internal_error", "message": type(exc).__name__,
                                                        "details": None}})
