"""Worker attributes the dispatcher matches tasks against, per site: zones, skills (task kinds), equipment."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import select

from backend import audit
from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Page, Strict
from backend.auth.principal import Principal, load_principal
from backend.bounds import Text
from backend.errors import Forbidden, Invalid, NotFound
from backend.models import TASK_KINDS, Location, User, UserSite, WorkerProfile, Zone, utcnow
from backend.roles import Role
from backend.tasks.dispatch import worker_profile
from backend.tasks.eligibility import allowed_kinds, role_kinds

router = APIRouter(prefix="/workers", tags=["workers"])


class WorkerIn(Strict):
    site: Text | None = Field(default=None, description="the site whose profile this is (default: your only site); "
                                                       "the worker's profiles at other sites are not changed")
    zones: list[Text] = Field(max_length=200, description="zone codes; empty = any zone")
    skills: list[Text] = Field(max_length=20, description="task kinds, within what the worker's roles do; "
                                                         "empty = every kind their roles do")
    equipment: list[Text] = Field(max_length=20,
                                 description="e.g. forklift, reach_truck (a task may need one in details.equipment)")


class WorkerOut(BaseModel):
    username: str
    roles: list[str]
    zones: list[str]
    skills: list[str]
    equipment: list[str]
    may_do: list[str] = Field(description="the task kinds dispatch gives this worker (roles narrowed by skills; "
                                          "their device may narrow it further)")
    last_location: str | None


def _out(session, user: User, site_id: int, zone_codes: dict[int, str]) -> WorkerOut:  # noqa: ANN001
    profile = worker_profile(session, user.id, site_id)
    location = session.get(Location, profile.last_location_id) if profile.last_location_id else None
    return WorkerOut(username=user.username, roles=sorted(user.roles),
                     zones=[zone_codes[z] for z in profile.zone_ids if z in zone_codes], skills=list(profile.skills),
                     equipment=list(profile.equipment),
                     may_do=list(allowed_kinds(user.roles, profile.skills, None) if user.active else ()),
                     last_location=location.code if location else None)


@router.get("", response_model=Page[WorkerOut])
def list_workers(me: CurrentUser, session: SessionDep, site: Text | None = None) -> Page[WorkerOut]:
    site_row = resolve_site(session, me, site)
    zone_codes = dict(session.exec(select(Zone.id, Zone.code).where(Zone.site_id == site_row.id)).all())
    users = session.exec(select(User).join(UserSite, UserSite.user_id == User.id)
                         .where(UserSite.site_id == site_row.id).order_by(User.username)).all()
    data = [_out(session, u, site_row.id, zone_codes) for u in users]
    return Page(data=data, count=len(data))


def _check_may_edit(me: Principal, worker: Principal) -> None:
    """A supervisor edits the workers of their own sites only; an all-sites user only an all-sites admin does."""
    if worker.all_sites and not (me.all_sites and Role.ADMIN in me.roles):
        raise Forbidden(f"{worker.username} works at every site: only an all-sites admin may change them",
                        code="worker_outside_your_sites")
    if not me.all_sites and not worker.site_ids <= me.site_ids:
        raise Forbidden(f"{worker.username} also works at sites that are not yours: ask an all-sites admin",
                        code="worker_outside_your_sites")


@router.put("/{username}", response_model=WorkerOut)
def set_worker(username: Text, body: WorkerIn, me: CurrentUser, session: SessionDep) -> WorkerOut:
    """Set the worker's zones, skills and equipment at one site (their profiles at other sites stay as they are)."""
    site_row = resolve_site(session, me, body.site)
    user = session.exec(select(User).where(User.username == username)).first()
    worker = load_principal(session, user) if user is not None else None
    if worker is None or not worker.may_access(site_row.id):
        raise NotFound(f"no worker {username!r} at {site_row.code}", code="unknown_worker")
    _check_may_edit(me, worker)
    zone_codes = dict(session.exec(select(Zone.code, Zone.id).where(Zone.site_id == site_row.id)).all())
    unknown = [z for z in body.zones if z not in zone_codes]
    if unknown:
        raise Invalid(f"unknown zones: {', '.join(unknown)}", code="unknown_zone", details={"field": "zones"})
    bad_skills = [k for k in body.skills if k not in TASK_KINDS]
    if bad_skills:
        raise Invalid(f"skills are task kinds ({', '.join(TASK_KINDS)})", code="unknown_skill",
                      details={"field": "skills", "unknown": bad_skills})
    outside = [k for k in body.skills if k not in role_kinds(user.roles)]
    if outside:
        raise Invalid(f"{username}'s roles ({', '.join(sorted(user.roles)) or 'none'}) don't do {', '.join(outside)}: "
                      "give them the role first", code="skill_outside_roles",
                      details={"field": "skills", "outside": outside})
    profile = session.get(WorkerProfile, (user.id, site_row.id)) or WorkerProfile(user_id=user.id, site_id=site_row.id)
    before = {"zone_ids": list(profile.zone_ids), "skills": list(profile.skills), "equipment": list(profile.equipment)}
    profile.zone_ids = [zone_codes[z] for z in dict.fromkeys(body.zones)]
    profile.skills = list(dict.fromkeys(body.skills))
    profile.equipment = list(dict.fromkeys(body.equipment))
    profile.updated_at = utcnow()
    session.add(profile)
    audit.record(session, user_id=me.id, site_id=site_row.id, action="worker.update", entity="worker_profile",
                 entity_id=user.id, before=before, after={"zone_ids": profile.zone_ids, "skills": profile.skills,
                                                          "equipment": profile.equipment})
    session.commit()
    return _out(session, user, site_row.id, {v: k for k, v in zone_codes.items()})
