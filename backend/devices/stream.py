"""Device event streams, the domain's transactional outbox: appended in the transaction that caused
them, announced once it commits.

Code that changes something a device must hear of calls `emit(session, …)`
(or `emit_to_workers`). Nothing is written at once: just before the session
commits, the events are numbered (``UPDATE device SET last_seq = last_seq
+ n … RETURNING`` per device, taken in device-id order so two transactions
never deadlock) and inserted, inside the same transaction (on PostgreSQL one
statement a device, sent in the COMMIT's round trip). After the commit
the `announce` given to `install` hears "device D has events up to seq N" (with the events
themselves, for connections in this process). Rolled back, nothing happened.
The same commit announces the sites whose work changed (`touch_site`, for
the wall screens) and the users whose tokens were revoked (`revoke_user`).

`install(sessions, announce)` hooks this onto a sessionmaker; the realtime
component does that when the app starts, with its hub's `announce`
(backend.realtime.hub), which tells the websockets: nothing here knows of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Device, DeviceEvent, utcnow
from backend.sql import Pending, Raw

_OUTBOX = "wes_stream_outbox"
_INSTALLED = "wes_stream_installed"
_WORKER_DEVICES = "wes_stream_worker_devices"
_DEVICES_OF_WORKER = "SELECT id FROM device WHERE current_user_id = :user_id AND revoked_at IS NULL ORDER BY id"
_ADVANCE_HEAD = "UPDATE device SET last_seq = last_seq + :n WHERE id = :device_id RETURNING last_seq, site_id"
_INSERT_EVENT = ("INSERT INTO device_event (device_id, seq, type, data, created_at) "
                 "VALUES (:device_id, :seq, :type, :data, :created_at)")
# PostgreSQL: the heads of all the transaction's devices locked in device-id order (two transactions
# never deadlock on them), then advanced, and their events inserted from the new heads, in one statement.
# Both go with the COMMIT. `:counts` is [[device_id, n], …], `:events` [[device_id, k, type, data], …]
# with k = 1…n within a device; both JSON, so no array of text needs escaping element by element.
_LOCK_HEADS = "SELECT id FROM device WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
_WRITE_EVENTS = (
    "WITH counts AS (SELECT CAST(c->>0 AS BIGINT) AS device_id, CAST(c->>1 AS INTEGER) AS n "
    "FROM json_array_elements(CAST(:counts AS JSON)) AS c), "
    "head AS (UPDATE device SET last_seq = device.last_seq + counts.n FROM counts WHERE device.id = counts.device_id "
    "RETURNING device.id, device.last_seq, device.site_id, counts.n), "
    "written AS (INSERT INTO device_event (device_id, seq, type, data, created_at) "
    "SELECT head.id, head.last_seq - head.n + CAST(e->>1 AS INTEGER), e->>2, e->3, :created_at "
    "FROM json_array_elements(CAST(:events AS JSON)) AS e JOIN head ON head.id = CAST(e->>0 AS BIGINT)) "
    "SELECT id, last_seq, site_id FROM head")
# Per-transaction caches, dropped when the transaction ends.
_CACHES = (_WORKER_DEVICES, "wes_task_names")


@dataclass(slots=True)
class StreamEvent:
    """One numbered event of one device's stream."""

    device_id: int
    seq: int
    type: str
    data: dict[str, Any]
    at: datetime

    def message(self) -> str:
        """The websocket frame for this event (the same text live and on resume)."""
        return json.dumps(
            {"id": f"ev{self.seq}", "type": self.type, "seq": self.seq, "at": self.at.isoformat(), "data": self.data},
            separators=(",", ":"),
            default=str,
        )


@dataclass(slots=True)
class Announcement:
    """What one commit changed: the new stream heads, their events, and the sites whose work changed."""

    heads: dict[int, int] = field(default_factory=dict)
    events: dict[int, list[StreamEvent]] = field(default_factory=dict)
    sites: set[int] = field(default_factory=set)
    # Users whose tokens were revoked (disabled, password changed, signed out): their live sockets close.
    users: set[int] = field(default_factory=set)

    def merge(self, other: "Announcement") -> None:
        for device_id, seq in other.heads.items():
            if seq > self.heads.get(device_id, 0):
                self.heads[device_id] = seq
        self.sites |= other.sites
        self.users |= other.users

    def __bool__(self) -> bool:
        return bool(self.heads or self.sites or self.users)


@dataclass(slots=True)
class _Outbox:
    pending: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    sites: set[int] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    written: tuple | None = None  # (what _write sent, for _announcement)


def _outbox(session: Session) -> _Outbox:
    if not session.info.get(_INSTALLED):
        # Events written outside the app (a script's own sessionmaker) would never be announced.
        raise RuntimeError("device events need a session from the app's sessionmaker (the device streams are not installed)")
    box = session.info.get(_OUTBOX)
    if box is None:
        box = session.info[_OUTBOX] = _Outbox()
    return box


def emit(session: Session, device_ids: Iterable[int], type_: str, data: dict[str, Any]) -> None:
    """Append an event to each device's stream when this transaction commits."""
    box = _outbox(session)
    for device_id in dict.fromkeys(device_ids):
        box.pending.append((device_id, type_, data))


def mark(session: Session) -> tuple[int, frozenset[int]] | None:
    """Where the transaction's pending events stand now (before a SAVEPOINT)."""
    box: _Outbox | None = session.info.get(_OUTBOX)
    return None if box is None else (len(box.pending), frozenset(box.sites))


def rewind(session: Session, to: tuple[int, frozenset[int]] | None) -> None:
    """Forget the events emitted since `mark` (their SAVEPOINT was rolled back)."""
    box: _Outbox | None = session.info.get(_OUTBOX)
    if box is None:
        return
    count, sites = to if to is not None else (0, frozenset())
    del box.pending[count:]
    box.sites = set(sites)


def devices_of_workers(session: Session, user_ids: Iterable[int | None]) -> list[int]:
    """The devices the given workers are signed on at now."""
    ids = sorted({u for u in user_ids if u is not None})
    if not ids:
        return []
    if len(ids) == 1:
        # Asked several times per command for the same worker: once per transaction is enough.
        cache = session.info.setdefault(_WORKER_DEVICES, {})
        if ids[0] not in cache:
            cache[ids[0]] = [r[0] for r in Raw.of(session).all(_DEVICES_OF_WORKER, user_id=ids[0])]
        return list(cache[ids[0]])
    return list(session.execute(
        select(Device.id).where(Device.current_user_id.in_(ids), Device.revoked_at.is_(None)).order_by(Device.id)
    ).scalars())


def forget_worker_devices(session: Session) -> None:
    """Who is signed on where changes in this transaction: `devices_of_workers` reads it again."""
    session.info.pop(_WORKER_DEVICES, None)


def ahead_devices_of_worker(session: Session, user_id: int) -> None:
    """Send ahead the lookup `devices_of_workers` will make for this worker (backend.sql)."""
    if user_id not in session.info.get(_WORKER_DEVICES, ()):
        Raw.of(session).prefetch(_DEVICES_OF_WORKER, user_id=user_id)


def emit_to_workers(session: Session, user_ids: Iterable[int | None], type_: str, data: dict[str, Any]) -> None:
    """Append an event to the stream of every device these workers are signed on at."""
    emit(session, devices_of_workers(session, user_ids), type_, data)


def touch_site(session: Session, site_id: int) -> None:
    """Tell the wall screens of a site that its work changed (no device event needed)."""
    _outbox(session).sites.add(site_id)


def installed(session: Session) -> bool:
    """Whether this session's commits are announced (it comes from a running app's sessionmaker)."""
    return bool(session.info.get(_INSTALLED))


def revoke_user(session: Session, user_id: int) -> None:
    """Once this transaction commits, every replica closes the user's live sockets (the wall's; a device's
    closes on its own stream's `worker.signed_off`)."""
    _outbox(session).users.add(user_id)


def _write(session: Session) -> None:
    """Number and insert the transaction's events (before its COMMIT; on PostgreSQL answered with it)."""
    box: _Outbox | None = session.info.get(_OUTBOX)
    if box is None or not (box.pending or box.sites or box.users):
        return
    by_device: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for device_id, type_, data in box.pending:
        by_device.setdefault(device_id, []).append((type_, data))
    now = utcnow()
    db = Raw.of(session)
    created_at = db.when(now)
    devices = sorted(by_device)
    if not devices:
        heads = Pending(None, [])
    elif db.postgres:
        db.send_write(_LOCK_HEADS, ids=devices)
        heads = db.send_read(_WRITE_EVENTS, created_at=created_at,
                             counts=_json_text([[d, len(by_device[d])] for d in devices]),
                             events=_json_text([[d, k, type_, data] for d in devices
                                                for k, (type_, data) in enumerate(by_device[d], 1)]))
    else:
        rows = []
        advanced = []
        for device_id in devices:
            items = by_device[device_id]
            head = db.one(_ADVANCE_HEAD, n=len(items), device_id=device_id)
            if head is not None:
                advanced.append((device_id, *head))
                first = head[0] - len(items) + 1
                rows += [{"device_id": device_id, "seq": first + offset, "type": type_, "data": db.json(data),
                          "created_at": created_at} for offset, (type_, data) in enumerate(items)]
        db.many(_INSERT_EVENT, rows)
        heads = Pending(None, advanced)
    box.pending.clear()
    box.written = (by_device, heads, set(box.sites), now, set(box.users))


def _announcement(written) -> Announcement:  # noqa: ANN001
    """What a committed transaction wrote (`_write`), for the hub."""
    by_device, heads, sites, now, users = written
    announcement = Announcement(sites=sites, users=users)
    # (PostgreSQL: the heads were answered with the COMMIT; a device deleted meanwhile has none: nobody to tell.)
    for device_id, last_seq, site_id in heads.all():
        items = by_device[device_id]
        announcement.sites.add(site_id)
        first = last_seq - len(items) + 1
        announcement.heads[device_id] = last_seq
        announcement.events[device_id] = [StreamEvent(device_id, first + offset, type_, data, now)
                                          for offset, (type_, data) in enumerate(items)]
    return announcement


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def install(sessions: sessionmaker, announce: Callable[[Announcement], None]) -> Callable[[], None]:
    """Hook event writing and announcing onto every session the factory makes; returns the undo."""

    def before_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a SAVEPOINT released: the events wait for the real commit
        _write(session)

    def after_commit(session: Session) -> None:
        box: _Outbox | None = session.info.get(_OUTBOX)
        if box is None or box.written is None:
            return  # (also fired when a SAVEPOINT is released: nothing is committed yet)
        session.info.pop(_OUTBOX, None)
        announcement = _announcement(box.written)
        if announcement:
            announce(announcement)

    def after_transaction_end(session: Session, transaction) -> None:  # noqa: ANN001
        # Rolled back or closed without commit (after_commit has already taken a committed outbox).
        if transaction.parent is None:
            session.info.pop(_OUTBOX, None)
            for key in _CACHES:
                session.info.pop(key, None)

    previous_info = dict(sessions.kw.get("info") or {})
    sessions.configure(info={**previous_info, _INSTALLED: True})
    hooks = (("before_commit", before_commit), ("after_commit", after_commit), ("after_transaction_end", after_transaction_end))
    for name, fn in hooks:
        event.listen(sessions, name, fn)

    def uninstall() -> None:
        for name, fn in hooks:
            event.remove(sessions, name, fn)
        sessions.configure(info=previous_info)

    return uninstall


def read_events(session: Session, device_id: int, after_seq: int, limit: int = 500) -> list[StreamEvent]:
    """A device's events after `after_seq`, in order."""
    rows = session.execute(
        select(DeviceEvent.seq, DeviceEvent.type, DeviceEvent.data, DeviceEvent.created_at)
        .where(DeviceEvent.device_id == device_id, DeviceEvent.seq > after_seq)
        .order_by(DeviceEvent.seq).limit(limit)
    ).all()
    return [StreamEvent(device_id, seq, type_, data, at) for seq, type_, data, at in rows]
