"""Picking: confirm a pick into its tote, or report a short pick.

A pick moves stock in the ledger from its quant at the pick location into
the tote (the tote's stock keeps the location where it was picked until it
is packed) and consumes that much of the reservation. A short pick takes what
was found, gives the rest of the reservation back, raises a `short_pick`
exception, orders a count of the location, and reallocates the missing units
from other locations into the same tour and tote — or backorders them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, update
from sqlmodel import Session, select

from backend import audit
from backend.allocation import core
from backend.errors import Conflict, Invalid, NotFound
from backend.execution.scan_checks import container_by_scan, verify_location, verify_product
from backend.inventory.ledger import StockIdentity
from backend.models import (
    Location,
    Order,
    OrderLine,
    Product,
    Quant,
    Reservation,
    Site,
    Task,
    Tour,
    WarehouseException,
    utcnow,
)
from backend.sql import Pending, Raw, Write
from backend.commands import batch_reads
from backend.commands.batch_reads import changed_since_read, note_changed
from backend.scanning.db_lookup import ahead_product_scan
from backend.location_kinds import STORAGE_KINDS
from backend.scanning.lookup import LocationRef
from backend.tasks.dispatch import SET_POSITION
from backend.tasks.states import WORK_TO_COME_STATES, require_workable
from backend.tasks.transitions import tell_assigned
from backend.tasks.views import TaskView
from backend.webhooks import outbox, payloads


_WORK_TO_COME = "(" + ", ".join(f"'{state}'" for state in WORK_TO_COME_STATES) + ")"


@dataclass(slots=True)
class PickRow:
    """A pick task as confirming it needs it: the task row, its location, product, reservation and quant."""

    id: int
    site_id: int
    kind: str
    state: str
    assigned_to: int | None
    version: int
    details: dict | None
    quantity: int
    product_id: int
    lot: str
    from_location_id: int
    tour_id: int | None
    tote_no: int | None
    order_line_id: int | None
    reservation_id: int | None
    depends_on_task_id: int | None
    dependency_state: str | None
    location_code: str
    check_digits: str
    reserved: int | None
    quant_id: int | None
    quant_location_id: int | None
    quant_container_id: int | None
    quant_lot: str | None
    quant_expiry: object
    order_id: int | None
    slot_rows: int  # the task's tote slot on its tour's cart: how many order rows it has …
    slot_totes: frozenset[int]  # … and the totes bound to it (none yet, or one)
    view: TaskView  # what devices are shown of it


# The task (locked), and everything a confirm reads about it, in one statement; its tote slot in the next.
_LOAD = (
    "SELECT t.id, t.site_id, t.kind, t.state, t.assigned_to, t.version, t.details, t.quantity, t.product_id, t.lot, "
    "t.from_location_id, t.tour_id, t.tote_no, t.order_line_id, t.reservation_id, t.depends_on_task_id, dep.state, "
    "s.code, s.check_digits, r.quantity, q.id, q.location_id, q.container_id, q.lot, q.expiry, "
    "p.sku, t.expiry, d.code, d.check_digits, c.code, t.priority, t.zone_id, t.wave_id, t.sequence, t.reference, "
    "ol.order_id "
    "FROM task AS t LEFT JOIN task AS dep ON dep.id = t.depends_on_task_id "
    "LEFT JOIN order_line AS ol ON ol.id = t.order_line_id "
    "LEFT JOIN location AS s ON s.id = t.from_location_id LEFT JOIN location AS d ON d.id = t.to_location_id "
    "LEFT JOIN product AS p ON p.id = t.product_id LEFT JOIN container AS c ON c.id = t.container_id "
    "LEFT JOIN reservation AS r ON r.id = t.reservation_id LEFT JOIN quant AS q ON q.id = r.quant_id "
    "WHERE t.id = :id{for_update_of t}")
# The task's tote slot: its order rows and the totes bound to it (none yet, or one). A statement of its own, after
# the lock: on PostgreSQL a locking read that waited for another transaction (a supervisor moving the pick to a new
# slot) gets the task row as that transaction left it, but subqueries of the same statement still see the slots as
# they were before, and the pick would be refused for a slot that was not there yet. (`container_id + 0`: a bare
# MIN/MAX(container_id) is planned as a walk of the container_id index through every bound tote of the site.)
_SLOT = (
    "SELECT COUNT(*), MIN(tt.container_id + 0), MAX(tt.container_id + 0) FROM task AS t "
    "JOIN tour_tote AS tt ON tt.tour_id = t.tour_id AND tt.tote_no = t.tote_no WHERE t.id = :id")


def ahead_load(session: Session, task_id: int) -> None:
    """Send load_pick's reads ahead (backend.sql): send it before the other reads of a confirm, so that they run
    once the task is locked (and see what a transaction that held the lock changed)."""
    db = Raw.of(session)
    db.prefetch(_LOAD, id=task_id)
    db.prefetch(_SLOT, id=task_id)


def read_keys(task: PickRow, worker_id: int) -> list[tuple]:
    """What a confirm read ahead depends on (backend.commands.batch_reads.changed_since_read): the task, the
    replenishment it waits for, its tour (the tote slots) and what the worker holds."""
    return [("task", task.id), ("task", task.depends_on_task_id), ("tour", task.tour_id), ("worker", worker_id)]


def load_pick(session: Session, task_id: int) -> PickRow | None:
    """The task row, locked for this transaction on PostgreSQL (SQLite's writer lock already is one)."""
    db = Raw.of(session)
    row = db.one(_LOAD, id=task_id)
    if row is None:
        return None
    (id_, site_id, kind, state, holder, version, details, quantity, product_id, lot, from_location_id, tour_id,
     tote_no, order_line_id, reservation_id, depends_on, dependency_state, code, digits, reserved, quant_id,
     quant_location_id, quant_container_id, quant_lot, quant_expiry, sku, expiry, to_code, to_digits, lpn, priority,
     zone_id, wave_id, sequence, reference, order_id) = row
    slot_rows, slot_min, slot_max = db.one(_SLOT, id=task_id)
    # (The slot's tote, the last column, is the scanned one after a confirm; a done pick's container is its tote.)
    view = TaskView(
        id=id_, kind=kind, state=state, priority=priority, version=version, assigned_to=holder, sku=sku,
        quantity=quantity, lot=lot or None, expiry=db.date_text(expiry) or None, from_location=code,
        to_location=to_code, to_check_digits=to_digits, lpn=lpn, zone_id=zone_id, wave_id=wave_id, tour_id=tour_id,
        sequence=sequence, tote_no=tote_no, tote=lpn if state == "done" else None,
        waits_for_task=depends_on if dependency_state not in (None, "done") else None, reference=reference)
    return PickRow(id_, site_id, kind, state, holder, version, db.loads(details), quantity, product_id, lot or "",
                   from_location_id, tour_id, tote_no, order_line_id, reservation_id, depends_on, dependency_state,
                   code, digits, reserved, quant_id, quant_location_id, quant_container_id, quant_lot, quant_expiry,
                   order_id, slot_rows, frozenset(c for c in (slot_min, slot_max) if c is not None), view)


def _check_pickable(task: PickRow) -> None:
    require_workable(task, "pick")
    if task.depends_on_task_id and task.dependency_state not in (None, "done"):
        raise Conflict(f"task {task.id} waits for replenishment task {task.depends_on_task_id}",
                       code="waits_for_replenishment", details={"task_id": task.depends_on_task_id})


_TOTE = "SELECT id, kind, code FROM container WHERE site_id = :site_id AND (code = :code OR sscc = :code)"
# The tote slots a scanned tote is bound to while it is in use (sent ahead with the tote's own read): on a cart
# of an open tour, or still holding picked stock (a full tote waits to be packed, whatever its tour did since).
# The tour's status by a scalar subquery: joined, a generic plan scanned every tour, for every confirm.
_TOTE_SLOTS = (
    "SELECT tt.tour_id, tt.tote_no FROM container AS c JOIN tour_tote AS tt ON tt.container_id = c.id "
    "WHERE c.site_id = :site_id AND (c.code = :code OR c.sscc = :code) "
    "AND ((SELECT tour.status FROM tour WHERE tour.id = tt.tour_id) IN ('pending', 'picking') "
    "OR EXISTS (SELECT 1 FROM quant WHERE quant.container_id = c.id AND quant.on_hand > 0))")
_BIND = "UPDATE tour_tote SET container_id = :tote_id WHERE tour_id = :tour_id AND tote_no = :tote_no"


def _bind_tote(session: Session, task: PickRow, raw: str, *, bind: bool = True) -> tuple[int, str]:
    """The scanned tote (id, code), bound to the task's tote slot if the slot has none yet (unless not `bind`:
    only checked, as a scan is checked before the pick is confirmed)."""
    db = Raw.of(session)
    scanned = {"site_id": task.site_id, "code": raw.strip()}  # (as ahead_of_confirm sent the reads ahead)
    found = db.one(_TOTE, **scanned)
    if found is None:
        tote = container_by_scan(session, task.site_id, raw, "tote", "tote")  # a GS1 or AIM-marked scan
        found = (tote.id, tote.kind, tote.code)
        scanned["code"] = tote.code
    tote_id, kind, code = found
    if kind != "tote":
        raise NotFound(f"no tote {raw.strip()[:40]!r} here", code="unknown_tote", details={"field": "tote"})
    if not task.slot_rows:
        raise Conflict(f"task {task.id} has no tote slot", code="no_tote_slot")
    bound = task.slot_totes
    if bound and tote_id not in bound:
        raise Invalid(f"Wrong tote: {code} is not the tote of slot {task.tote_no}", code="wrong_tote",
                      details={"field": "tote"})
    if not bound:
        if changed_since_read(session, [("tote", tote_id)]):
            db.forget_prefetch(_TOTE_SLOTS, **scanned)  # an earlier command of this batch bound it: read again
        if any(slot != (task.tour_id, task.tote_no) for slot in db.all(_TOTE_SLOTS, **scanned)):
            raise Conflict(f"Tote {code} is in use on another cart: take an empty one", code="tote_in_use",
                           details={"field": "tote"})
        if bind:
            db.send_write(_BIND, tote_id=tote_id, tour_id=task.tour_id, tote_no=task.tote_no)
            note_changed(session, [("tote", tote_id)])
    return tote_id, code


def bind_tote(session: Session, task: PickRow, raw: str) -> tuple[int, str]:
    """Bind the scanned tote to the pick's tote slot (id, code), as its first pick would."""
    return _bind_tote(session, task, raw)


def check_tote(session: Session, task: PickRow, raw: str) -> str:
    """The tote a pick would go into if confirmed with this scan (its code), or the refusal a confirm would get."""
    return _bind_tote(session, task, raw, bind=False)[1]


def ahead_of_confirm(session: Session, site_id: int | None, product: str, tote: str) -> None:
    """Send the lookups a confirm of these scans will make, ahead (one round trip with the task's own)."""
    if site_id is not None:
        ahead_product_scan(session, site_id, product)
        db = Raw.of(session)
        db.prefetch(_TOTE, code=tote.strip(), site_id=site_id)
        db.prefetch(_TOTE_SLOTS, code=tote.strip(), site_id=site_id)  # (needed by a slot's first pick)


# (Both quants change: the tote's is found by its stock key, so every loaded one is read again.)
_TAKE = Write("UPDATE quant SET reserved = reserved - :quantity, on_hand = on_hand - :quantity "
              "WHERE id = :quant_id AND reserved >= :quantity RETURNING id", (Quant, None))
# In a batch of commands on PostgreSQL nobody waits for the take's answer: taking stock nobody reserved
# breaks the quant's CHECK (reserved >= 0), which fails the batch where it is sent (with the next
# command's first read, or with the COMMIT); the batch is then undone and its commands run one by one,
# where the guarded _TAKE refuses this pick. (A quant gone altogether fails the move's foreign key.)
_TAKE_IN_BATCH = Write("UPDATE quant SET reserved = reserved - :quantity, on_hand = on_hand - :quantity "
                       "WHERE id = :quant_id", (Quant, None))
_INTO = (
    "INSERT INTO quant (site_id, product_id, location_id, container_id, lot, expiry, stock_key, on_hand, reserved, "
    "received_at) VALUES (:site_id, :product_id, :location_id, :tote_id, :lot, :expiry, :stock_key, :quantity, 0, "
    ":now) ON CONFLICT (site_id, stock_key) DO UPDATE SET on_hand = quant.on_hand + excluded.on_hand")
_MOVE_INTO = (
    "INSERT INTO move (site_id, product_id, lot, expiry, quantity, from_location_id, to_location_id, "
    "from_container_id, to_container_id, from_quant_id, to_quant_id, reason, reference, user_id, created_at) ")
_MOVE_ROW = ":site_id, :product_id, :lot, :expiry, :quantity, :location_id, :location_id, :from_container_id, :tote_id, :quant_id"
_MOVE = (_MOVE_INTO + f"VALUES ({_MOVE_ROW}, (SELECT id FROM quant WHERE site_id = :site_id AND stock_key = :stock_key), "
         "'pick', :reference, :user_id, :now)")
_RESERVATION = Write("UPDATE reservation SET quantity = quantity - :quantity WHERE id = :reservation_id",
                     (Reservation, "reservation_id"))
_LINE_PICKED = Write("UPDATE order_line SET quantity_picked = quantity_picked + :quantity WHERE id = :order_line_id",
                     (OrderLine, "order_line_id"))


def _reservation_gone() -> Conflict:
    return Conflict("the reservation behind this pick is gone", code="reservation_missing")


def _take_params(db: Raw, task: PickRow, quantity: int, tote_id: int, user_id: int) -> dict:
    """The parameters of a pick's ledger writes (_RESERVATION, _LINE_PICKED, _INTO, _MOVE, the take)."""
    if task.quant_id is None:
        raise _reservation_gone()
    if task.quant_location_id != task.from_location_id:
        raise Conflict("the reserved stock is not at the pick location yet", code="waits_for_replenishment")
    # The tote's stock keeps the location where it was picked until it is packed.
    destination = StockIdentity(task.product_id, task.quant_location_id, tote_id, task.quant_lot or "",
                                None).key + db.date_text(task.quant_expiry)
    return {"quantity": quantity, "reservation_id": task.reservation_id, "order_line_id": task.order_line_id,
            "site_id": task.site_id, "product_id": task.product_id, "location_id": task.quant_location_id,
            "tote_id": tote_id, "lot": task.quant_lot or "", "expiry": task.quant_expiry, "stock_key": destination,
            "now": db.when(utcnow()), "from_container_id": task.quant_container_id, "quant_id": task.quant_id,
            "reference": f"task:{task.id}", "user_id": user_id}


def _take(session: Session, task: PickRow, params: dict) -> Pending | None:
    """Move the quantity (`params`: _take_params) from the reserved quant into the tote (a ledger move) and
    consume the reservation.

    Sent, not waited for (backend.sql): the caller checks the answer with `_taken` as late as it can
    (in a batch on PostgreSQL there is no answer to check: see _TAKE_IN_BATCH).
    A pick face of a fast mover is everyone's: its quant row stays locked from this UPDATE to the
    COMMIT, so the less happens in between, the less the next picker of that face waits.
    """
    db = Raw.of(session)
    for sql in (_RESERVATION, _LINE_PICKED, _INTO, _MOVE):
        db.send_write(sql, **params)
    return _send_take(session, _TAKE, _TAKE_IN_BATCH, params)


def _send_take(session: Session, guarded: str, in_batch: str, params: dict) -> Pending | None:
    """Send the statement with the stock take: in a batch on PostgreSQL the one nobody waits for (see
    _TAKE_IN_BATCH), else the guarded one, whose answer `_taken` checks."""
    db = Raw.of(session)
    if db.postgres and batch_reads.in_batch(session):
        db.send_write(in_batch, **params)
        return None
    return db.send_read(guarded, **params)


def _taken(session: Session, taken: Pending | None) -> None:
    """The take went through (else the reservation was gone: the command is refused, nothing booked)."""
    if taken is not None and taken.one() is None:
        raise _reservation_gone()


# (`task.id <> :task_id`: the task just picked is done, whether or not its UPDATE ran before this one.)
_TOUR_PROGRESS = Write(
    "UPDATE tour SET status = CASE WHEN EXISTS (SELECT 1 FROM task WHERE task.tour_id = :tour_id "
    f"AND task.kind = 'pick' AND task.state IN {_WORK_TO_COME} AND task.id <> :task_id) "
    "THEN 'picking' ELSE 'picked' END WHERE id = :tour_id", (Tour, "tour_id"))
# (The order id as a plain parameter: PostgreSQL plans a correlated EXISTS against a subquery's
# result as a scan of every task.)
_ORDER_OF_LINE = "SELECT order_id FROM order_line WHERE id = :line_id"
_ORDER_PROGRESS = Write(
    "UPDATE outbound_order SET status = CASE WHEN EXISTS (SELECT 1 FROM order_line JOIN task "
    "ON task.order_line_id = order_line.id WHERE order_line.order_id = :order_id AND task.kind = 'pick' "
    f"AND task.state IN {_WORK_TO_COME} AND task.id <> :task_id) THEN 'picking' ELSE 'picked' END, "
    "updated_at = :now WHERE id = :order_id AND status IN ('in_wave', 'picking')", (Order, "order_id"))


def _progress(session: Session, task_id: int, tour_id: int | None, order_line_id: int | None,
              order_id: int | None = None) -> None:
    """Tour and order follow their picks: picking, then picked when none is open."""
    db = Raw.of(session)
    if tour_id is not None:
        db.send_write(_TOUR_PROGRESS, tour_id=tour_id, task_id=task_id)
    if order_id is None and order_line_id is not None:
        order_id = db.scalar(_ORDER_OF_LINE, line_id=order_line_id)
    if order_id is not None:
        db.send_write(_ORDER_PROGRESS, now=db.when(utcnow()), order_id=order_id, task_id=task_id)


_DONE = Write(
    "UPDATE task SET state = 'done', done_at = :now, updated_at = :now, container_id = :tote_id, "
    "version = version + 1, details = :details, assigned_to = :user_id WHERE id = :task_id", (Task, "task_id"))


# PostgreSQL, in the confirm's statement: `order.picked` when this pick leaves its order none open (order_ is
# _ORDER_PROGRESS's RETURNING; the lines are read as before the statement, so this pick's units are added).
# Keep it saying what payloads.order_event says (tests/api/test_webhook_events.py compares them).
_ORDER_PICKED_EVENT = (
    "INSERT INTO integration_event (site_id, type, occurred_at, payload) "
    "SELECT o.site_id, 'order.picked', :now, json_build_object("
    "'order', json_build_object('id', o.id, 'reference', o.reference, 'customer', o.customer, 'carrier', o.carrier, "
    "'service', o.service, 'status', o.status), "
    "'lines', (SELECT json_agg(json_build_object('line_no', ol.line_no, 'sku', p.sku, 'quantity', ol.quantity, "
    "'allocated', ol.quantity_allocated, 'picked', ol.quantity_picked "
    "+ CASE WHEN ol.id = :order_line_id THEN :quantity ELSE 0 END) ORDER BY ol.line_no) "
    "FROM order_line AS ol JOIN product AS p ON p.id = ol.product_id WHERE ol.order_id = o.id)) "
    "FROM order_ AS o WHERE o.status = 'picked'")
_ORDER_STATUS = "SELECT status FROM outbound_order WHERE id = :order_id"


def _announce_picked(session: Session, order_id: int | None, before: str | None) -> None:
    """`order.picked` if the order just became picked (its status read before the pick was booked)."""
    if order_id is None or before == "picked":
        return
    if Raw.of(session).scalar(_ORDER_STATUS, order_id=order_id) == "picked":
        payloads.order_event(session, session.get(Order, order_id), "order.picked", status="picked")


def _book_pick_statement(take: str) -> str:
    """PostgreSQL: a confirmed pick's writes as one statement (one parse, plan and execution, not nine).

    Its parts see the database as it was before the statement, none sees another's rows: the move gets
    the tote's quant from _INTO's RETURNING, and the progress of tour and order leaves the task out.
    No two parts write the same row (the take is the pick face's quant, _INTO the tote's).
    """
    move = _MOVE.replace("(SELECT id FROM quant WHERE site_id = :site_id AND stock_key = :stock_key)",
                         "(SELECT id FROM into_)")
    text = (f"WITH reservation_ AS ({_RESERVATION}), line_ AS ({_LINE_PICKED}), into_ AS ({_INTO} RETURNING id), "
            f"move_ AS ({move}), take_ AS ({take}), done_ AS ({_DONE}), tour_ AS ({_TOUR_PROGRESS}), "
            f"order_ AS ({_ORDER_PROGRESS} RETURNING id, site_id, reference, customer, carrier, service, status), "
            f"picked_ AS ({_ORDER_PICKED_EVENT}), audit_ AS ({audit.INSERT}), position_ AS ({SET_POSITION}) "
            + ("SELECT id FROM take_" if "RETURNING" in take else "SELECT 1"))
    return Write(text, *(change for part in (_RESERVATION, _LINE_PICKED, take, _DONE, _TOUR_PROGRESS, _ORDER_PROGRESS,
                                             SET_POSITION) for change in part.changes))


_BOOK_PICK = _book_pick_statement(_TAKE)
_BOOK_PICK_IN_BATCH = _book_pick_statement(_TAKE_IN_BATCH)


def confirm_pick(session: Session, task: PickRow, *, location: str, product: str, tote: str, quantity: int,
                 user_id: int) -> tuple[dict, Callable[[], None]]:
    """Book a pick into its tote and mark the task done (by `user_id`).

    Returns the result (with the task's view after it) and `settle`, to call as late as possible before
    the COMMIT: it checks that the stock was taken (see _take). On PostgreSQL the worker's position (at
    the pick location) is written too (transitions.completed(..., position_written=True)).
    """
    _check_pickable(task)
    verify_location(LocationRef(task.from_location_id, task.location_code, task.check_digits), location)
    verify_product(session, task.site_id, product, task.product_id, task.from_location_id, task.lot)
    if quantity != task.quantity:
        raise Invalid(f"pick {task.quantity}, or report a short pick", code="wrong_quantity",
                      details={"field": "quantity", "expected": task.quantity})
    tote_id, tote_code = _bind_tote(session, task, tote)
    db = Raw.of(session)
    params = _take_params(db, task, quantity, tote_id, user_id)
    params.update(task_id=task.id, tour_id=task.tour_id, order_id=task.order_id,
                  details=db.json({**(task.details or {}), "picked": quantity, "confirmed_by": user_id}))
    params |= audit.params(db, {"user_id": user_id, "site_id": task.site_id, "action": "task.confirm_pick",
                              "entity": "task", "entity_id": task.id, "before": {"state": task.state},
                              "after": {"state": "done", "quantity": quantity}})
    if db.postgres:
        params["empty"] = db.json([])  # (a worker profile made by SET_POSITION)
        taken = _send_take(session, _BOOK_PICK, _BOOK_PICK_IN_BATCH, params)
        outbox.written_unnumbered(session)  # (order.picked, in the statement; numbered after the COMMIT)
    else:
        before = db.scalar(_ORDER_STATUS, order_id=task.order_id) if task.order_id is not None else None
        taken = _take(session, task, params)
        db.send_write(_DONE, **params)
        _progress(session, task.id, task.tour_id, task.order_line_id, task.order_id)
        db.send_write(audit.INSERT, **params)
        _announce_picked(session, task.order_id, before)
    view = task.view._replace(state="done", version=task.version + 1, assigned_to=user_id, lpn=tote_code,
                              tote=tote_code)
    return {"picked": quantity, "view": view.as_message()}, lambda: _taken(session, taken)


_SHORT_PICK_COUNT_PRIORITY = 10  # a location found short is counted before anything else there


def short_pick(session: Session, site: Site, task: Task, *, location: str, found: int, reason: str,
               product: str | None, tote: str | None, user_id: int, today: datetime | None = None) -> dict:
    row = load_pick(session, task.id)
    _check_pickable(row)
    loc = session.get(Location, task.from_location_id)
    verify_location(loc, location)
    if not 0 <= found < task.quantity:
        raise Invalid(f"a short pick finds fewer than {task.quantity}", code="wrong_quantity",
                      details={"field": "found"})
    tote_id = None
    if found:
        if not product or not tote:
            raise Invalid("scan the product and the tote for what was found", code="scan_required",
                          details={"field": "product" if not product else "tote"})
        verify_product(session, site.id, product, task.product_id, loc.id, task.lot)
        tote_id, _ = _bind_tote(session, row, tote)
        _taken(session, _take(session, row, _take_params(Raw.of(session), row, found, tote_id, user_id)))
    missing = task.quantity - found
    reservation = session.get(Reservation, task.reservation_id)
    give_back = min(missing, reservation.quantity)
    session.execute(update(Quant).where(Quant.id == reservation.quant_id)
                    .values(reserved=Quant.reserved - give_back))
    reservation.quantity -= give_back
    session.add(reservation)
    session.execute(update(OrderLine).where(OrderLine.id == task.order_line_id)
                    .values(quantity_allocated=OrderLine.quantity_allocated - missing))
    product_row = session.get(Product, task.product_id)
    exc = WarehouseException(
        site_id=site.id, kind="short_pick", task_id=task.id, raised_by=user_id,
        message=f"{loc.code}: {found} of {task.quantity} × {product_row.sku} found ({reason})"[:500],
        details={"location": loc.code, "sku": product_row.sku, "expected": task.quantity, "found": found,
                 "reason": reason})
    session.add(exc)
    order_before = Raw.of(session).scalar(_ORDER_STATUS, order_id=row.order_id) if row.order_id is not None else None
    count = session.exec(select(Task).where(Task.site_id == site.id, Task.kind == "count", Task.from_location_id == loc.id,
                                            Task.state.in_(WORK_TO_COME_STATES))).first()
    if count is None:
        count = Task(site_id=site.id, kind="count", state="pending", priority=_SHORT_PICK_COUNT_PRIORITY,
                     from_location_id=loc.id, zone_id=loc.zone_id, reference=f"short_pick:{task.id}",
                     details={"blind": True, "cause": "short_pick"})
    elif count.priority > _SHORT_PICK_COUNT_PRIORITY:  # one open count per location: the one there goes first now
        count.priority = _SHORT_PICK_COUNT_PRIORITY
        count.version += 1
        count.updated_at = utcnow()
    session.add(count)
    new_tasks = _reallocate(session, site, task, missing, exclude_location=loc.id, holder=user_id,
                            today=(today or datetime.now(timezone.utc)).date())
    task.state = "done"
    task.done_at = task.updated_at = utcnow()
    task.container_id = tote_id
    task.version += 1
    task.details = {**(task.details or {}), "picked": found, "short": missing, "reason": reason,
                    "confirmed_by": user_id}
    session.add(task)
    session.flush()
    exc.details = {**exc.details, "count_task_id": count.id,
                   "reallocated_task_ids": [t.id for t in new_tasks],
                   "backordered": missing - sum(t.quantity for t in new_tasks)}
    session.add(exc)
    _progress(session, task.id, task.tour_id, task.order_line_id)
    payloads.exception_raised(session, exc)
    _announce_picked(session, row.order_id, order_before)
    audit.record(session, user_id=user_id, site_id=site.id, action="task.short_pick", entity="task",
                 entity_id=task.id, after={"found": found, "missing": missing, "reason": reason})
    for new in new_tasks:
        audit.record(session, user_id=user_id, site_id=site.id, action="task.reallocate", entity="task",
                     entity_id=new.id, after={"state": new.state, "assigned_to": user_id, "from_task": task.id,
                                              "location_id": new.from_location_id, "quantity": new.quantity})
        tell_assigned(session, new, "reallocated")
    return {"picked": found, "short": missing, "exception_id": exc.id, "count_task_id": count.id,
            "reallocated": [{"task_id": t.id, "quantity": t.quantity} for t in new_tasks],
            "backordered": missing - sum(t.quantity for t in new_tasks)}


def _reallocate(session: Session, site: Site, task: Task, missing: int, *, exclude_location: int, holder: int,
                today) -> list[Task]:  # noqa: ANN001
    """New picks for the missing units from other locations, at the end of the same tour, into the same tote,
    held by `holder`: the picker who found the shortage has the tote on their cart."""
    line = session.get(OrderLine, task.order_line_id)
    order = session.get(Order, line.order_id)
    product = session.get(Product, task.product_id)
    rows = session.exec(
        select(Quant, Location.kind, Location.zone_id).join(Location, Location.id == Quant.location_id).where(
            Quant.site_id == site.id, Quant.product_id == product.id, Quant.on_hand > Quant.reserved,
            Quant.location_id != exclude_location, Location.kind.in_(STORAGE_KINDS), Location.active,
            Quant.container_id.is_(None) | (Location.kind == "reserve"))
        .order_by(Quant.id).with_for_update(of=Quant)
    ).all()
    candidates = [core.StockCandidate(q.id, q.product_id, q.location_id, core.LocationKind(kind), q.on_hand - q.reserved,
                                      q.received_at, q.lot, q.expiry, q.container_id) for q, kind, _ in rows]
    if not candidates:
        return []
    result = core.allocate(
        [core.Order(order.id, (core.OrderLine(line.line_no, product.id, missing),), order.cut_off,
                    10 - order.priority, order.min_shelf_life_days, core.BackorderPolicy.ALLOW_PARTIAL)],
        candidates, [core.ProductInfo(product.id, product.expiry_tracked, product.units_per_case)], today=today)
    quants = {q.id: q for q, _, _ in rows}
    zones = {q.id: zone_id for q, _, zone_id in rows}
    next_sequence = session.exec(select(func.max(Task.sequence)).where(Task.tour_id == task.tour_id)).one() or 0
    created = []
    for alloc in result.allocations:
        quant = quants[alloc.quant_id]
        session.execute(update(Quant).where(Quant.id == quant.id).values(reserved=Quant.reserved + alloc.qty))
        reservation = Reservation(site_id=site.id, quant_id=quant.id, order_line_id=line.id, quantity=alloc.qty,
                                  stage=alloc.stage.value, pick_location_id=quant.location_id, wave_id=task.wave_id)
        session.add(reservation)
        session.flush()
        next_sequence += 1
        new = Task(site_id=site.id, kind="pick", state="assigned", assigned_to=holder, priority=task.priority,
                   product_id=product.id, quantity=alloc.qty, lot=quant.lot, expiry=quant.expiry,
                   from_location_id=quant.location_id, wave_id=task.wave_id, tour_id=task.tour_id,
                   sequence=next_sequence, order_line_id=line.id, reservation_id=reservation.id,
                   tote_no=task.tote_no, zone_id=zones[quant.id],
                   container_id=quant.container_id, reference=task.reference,
                   details={"reallocated_from_task": task.id})
        session.add(new)
        created.append(new)
        session.execute(update(OrderLine).where(OrderLine.id == line.id)
                        .values(quantity_allocated=OrderLine.quantity_allocated + alloc.qty))
    session.flush()
    return created
