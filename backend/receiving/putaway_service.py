"""Putaway tasks: suggest a destination by the rules, confirm by scanning it."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, select

from backend import audit
from backend.errors import Conflict, Invalid
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import Container, Location, Product, PutawayRule, Quant, Site, Task, utcnow
from backend.scanning import classify_scan, confirms_location
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError
from backend.scanning.lookup import LocationRef
from backend.scanning.result import ScanKind
from backend.tasks.states import WORKABLE_STATES, require_workable
from backend.receiving.putaway import (
    CategoryZoneRule,
    PutawayCandidate,
    PutawayRequest,
    choose_putaway,
    destination_problems,
)


def _candidates(session: Session, site_id: int, only: int | None = None) -> list[PutawayCandidate]:
    query = select(Location).where(Location.site_id == site_id)
    if only is not None:
        query = query.where(Location.id == only)
    else:
        query = query.where(Location.kind.in_(("reserve", "pick_face")), Location.active)
    locations = session.exec(query).all()
    stock_query = select(Quant.location_id, Quant.product_id, func.sum(Quant.on_hand)).where(
        Quant.site_id == site_id, Quant.on_hand > 0
    )
    if only is not None:
        stock_query = stock_query.where(Quant.location_id == only)
    on_hand: dict[int, int] = defaultdict(int)
    products: dict[int, set[int]] = defaultdict(set)
    for location_id, product_id, qty in session.exec(stock_query.group_by(Quant.location_id, Quant.product_id)).all():
        on_hand[location_id] += int(qty)
        products[location_id].add(product_id)
    # Putaways already directed to a location count against its room.
    incoming = session.exec(
        select(Task.to_location_id, func.sum(Task.quantity)).where(
            Task.site_id == site_id, Task.kind == "putaway", Task.state.in_(WORKABLE_STATES),
            Task.to_location_id.is_not(None),
        ).group_by(Task.to_location_id)
    ).all()
    for location_id, qty in incoming:
        on_hand[location_id] += int(qty or 0)
    return [
        PutawayCandidate(
            location_id=loc.id, code=loc.code, kind=loc.kind, zone_id=loc.zone_id, capacity=loc.capacity,
            on_hand=on_hand[loc.id], product_ids=frozenset(products[loc.id]), mixed_products=loc.mixed_products,
            fixed_product_id=loc.fixed_product_id, x=loc.x, y=loc.y, active=loc.active,
        )
        for loc in locations
    ]


def _container_contents(session: Session, container: Container) -> list[Quant]:
    return session.exec(
        select(Quant).where(Quant.container_id == container.id, Quant.on_hand > 0).order_by(Quant.id)
    ).all()


def _request_for(session: Session, container: Container, dock: Location) -> PutawayRequest:
    quants = _container_contents(session, container)
    product_ids = frozenset(q.product_id for q in quants)
    category = None
    if len(product_ids) == 1:
        category = session.get(Product, next(iter(product_ids))).category
    return PutawayRequest(product_ids, category, sum(q.on_hand for q in quants), dock.x, dock.y)


def plan_putaway_for_container(
    session: Session, site: Site, container: Container, dock: Location, user_id: int | None
) -> Task | None:
    """Create (or refresh) the putaway task for an LPN at the dock."""
    task = session.exec(
        select(Task).where(Task.container_id == container.id, Task.kind == "putaway", Task.state.in_(WORKABLE_STATES))
    ).first()
    if task is not None:
        # Free the old suggestion so the room check does not count this pallet twice.
        task.to_location_id = None
        session.add(task)
        session.flush()
    request = _request_for(session, container, dock)
    if request.quantity == 0:
        return task
    rules = [
        CategoryZoneRule(r.category, r.zone_id, r.priority)
        for r in session.exec(select(PutawayRule).where(PutawayRule.site_id == site.id)).all()
    ]
    choice = choose_putaway(request, _candidates(session, site.id), rules)
    product_id = next(iter(request.product_ids)) if len(request.product_ids) == 1 else None
    details = {"rule": choice.rule if choice else None, "distance_m": round(choice.distance_m, 1) if choice else None}
    if task is None:
        task = Task(site_id=site.id, kind="putaway", container_id=container.id, from_location_id=dock.id,
                    reference=f"lpn:{container.code}")
        action = "task.create"
    else:
        task.version += 1
        action = "task.replan"
    task.product_id = product_id
    task.quantity = request.quantity
    task.to_location_id = choice.location_id if choice else None
    task.details = details
    task.updated_at = utcnow()
    session.add(task)
    session.flush()
    audit.record(session, user_id=user_id, site_id=site.id, action=action, entity="task", entity_id=task.id,
                 after=audit.snapshot(task, ("kind", "state", "to_location_id", "quantity", "container_id")))
    return task


def _resolve_scanned_location(session: Session, site_id: int, scan: str, suggested: Location | None) -> Location:
    """The location a putaway is confirmed at: its barcode, code + check digits, or the suggested one's digits."""
    try:
        if suggested is not None and confirms_location(
            scan, LocationRef(suggested.id, suggested.code, suggested.check_digits)
        ):
            return suggested
        scanned = classify_scan(scan, lookup=SiteScanLookup(session, site_id))
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": "scan", **exc.details}) from exc
    if scanned.kind != ScanKind.LOCATION or scanned.location is None:
        raise Invalid(f"scan a location to confirm a putaway, not a {scanned.kind.value}", code="not_a_location",
                      details={"field": "scan", "kind": scanned.kind.value})
    return session.get(Location, scanned.location.id)


def confirm_putaway(
    session: Session, site: Site, task: Task, scan: str, reason: str | None, user_id: int
) -> Task:
    require_workable(task, "putaway")
    suggested = session.get(Location, task.to_location_id) if task.to_location_id else None
    destination = _resolve_scanned_location(session, site.id, scan, suggested)
    container = session.get(Container, task.container_id)
    source = session.get(Location, container.location_id) if container and container.location_id else None
    if container is None or source is None:
        raise Conflict("the LPN of this task is no longer at a location", code="lpn_missing")
    deviated = suggested is None or destination.id != suggested.id
    if deviated:
        if not reason or not reason.strip():
            raise Invalid(
                f"{destination.code} is not the suggested location; give a reason", code="reason_required",
                details={"field": "reason", "suggested": suggested.code if suggested else None},
            )
        request = _request_for(session, container, source)
        (candidate,) = _candidates(session, site.id, only=destination.id)
        problems = destination_problems(request, candidate)
        if problems:
            raise Conflict(
                f"{destination.code} cannot take this putaway: {', '.join(problems)}",
                code="putaway_location_unsuitable", details={"location": destination.code, "problems": problems},
            )
    quants = _container_contents(session, container)
    # A pick face holds loose stock: the LPN is broken down there; reserve keeps the pallet.
    keep_container = destination.kind != "pick_face"
    for quant in quants:
        post_move(
            session, site_id=site.id, product_id=quant.product_id, quantity=quant.on_hand, reason="putaway",
            source=StockIdentity(quant.product_id, quant.location_id, container.id, quant.lot, quant.expiry),
            destination=StockIdentity(quant.product_id, destination.id, container.id if keep_container else None,
                                      quant.lot, quant.expiry),
            reference=f"task:{task.id}", user_id=user_id,
        )
    before = audit.snapshot(task, ("state", "to_location_id"))
    container.location_id = destination.id if keep_container else None
    container.status = "open" if keep_container else "emptied"
    session.add(container)
    task.state = "done"
    task.to_location_id = destination.id
    task.done_at = task.updated_at = utcnow()
    task.version += 1
    task.details = {**(task.details or {}), "confirmed_by": user_id,
                    **({"deviation_reason": reason, "suggested": suggested.code if suggested else None}
                       if deviated else {})}
    session.add(task)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.confirm_putaway", entity="task",
                 entity_id=task.id, before=before, after=audit.snapshot(task, ("state", "to_location_id")))
    return task
