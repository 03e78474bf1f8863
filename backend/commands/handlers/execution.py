"""Pick, short pick, replenish, count, pack, close carton, report a pack short, load and ship — as device commands.

The physical fact always wins: a pick confirmed on a task that a supervisor
reassigned or suspended meanwhile is still booked (the stock is in the
tote), the task ends done, whoever holds it now loses it, and a
`task_conflict` exception tells the supervisor. Only a task cancelled
outright is refused, with the conflict raised, since its reservation is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import AliasChoices, Field

from backend.bounds import Id, Quantity, QuantityOrZero, ScanText, Text
from backend.commands.context import CommandContext
from backend.commands.handlers.putaway import raise_conflict
from backend.commands.registry import CommandPayload, CommandSet
from backend.errors import Conflict, NotFound
from backend.execution import counting, packing, picking, replenishing
from backend.models import Site, Task
from backend.sql import Raw
from backend.commands.batch_reads import changed_since_read, note_changed
from backend.roles import PACKING, in_order
from backend.tasks.dispatch import ahead_of_completion, forget_ahead_of_completion
from backend.tasks.states import WORKABLE_STATES
from backend.tasks.transitions import completed
from backend.tasks.views import task_view, task_views

commands = CommandSet()
PACKERS = in_order(PACKING)


class ConfirmPick(CommandPayload):
    task_id: Id
    location: ScanText = Field(min_length=1, max_length=80, description="location barcode, code + check digits, or digits")
    product: ScanText = Field(min_length=1, max_length=512, description="GTIN, GS1 string or LPN, as scanned")
    tote: ScanText = Field(min_length=1, max_length=40)
    quantity: Quantity


class ShortPick(CommandPayload):
    task_id: Id
    location: ScanText = Field(min_length=1, max_length=80)
    found: QuantityOrZero
    reason: Text = Field(min_length=1, max_length=200)
    product: ScanText | None = Field(default=None, max_length=512)
    tote: ScanText | None = Field(default=None, max_length=40)


class ConfirmReplenish(CommandPayload):
    task_id: Id
    from_location: ScanText | None = Field(default=None, min_length=1, max_length=80,
                                      description="the reserve location: barcode, code + check digits, or digits")
    product: ScanText | None = Field(default=None, min_length=1, max_length=512,
                                description="what was taken, as scanned: GTIN, GS1 string (with the lot for a "
                                            "lot-tracked product) or the pallet's LPN/SSCC")
    to_location: ScanText = Field(min_length=1, max_length=80, validation_alias=AliasChoices("to_location", "location"),
                             description="the pick face, scanned like from_location (`location` is the older name)")
    quantity: Quantity | None = Field(default=None, description="units moved (default: the task's quantity)")


class CountLine(CommandPayload):
    product: ScanText = Field(min_length=1, max_length=512, description="SKU, GTIN or GS1 string")
    lot: Text = Field(default="", max_length=64, description="empty: the GS1 string's lot, or the location's only "
                                                            "lot of a lot-tracked product")
    expiry: date | None = Field(default=None, description="for a lot the location did not hold (else the GS1's)")
    quantity: QuantityOrZero


class Count(CommandPayload):
    task_id: Id
    location: ScanText = Field(min_length=1, max_length=80)
    lines: list[CountLine] = Field(max_length=500)


class PackItem(CommandPayload):
    product: ScanText = Field(min_length=1, max_length=512)
    quantity: Quantity


class Pack(CommandPayload):
    """Pack part (or all) of what a tote holds for one order into one new carton; with `weight_kg`, close it too."""

    tote: ScanText = Field(min_length=1, max_length=512, description="the tote, as scanned")
    station: Text = Field(min_length=1, max_length=40, description="the pack bench location")
    items: list[PackItem] = Field(min_length=1, max_length=500)
    order: Text | None = Field(default=None, max_length=64, description="needed when the tote holds several orders")
    carton_type: Text | None = Field(default=None, max_length=16, description="a carton size (packing.CARTON_TYPES)")
    weight_kg: float | None = Field(default=None, gt=0, le=1000, description="close the carton at once, weighed")


class ReportPackShort(CommandPayload):
    """Fewer of a product in the tote than its picks put there: raises a `pack_short` exception."""

    tote: ScanText = Field(min_length=1, max_length=512)
    station: Text = Field(min_length=1, max_length=40)
    product: ScanText = Field(min_length=1, max_length=512, description="SKU or GTIN of the missing item")
    quantity: Quantity
    order: Text | None = Field(default=None, max_length=64)


class Load(CommandPayload):
    """A closed carton scanned onto the load at a dock door."""

    dock: Text = Field(min_length=1, max_length=80)
    carton: ScanText = Field(min_length=1, max_length=512, description="the carton's SSCC label, as scanned")


class CloseCarton(CommandPayload):
    carton: Text = Field(min_length=1, max_length=40)
    station: Text = Field(min_length=1, max_length=40)
    weight_kg: float = Field(gt=0, le=1000)


class PrintCartonLabels(CommandPayload):
    order: Text = Field(min_length=1, max_length=64)
    station: Text = Field(min_length=1, max_length=40, description="the bench or dock whose printer prints them")


class Ship(CommandPayload):
    order: Text = Field(min_length=1, max_length=64)
    dock: Text = Field(min_length=1, max_length=40)


def _claim_for_the_fact(ctx: CommandContext, task, state: str, holder: int | None) -> bool:  # noqa: ANN001
    """Whether the worker held the task (or it was free); a cancelled or finished task is refused, told."""
    mine = state in WORKABLE_STATES and holder in (None, ctx.user_id)
    if state in ("cancelled", "done") and not mine:
        details = {"state": state}
        task_id, site_id = task.id, task.site_id

        def tell_the_supervisor(_session) -> None:  # noqa: ANN001  (the refusal rolls the command back)
            exc = raise_conflict(ctx, _TaskRef(task_id, site_id), state=state, holder=holder,
                                 details={"command": ctx.command_id},
                                 message=f"task {task_id} was reported by user {ctx.user_id} while it was {state}")
            details["exception_id"] = exc.id

        raise Conflict(f"task {task.id} is {state}; the supervisor has been told", code="task_conflict",
                       details=details, after_rollback=tell_the_supervisor)
    return mine


@dataclass(frozen=True)
class _TaskRef:
    id: int
    site_id: int


def _outcome(ctx: CommandContext, task, result: dict, mine: bool, state: str, holder: int | None) -> dict:  # noqa: ANN001
    """The action was booked: "done", or "conflict" with an exception for the supervisor."""
    if mine:
        return {**result, "outcome": "done"}
    exc = raise_conflict(ctx, task, state=state, holder=holder, details={"command": ctx.command_id},
                         message=f"task {task.id} was done by user {ctx.user_id} while it was {state}"
                                 + (f" and held by user {holder}" if holder and holder != ctx.user_id else ""))
    return {**result, "outcome": "conflict", "exception_id": exc.id}


def _run_task_command(ctx: CommandContext, task_id: int, action) -> dict:  # noqa: ANN001
    """Load and lock the task; book the physical action even if the task moved on, and flag the conflict."""
    session = ctx.session
    task: Task = ctx.load_task(task_id)
    site = session.get(Site, task.site_id)
    state, holder = task.state, task.assigned_to
    if state == "done" and (task.details or {}).get("confirmed_by") == ctx.user_id:
        return {"task": task_view(session, task), "outcome": "already_done"}
    mine = _claim_for_the_fact(ctx, task, state, holder)
    if not mine:
        task.state = "in_progress"
    result = _outcome(ctx, task, action(site, task), mine, state, holder)
    task.assigned_to = ctx.user_id
    completed(session, task_view(session, task), task.site_id, ctx.user_id, previous_holder=holder,
              position_location_id=task.from_location_id if task.kind != "replenish" else task.to_location_id)
    return {**result, "task": task_view(session, task)}


def _confirm_pick_prefetch(session, actor, p: ConfirmPick) -> None:  # noqa: ANN001
    """What a confirm will read (the task, the product and tote scanned, where the worker is signed on, whether
    they hold more work): one round trip for all, and for a whole batch of confirms."""
    picking.ahead_load(session, p.task_id)  # (first: the task's lock, then the rest read after it)
    picking.ahead_of_confirm(session, actor.site_id, p.product, p.tote)
    ahead_of_completion(session, actor.user_id, p.task_id)


@commands.command("confirm_pick", payload=ConfirmPick, prefetch=_confirm_pick_prefetch)
def confirm_pick(ctx: CommandContext, p: ConfirmPick) -> dict:
    """The busiest command on the floor: the same rules as _run_task_command, on plain SQL rows."""
    session = ctx.session
    if not ctx.read_ahead:
        _confirm_pick_prefetch(session, ctx.actor, p)
    task = picking.load_pick(session, p.task_id)
    if task is not None and changed_since_read(session, picking.read_keys(task, ctx.user_id)):
        # An earlier command of this batch changed what was read ahead for this one: read it again.
        forget_ahead_of_completion(session, ctx.user_id, p.task_id)
        task = picking.load_pick(session, p.task_id)
    if task is None or not ctx.may_use_site(task.site_id):
        raise NotFound(f"task {p.task_id} not found", code="unknown_task")
    ctx.task_id = task.id
    state, holder = task.state, task.assigned_to
    if state == "done" and (task.details or {}).get("confirmed_by") == ctx.user_id:
        return {"task": task.view.as_message(), "outcome": "already_done"}
    mine = _claim_for_the_fact(ctx, task, state, holder)
    if not mine:
        task.state = "in_progress"
    result, settle = picking.confirm_pick(session, task, location=p.location, product=p.product, tote=p.tote,
                                          quantity=p.quantity, user_id=ctx.user_id)
    view = result.pop("view")
    result = _outcome(ctx, task, result, mine, state, holder)
    completed(session, view, task.site_id, ctx.user_id, previous_holder=holder,
              position_location_id=task.from_location_id,
              position_written=Raw.of(session).postgres)  # (part of the pick's one statement there)
    settle()  # the stock taken last, just before the COMMIT (see picking._take)
    note_changed(session, [("task", task.id), ("tour", task.tour_id), ("worker", ctx.user_id), ("worker", holder)])
    return {**result, "task": view}


@commands.command("short_pick", payload=ShortPick)
def short_pick(ctx: CommandContext, p: ShortPick) -> dict:
    return _run_task_command(ctx, p.task_id, lambda site, task: picking.short_pick(
        ctx.session, site, task, location=p.location, found=p.found, reason=p.reason, product=p.product, tote=p.tote,
        user_id=ctx.user_id))


@commands.command("confirm_replenish", payload=ConfirmReplenish)
def confirm_replenish(ctx: CommandContext, p: ConfirmReplenish) -> dict:
    return _run_task_command(ctx, p.task_id, lambda site, task: replenishing.confirm_replenish(
        ctx.session, site, task, from_location=p.from_location, product=p.product, to_location=p.to_location,
        quantity=p.quantity, user_id=ctx.user_id))


@commands.command("count", payload=Count)
def count(ctx: CommandContext, p: Count) -> dict:
    answer = _run_task_command(ctx, p.task_id, lambda site, task: counting.count_location(
        ctx.session, site, task, location=p.location, lines=[line.model_dump() for line in p.lines],
        user_id=ctx.user_id))
    if answer.get("recount_task_id"):
        # The counter holds the recount at once (pushed as task.assigned too): the answer brings it.
        answer["tasks"] = task_views(ctx.session, [answer["recount_task_id"]])
    return answer


@commands.command("pack", payload=Pack, roles=PACKERS)
def pack(ctx: CommandContext, p: Pack) -> dict:
    return packing.pack_tote(ctx.session, ctx.runtime, ctx.site(), tote=p.tote, station=p.station,
                             items=[i.model_dump() for i in p.items], user_id=ctx.user_id, order=p.order,
                             carton_type=p.carton_type, weight_kg=p.weight_kg)


@commands.command("report_pack_short", payload=ReportPackShort, roles=PACKERS)
def report_pack_short(ctx: CommandContext, p: ReportPackShort) -> dict:
    return packing.report_missing(ctx.session, ctx.site(), tote=p.tote, station=p.station, product=p.product,
                                  quantity=p.quantity, order=p.order, user_id=ctx.user_id)


@commands.command("load", payload=Load, roles=PACKERS)
def load(ctx: CommandContext, p: Load) -> dict:
    return packing.load_carton(ctx.session, ctx.site(), dock=p.dock, carton=p.carton, user_id=ctx.user_id)


@commands.command("close_carton", payload=CloseCarton, roles=PACKERS)
def close_carton(ctx: CommandContext, p: CloseCarton) -> dict:
    return packing.close_carton(ctx.session, ctx.site(), carton=p.carton, weight_kg=p.weight_kg, station=p.station,
                                user_id=ctx.user_id)


@commands.command("print_carton_labels", payload=PrintCartonLabels, roles=PACKERS)
def print_carton_labels(ctx: CommandContext, p: PrintCartonLabels) -> dict:
    """Every carton of a completely packed order labelled again as "n of m" (for carriers that want m on all)."""
    return packing.print_carton_set(ctx.session, ctx.site(), order=p.order, station=p.station, user_id=ctx.user_id)


@commands.command("ship", payload=Ship, roles=PACKERS)
def ship(ctx: CommandContext, p: Ship) -> dict:
    return packing.ship_order(ctx.session, ctx.site(), order_reference=p.order, dock=p.dock, user_id=ctx.user_id)
