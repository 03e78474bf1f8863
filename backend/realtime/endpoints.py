"""The websocket endpoints: /ws/device (handhelds, stations), /ws/wall (supervisors), /ws/echo (benchmark floor)."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from backend.devices.tokens import authenticate_worker
from backend.errors import DomainError
from backend.realtime import errors as close
from backend.realtime.device import DeviceConnection
from backend.realtime.errors import ProtocolError
from backend.realtime.messages import error, parse
from backend.realtime.wall import WallConnection
from backend.runtime import Runtime


async def device_socket(websocket: WebSocket) -> None:
    await DeviceConnection(websocket, websocket.app.state.runtime).run()


async def wall_socket(websocket: WebSocket) -> None:
    await WallConnection(websocket, websocket.app.state.runtime).run()


def _check_echo_auth(runtime: Runtime, text: str) -> None:
    message = parse(text)
    if message["type"] != "auth":
        raise ProtocolError("auth_required", "send an auth message first")
    with runtime.sessions() as session:
        authenticate_worker(session, runtime, access_token=message.get("access_token"))


async def echo_socket(websocket: WebSocket) -> None:
    """Sends back each text frame: the floor under /ws/device's round trip in `wes bench realtime`.

    Only where the benchmark turned it on (WES_ECHO_SOCKET_ENABLED). Like the other sockets it wants
    `{"type": "auth", "access_token": T}` (a user's token) within WES_WS_AUTH_TIMEOUT_SECONDS, and closes a
    connection silent for 2.5 heartbeats; after `auth_ok` every text frame comes straight back.
    """
    runtime: Runtime = websocket.app.state.runtime
    settings = runtime.settings
    await websocket.accept()
    try:
        try:
            async with asyncio.timeout(settings.ws_auth_timeout_seconds):
                first = await websocket.receive_text()
        except TimeoutError:
            await websocket.send_text(json.dumps(error(None, "auth_timeout", "authenticate first, within "
                                                       f"{settings.ws_auth_timeout_seconds:g} s")))
            await websocket.close(close.CLOSE_AUTH_TIMEOUT, "authentication timeout")
            return
        try:
            if len(first) > settings.ws_max_message_bytes:
                raise ProtocolError("message_too_large", "the auth message is too large")
            await asyncio.to_thread(_check_echo_auth, runtime, first)
        except (DomainError, ProtocolError) as exc:
            await websocket.send_text(json.dumps(error(None, "auth_failed", exc.message, {"reason": exc.code})))
            await websocket.close(close.CLOSE_AUTH_FAILED, "authentication failed")
            return
        await websocket.send_text('{"type":"auth_ok"}')
        limit, idle = settings.ws_max_message_bytes, 2.5 * settings.ws_heartbeat_seconds
        while True:
            try:
                async with asyncio.timeout(idle):
                    text = await websocket.receive_text()
            except TimeoutError:
                await websocket.close(close.CLOSE_IDLE, "no message")
                return
            await websocket.send_text(text if len(text) <= limit else '{"type":"error"}')
    except WebSocketDisconnect:
        return


def mount(app: FastAPI, *, echo: bool = False) -> None:
    app.add_api_websocket_route("/ws/device", device_socket)
    app.add_api_websocket_route("/ws/wall", wall_socket)
    if echo:
        app.add_api_websocket_route("/ws/echo", echo_socket)
