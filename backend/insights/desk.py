"""What the supervisor's desk shows beside an action: who could take a task, and what an exception is about.

* ``task_candidates``: the site's workers for one task, each eligible or not with the reason in plain words —
  the same rule dispatch and assignment apply (backend.tasks.eligibility: roles, skills, zones, the device),
  plus "signed on at a device of this site now" (someone signed on nowhere can be given work, but can't do it
  yet) and "not its holder already".
* ``exception_detail``: the exception with who raised it, where, what was scanned, and the stock of the
  product(s) at that location before and after: for an open exception, now and what approving would make it;
  once resolved, what it was when the exception was raised or resolved and what it is now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from backend.commands.registry import WORKER_ROLES
from backend.masterdata import product_at_site
from backend.models import (
    Device, InboundLine, InboundShipment, Location, Move, Printer, Product, Quant, Receipt, Task, User,
    UserSite, WarehouseException, WorkerProfile, Zone,
)
from backend.tasks import eligibility
from backend.tasks.states import HELD_STATES


# --- who could take a task -------------------------------------------------------------------------


def task_candidates(session: Session, task: Task) -> list[dict]:
    """The workers of the task's site, eligible ones first (fewest held tasks first), each with why not."""
    users = session.exec(
        select(User.id, User.username, User.roles, WorkerProfile.zone_ids, WorkerProfile.skills,
               WorkerProfile.last_location_id)
        .outerjoin(WorkerProfile, (WorkerProfile.user_id == User.id) & (WorkerProfile.site_id == task.site_id))
        .where(User.active, or_(User.all_sites, User.id.in_(select(UserSite.user_id).where(
            UserSite.site_id == task.site_id))))
    ).all()
    workers = [row for row in users if set(row[2] or ()).intersection(WORKER_ROLES)]
    ids = [row[0] for row in workers] or [-1]
    # The device each is signed on at (the latest seen, as dispatch judges), and whether one is at this site.
    devices: dict[int, tuple[str, bool]] = {}
    for user_id, kind, site_id in session.exec(
        select(Device.current_user_id, Device.kind, Device.site_id)
        .where(Device.current_user_id.in_(ids), Device.revoked_at.is_(None))
        .order_by(Device.last_seen_at.desc())
    ).all():
        kind_first, here = devices.get(user_id, (kind, False))
        devices[user_id] = (kind_first, here or site_id == task.site_id)
    held: dict[int, int] = {}
    held_zone: dict[int, int | None] = {}
    for user_id, zone_id in session.exec(
        select(Task.assigned_to, Task.zone_id).where(Task.site_id == task.site_id, Task.state.in_(HELD_STATES),
                                                     Task.assigned_to.in_(ids))
        .order_by(Task.assigned_to, Task.priority, Task.id)
    ).all():
        held[user_id] = held.get(user_id, 0) + 1
        held_zone.setdefault(user_id, zone_id)
    positions = {row[5] for row in workers if row[5]}
    location_zone = dict(session.exec(select(Location.id, Location.zone_id).where(
        Location.id.in_(list(positions) or [-1]))).all())
    zone_codes = dict(session.exec(select(Zone.id, Zone.code).where(Zone.site_id == task.site_id)).all())
    out = []
    for user_id, username, roles, zone_ids, skills, last_location_id in workers:
        device_kind, here = devices.get(user_id, (None, False))
        if user_id == task.assigned_to:
            why = f"{username} holds this task now"
        else:
            why = eligibility.refusal(task.kind, task.zone_id, username=username, roles=roles or [],
                                      skills=skills or [], zone_ids=zone_ids or [], device_kind=device_kind)
            if why is None and not here:
                why = f"{username} is not signed on at a device here now"
        zone_id = held_zone.get(user_id) if user_id in held_zone else location_zone.get(last_location_id)
        out.append({"username": username, "eligible": why is None, "why_not": why, "held": held.get(user_id, 0),
                    "zone": zone_codes.get(zone_id), "signed_on": here})
    out.sort(key=lambda c: (not c["eligible"], c["held"], c["username"]))
    return out


# --- what an exception is about --------------------------------------------------------------------


def exception_detail(session: Session, exc: WarehouseException) -> dict:
    """The exception's who / where / scanned / stock before and after, and what approving does (``effect``)."""
    details = exc.details or {}
    names = _usernames(session, [exc.raised_by, exc.resolved_by])
    task = session.get(Task, exc.task_id) if exc.task_id else None
    where = exception_location(details, _task_location_code(session, task))
    if where is None and exc.kind == "printer_fault":
        where = printer_location(session, details)
    lines: list[dict[str, Any]] = []
    effect = "approving acknowledges it; no stock changes"
    scanned = details.get("scan") or (details.get("request") or {}).get("scan")
    location = _location(session, exc.site_id, where)
    if exc.kind == "over_receipt":
        lines, scanned, effect = _over_receipt(session, exc, details, location)
    elif exc.kind == "count_variance":
        lines, scanned, effect = _count_variance(session, exc, details, location)
    elif exc.kind == "short_pick":
        scanned = details.get("sku")
        lines = _unchanged(session, location, details.get("sku"))
    elif exc.kind == "pack_short":
        scanned = details.get("tote")
    elif exc.kind == "damaged":
        effect = "approving acknowledges it; the damaged goods stay where they were put"
    totals = (sum(line["before"] for line in lines), sum(line["after"] for line in lines)) if lines else (None, None)
    return {
        "id": exc.id, "kind": exc.kind, "state": exc.state, "message": exc.message, "details": exc.details,
        "task_id": exc.task_id, "created_at": exc.created_at, "resolved_at": exc.resolved_at,
        "resolution_note": exc.resolution_note,
        "who": names.get(exc.raised_by) or details.get("reported_by_name"),
        "resolved_by": names.get(exc.resolved_by),
        "where": where, "scanned": scanned, "stock_before": totals[0], "stock_after": totals[1],
        "stock_lines": lines, "effect": effect,
    }


def exception_location(details: dict, task_location: str | None) -> str | None:
    """The location code an exception is about, from what its kind records (the task's location otherwise)."""
    request = details.get("request") or {}
    return (details.get("location") or request.get("dock") or details.get("station") or details.get("dock")
            or task_location)


def _task_location_code(session: Session, task: Task | None) -> str | None:
    if task is None:
        return None
    location_id = task.from_location_id or task.to_location_id
    return session.get(Location, location_id).code if location_id else None


def _usernames(session: Session, ids: list[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.username).where(User.id.in_(wanted))).all())


def _location(session: Session, site_id: int, code: str | None) -> Location | None:
    if not code:
        return None
    return session.exec(select(Location).where(Location.site_id == site_id, Location.code == code)).first()


def _on_hand(session: Session, location_id: int, product_id: int, lot: str | None = None) -> int:
    query = select(func.coalesce(func.sum(Quant.on_hand), 0)).where(Quant.location_id == location_id,
                                                                   Quant.product_id == product_id)
    if lot is not None:
        query = query.where(Quant.lot == lot)
    return int(session.exec(query).one())


def _on_hand_before_move(session: Session, location_id: int, product_id: int, move_id: int) -> int:
    """The ledger's quantity of the product at the location just before this move (moves are append-only)."""
    into = session.exec(select(func.coalesce(func.sum(Move.quantity), 0)).where(
        Move.to_location_id == location_id, Move.product_id == product_id, Move.id < move_id)).one()
    out = session.exec(select(func.coalesce(func.sum(Move.quantity), 0)).where(
        Move.from_location_id == location_id, Move.product_id == product_id, Move.id < move_id)).one()
    return int(into) - int(out)


def _unchanged(session: Session, location: Location | None, sku: str | None) -> list[dict]:
    """An exception whose approval moves no stock: the product's quantity at the location now, before and after."""
    if location is None or not sku:
        return []
    product = product_at_site(session, location.site_id, sku)
    if product is None:
        return []
    now = _on_hand(session, location.id, product.id)
    return [{"sku": sku, "lot": None, "location": location.code, "before": now, "after": now}]


def _over_receipt(session: Session, exc: WarehouseException, details: dict,
                  dock: Location | None) -> tuple[list[dict], str | None, str]:
    request = details.get("request") or {}
    check = details.get("check") or {}
    quantity = int(check.get("quantity") or request.get("quantity") or 0)
    posts_to = details.get("posts_to") or {}
    product = None
    if posts_to.get("shipment"):
        product = session.exec(
            select(Product).join(InboundLine, InboundLine.product_id == Product.id)
            .join(InboundShipment, InboundShipment.id == InboundLine.shipment_id)
            .where(InboundShipment.site_id == exc.site_id, InboundShipment.reference == posts_to["shipment"],
                   InboundLine.line_no == posts_to.get("line_no"))
        ).first()
    if product is None and request.get("sku"):
        product = product_at_site(session, exc.site_id, request["sku"])
    scanned = request.get("scan") or request.get("sku")
    if product is None or dock is None:
        return [], scanned, f"approving receives {quantity} more units"
    effect = f"approving receives {quantity} × {product.sku} at {dock.code}"
    now = _on_hand(session, dock.id, product.id)
    receipt_ids = ((details.get("posted") or {}).get("receipt_ids")) or []
    if exc.state == "approved" and receipt_ids:
        receipts = session.exec(select(Receipt.id, Receipt.location_id).where(Receipt.id.in_(receipt_ids))).all()
        refs = [f"receipt:{rid}" for rid, _ in receipts]
        first_move = session.exec(select(func.min(Move.id)).where(Move.reference.in_(refs),
                                                                   Move.reason == "receipt")).one()
        location_id = receipts[0][1] if receipts else dock.id
        if first_move is not None:
            where = session.get(Location, location_id)
            before = _on_hand_before_move(session, location_id, product.id, first_move)
            return ([{"sku": product.sku, "lot": None, "location": where.code, "before": before,
                      "after": _on_hand(session, location_id, product.id)}], scanned, effect)
    after = now + quantity if exc.state == "open" else now
    return [{"sku": product.sku, "lot": None, "location": dock.code, "before": now, "after": after}], scanned, effect


def _count_variance(session: Session, exc: WarehouseException, details: dict,
                    location: Location | None) -> tuple[list[dict], str | None, str]:
    variances = details.get("variances") or []
    scanned = ", ".join(f"{v['sku']}{' lot ' + v['lot'] if v.get('lot') else ''}: {v['counted']}" for v in variances)
    if location is None:
        return [], scanned or None, "approving books the counted quantities"
    effect = f"approving books the counted quantities at {location.code}"
    lines = []
    for v in variances:
        now = _on_hand(session, location.id, v["product_id"], v.get("lot") or "")
        # Open: now, and what approving makes it. Resolved: what the system said at the count, and now.
        before, after = (now, v["counted"]) if exc.state == "open" else (v["system"], now)
        lines.append({"sku": v["sku"], "lot": v.get("lot") or None, "location": location.code, "before": before,
                      "after": after})
    return lines, scanned or None, effect


def printer_location(session: Session, details: dict) -> str | None:
    """Where a faulty printer stands (its station), for a printer_fault exception."""
    printer_id = details.get("printer_id")
    printer = session.get(Printer, printer_id) if printer_id else None
    return printer.station if printer is not None else None
