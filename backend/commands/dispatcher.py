"""Apply a device command once: one transaction holds its effects and its stored answer.

A command is `{"id": "<client-made id>", "type": "<name>", "payload": {…}}`.
The first time an id is seen (per worker) the handler runs and the answer is
stored in `device_command` inside the same transaction as the handler's
effects; a repeat gets that answer back with `"replayed": true` and changes
nothing. Two copies arriving at once (two replicas, websocket and HTTP) race
on the unique (user_id, command_id): the loser's transaction rolls back and
it answers with the winner's result.

A refused command (a DomainError: wrong scan, task not yours…) changed
nothing; its answer is stored too, so a repeat gets the same refusal.
Unexpected errors are not stored: the device may simply try again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.commands.context import Actor, CommandContext
from backend.commands.registry import CommandRegistry
from backend.errors import DomainError, _clean_validation_errors
from backend.models import DeviceCommand, utcnow
from backend.runtime import Runtime

log = logging.getLogger("wes.commands")

COMMAND_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$")
_RETRY_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock: safe to run again


@dataclass(frozen=True)
class CommandEnvelope:
    id: str
    type: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class CommandOutcome:
    id: Any
    type: str
    ok: bool
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    replayed: bool = False

    def message(self) -> dict[str, Any]:
        """The answer, the same over the websocket and HTTP."""
        body: dict[str, Any] = {"id": self.id, "type": "result", "command": self.type, "ok": self.ok,
                                "replayed": self.replayed}
        if self.ok:
            body["result"] = self.result
        else:
            body["error"] = self.error
        return body


def _error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def payload_hash(type_: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps({"type": type_, "payload": payload}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CommandDispatcher:
    def __init__(self, runtime: Runtime, registry: CommandRegistry) -> None:
        self.runtime = runtime
        self.registry = registry

    def apply(self, actor: Actor, envelope: CommandEnvelope, via: str = "ws") -> CommandOutcome:
        """Run one command in its own transaction (blocking: call it from a worker thread)."""
        if not isinstance(envelope.id, str) or not COMMAND_ID.match(envelope.id):
            return CommandOutcome(envelope.id, envelope.type, False, error=_error(
                "invalid_command_id", "a command needs an id of 8-64 letters, digits, '-', '_', '.' or ':' "
                "(a UUID is best)"))
        spec = self.registry.get(envelope.type)
        if spec is None:
            return CommandOutcome(envelope.id, envelope.type, False, error=_error(
                "unknown_command", f"no command {envelope.type!r}", {"known": self.registry.names()}))
        if not actor.principal.has_any(spec.roles):
            return CommandOutcome(envelope.id, envelope.type, False, error=_error(
                "role_forbidden", f"{envelope.type} needs one of the roles: {', '.join(spec.roles)}"))
        if not isinstance(envelope.payload, dict):
            return CommandOutcome(envelope.id, envelope.type, False, error=_error(
                "invalid_payload", "payload must be a JSON object"))
        digest = payload_hash(envelope.type, envelope.payload)
        for attempt in range(3):
            try:
                return self._apply_once(actor, envelope, spec, digest, via)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES and attempt < 2:
                    time.sleep(0.005 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    def _stored(self, session, actor: Actor, envelope: CommandEnvelope, digest: str) -> CommandOutcome | None:  # noqa: ANN001
        row = session.execute(
            select(DeviceCommand.ok, DeviceCommand.result, DeviceCommand.payload_hash)
            .where(DeviceCommand.user_id == actor.user_id, DeviceCommand.command_id == envelope.id)
        ).first()
        if row is None:
            return None
        ok, result, stored_hash = row
        if stored_hash != digest:
            return CommandOutcome(envelope.id, envelope.type, False, replayed=True, error=_error(
                "command_id_reused", f"command id {envelope.id} was used for another command"))
        if ok:
            return CommandOutcome(envelope.id, envelope.type, True, result=result, replayed=True)
        return CommandOutcome(envelope.id, envelope.type, False, error=result, replayed=True)

    def _apply_once(self, actor: Actor, envelope: CommandEnvelope, spec, digest: str,  # noqa: ANN001
                    via: str) -> CommandOutcome:
        runtime = self.runtime
        session = runtime.sessions()
        try:
            stored = self._stored(session, actor, envelope, digest)
            if stored is not None:
                session.rollback()
                return stored
            ctx = CommandContext(session, runtime, actor, envelope.id, via)
            try:
                try:
                    payload = spec.payload.model_validate(envelope.payload)
                except ValidationError as exc:
                    details = _clean_validation_errors(exc.errors())
                    first = details[0] if details else {"field": "", "message": "invalid"}
                    raise DomainError(f"{first['field']}: {first['message']}", code="invalid_payload",
                                      details=details) from exc
                result = spec.handler(ctx, payload)
            except DomainError as exc:
                session.rollback()
                error = _error(exc.code, exc.message, exc.details)
                self._store(session, actor, envelope, digest, ctx.task_id, False, error)
                return CommandOutcome(envelope.id, envelope.type, False, error=error)
            self._store(session, actor, envelope, digest, ctx.task_id, True, result)
            return CommandOutcome(envelope.id, envelope.type, True, result=result)
        except IntegrityError:
            # Another copy of this command committed first: its answer is the answer.
            session.rollback()
            stored = self._stored(session, actor, envelope, digest)
            session.rollback()
            if stored is None:
                raise
            return stored
        finally:
            session.close()

    @staticmethod
    def _store(session, actor: Actor, envelope: CommandEnvelope, digest: str, task_id: int | None,  # noqa: ANN001
               ok: bool, result: dict[str, Any]) -> None:
        session.execute(insert(DeviceCommand), [{
            "user_id": actor.user_id, "command_id": envelope.id, "device_id": actor.device_id, "type": envelope.type,
            "payload_hash": digest, "task_id": task_id, "ok": ok, "result": result, "created_at": utcnow()}])
        session.commit()
