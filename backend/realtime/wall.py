"""The supervisor wall screen: live task and exception counts by zone and by worker.

Counts are recomputed (from the database, the only truth) when the hub says
the site's work changed, at most every `_MIN_INTERVAL` seconds, and every
`_REFRESH` seconds anyway; a `wall.counts` message goes out only when they
differ from the last one sent.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time as day_start, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from backend.api.deps import load_principal
from backend.devices.tokens import authenticate_worker
from backend.errors import DomainError
from backend.models import Site, Task, User, WarehouseException, Zone
from backend.realtime.connection import Connection
from backend.realtime.errors import ProtocolError
from backend.tasks.states import HELD_STATES, OPEN_STATES

WALL_ROLES = ("supervisor", "admin")
_MIN_INTERVAL = 0.25
_REFRESH = 5.0


def wall_counts(session: Session, site_id: int) -> dict[str, Any]:
    zones = {z.id: z.code for z in session.exec(select(Zone).where(Zone.site_id == site_id)).all()}
    by_zone: dict[str, dict[str, int]] = {}
    for zone_id, state, count in session.exec(
        select(Task.zone_id, Task.state, func.count()).where(Task.site_id == site_id, Task.state.in_(OPEN_STATES))
        .group_by(Task.zone_id, Task.state)
    ).all():
        row = by_zone.setdefault(zones.get(zone_id, "-") if zone_id else "-", {s: 0 for s in OPEN_STATES})
        row[state] += count
    midnight = datetime.combine(datetime.now(timezone.utc).date(), day_start.min, tzinfo=timezone.utc)
    by_worker: dict[int, dict[str, int]] = {}
    for user_id, state, count in session.exec(
        select(Task.assigned_to, Task.state, func.count()).where(
            Task.site_id == site_id, Task.assigned_to.is_not(None),
            Task.state.in_(HELD_STATES) | ((Task.state == "done") & (Task.done_at >= midnight)),
        ).group_by(Task.assigned_to, Task.state)
    ).all():
        row = by_worker.setdefault(user_id, {"assigned": 0, "in_progress": 0, "done_today": 0})
        row["done_today" if state == "done" else state] += count
    names = dict(session.exec(select(User.id, User.username).where(User.id.in_(list(by_worker) or [-1]))).all())
    exceptions = dict(session.exec(
        select(WarehouseException.kind, func.count()).where(WarehouseException.site_id == site_id,
                                                           WarehouseException.state == "open")
        .group_by(WarehouseException.kind)).all())
    return {
        "zones": [{"zone": code, **counts} for code, counts in sorted(by_zone.items())],
        "workers": [{"username": names.get(uid, str(uid)), **counts}
                    for uid, counts in sorted(by_worker.items(), key=lambda kv: names.get(kv[0], ""))],
        "exceptions": {"open": sum(exceptions.values()), "by_kind": exceptions},
    }


class WallConnection(Connection):
    kind = "wall"

    def __init__(self, websocket, runtime) -> None:  # noqa: ANN001
        super().__init__(websocket, runtime)
        self.site_id: int | None = None
        self._changed = asyncio.Event()
        self._last: dict | None = None
        self._unsubscribe = None

    def check_auth(self, message: dict[str, Any]) -> tuple[int, str, str]:
        with self.runtime.sessions() as session:
            user = authenticate_worker(session, self.runtime, access_token=message.get("access_token"),
                                       username=message.get("username"), password=message.get("password"))
            principal = load_principal(session, user)
            if not principal.has_any(WALL_ROLES):
                raise DomainError("the wall screen is for supervisors", code="role_forbidden")
            code = message.get("site")
            site = None
            if isinstance(code, str):
                site = session.exec(select(Site).where(Site.code == code)).first()
            elif not principal.all_sites and len(principal.site_ids) == 1:
                site = session.get(Site, next(iter(principal.site_ids)))
            if site is None or not principal.may_access(site.id):
                raise ProtocolError("site_not_found", "name a site you may see with 'site'")
            return site.id, site.code, user.username

    def authenticated(self, message: dict[str, Any], reply: tuple[int, str, str]) -> None:
        self.site_id, site_code, username = reply
        self.rename(f"wall {site_code} ({username})")
        self.send({"id": message.get("id"), "type": "auth_ok", "site": site_code})
        self._unsubscribe = self.runtime.extras["hub"].subscribe_site(self.site_id, self)
        self._tasks.append(asyncio.create_task(self._refresher(), name=f"{self.name} refresher"))

    def site_changed(self) -> None:
        self._changed.set()

    async def _refresher(self) -> None:
        read_sessions = self.runtime.extras["read_sessions"]
        while True:
            def read() -> dict:
                with read_sessions() as session:
                    return wall_counts(session, self.site_id)

            counts = await asyncio.to_thread(read)
            if counts != self._last:
                self._last = counts
                self.send({"id": self.server_id(), "type": "wall.counts",
                           "at": datetime.now(timezone.utc).isoformat(), "data": counts})
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=_REFRESH)
            except TimeoutError:
                pass
            self._changed.clear()
            await asyncio.sleep(_MIN_INTERVAL)

    def stopped(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
