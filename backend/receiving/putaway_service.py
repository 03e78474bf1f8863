"""Putaway tasks: suggest a destination by the rules, confirm by scanning it.

An LPN gets one putaway task, or — a mixed LPN no location takes whole — one
per product (see `backend.receiving.putaway.plan_lpn_putaway`): each such part
moves only its product off the LPN, loose into its destination, and the LPN
is emptied with the last part. A task with no destination says why in plain
words (`details.instruction`).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, select

from backend import audit
from backend.errors import Conflict, Invalid, NotFound
from backend.inventory.ledger import StockIdentity, post_move
from backend.webhooks import outbox
from backend.models import Container, Location, Product, PutawayRule, Quant, Site, Task, utcnow
from backend.scanning import DEFAULT_SCAN_PROFILE, ScanProfile, classify_scan, confirms_location
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError, UnknownScan
from backend.scanning.lookup import LocationRef
from backend.location_kinds import STORAGE_KINDS
from backend.scanning.result import ScanKind
from backend.tasks import transitions
from backend.tasks.states import HELD_STATES, WORKABLE_STATES, require_workable
from backend.receiving.putaway import (
    CategoryZoneRule,
    LpnLine,
    PlannedPutaway,
    PutawayCandidate,
    PutawayRequest,
    destination_problems,
    plan_lpn_putaway,
)

NO_ROOM = ("No location has room for it: put it where it fits and give a reason, or ask a supervisor "
           "where it goes.")


_CANDIDATE_COLUMNS = (Location.id, Location.code, Location.kind, Location.zone_id, Location.capacity,
                      Location.mixed_products, Location.fixed_product_id, Location.x, Location.y, Location.active)


def putaway_candidates(session: Session, site_id: int, only: int | None = None,
                for_products: frozenset[int] | None = None) -> list[PutawayCandidate]:
    """The storage locations as the putaway rules see them; `only` one of them, or — `for_products` —
    only those the rules could choose for these products (reserve, and their own fixed pick faces)."""
    # Plain rows, not Location objects: a site has thousands of storage locations and every receipt reads them.
    query = select(*_CANDIDATE_COLUMNS).where(Location.site_id == site_id)
    if only is not None:
        query = query.where(Location.id == only)
    else:
        query = query.where(Location.kind.in_(STORAGE_KINDS), Location.active)
    if for_products is not None:
        query = query.where((Location.kind == "reserve") & Location.fixed_product_id.is_(None)
                            | Location.fixed_product_id.in_(sorted(for_products)))
    locations = session.execute(query).all()
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
    # Putaways already directed to a location count against its room, and their product against its mixing rule.
    incoming = select(Task.to_location_id, Task.product_id, func.sum(Task.quantity)).where(
        Task.site_id == site_id, Task.kind == "putaway", Task.state.in_(WORKABLE_STATES),
        Task.to_location_id.is_not(None),
    )
    if only is not None:
        incoming = incoming.where(Task.to_location_id == only)
    for location_id, product_id, qty in session.exec(incoming.group_by(Task.to_location_id, Task.product_id)).all():
        on_hand[location_id] += int(qty or 0)
        if product_id is not None:
            products[location_id].add(product_id)
    empty: frozenset[int] = frozenset()
    return [
        PutawayCandidate(
            location_id=id_, code=code, kind=kind, zone_id=zone_id, capacity=capacity, on_hand=on_hand.get(id_, 0),
            product_ids=frozenset(products[id_]) if id_ in products else empty, mixed_products=bool(mixed),
            fixed_product_id=fixed, x=x, y=y, active=bool(active),
        )
        for id_, code, kind, zone_id, capacity, mixed, fixed, x, y, active in locations
    ]


def _container_contents(session: Session, container: Container) -> list[Quant]:
    return session.exec(
        select(Quant).where(Quant.container_id == container.id, Quant.on_hand > 0).order_by(Quant.id)
    ).all()


def _request_from(session: Session, quants: list[Quant], dock: Location) -> PutawayRequest:
    product_ids = frozenset(q.product_id for q in quants)
    category = None
    if len(product_ids) == 1:
        category = session.get(Product, next(iter(product_ids))).category
    return PutawayRequest(product_ids, category, sum(q.on_hand for q in quants), dock.x, dock.y)


def _lpn_lines(session: Session, container: Container) -> list[LpnLine]:
    quantities: dict[int, int] = defaultdict(int)
    for quant in _container_contents(session, container):
        quantities[quant.product_id] += quant.on_hand
    categories = dict(session.exec(select(Product.id, Product.category).where(Product.id.in_(list(quantities)))).all())
    return [LpnLine(product_id, categories.get(product_id), qty) for product_id, qty in sorted(quantities.items())]


def _details(planned: PlannedPutaway, skus: dict[int, str]) -> dict:
    choice = planned.choice
    details: dict = {"rule": choice.rule if choice else None,
                     "distance_m": round(choice.distance_m, 1) if choice else None}
    if planned.breakdown:
        details["breakdown"] = {"part": planned.part, "of": planned.parts}
    if choice is None:
        details["instruction"] = NO_ROOM
    elif planned.breakdown:
        details["instruction"] = (
            f"Mixed LPN: no location takes it whole, so it goes away one product at a time "
            f"({planned.part} of {planned.parts}): take the {planned.quantity} × {skus[planned.product_id]} "
            f"off it to {choice.code}.")
    return details


def plan_putaway_for_container(
    session: Session, site: Site, container: Container, dock: Location, user_id: int | None
) -> list[Task]:
    """Create (or refresh) the putaway task(s) for an LPN at the dock; the open ones, first part first.

    Open tasks of the LPN are reused (a product keeps its task), the ones left over are cancelled, and a
    holder whose task changed is told at once.
    """
    tasks = list(session.exec(
        select(Task).where(Task.container_id == container.id, Task.kind == "putaway", Task.state.in_(WORKABLE_STATES))
        .order_by(Task.id)
    ).all())
    if tasks:
        # Free the old suggestions so the room check does not count this pallet twice.
        for task in tasks:
            task.to_location_id = None
            session.add(task)
        session.flush()
    lines = _lpn_lines(session, container)
    rules = [
        CategoryZoneRule(r.category, r.zone_id, r.priority)
        for r in session.exec(select(PutawayRule).where(PutawayRule.site_id == site.id)).all()
    ]
    lpn_products = frozenset(line.product_id for line in lines)
    candidates = putaway_candidates(session, site.id, for_products=lpn_products) if lines else []
    plan = plan_lpn_putaway(lines, dock.x, dock.y, candidates, rules) if lines else []
    skus = dict(session.exec(select(Product.id, Product.sku).where(
        Product.id.in_([line.product_id for line in lines]))).all()) if lines else {}
    free = list(tasks)
    # A product keeps its task; the other parts take the tasks left over, in id order.
    kept = {}
    for planned in plan:
        task = next((t for t in free if t.product_id == planned.product_id), None)
        if task is not None:
            kept[id(planned)] = task
            free.remove(task)
    planned_tasks = []
    for planned in plan:
        task = kept.get(id(planned)) or (free.pop(0) if free else None)
        if task is None:
            task = Task(site_id=site.id, kind="putaway", container_id=container.id, from_location_id=dock.id,
                        reference=f"lpn:{container.code}")
            action = "task.create"
        else:
            task.version += 1
            action = "task.replan"
        task.product_id = planned.product_id
        task.quantity = planned.quantity
        task.to_location_id = planned.choice.location_id if planned.choice else None
        task.details = _details(planned, skus)
        task.updated_at = utcnow()
        session.add(task)
        session.flush()
        audit.record(session, user_id=user_id, site_id=site.id, action=action, entity="task", entity_id=task.id,
                     after=audit.snapshot(task, ("kind", "state", "to_location_id", "quantity", "container_id",
                                                 "product_id")))
        if action == "task.replan" and task.state in HELD_STATES:
            transitions.updated(session, task)
        planned_tasks.append(task)
    for task in free:
        if not plan:  # an emptied LPN: its task stays, with nothing to suggest (as before)
            planned_tasks.append(task)
            continue
        transitions.cancel(session, task, actor_id=user_id, reason=f"LPN {container.code} was planned again")
    return planned_tasks


def container_for_scan(session: Session, site_id: int, scan: str,
                       profile: ScanProfile = DEFAULT_SCAN_PROFILE) -> Container:
    """The LPN a raw scan names (its label's SSCC with or without AI 00 and AIM prefix, or its code),
    else a 4xx saying what to scan instead."""
    try:
        scanned = classify_scan(scan, profile, SiteScanLookup(session, site_id))
    except UnknownScan as exc:
        raise NotFound(f"{exc.message} Scan the LPN label on the pallet.", code=exc.code,
                       details={"field": "scan", **exc.details}) from exc
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": "scan", **exc.details}) from exc
    if scanned.lpn is not None and scanned.kind in (ScanKind.LPN, ScanKind.SSCC, ScanKind.GS1):
        return session.get(Container, scanned.lpn.id)
    if scanned.kind == ScanKind.SSCC or (scanned.kind == ScanKind.GS1 and scanned.sscc and not scanned.gtin):
        raise NotFound(f"No LPN here has SSCC {scanned.sscc}: receive the pallet first.", code="unknown_lpn",
                       details={"field": "scan", "sscc": scanned.sscc})
    what = {
        ScanKind.LOCATION: f"{scanned.location.code if scanned.location else 'That'} is a location",
        ScanKind.TOTE: f"{scanned.tote.code if scanned.tote else 'That'} is a tote",
        ScanKind.PRODUCT: f"That is a product label ({scanned.product.sku if scanned.product else scanned.gtin})",
        ScanKind.GS1: "That is a product label",
    }.get(scanned.kind, "That is not an LPN")
    raise Invalid(f"{what}: scan the LPN label on the pallet.", code="not_an_lpn",
                  details={"field": "scan", "kind": scanned.kind.value})


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
        what = {"lpn": "an LPN", "sscc": "a pallet label (SSCC)", "tote": "a tote", "product": "a product",
                "gs1": "a product label"}.get(scanned.kind.value)
        raise Invalid(f"That is {what + ', not' if what else 'not'} a location: scan the label of the location "
                      "you put it in.",
                      code="not_a_location", details={"field": "scan", "kind": scanned.kind.value})
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
    contents = _container_contents(session, container)
    # One product of a broken-down mixed LPN: only that product leaves it.
    part = task.product_id is not None and any(q.product_id != task.product_id for q in contents)
    quants = [q for q in contents if q.product_id == task.product_id] if part else contents
    if part and not quants:
        raise Conflict(f"nothing of this putaway is left on LPN {container.code}", code="lpn_empty",
                       details={"lpn": container.code})
    deviated = suggested is None or destination.id != suggested.id
    if deviated:
        if not reason or not reason.strip():
            raise Invalid(
                f"{destination.code} is not the suggested location; give a reason", code="reason_required",
                details={"field": "reason", "suggested": suggested.code if suggested else None},
            )
        request = _request_from(session, quants, source)
        (candidate,) = putaway_candidates(session, site.id, only=destination.id)
        problems = destination_problems(request, candidate)
        if problems:
            raise Conflict(
                f"{destination.code} cannot take this putaway: {', '.join(problems)}",
                code="putaway_location_unsuitable", details={"location": destination.code, "problems": problems},
            )
    # A pick face holds loose stock: the LPN is broken down there; reserve keeps the pallet.
    # A part of a mixed LPN goes loose too: the LPN stays at the dock with the rest.
    keep_container = destination.kind != "pick_face" and not part
    moved = [(q.product_id, q.lot, q.expiry, q.on_hand) for q in quants]  # (before the moves change the quants)
    for quant in quants:
        post_move(
            session, site_id=site.id, product_id=quant.product_id, quantity=quant.on_hand, reason="putaway",
            source=StockIdentity(quant.product_id, quant.location_id, container.id, quant.lot, quant.expiry),
            destination=StockIdentity(quant.product_id, destination.id, container.id if keep_container else None,
                                      quant.lot, quant.expiry),
            reference=f"task:{task.id}", user_id=user_id,
        )
    before = audit.snapshot(task, ("state", "to_location_id"))
    # The last product of a broken-down LPN is no part: the LPN goes with it, as any single-product LPN.
    if not part:
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
    skus = dict(session.exec(select(Product.id, Product.sku).where(
        Product.id.in_({m[0] for m in moved} or {-1}))).all())
    outbox.record(session, site.id, "putaway.completed", {
        "task_id": task.id, "lpn": container.code, "sscc": container.sscc, "from_location": source.code,
        "to_location": destination.code, "suggested_location": suggested.code if suggested else None,
        "deviation_reason": reason if deviated else None,
        "lines": [{"sku": skus[product_id], "lot": lot, "expiry": expiry.isoformat() if expiry else None,
                   "quantity": quantity} for product_id, lot, expiry, quantity in moved]})
    return task
