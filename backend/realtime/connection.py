"""One websocket connection: authentication first, a reader, a bounded outbound queue with its own writer.

`Connection` is the socket lifecycle shared by the device stream and the
wall screen; `DeviceConnection` adds the ordered event stream and commands.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError as DatabaseDataError
from starlette.websockets import WebSocket, WebSocketState

from backend.api.access import ACCESS
from backend.auth.principal import Principal, load_principal
from backend.commands import Actor, CommandDispatcher, CommandEnvelope
from backend.devices.profiles import scanner_settings
from backend.devices.stream import StreamEvent, read_events
from backend.devices.tokens import authenticate_device, authenticate_worker
from backend.errors import DomainError, TooManyRequests, unstorable_input
from backend.models import Device, Site
from backend.realtime import errors as close
from backend.realtime.errors import ProtocolError
from backend.realtime.hub import EVERYTHING
from backend.realtime.messages import dumps, error, parse
from backend.runtime import Runtime
from backend.tasks.transitions import sign_on

log = logging.getLogger("wes.realtime")
_numbers = itertools.count(1)

DEVICE_ROLES = tuple(sorted(ACCESS[("WS", "/ws/device")].roles))  # declared in backend/api/access.py
_MAX_PENDING_COMMANDS = 64


class ConnectionLog(logging.LoggerAdapter):
    """Every line names the connection: "[device 12 #7] …"."""

    def process(self, msg, kwargs):  # noqa: ANN001, ANN201
        return f"[{self.extra['name']}] {msg}", kwargs


class Connection:
    kind = "ws"

    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.client = websocket.client.host if websocket.client else None  # for the login backoff
        self.settings = runtime.settings
        self.number = next(_numbers)
        self.name = f"{self.kind} #{self.number}"
        self.log = ConnectionLog(log, {"name": self.name})
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=self.settings.ws_outbound_queue)
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._close_code = 1000
        self._close_reason = ""
        self.last_heard = time.monotonic()
        self._tasks: list[asyncio.Task] = []

    def rename(self, name: str) -> None:
        self.name = f"{name} #{self.number}"
        self.log = ConnectionLog(log, {"name": self.name})

    def server_id(self) -> str:
        return f"s{next(self._ids)}"

    # --- sending ---

    def send(self, message: dict[str, Any] | str) -> bool:
        """Queue a message for the writer; a client too far behind is disconnected (it resumes by seq)."""
        if self._closing.is_set():
            return False
        try:
            self.queue.put_nowait(message if isinstance(message, str) else dumps(message))
            return True
        except asyncio.QueueFull:
            self.log.warning("fell %d messages behind: disconnecting", self.queue.qsize())
            self.close(close.CLOSE_TOO_SLOW, "too slow: reconnect and resume")
            return False

    def send_error(self, msg_id: Any, code: str, message: str, details: Any = None) -> None:
        self.send(error(msg_id if msg_id is not None else self.server_id(), code, message, details))

    def close(self, code: int, reason: str = "") -> None:
        if not self._closing.is_set():
            self._close_code, self._close_reason = code, reason
            self._closing.set()

    async def _writer(self) -> None:
        while True:
            text = await self.queue.get()
            await self.ws.send_text(text)

    # --- receiving ---

    async def receive_text(self) -> str | None:
        """The next frame as text (None when the client went away); oversize frames raise ProtocolError."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        self.last_heard = time.monotonic()
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            if len(data) > self.settings.ws_max_message_bytes:
                raise ProtocolError("message_too_large", f"messages are limited to "
                                    f"{self.settings.ws_max_message_bytes} bytes")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError("malformed_json", "binary frames must be UTF-8 JSON") from None
        limit = self.settings.ws_max_message_bytes
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit):
            raise ProtocolError("message_too_large", f"messages are limited to {limit} bytes",
                                {"limit": limit})
        return text

    async def next_message(self) -> dict[str, Any] | None:
        """The next well-formed message; bad frames are answered with an error and skipped."""
        while True:
            try:
                text = await self.receive_text()
                if text is None:
                    return None
                return parse(text)
            except ProtocolError as exc:
                self.log.info("refused a frame: %s", exc.code)
                self.send_error(None, exc.code, exc.message, exc.details)

    # --- lifecycle ---

    async def run(self) -> None:
        await self.ws.accept()
        self._tasks = [asyncio.create_task(self._writer(), name=f"{self.name} writer")]
        main = asyncio.create_task(self._main(), name=f"{self.name} main")
        closing = asyncio.create_task(self._closing.wait())
        try:
            done, _ = await asyncio.wait({main, closing, self._tasks[0]}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not closing and not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    if not _is_disconnect(exc):
                        self.log.error("failed: %r", exc, exc_info=exc)
                    self.close(1011 if not _is_disconnect(exc) else 1000, "server error")
        finally:
            main.cancel()
            closing.cancel()
            await self._flush_and_close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(main, closing, *self._tasks, return_exceptions=True)
            self.stopped()
            self.log.info("closed (%s %s)", self._close_code, self._close_reason)

    async def _flush_and_close(self) -> None:
        writer = self._tasks[0]
        # Let the writer deliver what is queued (an error saying why we close, say) for a moment.
        if not writer.done() and self._close_code not in (close.CLOSE_TOO_SLOW,):
            deadline = time.monotonic() + 1.0
            while not self.queue.empty() and not writer.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        writer.cancel()
        if self.ws.application_state == WebSocketState.CONNECTED and self.ws.client_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(self._close_code, self._close_reason[:120])
            except Exception:  # noqa: BLE001  (the client may be gone already)
                pass

    async def _main(self) -> None:
        try:
            async with asyncio.timeout(self.settings.ws_auth_timeout_seconds):
                authenticated = await self.authenticate()
        except TimeoutError:
            self.log.info("no authentication within %.1f s", self.settings.ws_auth_timeout_seconds)
            self.send_error(None, "auth_timeout", "authenticate first, within "
                            f"{self.settings.ws_auth_timeout_seconds:g} s")
            self.close(close.CLOSE_AUTH_TIMEOUT, "authentication timeout")
            return
        if not authenticated:
            return
        self._tasks.append(asyncio.create_task(self._heartbeat(), name=f"{self.name} heartbeat"))
        await self.serve()
        self.close(1000, "client closed")

    async def _heartbeat(self) -> None:
        interval = self.settings.ws_heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self.last_heard > 2.5 * interval:
                self.log.info("silent for %.0f s: closing", time.monotonic() - self.last_heard)
                self.close(close.CLOSE_IDLE, "no heartbeat")
                return
            self.send({"id": self.server_id(), "type": "ping"})

    async def authenticate(self) -> bool:
        while True:
            message = await self.next_message()
            if message is None:
                return False
            if message["type"] == "ping":
                self.send({"id": message.get("id"), "type": "pong"})
                continue
            if message["type"] != "auth":
                self.send_error(message.get("id"), "auth_required", "send an auth message first")
                continue
            try:
                try:
                    reply = await asyncio.to_thread(self.check_auth, message)
                except (DatabaseDataError, OverflowError) as unstorable:  # a NUL in a username, say (PostgreSQL)
                    raise unstorable_input(unstorable) from None
            except (DomainError, ProtocolError) as exc:
                self.log.info("authentication refused: %s", exc.code)
                details = {"reason": exc.code}
                if isinstance(exc, TooManyRequests):  # backoff or lockout: when to try again
                    details.update(exc.details)
                self.send_error(message.get("id"), "auth_failed", exc.message, details)
                self.close(close.CLOSE_AUTH_FAILED, "authentication failed")
                return False
            self.authenticated(message, reply)
            return True

    async def handle(self, message: dict[str, Any]) -> None:
        """Control messages every connection understands; others go to handle_other."""
        type_ = message["type"]
        if type_ == "ping":
            self.send({"id": message.get("id"), "type": "pong"})
        elif type_ == "pong":
            return
        elif type_ == "auth":
            self.send_error(message.get("id"), "already_authenticated", "this connection is authenticated")
        else:
            await self.handle_other(message)

    async def serve(self) -> None:
        while True:
            message = await self.next_message()
            if message is None:
                return
            await self.handle(message)

    # --- for subclasses ---

    def check_auth(self, message: dict[str, Any]) -> Any:  # runs in a worker thread
        raise NotImplementedError

    def authenticated(self, message: dict[str, Any], reply: Any) -> None:
        raise NotImplementedError

    async def handle_other(self, message: dict[str, Any]) -> None:
        self.send_error(message.get("id"), "unknown_type", f"unknown message type {message['type']!r}")

    def stopped(self) -> None:
        return None


def _is_disconnect(exc: BaseException) -> bool:
    from starlette.websockets import WebSocketDisconnect

    return isinstance(exc, (WebSocketDisconnect, ConnectionError, OSError)) or type(exc).__name__ in (
        "ClientDisconnected", "ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError")


# --- devices ---------------------------------------------------------------------------------------


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
            if not principal.may_access(device.site_id) or not principal.has_any(DEVICE_ROLES):
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
