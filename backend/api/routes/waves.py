"""Waves: plan (preview), release, discard, cancel; tours with stops in walking order."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import aliased
from sqlmodel import func, select

from backend.api.deps import CurrentUser, SessionDep, ensure_site_access, resolve_site
from backend.api.schemas import Page, Strict
from backend.bounds import Count, Id, Kilograms, Litres, PositiveCount, Text
from backend.errors import NotFound
from backend.insights.floor import wave_preview
from backend.models import Container, Location, Order, OrderLine, Product, Site, Task, Tour, TourTote, User, Wave
from backend.tasks.dispatch import offer_idle_workers
from backend.waves.service import WaveCriteria, cancel_wave, create_wave, discard_wave, lock_wave, release_wave, validate_cart

router = APIRouter(prefix="/waves", tags=["waves"])


class Cart(Strict):
    totes: int = Field(default=12, ge=1, le=64)
    tote_volume_l: Litres = 35.0
    tote_weight_kg: Kilograms = 15.0
    max_units: int | None = Field(default=None, ge=1, le=100_000,
                                  description="the most units (articles) one cart carries, over all its totes")


class WaveIn(Strict):
    site: Text | None = None
    cut_off_from: AwareDatetime | None = None
    cut_off_to: AwareDatetime | None = None
    carriers: list[Text] = Field(default_factory=list, max_length=50)
    priorities: list[Annotated[int, Field(ge=1, le=9)]] = Field(default_factory=list, max_length=9)
    zones: list[Text] = Field(default_factory=list, max_length=100)
    max_orders: PositiveCount | None = None
    max_lines: PositiveCount | None = None
    max_volume_l: Litres | None = None
    cart: Cart = Field(default_factory=Cart)


class TourSummary(BaseModel):
    number: int
    orders: list[int]
    stops: int
    picks: int
    distance_m: float
    seconds: float


class WaveOut(BaseModel):
    id: int
    status: str
    orders: int
    lines: int
    tours: int
    distance_m: float
    seconds: float
    criteria: dict[str, Any]
    created_at: datetime
    released_at: datetime | None
    tour_plan: list[TourSummary] = []
    unplanned: list[dict[str, Any]] = []


def _out(wave: Wave, with_plan: bool = True) -> WaveOut:
    plan = wave.plan or {}
    tours = [TourSummary(number=t["number"], orders=t["orders"], stops=len(t["stops"]),
                         picks=sum(len(s) for s in t["stops"]), distance_m=t["distance_m"], seconds=t["seconds"])
             for t in plan.get("tours", [])] if with_plan else []
    return WaveOut(id=wave.id, status=wave.status, orders=wave.orders, lines=wave.lines, tours=wave.tours,
                   distance_m=wave.distance_m, seconds=wave.seconds, criteria=wave.criteria,
                   created_at=wave.created_at, released_at=wave.released_at, tour_plan=tours,
                   unplanned=plan.get("unplanned", []) if with_plan else [])


@router.post("", response_model=WaveOut, status_code=201)
def plan(body: WaveIn, me: CurrentUser, session: SessionDep) -> WaveOut:
    """Plan a wave: orders, tours and estimated walking, without reserving stock or creating tasks."""
    site = resolve_site(session, me, body.site)
    criteria = WaveCriteria(
        cut_off_from=body.cut_off_from, cut_off_to=body.cut_off_to, carriers=tuple(body.carriers),
        priorities=tuple(body.priorities), zones=tuple(body.zones), max_orders=body.max_orders,
        max_lines=body.max_lines, max_volume_l=body.max_volume_l, totes=body.cart.totes,
        tote_volume_l=body.cart.tote_volume_l, tote_weight_kg=body.cart.tote_weight_kg,
        max_units=body.cart.max_units,
    )
    validate_cart(criteria)
    wave, _ = create_wave(session, site, criteria, today=datetime.now(timezone.utc).date(), user_id=me.id)
    session.commit()
    return _out(wave)


def _load(session, me, wave_id: int, *, lock: bool = False) -> Wave:  # noqa: ANN001
    wave = lock_wave(session, wave_id) if lock else session.get(Wave, wave_id)
    if wave is None:
        raise NotFound(f"wave {wave_id} not found", code="unknown_wave")
    ensure_site_access(me, wave.site_id, f"wave {wave_id}", code="unknown_wave")
    return wave


@router.get("", response_model=Page[WaveOut])
def list_waves(me: CurrentUser, session: SessionDep, site: Text | None = None, status: Text | None = None,
               limit: int = Query(default=100, ge=1, le=1000), offset: Count = 0) -> Page[WaveOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Wave.site_id == site_row.id]
    if status:
        conditions.append(Wave.status.in_(status.split(",")))
    total = session.exec(select(func.count()).select_from(Wave).where(*conditions)).one()
    rows = session.exec(select(Wave).where(*conditions).order_by(Wave.id.desc()).offset(offset).limit(limit)).all()
    return Page(data=[_out(w, with_plan=False) for w in rows], count=total)


@router.get("/{wave_id}", response_model=WaveOut)
def get_wave(wave_id: Id, me: CurrentUser, session: SessionDep) -> WaveOut:
    return _out(_load(session, me, wave_id))


@router.post("/{wave_id}/release", response_model=WaveOut)
def release(wave_id: Id, me: CurrentUser, session: SessionDep) -> WaveOut:
    """Release in one transaction: reservations, tours, totes, pick and replenishment tasks."""
    wave = _load(session, me, wave_id, lock=True)
    release_wave(session, session.get(Site, wave.site_id), wave, today=datetime.now(timezone.utc).date(),
                 user_id=me.id)
    # Signed-on workers with nothing to do get the new work pushed in the same transaction.
    offer_idle_workers(session, wave.site_id)
    session.commit()
    return _out(wave)


@router.post("/{wave_id}/discard", response_model=WaveOut)
def discard(wave_id: Id, me: CurrentUser, session: SessionDep) -> WaveOut:
    wave = discard_wave(session, _load(session, me, wave_id, lock=True), me.id)
    session.commit()
    return _out(wave)


class CancelOut(BaseModel):
    wave: WaveOut
    released_units: int
    cancelled_tasks: int


@router.post("/{wave_id}/cancel", response_model=CancelOut)
def cancel(wave_id: Id, me: CurrentUser, session: SessionDep) -> CancelOut:
    """Cancel a released wave until picking starts: tasks cancelled, every reservation released."""
    wave = _load(session, me, wave_id, lock=True)
    summary = cancel_wave(session, wave, me.id)
    session.commit()
    return CancelOut(wave=_out(wave), **summary)


class PickOut(BaseModel):
    task_id: int
    sequence: int
    state: str
    location: str
    check_digits: str
    sku: str
    quantity: int
    tote: int | None = Field(description="the tote slot on the cart")
    tote_code: str | None = Field(description="the tote bound to that slot (null until its first pick)")
    held_by: str | None = Field(description="the worker holding the pick")
    order: str
    waits_for_task: int | None


class TourOut(BaseModel):
    id: int
    number: int
    status: str
    distance_m: float
    seconds: float
    totes: list[dict[str, Any]]
    picks: list[PickOut]


@router.get("/{wave_id}/tours", response_model=Page[TourOut])
def tours(wave_id: Id, me: CurrentUser, session: SessionDep) -> Page[TourOut]:
    """A released wave's tours, each with its picks in walking order and its tote assignment."""
    wave = _load(session, me, wave_id)
    rows = session.exec(select(Tour).where(Tour.wave_id == wave.id).order_by(Tour.number)).all()
    loc = aliased(Location)
    out = []
    for tour in rows:
        totes = session.exec(
            select(TourTote.tote_no, Order.reference, Container.code).join(Order, Order.id == TourTote.order_id)
            .outerjoin(Container, Container.id == TourTote.container_id)
            .where(TourTote.tour_id == tour.id).order_by(TourTote.tote_no)
        ).all()
        tote_codes = {n: code for n, _, code in totes if code}
        picks = session.exec(
            select(Task, loc.code, loc.check_digits, Product.sku, Order.reference, User.username)
            .join(loc, loc.id == Task.from_location_id).join(Product, Product.id == Task.product_id)
            .join(OrderLine, OrderLine.id == Task.order_line_id).join(Order, Order.id == OrderLine.order_id)
            .outerjoin(User, User.id == Task.assigned_to)
            .where(Task.tour_id == tour.id, Task.kind == "pick").order_by(Task.sequence)
        ).all()
        out.append(TourOut(
            id=tour.id, number=tour.number, status=tour.status, distance_m=tour.distance_m, seconds=tour.seconds,
            totes=[{"tote": n, "order": ref, "tote_code": code} for n, ref, code in totes],
            picks=[PickOut(task_id=t.id, sequence=t.sequence, state=t.state, location=code, check_digits=cd, sku=sku,
                           quantity=t.quantity, tote=t.tote_no, tote_code=tote_codes.get(t.tote_no), held_by=holder,
                           order=reference, waits_for_task=t.depends_on_task_id)
                   for t, code, cd, sku, reference, holder in picks],
        ))
    return Page(data=out, count=len(out))


class TourPreviewOut(BaseModel):
    id: int | None = Field(description="the tour's id (null while the wave is only planned)")
    number: int
    metres: float
    minutes: float
    stops: int
    path: list[list[float]] = Field(description="[x, y] corners of the walk in site metres, depot to depot, "
                                                "along the aisles and cross aisles")


class WavePreviewOut(BaseModel):
    wave_id: int
    status: str
    tours: list[TourPreviewOut]


@router.get("/{wave_id}/preview", response_model=WavePreviewOut)
def preview(wave_id: Id, me: CurrentUser, session: SessionDep) -> WavePreviewOut:
    """Each tour's walking path through the site layout, with its metres and estimated minutes (planned or
    released): one line per tour on the floor map."""
    return WavePreviewOut(**wave_preview(session, _load(session, me, wave_id)))
