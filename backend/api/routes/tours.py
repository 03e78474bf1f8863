"""A pick tour as the picker's screen shows it: tote slots, picks in walking order, what is left, where to drop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, ensure_site_access
from backend.api.routes.tasks import site_worker
from backend.api.schemas import Strict
from backend.bounds import Id, Text
from backend.errors import NotFound
from backend.execution.tours import label_new_totes, tour_view
from backend.models import Tour
from backend.tasks import transitions

router = APIRouter(prefix="/tours", tags=["waves"])


class TourPickOut(BaseModel):
    task_id: int
    sequence: int | None
    state: str
    assigned_to: int | None
    location: str
    sku: str
    description: str
    quantity: int | None
    tote_no: int | None
    tote: str | None = Field(description="the tote bound to the pick's slot (null until one is)")
    waits_for_replenishment: bool
    metres_left: float | None = Field(description="from this open pick to the end of the tour, back at the depot")
    seconds_left: int | None


class TourViewOut(BaseModel):
    id: int
    wave_id: int
    number: int
    status: str
    distance_m: float
    seconds: float
    slots: list[dict[str, Any]] = Field(description="tote_no, order and the tote bound to the slot")
    picks: list[TourPickOut] = Field(description="walking order")
    open: int
    done: int
    drop_location: str | None = Field(description="the pack station nearest the tour's end: where the totes go")
    dropped_at: str | None


def _tour(session, me, tour_id: int, *, lock: bool = False) -> Tour:  # noqa: ANN001
    tour = session.get(Tour, tour_id, with_for_update=lock)
    if tour is None:
        raise NotFound(f"tour {tour_id} not found", code="unknown_tour")
    ensure_site_access(me, tour.site_id, f"tour {tour_id}", code="unknown_tour")
    return tour


@router.get("/{tour_id}", response_model=TourViewOut)
def get_tour(tour_id: Id, me: CurrentUser, session: SessionDep) -> TourViewOut:
    """A tour as its picker walks it: the cart's tote slots, every pick in order, metres and time left, the drop."""
    return TourViewOut(**tour_view(session, _tour(session, me, tour_id)))


class ToteLabelsOut(BaseModel):
    tour_id: int
    totes: list[dict[str, Any]] = Field(description="tote_no and the new tote bound to it")
    print_job_ids: list[int]


@router.post("/{tour_id}/tote-labels", response_model=ToteLabelsOut)
def tote_labels(tour_id: Id, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> ToteLabelsOut:
    """New totes for the slots of your picks that have none yet, bound to them, their labels printed."""
    result = label_new_totes(session, runtime.settings, _tour(session, me, tour_id, lock=True), me.id)
    session.commit()
    return ToteLabelsOut(**result)


class TourReassignIn(Strict):
    username: Text | None = Field(default=None, max_length=64, description="null: every open pick back to the pool")


class TourReassignOut(BaseModel):
    tour: TourViewOut
    moved: list[int] = Field(description="the picks that changed hands")


@router.post("/{tour_id}/reassign", response_model=TourReassignOut)
def reassign_tour(tour_id: Id, body: TourReassignIn, me: CurrentUser, session: SessionDep) -> TourReassignOut:
    """Every open pick of the tour to one worker in one transaction (the cart's totes go with them), or back to the
    pool: the old holders' devices get task.revoked, the new holder's task.assigned, at once."""
    tour = _tour(session, me, tour_id, lock=True)
    user_id = site_worker(session, tour.site_id, body.username, "tour") if body.username else None
    moved = transitions.reassign_tour(session, tour, user_id, actor_id=me.id)
    session.commit()
    return TourReassignOut(tour=TourViewOut(**tour_view(session, tour)), moved=[t.id for t in moved])
