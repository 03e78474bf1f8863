"""Message envelopes: every message has an id and a type; errors carry a snake_case code.

Client → server:
  {"id": "a1", "type": "auth", "device_token": "…", "access_token": "…" | "username": "…", "password": "…",
   "last_seq": 41}
  {"id": "a2", "type": "ping"}
  {"id": "<uuid>", "type": "<command>", "payload": {…}}          e.g. "confirm_putaway", "start_task"
Server → client:
  {"id": "a1", "type": "auth_ok", "device": {…}, "user": {…}, "scanner": {…}|null, "head": 57, …}
  {"id": "ev42", "type": "task.assigned", "seq": 42, "at": "2026-…Z", "data": {…}}
  {"id": "<uuid>", "type": "result", "command": "start_task", "ok": true, "result": {…}, "replayed": false}
  {"id": "<uuid>", "type": "result", "command": "start_task", "ok": false, "error": {"code", "message", "details"}}
  {"id": "a9"|"s7", "type": "error", "error": {"code": "malformed_json", "message": "…", "details": null}}
      (the id of the message at fault, or a server id "s…" when it had none)
  {"id": "s8", "type": "ping"} / {"id": "a2", "type": "pong"}
"""

from __future__ import annotations

import json
from typing import Any

from backend.realtime.errors import ProtocolError


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def parse(text: str) -> dict[str, Any]:
    """A client frame as a message, or a ProtocolError saying what is wrong with it."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("malformed_json", "the frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("not_an_object", "a message is a JSON object with an id and a type")
    type_ = message.get("type")
    if not isinstance(type_, str) or not type_:
        raise ProtocolError("missing_type", "a message needs a string 'type'")
    msg_id = message.get("id")
    if msg_id is not None and not isinstance(msg_id, (str, int)):
        raise ProtocolError("invalid_id", "'id' must be a string or a number")
    return message


def error(msg_id: Any, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"id": msg_id, "type": "error", "error": {"code": code, "message": message, "details": details}}
