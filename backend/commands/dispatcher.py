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
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError as DatabaseDataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from backend.commands.context import Actor, CommandContext
from backend.commands.registry import CommandRegistry
from backend.devices import stream
from backend.errors import DomainError, _clean_validation_errors, unstorable_input
from backend.models import utcnow
from backend.sql import Raw, TransactionFailed, insert_json_rows
from backend.commands.batch_reads import ANYTHING, note_changed, track_changes
from backend.runtime import Runtime

log = logging.getLogger("wes.commands")

COMMAND_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$")
_RETRY_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock: safe to run again
_STORED = "SELECT ok, result, payload_hash FROM device_command WHERE user_id = :user_id AND command_id = :command_id"
_STORE = ("INSERT INTO device_command (user_id, command_id, device_id, type, payload_hash, task_id, ok, result, "
          "created_at) VALUES (:user_id, :command_id, :device_id, :type, :payload_hash, :task_id, :ok, :result, "
          ":created_at)")
# PostgreSQL, a batch: every command's stored answer in one read, and the batch's answers in one write.
# (Each pair looked up in the unique index by a LATERAL subquery: a generic plan made while the table was small
# would otherwise scan all of it, for every batch, as it grows.)
_STORED_OF_BATCH = (
    "SELECT k.user_id, k.command_id, s.ok, s.result, s.payload_hash "
    "FROM unnest(CAST(:user_ids AS BIGINT[]), CAST(:command_ids AS TEXT[])) AS k(user_id, command_id) "
    "CROSS JOIN LATERAL (SELECT ok, result, payload_hash FROM device_command AS d WHERE d.user_id = k.user_id "
    "AND d.command_id = k.command_id LIMIT 1) AS s")
_STORE_BATCH = insert_json_rows("device_command", {
    "user_id": "BIGINT", "command_id": "TEXT", "device_id": "BIGINT", "type": "TEXT", "payload_hash": "TEXT",
    "task_id": "BIGINT", "ok": "BOOLEAN", "result": "JSON", "created_at": "TIMESTAMPTZ"})


class _Batch:
    """A batch's stored answers: those read ahead, those its commands made (stored with its COMMIT)."""

    def __init__(self, db: Raw, commands: list[tuple[Actor, CommandEnvelope]]) -> None:
        self.db = db
        self.rows: list[dict[str, Any]] = []
        self.made: dict[tuple[int, str], tuple[str, CommandOutcome]] = {}
        self.read = db.send_read(_STORED_OF_BATCH, user_ids=[actor.user_id for actor, _ in commands],
                                 command_ids=[envelope.id for _, envelope in commands]) if db.postgres else None
        self._stored: dict[tuple[int, str], tuple] | None = None

    def stored(self, actor: Actor, envelope: CommandEnvelope) -> tuple | None:
        """The stored (ok, result, payload_hash) of this command before the batch, if any."""
        if self.read is None:
            return self.db.one(_STORED, user_id=actor.user_id, command_id=envelope.id)
        if self._stored is None:
            self._stored = {(u, c): (ok, result, digest) for u, c, ok, result, digest in self.read.all()}
        return self._stored.get((actor.user_id, envelope.id))

    def store(self, actor: Actor, envelope: CommandEnvelope, digest: str, task_id: int | None,
              outcome: CommandOutcome) -> None:
        db = self.db
        answer = outcome.result if outcome.ok else outcome.error
        self.made[(actor.user_id, envelope.id)] = (digest, outcome)
        self.rows.append({"user_id": actor.user_id, "command_id": envelope.id, "device_id": actor.device_id,
                          "type": envelope.type, "payload_hash": digest, "task_id": task_id, "ok": outcome.ok,
                          "result": answer if self.read is not None else db.json(answer),
                          "created_at": db.when(utcnow())})

    def write(self) -> None:
        """Before the COMMIT (a copy committed meanwhile by another replica fails it: the batch reruns)."""
        if not self.rows:
            return
        if self.read is not None:
            self.db.send_write(_STORE_BATCH, rows=json.dumps(self.rows, separators=(",", ":"), default=str))
        else:
            self.db.many(_STORE, self.rows)


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
    def __init__(self, runtime: Runtime, registry: CommandRegistry, *, bind: Engine | None = None) -> None:
        """`bind`: the engine its sessions use instead of the app's (PostgreSQL: `db.make_command_engine`)."""
        self.runtime = runtime
        self.registry = registry
        self._session_options = {"bind": bind} if bind is not None else {}

    def _session(self) -> Session:
        return self.runtime.sessions(**self._session_options)

    def apply(self, actor: Actor, envelope: CommandEnvelope, via: str = "ws") -> CommandOutcome:
        """Run one command in its own transaction (blocking: call it from a worker thread)."""
        prepared = self._prepare(actor, envelope)
        if isinstance(prepared, CommandOutcome):
            return prepared
        spec, digest = prepared
        for attempt in range(3):
            try:
                return self._apply_once(actor, envelope, spec, digest, via)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES and attempt < 2:
                    time.sleep(0.005 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    def _prepare(self, actor: Actor, envelope: CommandEnvelope):  # noqa: ANN202
        """The command's spec and payload digest, or the refusal of a command that cannot run at all."""
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
        return spec, payload_hash(envelope.type, envelope.payload)

    def apply_batch(self, items: list[tuple[Actor, CommandEnvelope, str]]) -> list[CommandOutcome]:
        """Run several commands in one transaction, each in its own SAVEPOINT; one commit for all.

        A refused command is rolled back to its savepoint (its stored refusal stays); an unexpected
        error answers that command alone with internal_error. If the commit itself fails, every
        command is run again on its own.
        """
        outcomes: list[CommandOutcome | None] = [None] * len(items)
        work = []
        for index, (actor, envelope, via) in enumerate(items):
            prepared = self._prepare(actor, envelope)
            if isinstance(prepared, CommandOutcome):
                outcomes[index] = prepared
            else:
                work.append((index, actor, envelope, via, *prepared))
        if not work:
            return outcomes
        session = self._session()
        track_changes(session)
        try:
            db = Raw.of(session)
            # The commands' stored answers and the reads their handlers will make, in one round trip
            # (PostgreSQL; a repeat within the batch gets the answer its first copy made).
            batch = _Batch(db, [(actor, envelope) for _index, actor, envelope, *_rest in work])
            payloads = {}
            for index, actor, envelope, _via, spec, _digest in work:
                if spec.prefetch is not None and db.postgres:
                    try:
                        payloads[index] = self._validated(spec, envelope)
                    except DomainError:
                        continue  # refused when it runs
                    spec.prefetch(session, actor, payloads[index])
            for index, actor, envelope, via, spec, digest in work:
                outcome = self._apply_nested(session, batch, actor, envelope, spec, digest, via, payloads.get(index))
                if outcome.ok and not outcome.replayed and spec.prefetch is None:
                    note_changed(session, [ANYTHING])  # what it changed is not known: later ones read again
                outcomes[index] = outcome
            batch.write()
            session.commit()
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, (DBAPIError, TransactionFailed)):  # a deadlock, a duplicate, a refused stock take
                reason = str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__]
                log.warning("a batch of %d commands could not commit (%s): running them one by one", len(work),
                            reason[0])
            else:
                log.exception("a batch of %d commands failed: running them one by one", len(work))
            session.rollback()
            for index, actor, envelope, via, _spec, _digest in work:
                try:
                    outcomes[index] = self.apply(actor, envelope, via)
                except (DatabaseDataError, OverflowError) as unstorable:  # (a value its payload type let through)
                    refusal = unstorable_input(unstorable)
                    outcomes[index] = CommandOutcome(envelope.id, envelope.type, False, error=_error(
                        refusal.code, refusal.message))
                except Exception as again:  # noqa: BLE001  (not stored: the device may send it again)
                    log.exception("command %s %s failed", envelope.type, envelope.id)
                    outcomes[index] = CommandOutcome(envelope.id, envelope.type, False, error=_error(
                        "internal_error", type(again).__name__))
        finally:
            session.close()
        return outcomes

    def _apply_nested(self, session, batch: _Batch, actor: Actor, envelope: CommandEnvelope, spec,  # noqa: ANN001
                      digest: str, via: str, payload: Any = None) -> CommandOutcome:
        """One command of a batch, in its SAVEPOINT (`payload`: already validated, its reads sent ahead)."""
        made = batch.made.get((actor.user_id, envelope.id))
        if made is not None:  # (a copy earlier in this batch)
            made_digest, outcome = made
            answer = outcome.result if outcome.ok else outcome.error
            return _replayed(envelope, digest, (outcome.ok, answer, made_digest))
        row = batch.stored(actor, envelope)
        if row is not None:
            return _replayed(envelope, digest, (row[0], Raw.of(session).loads(row[1]), row[2]))
        mark = stream.mark(session)
        savepoint = session.begin_nested()
        # SQLAlchemy sends the SAVEPOINT with the nested transaction's first statement through the session;
        # the raw SQL of the hot paths never goes through it, so without this a refused command's raw
        # writes would not be undone. (PostgreSQL: queued, see backend.sql.pipeline.PipelineDialect.)
        session.connection()
        ctx = CommandContext(session, self.runtime, actor, envelope.id, via)
        try:
            ctx.read_ahead = payload is not None
            result = spec.handler(ctx, payload if payload is not None else self._validated(spec, envelope))
            savepoint.commit()
        except DomainError as exc:
            savepoint.rollback()
            stream.rewind(session, mark)
            if exc.after_rollback is not None:
                exc.after_rollback(session)
            outcome = CommandOutcome(envelope.id, envelope.type, False, error=_error(exc.code, exc.message,
                                                                                    exc.details))
            batch.store(actor, envelope, digest, ctx.task_id, outcome)
            return outcome
        except (DBAPIError, TransactionFailed):
            raise  # the batch's transaction may be lost (see backend.sql): the batch is undone whole
        except Exception as exc:  # noqa: BLE001  (not stored: the device may send it again)
            if savepoint.is_active:
                savepoint.rollback()
            stream.rewind(session, mark)
            log.exception("command %s %s failed", envelope.type, envelope.id)
            return CommandOutcome(envelope.id, envelope.type, False, error=_error(
                "internal_error", type(exc).__name__))
        outcome = CommandOutcome(envelope.id, envelope.type, True, result=result)
        batch.store(actor, envelope, digest, ctx.task_id, outcome)
        return outcome

    @staticmethod
    def _validated(spec, envelope: CommandEnvelope):  # noqa: ANN001, ANN205
        try:
            return spec.payload.model_validate(envelope.payload)
        except ValidationError as exc:
            details = _clean_validation_errors(exc.errors())
            first = details[0] if details else {"field": "", "message": "invalid"}
            raise DomainError(f"{first['field']}: {first['message']}", code="invalid_payload",
                              details=details) from exc

    def _stored(self, session, actor: Actor, envelope: CommandEnvelope, digest: str) -> CommandOutcome | None:  # noqa: ANN001
        db = Raw.of(session)
        row = db.one(_STORED, user_id=actor.user_id, command_id=envelope.id)
        return None if row is None else _replayed(envelope, digest, (row[0], db.loads(row[1]), row[2]))

    def _apply_once(self, actor: Actor, envelope: CommandEnvelope, spec, digest: str,  # noqa: ANN001
                    via: str) -> CommandOutcome:
        runtime = self.runtime
        session = self._session()
        try:
            stored = self._stored(session, actor, envelope, digest)
            if stored is not None:
                session.commit()  # (nothing was written; a ROLLBACK would make psycopg forget its prepared statements)
                return stored
            ctx = CommandContext(session, runtime, actor, envelope.id, via)
            try:
                result = spec.handler(ctx, self._validated(spec, envelope))
            except DomainError as exc:
                session.rollback()
                if exc.after_rollback is not None:
                    exc.after_rollback(session)
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
        """Store the answer and commit (a copy committed first by someone else fails the COMMIT)."""
        db = Raw.of(session)
        db.send_write(_STORE, user_id=actor.user_id, command_id=envelope.id, device_id=actor.device_id,
                      type=envelope.type, payload_hash=digest, task_id=task_id, ok=ok, result=db.json(result),
                      created_at=db.when(utcnow()))
        session.commit()


def _replayed(envelope: CommandEnvelope, digest: str, stored: tuple) -> CommandOutcome:
    """The answer to a command already applied: (ok, result or error, payload hash) as stored."""
    ok, answer, stored_digest = stored
    if stored_digest != digest:
        return CommandOutcome(envelope.id, envelope.type, False, replayed=True, error=_error(
            "command_id_reused", f"command id {envelope.id} was used for another command"))
    if ok:
        return CommandOutcome(envelope.id, envelope.type, True, result=answer, replayed=True)
    return CommandOutcome(envelope.id, envelope.type, False, error=answer, replayed=True)
