"""A pick tour as the picker walks it: its cart's tote slots, what is left, and where the totes go at the end.

A tour starts by binding a tote to each slot of the cart (``bind_slot``; a
slot with no tote yet is bound at its first pick instead), is walked pick by
pick in sequence (a pick waiting for its replenishment comes after the rest
and returns once the replenishment is done), and ends at a pack station:
``drop_totes`` with the station's scan leaves the totes of the finished slots
there for packing, and the cart is free. A tote stays in use until it is
packed empty, so a full tote can never start another tour.

``tour_view`` is what the picker's screen shows: the slots and their totes,
every pick in walking order, and for each open pick the metres and seconds
left from it to the end of the tour (the rest of the open picks in order,
then back to the depot, at the site's travel figures).
"""

from __future__ import annotations

from sqlalchemy import func, true
from sqlmodel import Session, select

from backend import audit
from backend.config import Settings
from backend.containers import create_containers
from backend.errors import Conflict, Invalid, NotFound
from backend.execution.scan_checks import classify
from backend.execution import picking
from backend.models import Container, Location, Order, Product, Site, Task, Tour, TourTote
from backend.location_kinds import DROP_KINDS
from backend.routing.layout import DEPOT
from backend.scanning.result import ScanKind
from backend.tasks.states import FINAL_STATES, HELD_STATES
from backend.waves.site_layout import site_geometry



def tour_view(session: Session, tour: Tour) -> dict:
    site = session.get(Site, tour.site_id)
    slots = session.exec(
        select(TourTote.tote_no, Order.reference, Container.code).join(Order, Order.id == TourTote.order_id)
        .outerjoin(Container, Container.id == TourTote.container_id)
        .where(TourTote.tour_id == tour.id).order_by(TourTote.tote_no, Order.reference)).all()
    rows = session.exec(
        select(Task, Location.code, Location.x, Location.y, Product.sku, Product.description)
        .join(Location, Location.id == Task.from_location_id).join(Product, Product.id == Task.product_id)
        .where(Task.tour_id == tour.id, Task.kind == "pick").order_by(Task.sequence, Task.id)).all()
    waiting = set(session.exec(select(Task.id).where(
        Task.tour_id == tour.id, Task.kind == "pick", Task.depends_on_task_id.in_(
            select(Task.id).where(Task.state != "done", Task.kind == "replenish")))).all()) if rows else set()
    geometry = site_geometry(session, site)
    settings = geometry.settings
    # Walking order: open picks in sequence, those waiting for a replenishment after the rest.
    open_rows = sorted((r for r in rows if r[0].state not in FINAL_STATES),
                       key=lambda r: (r[0].id in waiting, r[0].sequence or 0, r[0].id))
    left: dict[int, tuple[float, float]] = {}
    metres, stops, lines, after = 0.0, 0, 0, DEPOT
    seen_at = None
    for task, code, x, y, *_ in reversed(open_rows):
        here = geometry.point(x, y)
        metres += geometry.layout.distance(here, after)
        lines += 1
        if code != seen_at:
            stops += 1
        seen_at, after = code, here
        seconds = metres / settings.walk_speed_m_s + stops * settings.seconds_per_stop + lines * settings.seconds_per_line
        left[task.id] = (round(metres, 1), round(seconds))
    codes = {tote_no: code for tote_no, _, code in slots if code}
    picks = [{
        "task_id": task.id, "sequence": task.sequence, "state": task.state, "assigned_to": task.assigned_to,
        "location": code, "sku": sku, "description": description, "quantity": task.quantity, "tote_no": task.tote_no,
        "tote": codes.get(task.tote_no), "waits_for_replenishment": task.id in waiting,
        "metres_left": left.get(task.id, (None, None))[0], "seconds_left": left.get(task.id, (None, None))[1],
    } for task, code, _x, _y, sku, description in rows]
    last = open_rows[-1] if open_rows else (rows[-1] if rows else None)
    return {
        "id": tour.id, "wave_id": tour.wave_id, "number": tour.number, "status": tour.status,
        "distance_m": tour.distance_m, "seconds": tour.seconds,
        "slots": [{"tote_no": n, "order": reference, "tote": code} for n, reference, code in slots],
        "picks": picks, "open": len(open_rows), "done": sum(1 for r in rows if r[0].state == "done"),
        "drop_location": _drop_location(session, tour, last[2:4] if last else None),
        "dropped_at": _code(session, tour.dropped_at_location_id),
    }


def _code(session: Session, location_id: int | None) -> str | None:
    return session.get(Location, location_id).code if location_id else None


def _drop_location(session: Session, tour: Tour, near: tuple[float, float] | None) -> str | None:
    """Where the totes go: the pack station nearest the tour's last pick (ties: its code)."""
    stations = session.exec(select(Location.code, Location.x, Location.y).where(
        Location.site_id == tour.site_id, Location.kind == "pack", Location.active)).all()
    if not stations:
        return None
    x0, y0 = near if near else (0.0, 0.0)
    return min(stations, key=lambda s: (abs(s[1] - x0) + abs(s[2] - y0), s[0]))[0]


def _slot_task(session: Session, tour: Tour, tote_no: int, user_id: int) -> int:
    """A pick of this slot the worker holds (a tote is bound through it)."""
    task_id = session.exec(select(Task.id).where(
        Task.tour_id == tour.id, Task.tote_no == tote_no, Task.kind == "pick", Task.state.in_(HELD_STATES),
        Task.assigned_to == user_id).order_by(Task.sequence, Task.id)).first()
    if task_id is None:
        if session.exec(select(func.count()).select_from(TourTote).where(
                TourTote.tour_id == tour.id, TourTote.tote_no == tote_no)).one() == 0:
            raise Invalid(f"tour {tour.number} has no tote slot {tote_no}", code="no_tote_slot",
                          details={"field": "tote_no"})
        raise Conflict(f"you hold no open pick of slot {tote_no} of this tour", code="task_not_yours",
                       details={"field": "tote_no"})
    return task_id


def bind_slot(session: Session, tour: Tour, tote_no: int, raw: str, user_id: int) -> dict:
    """Put a tote in a slot of the cart before the tour's first pick into it (the same checks as that pick)."""
    row = picking.load_pick(session, _slot_task(session, tour, tote_no, user_id))
    _, code = picking.bind_tote(session, row, raw)
    session.flush()
    audit.record(session, user_id=user_id, site_id=tour.site_id, action="tour.bind_tote", entity="tour",
                 entity_id=tour.id, after={"tote_no": tote_no, "tote": code})
    return {"tour_id": tour.id, "tote_no": tote_no, "tote": code}


def label_new_totes(session: Session, settings: Settings, tour: Tour, user_id: int) -> dict:
    """New totes for the slots the worker's picks need that have none yet: made, bound to their slots (the tour's
    pre-assigned totes) and their labels queued at the printer for tote labels (routed by the tour's zone)."""
    from backend.printing.service import enqueue_label  # (printing imports the execution layer's neighbours)

    held = session.exec(select(Task.tote_no, Task.id, Task.zone_id).where(
        Task.tour_id == tour.id, Task.kind == "pick", Task.state.in_(HELD_STATES), Task.assigned_to == user_id)
        .order_by(Task.tote_no, Task.sequence, Task.id)).all()
    bound = set(session.exec(select(TourTote.tote_no).where(
        TourTote.tour_id == tour.id, TourTote.container_id.is_not(None))).all())
    first_pick: dict[int, tuple[int, int | None]] = {}
    for tote_no, task_id, zone_id in held:
        if tote_no is not None and tote_no not in bound:
            first_pick.setdefault(tote_no, (task_id, zone_id))
    if not first_pick:
        return {"tour_id": tour.id, "totes": [], "print_job_ids": []}
    site = session.get(Site, tour.site_id)
    made = create_containers(session, settings, site_id=site.id, site_code=site.code, kind="tote",
                             count=len(first_pick), user_id=user_id)
    session.flush()
    totes, jobs = [], []
    for (tote_no, (task_id, zone_id)), tote in zip(sorted(first_pick.items()), made):
        picking.bind_tote(session, picking.load_pick(session, task_id), tote.code)
        jobs.append(enqueue_label(session, site.id, "tote", {"tote_code": tote.code}, zone_id=zone_id,
                                  user_id=user_id).id)
        totes.append({"tote_no": tote_no, "tote": tote.code})
    audit.record(session, user_id=user_id, site_id=site.id, action="tour.label_totes", entity="tour", entity_id=tour.id,
                 after={"totes": totes, "print_job_ids": jobs})
    return {"tour_id": tour.id, "totes": totes, "print_job_ids": jobs}


def drop_totes(session: Session, tour: Tour, raw: str, user_id: int) -> dict:
    """Leave the totes of the tour's finished slots at a pack station (or staging lane); the cart is free."""
    location = _scanned_location(session, tour.site_id, raw)
    if location.kind not in DROP_KINDS:
        raise Invalid(f"{location.code} is a {location.kind.replace('_', ' ')} location: scan the pack station",
                      code="not_a_drop_location", details={"field": "location"})
    mine = session.exec(select(func.count()).select_from(Task).where(
        Task.tour_id == tour.id, Task.kind == "pick", Task.state.in_(HELD_STATES), Task.assigned_to == user_id)).one()
    if mine:
        raise Conflict(f"{mine} pick{'s' if mine > 1 else ''} of this tour left: finish them first (or hand them back)",
                       code="tour_not_finished", details={"open": mine})
    open_slots = set(session.exec(select(Task.tote_no).where(
        Task.tour_id == tour.id, Task.kind == "pick", Task.state.not_in(FINAL_STATES))).all())
    finished = TourTote.tote_no.not_in(open_slots) if open_slots else true()
    totes = session.exec(select(Container).join(TourTote, TourTote.container_id == Container.id).where(
        TourTote.tour_id == tour.id, finished).order_by(Container.code)).all()
    dropped = []
    for tote in {tote.id: tote for tote in totes}.values():
        if tote.location_id != location.id:
            tote.location_id = location.id
            session.add(tote)
        dropped.append(tote.code)
    if not open_slots:
        tour.dropped_at_location_id = location.id
        session.add(tour)
    audit.record(session, user_id=user_id, site_id=tour.site_id, action="tour.drop_totes", entity="tour",
                 entity_id=tour.id, after={"location": location.code, "totes": dropped,
                                           "open_slots": sorted(s for s in open_slots if s is not None)})
    return {"tour_id": tour.id, "location": location.code, "totes": dropped, "finished": not open_slots}


def _scanned_location(session: Session, site_id: int, raw: str) -> Location:
    location = session.exec(select(Location).where(Location.site_id == site_id, Location.code == raw.strip())).first()
    if location is None:
        scanned = classify(session, site_id, raw, "location")
        if scanned.kind != ScanKind.LOCATION or scanned.location is None:
            raise Invalid("scan the pack station's label", code="not_a_drop_location", details={"field": "location"})
        location = session.get(Location, scanned.location.id)
    return location
