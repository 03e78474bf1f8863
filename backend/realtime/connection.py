"""One websocket connection: authentication first, a reader, a bounded outbound queue with its own writer.

`Connection` is the socket lifecycle shared by the device stream (backend.realtime.device) and the wall
screen (backend.realtime.wall); they say how to authenticate and what to do with the other messages.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from sqlalchemy.exc import DataError as DatabaseDataError
from starlette.websockets import WebSocket, WebSocketState

from backend.errors import DomainError, TooManyRequests, unstorable_input
from backend.realtime import errors as close
from backend.realtime.errors import ProtocolError
from backend.realtime.messages import dumps, error, parse
from backend.runtime import Runtime

log = logging.getLogger("wes.realtime")
_numbers = itertools.count(1)


class ConnectionLog(logging.LoggerAdapter):
    """Every line names the connection: "[device 12 #7] …"."""

    def process(self, msg, kwargs):  # noqa: ANN001, ANN201
        return f"[{self.extra['name']}] {msg}", kwargs


class Connection:
    """The lifecycle of one socket; a subclass authenticates (check_auth, authenticated) and serves the rest."""

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

