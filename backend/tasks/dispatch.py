"""Dispatch: which work a worker gets next, and pushing it to the devices they are signed on at.

claim_next gives a worker the best next task (the rest of its tour with it), ranked by urgency and walking
distance; offer_next and offer_idle_workers push work to signed-on workers who hold nothing. Who may be given
what is decided in backend.tasks.eligibility; a worker as dispatch sees them is load_worker's Worker.

Every function here works inside the caller's transaction and never commits. The hot path of every
handheld (claim, the next task after each confirm) is written in SQL (backend.sql): through the ORM,
claiming a 20-pick tour took ~100 statements and ~0.1 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlmodel import Session, select

from backend import audit
from backend.devices.stream import ahead_devices_of_worker, devices_of_workers, emit, touch_site
from backend.errors import Conflict
from backend.models import Device, Task, WorkerProfile, utcnow
from backend.sql import Raw, Write, in_params
from backend.commands.batch_reads import note_changed
from backend.tasks import eligibility, tote_slots
from backend.tasks.states import HELD_STATES
from backend.tasks.views import task_views

# session.info key: priority points one metre of walking is worth (Settings.dispatch_priority_per_metre).
DISPATCH_WEIGHT = "wes_dispatch_priority_per_metre"


# --- the worker ----------------------------------------------------------------------------------


def worker_profile(session: Session, user_id: int, site_id: int) -> WorkerProfile:
    """The worker's profile at the site (an empty one, any zone and every kind, if none was set)."""
    profile = session.get(WorkerProfile, (user_id, site_id))
    return profile if profile is not None else WorkerProfile(user_id=user_id, site_id=site_id)


SET_POSITION = Write(  # (also part of a confirmed pick's one statement: backend.execution.picking)
    "INSERT INTO worker_profile (user_id, site_id, zone_ids, skills, equipment, last_location_id, updated_at) "
    "VALUES (:user_id, :site_id, :empty, :empty, :empty, :location_id, :now) "
    "ON CONFLICT (user_id, site_id) DO UPDATE SET last_location_id = excluded.last_location_id, "
    "updated_at = excluded.updated_at", (WorkerProfile, ("user_id", "site_id")))


def set_position(session: Session, user_id: int, site_id: int, location_id: int) -> None:
    """The worker is at this location of the site (their profile there remembers it)."""
    db = Raw.of(session)
    db.send_write(SET_POSITION, user_id=user_id, site_id=site_id, empty=db.json([]), location_id=location_id,
                  now=db.when(utcnow()))


# Everything dispatch judges a worker by at a site (backend.tasks.eligibility), in one read: roles, whether
# the account is active, their profile at that site, and the kind of device they are signed on at.
_WORKER = (
    "SELECT u.username, u.roles, u.active, p.zone_ids, p.skills, p.equipment, p.last_location_id, "
    "(SELECT d.kind FROM device AS d WHERE d.current_user_id = u.id AND d.revoked_at IS NULL "
    "ORDER BY d.last_seen_at DESC LIMIT 1) "
    "FROM app_user AS u LEFT JOIN worker_profile AS p ON p.user_id = u.id AND p.site_id = :site_id "
    "WHERE u.id = :user_id")


class Worker(NamedTuple):
    """A worker as dispatch sees them."""

    id: int
    username: str
    roles: list[str]
    active: bool
    zone_ids: list[int]
    skills: list[str]
    equipment: list[str]
    last_location_id: int | None
    device_kind: str | None  # the device they are signed on at, if any

    @property
    def kinds(self) -> tuple[str, ...]:
        """The task kinds they may be given now."""
        return eligibility.allowed_kinds(self.roles, self.skills, self.device_kind) if self.active else ()


def load_worker(session: Session, user_id: int, site_id: int) -> Worker | None:
    """The worker as dispatch at this site sees them (their profile at another site plays no part)."""
    db = Raw.of(session)
    row = db.one(_WORKER, user_id=user_id, site_id=site_id)
    if row is None:
        return None
    username, roles, active, zone_ids, skills, equipment, last_location_id, device_kind = row
    return Worker(user_id, username, db.loads(roles) or [], bool(active), db.loads(zone_ids) or [],
                  db.loads(skills) or [], db.loads(equipment) or [], last_location_id, device_kind)


def check_can_do(session: Session, task: Task, user_id: int) -> None:
    """Refuse (409 worker_cannot_do_task, in plain words) to give a task to a worker it does not fit."""
    worker = load_worker(session, user_id, task.site_id)
    if worker is None or not worker.active:
        why = "that account is disabled"
    else:
        why = eligibility.refusal(task.kind, task.zone_id, username=worker.username, roles=worker.roles,
                                  skills=worker.skills, zone_ids=worker.zone_ids, device_kind=worker.device_kind)
    if why is not None:
        raise Conflict(f"task {task.id} can't go to this worker: {why}", code="worker_cannot_do_task",
                       details={"task_id": task.id, "kind": task.kind, "reason": why})


# --- ranking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    task: Task  # or any row with id, priority, from_location_id, to_location_id and equipment
    distance_m: float
    score: float


def rank_candidates(tasks: Sequence, starts: dict[int, tuple[float, float]], position: tuple[float, float] | None,
                    priority_per_metre: float, equipment: Sequence[str]) -> list[Candidate]:
    """Most urgent first, nearer work preferred: score = priority + metres walked × weight (rectilinear)."""
    ranked = []
    for task in tasks:
        needs = task.equipment if hasattr(task, "equipment") else (task.details or {}).get("equipment")
        if needs and needs not in equipment:
            continue
        start = starts.get(task.from_location_id or task.to_location_id or -1)
        distance = abs(start[0] - position[0]) + abs(start[1] - position[1]) if start and position else 0.0
        ranked.append(Candidate(task, distance, task.priority + priority_per_metre * distance))
    ranked.sort(key=lambda c: (c.score, c.task.priority, c.task.id))
    return ranked


# --- claiming ------------------------------------------------------------------------------------


class _Row(NamedTuple):
    """A candidate as _CANDIDATES reads it (its equipment taken out of its details)."""

    id: int
    priority: int
    from_location_id: int | None
    to_location_id: int | None
    equipment: str | None
    assigned_to: int | None
    tour_id: int | None


_CANDIDATES = (
    "SELECT task.id, task.priority, task.from_location_id, task.to_location_id, task.details, task.assigned_to, "
    "task.tour_id FROM task WHERE task.site_id = :site_id AND task.state = 'pending' "
    "AND (task.assigned_to IS NULL OR task.assigned_to = :worker_id) "
    "AND (task.depends_on_task_id IS NULL OR EXISTS (SELECT 1 FROM task AS dependency "
    "WHERE dependency.id = task.depends_on_task_id AND dependency.state = 'done')){kinds}{zones}{passed} "
    "ORDER BY task.priority, task.id LIMIT :limit")
# Candidates are read without locks; the claim itself is a guarded UPDATE (on PostgreSQL, a candidate
# another transaction took meanwhile simply matches no row) under the tour's row lock for tours.
_LOCK_TOUR = "SELECT id FROM tour WHERE id = :tour_id{for_update}{skip_locked}"
_CLAIMED = ("UPDATE task SET state = 'assigned', assigned_to = :worker_id, version = version + 1, updated_at = :now "
            "WHERE state = 'pending' AND {which} RETURNING id, priority, version, sequence")
_CLAIM_ONE = _CLAIMED.replace("{which}", "id = :task_id AND (assigned_to IS NULL OR assigned_to = :worker_id)")
_CLAIM_TOUR = _CLAIMED.replace("{which}", "(id = :task_id AND (assigned_to IS NULL OR assigned_to = :worker_id) "
                                          "OR tour_id = :tour_id AND assigned_to IS NULL)")


def _candidates_sql(kinds: int, zones: int, passed: int = 0) -> tuple[str, list[str], list[str], list[str]]:
    """The candidates query for a worker who may do `kinds` task kinds (at least one) in `zones` zones (0: any),
    leaving out `passed` tours."""
    kind_names = [f"k{n}" for n in range(kinds)]
    zone_names = [f"z{n}" for n in range(zones)]
    passed_names = [f"x{n}" for n in range(passed)]
    kind_sql = f" AND task.kind IN ({', '.join(':' + n for n in kind_names)})" if kinds else ""
    zone_sql = (f" AND (task.zone_id IS NULL OR task.zone_id IN ({', '.join(':' + n for n in zone_names)}))"
                if zones else "")
    passed_sql = (f" AND (task.tour_id IS NULL OR task.tour_id NOT IN ({', '.join(':' + n for n in passed_names)}))"
                  if passed else "")
    sql = _CANDIDATES.replace("{kinds}", kind_sql).replace("{zones}", zone_sql).replace("{passed}", passed_sql)
    return sql, kind_names, zone_names, passed_names


def claim_next(session: Session, worker_id: int, site_id: int, *, position_location_id: int | None = None,
               candidates: int = 32, priority_per_metre: float | None = None, rounds: int = 3,
               kinds: Sequence[str] | None = None) -> list[dict]:
    """Assign the worker the best next task (and the rest of its tour); their views, [] when nothing fits.

    `kinds` narrows the claim to those task kinds (the screen the worker chose); the worker's own
    eligibility (backend.tasks.eligibility) always applies.

    PostgreSQL: the claim is an UPDATE guarded by `state = 'pending'`, and a
    tour is claimed under its row lock taken with SKIP LOCKED, so two workers
    claiming at once never get the same task, never split a tour, and never
    wait on each other (a candidate taken meanwhile is passed over). SQLite:
    the transaction holds the single writer lock.

    A tour is tried once, at its best-ranked candidate. The most urgent
    candidates often all belong to one or two tours that other pickers are
    claiming at this moment; then up to `rounds` more candidate lists are read,
    leaving out the tours already tried, so a picker is not left idle while
    work waits further down the list.
    """
    if priority_per_metre is None:
        priority_per_metre = session.info.get(DISPATCH_WEIGHT, 1.0)
    db = Raw.of(session)
    worker = load_worker(session, worker_id, site_id)
    allowed = worker.kinds if worker is not None else ()
    kinds = tuple(kind for kind in allowed if kinds is None or kind in kinds)
    if not kinds:
        return []  # nothing this worker may do here (see backend.tasks.eligibility)
    where = position_location_id or worker.last_location_id
    now = db.when(utcnow())
    tried_tours: set[int] = set()
    for _round in range(rounds):
        rows = _candidate_rows(db, worker, site_id, kinds, sorted(tried_tours), candidates)
        if not rows:
            return []
        starts = _starts(db, rows, where)
        ranked = rank_candidates(rows, starts, starts.get(where) if where else None, priority_per_metre,
                                 worker.equipment)
        claim = _claim_best(session, db, ranked, tried_tours, worker_id, now)
        if claim is not None:
            return _hand_over(session, db, worker_id, site_id, *claim)
        if len(rows) < candidates or not tried_tours:
            return []  # every candidate there is was tried
    return []


def _candidate_rows(db: Raw, worker: Worker, site_id: int, kinds: tuple[str, ...], passed: list[int],
                    limit: int) -> list[_Row]:
    """The `limit` most urgent pending tasks of these kinds the worker may claim here, but for the `passed` tours."""
    sql, kind_names, zone_names, passed_names = _candidates_sql(len(kinds), len(worker.zone_ids), len(passed))
    return [_Row(id_, priority, source, target, (db.loads(details) or {}).get("equipment"), holder, tour_id)
            for id_, priority, source, target, details, holder, tour_id in db.all(
                sql, site_id=site_id, worker_id=worker.id, limit=limit,
                **dict(zip(kind_names, kinds)), **dict(zip(zone_names, worker.zone_ids)),
                **dict(zip(passed_names, passed)))]


def _starts(db: Raw, rows: list[_Row], where: int | None) -> dict[int, tuple]:
    """The coordinates of the candidates' first locations and of the worker's position (`where`), by id."""
    location_ids = {r.from_location_id or r.to_location_id for r in rows} | ({where} if where else set())
    location_ids.discard(None)
    if not location_ids:  # (tasks with no location at all: nothing to read, and `IN ()` is no SQL for PostgreSQL)
        return {}
    placeholders, params = in_params("l", location_ids)
    return {lid: (x, y) for lid, x, y in db.all(f"SELECT id, x, y FROM location WHERE id IN {placeholders}", **params)}


def _claim_best(session: Session, db: Raw, ranked: list[Candidate], tried_tours: set[int], worker_id: int,
                now: Any) -> tuple[_Row, list[tuple]] | None:
    """Claim the best-ranked candidate still free: it and the rows claimed, None if others took every one.

    A tour is tried once, at its best-ranked candidate (`tried_tours` grows by the tours tried).
    """
    for candidate in ranked:
        chosen = candidate.task
        if chosen.tour_id is None:
            taken = db.all(_CLAIM_ONE, worker_id=worker_id, now=now, task_id=chosen.id)
        elif chosen.tour_id in tried_tours:
            continue
        else:
            tried_tours.add(chosen.tour_id)
            taken = _claim_tour(session, db, chosen, worker_id, now)
        if taken:
            return chosen, taken
    return None


def _claim_tour(session: Session, db: Raw, chosen: _Row, worker_id: int, now: Any) -> list[tuple] | None:
    """The candidate and the rest of its tour, claimed under the tour's row lock; None while another picker
    holds that lock."""
    # A pick tour is walked by one picker: all of it comes along, in walking order. The tour row is
    # the claim's lock, so two pickers claiming at once never split a tour between them.
    tour_id = chosen.tour_id
    if db.one(_LOCK_TOUR, tour_id=tour_id) is None:
        return None  # another picker is claiming this tour right now
    tote_slots.ahead_of_claim(session, tour_id, worker_id)
    taken = db.all(_CLAIM_TOUR, worker_id=worker_id, now=now, task_id=chosen.id, tour_id=tour_id)
    if not taken:
        tote_slots.forget_claim(session, tour_id, worker_id)
    return taken


def _hand_over(session: Session, db: Raw, worker_id: int, site_id: int, chosen: _Row,
               taken: list[tuple]) -> list[dict]:
    """The claimed tasks (`taken`: id, priority, version, sequence) are the worker's now: record it and push
    their views, the chosen task first and then in walking order, to the worker's devices."""
    taken.sort(key=lambda r: (r[0] != chosen.id, r[3] if r[3] is not None else 0, r[0]))
    claimed = [r[0] for r in taken]
    note_changed(session, [("worker", worker_id), *(("task", id_) for id_ in claimed)])
    db.expire(Task, claimed)
    # Part of the tour may still be on another picker's cart.
    tote_slots.keep_totes_with_their_cart(session, chosen.tour_id, claimed, worker_id, actor_id=worker_id)
    _audit_claim(db, worker_id, site_id, chosen, taken)
    touch_site(session, site_id)
    views = task_views(session, claimed)
    devices = devices_of_workers(session, [worker_id])
    for view in views:
        emit(session, devices, "task.assigned", {"task": view, "reason": "claimed"})
    return views


def _audit_claim(db: Raw, worker_id: int, site_id: int, chosen: _Row, taken: list[tuple]) -> None:
    """A task.claim audit row per claimed task (only the chosen one can have been kept for the worker before)."""
    audit.record_many(db, [{
        "user_id": worker_id, "site_id": site_id, "action": "task.claim", "entity": "task", "entity_id": task_id,
        "before": {"state": "pending", "assigned_to": chosen.assigned_to if task_id == chosen.id else None,
                   "priority": priority, "version": version - 1},
        "after": {"state": "assigned", "assigned_to": worker_id, "priority": priority, "version": version}}
        for task_id, priority, version, _sequence in taken])


def waiting_work(session: Session, worker_id: int, site_id: int) -> dict:
    """What this worker may do here, and how much of each kind waits for them (or they hold)."""
    worker = load_worker(session, worker_id, site_id)
    kinds = worker.kinds if worker is not None else ()
    waiting = dict.fromkeys(kinds, 0)
    held = dict.fromkeys(kinds, 0)
    if kinds:
        db = Raw.of(session)
        sql, kind_names, zone_names, _ = _candidates_sql(len(kinds), len(worker.zone_ids))
        # The claim's own candidate query, counted per kind instead of ranked.
        sql = sql.replace("SELECT task.id, task.priority, task.from_location_id, task.to_location_id, task.details, "
                          "task.assigned_to, task.tour_id FROM", "SELECT task.kind, COUNT(*) FROM")
        sql = sql.replace(" ORDER BY task.priority, task.id LIMIT :limit", " GROUP BY task.kind")
        for kind, count in db.all(sql, site_id=site_id, worker_id=worker_id, **dict(zip(kind_names, kinds)),
                                  **dict(zip(zone_names, worker.zone_ids))):
            waiting[kind] = count
        for kind, count in db.all("SELECT kind, COUNT(*) FROM task WHERE assigned_to = :worker_id AND site_id = :site_id "
                                  "AND state IN ('assigned', 'in_progress') GROUP BY kind",
                                  worker_id=worker_id, site_id=site_id):
            if kind in held:
                held[kind] = count
    return {"may_do": list(kinds), "device": worker.device_kind if worker else None, "waiting": waiting,
            "held": held}


# --- pushing work --------------------------------------------------------------------------------


_HOLDS_ANOTHER = ("SELECT id FROM task WHERE assigned_to = :worker_id AND state IN ('assigned', 'in_progress') "
                  "AND id != :finished LIMIT 1")


def ahead_of_completion(session: Session, worker_id: int, task_id: int) -> None:
    """Send ahead what `completed` (backend.tasks.transitions) will read when this worker finishes this task
    (backend.sql): where they are signed on, and whether they hold more work (offer_next)."""
    ahead_devices_of_worker(session, worker_id)
    Raw.of(session).prefetch(_HOLDS_ANOTHER, worker_id=worker_id, finished=task_id)


def forget_ahead_of_completion(session: Session, worker_id: int, task_id: int) -> None:
    """What the worker holds was read ahead and may have changed since: `completed` reads it again."""
    Raw.of(session).forget_prefetch(_HOLDS_ANOTHER, worker_id=worker_id, finished=task_id)


def offer_next(session: Session, worker_id: int, site_id: int, *, position_location_id: int | None,
               finished_task_id: int | None = None, candidates: int = 32, priority_per_metre: float | None = None,
               same_kind: str | None = None) -> list[dict]:
    """Push the next task to a worker who is signed on at a device and holds nothing: of `same_kind` (the work
    just finished, whose screen the worker has open) if any waits for them, else any kind they may do."""
    if not devices_of_workers(session, [worker_id]):
        return []
    # The task just finished may not be written yet: it is left out.
    if Raw.of(session).one(_HOLDS_ANOTHER, worker_id=worker_id, finished=finished_task_id or 0) is not None:
        return []
    claimed = []
    if same_kind is not None:
        claimed = claim_next(session, worker_id, site_id, position_location_id=position_location_id,
                             candidates=candidates, priority_per_metre=priority_per_metre, kinds=(same_kind,))
    return claimed or claim_next(session, worker_id, site_id, position_location_id=position_location_id,
                                 candidates=candidates, priority_per_metre=priority_per_metre)


def offer_idle_workers(session: Session, site_id: int, *, limit: int = 100) -> int:
    """New work appeared (a wave released, a replenishment made): push it to signed-on workers holding nothing.

    Call it in the transaction that created the tasks; returns how many workers got work.
    """
    busy = select(Task.assigned_to).where(Task.site_id == site_id, Task.state.in_(HELD_STATES),
                                          Task.assigned_to.is_not(None))
    idle = session.execute(
        select(Device.current_user_id).where(Device.site_id == site_id, Device.current_user_id.is_not(None),
                                             Device.revoked_at.is_(None), Device.current_user_id.not_in(busy))
        .distinct().order_by(Device.current_user_id).limit(limit)
    ).scalars().all()
    session.flush()
    return sum(1 for worker_id in idle if claim_next(session, worker_id, site_id))
