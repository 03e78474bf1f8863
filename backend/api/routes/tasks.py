from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import aliased
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, ensure_site_access, resolve_site
from backend.api.schemas import Page, Strict
from backend.auth.principal import load_principal
from backend.bounds import Count, Id, ScanText, Text
from backend.commands.registry import WORKER_ROLES
from backend.errors import DomainError, Invalid, NotFound
from backend.models import Container, Location, Product, Site, Task, TourTote, User, Zone
from backend.execution.scan_checks import record_refused_scan, verify_location, verify_product
from backend.execution.picking import check_tote, load_pick
from backend.execution.replenishing import verify_source
from backend.insights.desk import task_candidates as candidates_for
from backend.receiving.putaway_service import confirm_putaway, container_for_scan
from backend.tasks import dispatch, transitions
from backend.tasks.views import task_view

router = APIRouter(prefix="/tasks", tags=["tasks"])


class TaskOut(BaseModel):
    id: int
    kind: str
    state: str
    priority: int
    sku: str | None
    quantity: int | None
    lot: str
    expiry: date | None
    from_location: str | None
    to_location: str | None
    to_check_digits: str | None
    lpn: str | None
    tote_no: int | None = Field(description="a pick's tote slot on its tour's cart")
    tote: str | None = Field(description="the tote bound to that slot (null until its first pick)")
    assigned_to: int | None
    assigned_username: str | None = Field(default=None, description="the holder's username")
    zone: str | None = Field(default=None, description="the task's zone code (null: a task without a zone)")
    tour_id: int | None = Field(default=None, description="a pick's tour (POST /tours/{id}/reassign moves it all)")
    reference: str
    details: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


def _query():  # noqa: ANN202
    src, dst, tote = aliased(Location), aliased(Location), aliased(Container)
    slot_tote = (select(func.min(tote.code)).join(TourTote, TourTote.container_id == tote.id)
                 .where(TourTote.tour_id == Task.tour_id, TourTote.tote_no == Task.tote_no)
                 .correlate(Task).scalar_subquery())
    return (
        select(Task, Product.sku, src.code, dst.code, dst.check_digits, Container.code, slot_tote, Zone.code,
               User.username)
        .outerjoin(Product, Product.id == Task.product_id)
        .outerjoin(src, src.id == Task.from_location_id)
        .outerjoin(dst, dst.id == Task.to_location_id)
        .outerjoin(Container, Container.id == Task.container_id)
        .outerjoin(Zone, Zone.id == Task.zone_id)
        .outerjoin(User, User.id == Task.assigned_to)
    )


def _out(row) -> TaskOut:  # noqa: ANN001
    task, sku, src, dst, dst_cd, lpn, tote, zone, holder = row
    return TaskOut(
        id=task.id, kind=task.kind, state=task.state, priority=task.priority, sku=sku, quantity=task.quantity,
        lot=task.lot, expiry=task.expiry, from_location=src, to_location=dst, to_check_digits=dst_cd, lpn=lpn,
        tote_no=task.tote_no, tote=tote if task.kind == "pick" else None,
        assigned_to=task.assigned_to, assigned_username=holder, zone=zone, tour_id=task.tour_id,
        reference=task.reference, details=task.details, version=task.version,
        created_at=task.created_at, updated_at=task.updated_at, done_at=task.done_at,
    )


def load_task(session, me, task_id: int, *, lock: bool = False) -> Task:  # noqa: ANN001
    task = transitions.load_for_update(session, task_id) if lock else session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", code="unknown_task")
    ensure_site_access(me, task.site_id, f"task {task_id}", code="unknown_task")
    return task


@router.get("", response_model=Page[TaskOut])
def list_tasks(
    me: CurrentUser, session: SessionDep, site: Text | None = None, kind: Text | None = None,
    state: Text | None = None, lpn: Text | None = None,
    zone: Annotated[Text | None, Query(max_length=32,
                                       description="a zone code, or 'none' for tasks without one")] = None,
    assigned_to: Annotated[Text | None, Query(max_length=64, description="the holder's username")] = None,
    scan: Annotated[ScanText | None, Query(
        max_length=512, description="an LPN label as scanned (AIM prefix, SSCC with or without AI 00): that "
                                    "LPN's tasks; a scan of anything else is a 4xx saying what to scan")] = None,
    limit: int = Query(default=200, ge=1, le=5000), offset: Count = 0,
) -> Page[TaskOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Task.site_id == site_row.id]
    if scan:
        conditions.append(Task.container_id == container_for_scan(session, site_row.id, scan).id)
    if kind:
        conditions.append(Task.kind == kind)
    if state:
        conditions.append(Task.state.in_(state.split(",")))
    if lpn:
        conditions.append(Task.container_id.in_(select(Container.id).where(Container.code == lpn)))
    if zone == "none":
        conditions.append(Task.zone_id.is_(None))
    elif zone:
        conditions.append(Task.zone_id.in_(select(Zone.id).where(Zone.site_id == site_row.id, Zone.code == zone)))
    if assigned_to:
        conditions.append(Task.assigned_to.in_(select(User.id).where(User.username == assigned_to)))
    total = session.exec(select(func.count()).select_from(Task).where(*conditions)).one()
    rows = session.exec(_query().where(*conditions).order_by(Task.priority, Task.id).offset(offset).limit(limit)).all()
    return Page(data=[_out(r) for r in rows], count=total)


class WaitingOut(BaseModel):
    may_do: list[str] = Field(description="the task kinds dispatch gives you at the device you are signed on at")
    device: str | None = Field(description="the kind of that device (null: signed on nowhere)")
    waiting: dict[str, int] = Field(description="per kind, the tasks you could be given now")
    held: dict[str, int] = Field(description="per kind, the tasks you hold")


@router.get("/waiting", response_model=WaitingOut)
def waiting(me: CurrentUser, session: SessionDep, site: Text | None = None) -> WaitingOut:
    """Your work at a glance: what you may do here and how much of each kind waits (the handheld's home tiles)."""
    site_row = resolve_site(session, me, site)
    return WaitingOut(**dispatch.waiting_work(session, me.id, site_row.id))


class ScanCheckIn(Strict):
    step: Literal["location", "product", "tote", "to_location"] = Field(
        description="what the scan should be: the task's location, its product, the tote (picks), its destination")
    scan: ScanText = Field(min_length=1, max_length=512, description="the scan as received, AIM prefix and GS included")


class ScanCheckOut(BaseModel):
    ok: bool
    step: str
    tote: str | None = None


@router.post("/{task_id}/check-scan", response_model=ScanCheckOut)
def check_scan(task_id: Id, body: ScanCheckIn, me: CurrentUser, session: SessionDep) -> ScanCheckOut:
    """Is this scan right for this step of the task? Answered at the scan, changing nothing; a wrong one is a 4xx
    saying what to do ("Wrong product: you scanned SKU-00004 — take SKU-00002"). The confirm checks again.
    A refused scan is audited (`scan.refused`): the pick accuracy KPI counts them."""
    task = load_task(session, me, task_id)
    try:
        return _check_scan(session, task, body)
    except DomainError as refusal:
        if (refusal.details or {}).get("field") != "step":  # (a wrong scan, not a step this task has not got)
            record_refused_scan(session, task, me.id, body.step, body.scan, refusal)
        raise


def _check_scan(session, task: Task, body: ScanCheckIn) -> ScanCheckOut:  # noqa: ANN001
    if body.step == "tote":
        if task.kind != "pick":
            raise Invalid(f"task {task.id} is a {task.kind} task: it has no tote", code="wrong_task_kind",
                          details={"field": "step"})
        return ScanCheckOut(ok=True, step=body.step, tote=check_tote(session, load_pick(session, task.id), body.scan))
    if body.step == "product":
        if task.product_id is None:
            raise Invalid(f"task {task.id} names no product", code="wrong_task_kind", details={"field": "step"})
        if task.kind == "replenish":  # (its pallet, and a lot-tracked product's lot, are checked too)
            verify_source(session, task, body.scan, "scan")
        else:
            verify_product(session, task.site_id, body.scan, task.product_id, task.from_location_id, task.lot, "scan")
        return ScanCheckOut(ok=True, step=body.step)
    location_id = task.from_location_id if body.step == "location" else task.to_location_id
    location = session.get(Location, location_id) if location_id is not None else None
    if location is None:
        raise Invalid(f"task {task.id} has no {body.step.replace('_', ' ')}", code="no_location",
                      details={"field": "step"})
    verify_location(location, body.scan, "scan")
    return ScanCheckOut(ok=True, step=body.step)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: Id, me: CurrentUser, session: SessionDep) -> TaskOut:
    task = load_task(session, me, task_id)
    return _out(session.exec(_query().where(Task.id == task.id)).one())


class PutawayConfirm(Strict):
    scan: ScanText = Field(min_length=1, max_length=80, description="destination location code, code + check digits, or check digits")
    reason: Text | None = Field(default=None, max_length=200, description="required when not the suggested location")


@router.post("/{task_id}/confirm-putaway", response_model=TaskOut)
def confirm_putaway_route(task_id: Id, body: PutawayConfirm, me: CurrentUser, session: SessionDep) -> TaskOut:
    task = load_task(session, me, task_id, lock=True)
    site = session.get(Site, task.site_id)
    holder = task.assigned_to
    confirm_putaway(session, site, task, body.scan, body.reason, me.id)
    transitions.completed(session, task_view(session, task), task.site_id, me.id, previous_holder=holder,
                          position_location_id=task.to_location_id)
    session.commit()
    return _out(session.exec(_query().where(Task.id == task.id)).one())


# --- supervisor actions: each tells the affected devices at once (task.revoked / task.assigned) -----------



class VersionCheck(Strict):
    expected_version: Id | None = Field(default=None,
                                         description="refuse with 409 version_conflict if the task changed since")


class AssignIn(VersionCheck):
    username: Text = Field(min_length=1, max_length=64)


class ReassignIn(VersionCheck):
    username: Text | None = Field(default=None, max_length=64, description="null: back to the pool")


class ReasonIn(VersionCheck):
    reason: Text = Field(default="", max_length=200)


class PriorityIn(VersionCheck):
    priority: int = Field(ge=0, le=1_000_000, description="lower is more urgent")


def site_worker(session, site_id: int, username: str, what: str = "task") -> int:  # noqa: ANN001
    """The id of an active worker of this site (422 unknown_worker otherwise)."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise Invalid(f"no worker {username!r}", code="unknown_worker", details={"field": "username"})
    principal = load_principal(session, user)
    if not principal.may_access(site_id) or not principal.has_any(WORKER_ROLES):
        raise Invalid(f"{username} does not work at this {what}'s site", code="unknown_worker",
                      details={"field": "username"})
    return user.id


def _worker(session, task: Task, username: str) -> int:  # noqa: ANN001
    return site_worker(session, task.site_id, username)


def _done(session, task: Task) -> TaskOut:  # noqa: ANN001
    session.commit()
    return _out(session.exec(_query().where(Task.id == task.id)).one())


@router.post("/{task_id}/assign", response_model=TaskOut)
def assign_task(task_id: Id, body: AssignIn, me: CurrentUser, session: SessionDep) -> TaskOut:
    """Give a pending task to a worker (their device gets task.assigned)."""
    task = load_task(session, me, task_id, lock=True)
    transitions.assign(session, task, _worker(session, task, body.username), actor_id=me.id,
                       expected_version=body.expected_version)
    return _done(session, task)


@router.post("/{task_id}/reassign", response_model=TaskOut)
def reassign_task(task_id: Id, body: ReassignIn, me: CurrentUser, session: SessionDep) -> TaskOut:
    """Move a task to another worker, or back to the pool: the old holder's device gets task.revoked."""
    task = load_task(session, me, task_id, lock=True)
    user_id = _worker(session, task, body.username) if body.username else None
    transitions.reassign(session, task, user_id, actor_id=me.id, expected_version=body.expected_version)
    return _done(session, task)


@router.post("/{task_id}/unassign", response_model=TaskOut)
def unassign_task(task_id: Id, body: VersionCheck, me: CurrentUser, session: SessionDep) -> TaskOut:
    """Take a task back from its holder into the pool: their device gets task.revoked at once."""
    task = load_task(session, me, task_id, lock=True)
    transitions.unassign(session, task, actor_id=me.id, expected_version=body.expected_version)
    return _done(session, task)


class CandidateOut(BaseModel):
    username: str
    eligible: bool = Field(description="may be given this task now")
    why_not: str | None = Field(description="why not, in plain words (null when eligible)")
    held: int = Field(description="tasks the worker holds at this site now")
    zone: str | None = Field(description="the zone of the worker's current task, else of their last scan")
    signed_on: bool = Field(description="signed on at a device of this site now")


class CandidatesOut(BaseModel):
    data: list[CandidateOut]


@router.get("/{task_id}/candidates", response_model=CandidatesOut)
def task_candidates(task_id: Id, me: CurrentUser, session: SessionDep) -> CandidatesOut:
    """Who could take this task: the site's workers, eligible first (fewest held tasks first), each with why not
    (role, skill, zone, the device they are signed on at — the rules dispatch applies)."""
    return CandidatesOut(data=[CandidateOut(**c) for c in candidates_for(session, load_task(session, me, task_id))])


@router.post("/{task_id}/suspend", response_model=TaskOut)
def suspend_task(task_id: Id, body: ReasonIn, me: CurrentUser, session: SessionDep) -> TaskOut:
    task = load_task(session, me, task_id, lock=True)
    transitions.suspend(session, task, actor_id=me.id, reason=body.reason, expected_version=body.expected_version)
    return _done(session, task)


@router.post("/{task_id}/resume", response_model=TaskOut)
def resume_task(task_id: Id, body: VersionCheck, me: CurrentUser, session: SessionDep) -> TaskOut:
    """A suspended (or excepted) task goes back to the pool."""
    task = load_task(session, me, task_id, lock=True)
    transitions.resume(session, task, actor_id=me.id, expected_version=body.expected_version)
    return _done(session, task)


@router.post("/{task_id}/cancel", response_model=TaskOut)
def cancel_task(task_id: Id, body: ReasonIn, me: CurrentUser, session: SessionDep) -> TaskOut:
    task = load_task(session, me, task_id, lock=True)
    transitions.cancel(session, task, actor_id=me.id, reason=body.reason, expected_version=body.expected_version)
    return _done(session, task)


@router.post("/{task_id}/reprioritise", response_model=TaskOut)
def reprioritise_task(task_id: Id, body: PriorityIn, me: CurrentUser, session: SessionDep) -> TaskOut:
    task = load_task(session, me, task_id, lock=True)
    transitions.reprioritise(session, task, body.priority, actor_id=me.id, expected_version=body.expected_version)
    return _done(session, task)
