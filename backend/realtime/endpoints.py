"""The websocket endpoints: /ws/device (handhelds, stations), /ws/wall (supervisors), /ws/echo (benchmark floor)."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from backend.realtime.connection import DeviceConnection
from backend.realtime.wall import WallConnection


async def device_socket(websocket: WebSocket) -> None:
    await DeviceConnection(websocket, websocket.app.state.runtime).run()


async def wall_socket(websocket: WebSocket) -> None:
    await WallConnection(websocket, websocket.app.state.runtime).run()


async def echo_socket(websocket: WebSocket) -> None:
    """Sends back each text frame: the floor under /ws/device's round trip in `wes bench realtime`."""
    await websocket.accept()
    limit = websocket.app.state.runtime.settings.ws_max_message_bytes
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(text if len(text) <= limit else '{"type":"error"}')
    except WebSocketDisconnect:
        return


def mount(app: FastAPI) -> None:
    app.add_api_websocket_route("/ws/device", device_socket)
    app.add_api_websocket_route("/ws/wall", wall_socket)
    app.add_api_websocket_route("/ws/echo", echo_socket)
