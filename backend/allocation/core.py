"""Allocation core: which quants serve which order lines.

Plain data in, plain data out. Nothing here touches the database, the web or
the clock: the caller loads quants as `StockCandidate`s, orders as `Order`s,
passes "today", and writes the returned `Allocation`s as reservations (one
transaction per run). The same input always gives the same output, whatever
order the candidates, products or orders arrive in: every sort uses a total
key ending in an id.

Rotation
    Expiry-tracked products rotate FEFO: earliest expiry first, then FIFO by
    `received_at`, then walking order, then quant id. A quant is eligible for
    a line only if `expiry >= today + order.min_shelf_life_days`, so expired
    stock never ships (the minimum is 0 days: a lot expiring today still may),
    and an expiry-tracked quant with no expiry date is never allocated (its
    shelf life cannot be proven). Other products rotate FIFO by `received_at`,
    then walking order, then quant id; their expiry dates are ignored.

Stages (for each line, in this order, each stage walking its quants in
rotation order)
    1. `full_case`: while the line still needs at least one case (product
       `case_qty`), take whole cases from reserve quants. A reserve quant
       holding 30 with a case of 12 gives at most 24 here.
    2. `pick_face`: loose units from pick-face quants.
    3. `pending_replenishment` (only for products in `pending_pick_faces`):
       loose units reserved on a reserve quant but picked at the product's
       pick face once an urgent replenishment has moved them there (see
       `replenishment_planning.plan_urgent_replenishment`). Otherwise
       `reserve`: loose units picked straight from reserve.
    Need 30 with a case of 12: 24 as two full cases from reserve, 6 from the
    pick face; if reserve holds no full case, all 30 from the pick face, and
    whatever the pick face lacks from reserve (stage 3).

Rotation within stages, not across them
    FEFO decides which quant to use *within* a stage; the stage order decides
    before it. So a full case from reserve may expire later than loose units
    sitting on the pick face, and the pick face is emptied before a reserve
    quant with an earlier expiry is broken open for loose units. That is the
    deliberate trade: case picks and pick-face picks are the cheap moves, and
    the pick face itself is refilled FEFO from reserve, so the two streams
    drift by at most about one replenishment cycle. The minimum shelf life is
    enforced in every stage: no stage ever gives a customer a lot shorter than
    it asked for. (Strict FEFO across stages would break full cases open and
    send pickers to reserve for single units; a site that needs it should not
    give case quantities, and should allocate pick faces only after
    replenishing them.)

Competition for scarce stock
    Orders are served one after the other, in a total order: earlier cut-off
    first (no cut-off: last), then higher priority, then order id; lines in
    line-number order. Cut-off and priority belong to the order, so all lines
    of an order are served together, before any later order.

Backorder policies (per order)
    `allow_partial`  allocate what is there, backorder the rest of each line.
    `fill_or_kill`   each line is allocated in full or not at all; a line that
                     cannot be filled is backordered whole and its stock stays
                     free for the lines and orders after it.
    `ship_complete`  the order is allocated in full or not at all. Its lines
                     are allocated tentatively (later lines see what earlier
                     lines of the same order took); if any line falls short,
                     every tentative take is given back *before the next
                     order is served*. Because an order's lines are contiguous
                     in the competition order, no other order has yet seen
                     the stock the failed order held, so giving it back right
                     away is exactly as if the order had never taken it: every
                     later order competes for it as usual, and no earlier order
                     could have wanted it (they were served while it was still
                     free). No reservation is left behind for the order.
    A line ordered in cases (`unit=case`) is allocated in whole cases only; a
    remainder that is not a whole case is backordered.

Consumption
    The core tracks what it has taken from each quant, so across all lines of
    one run no quant gives more than its `available`. `reserved_by_quant` in
    the result is the total per quant (what the service adds to `reserved`);
    `remaining_stock()` turns it back into candidates for a next step.

Speed
    Candidates are indexed once by product and kind and sorted once. Each
    stage keeps a pointer past its exhausted prefix, and the shelf-life
    threshold is found by bisection on the expiry dates, so a line only looks
    at the quants it takes from (plus any still-live quants skipped because a
    stricter line used a later lot). No step is quadratic in lines or quants.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TypeAlias

from backend.location_kinds import STORAGE_KINDS, LocationKind

QuantId: TypeAlias = int
ProductId: TypeAlias = int
LocationId: TypeAlias = int
OrderId: TypeAlias = int | str
ContainerId: TypeAlias = int


class AllocationInputError(ValueError):
    """The input cannot be allocated as given (a caller bug, not a stock shortage)."""


class UnknownProduct(AllocationInputError):
    pass


class DuplicateId(AllocationInputError):
    pass


class OrderUnit(StrEnum):
    EACH = "each"
    CASE = "case"


class BackorderPolicy(StrEnum):
    ALLOW_PARTIAL = "allow_partial"
    SHIP_COMPLETE = "ship_complete"
    FILL_OR_KILL = "fill_or_kill"


class AllocationStage(StrEnum):
    FULL_CASE = "full_case"
    PICK_FACE = "pick_face"
    RESERVE = "reserve"
    PENDING_REPLENISHMENT = "pending_replenishment"


class LineStatus(StrEnum):
    ALLOCATED = "allocated"
    PARTLY_ALLOCATED = "partly_allocated"
    BACKORDERED = "backordered"


class OrderStatus(StrEnum):
    ALLOCATED = "allocated"
    PARTLY_ALLOCATED = "partly_allocated"
    BACKORDERED = "backordered"


class BackorderReason(StrEnum):
    # The line's own eligible stock did not cover it (after earlier lines and orders).
    INSUFFICIENT_STOCK = "insufficient_stock"
    # The line could have been covered, but its ship_complete order could not.
    ORDER_INCOMPLETE = "order_incomplete"


# --------------------------------------------------------------------- input


def _positive_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AllocationInputError(f"{what} must be a positive integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class StockCandidate:
    """One quant that could serve demand: `available` is on_hand - reserved."""

    quant_id: QuantId
    product_id: ProductId
    location_id: LocationId
    location_kind: LocationKind
    available: int
    received_at: datetime
    lot: str = ""
    expiry: date | None = None
    container_id: ContainerId | None = None
    walk_key: int | None = None  # the location's walking sequence; last tie-break before quant id

    def __post_init__(self) -> None:
        if self.location_kind not in STORAGE_KINDS:  # stock is allocated only where it is stored
            raise AllocationInputError(
                f"quant {self.quant_id}: location kind {self.location_kind!r} is not pick_face or reserve"
            )
        object.__setattr__(self, "location_kind", LocationKind(self.location_kind))
        if isinstance(self.available, bool) or not isinstance(self.available, int) or self.available < 0:
            raise AllocationInputError(f"quant {self.quant_id}: available must be an integer >= 0")


@dataclass(frozen=True, slots=True)
class ProductInfo:
    product_id: ProductId
    expiry_tracked: bool = False
    case_qty: int | None = None  # units per case

    def __post_init__(self) -> None:
        if self.case_qty is not None:
            _positive_int(self.case_qty, f"product {self.product_id}: case_qty")


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_no: int
    product_id: ProductId
    qty: int  # always in units (eaches), also when ordered in cases
    unit: OrderUnit = OrderUnit.EACH

    def __post_init__(self) -> None:
        _positive_int(self.qty, f"line {self.line_no}: qty")
        try:
            object.__setattr__(self, "unit", OrderUnit(self.unit))
        except ValueError:
            raise AllocationInputError(
                f"line {self.line_no}: unit {self.unit!r} is not each or case"
            ) from None


@dataclass(frozen=True, slots=True)
class Order:
    order_id: OrderId
    lines: tuple[OrderLine, ...]
    cut_off: datetime | None = None
    priority: int = 0  # higher is served first (after cut-off)
    min_shelf_life_days: int = 0  # the customer's minimum remaining shelf life at `today`
    backorder_policy: BackorderPolicy = BackorderPolicy.ALLOW_PARTIAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(sorted(self.lines, key=lambda line: line.line_no)))
        if not self.lines:
            raise AllocationInputError(f"order {self.order_id} has no lines")
        try:
            object.__setattr__(self, "backorder_policy", BackorderPolicy(self.backorder_policy))
        except ValueError:
            raise AllocationInputError(
                f"order {self.order_id}: unknown backorder policy {self.backorder_policy!r}"
            ) from None
        if not isinstance(self.min_shelf_life_days, int) or self.min_shelf_life_days < 0:
            raise AllocationInputError(f"order {self.order_id}: min_shelf_life_days must be >= 0")
        line_nos = [line.line_no for line in self.lines]
        if len(set(line_nos)) != len(line_nos):
            raise DuplicateId(f"order {self.order_id}: duplicate line numbers")


# -------------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class Allocation:
    """Reserve `qty` of `quant_id` for one order line.

    `location_id` is where the quant is now; `pick_location_id` is where it
    will be picked (the pick face, for `pending_replenishment`).
    """

    order_id: OrderId
    line_no: int
    product_id: ProductId
    quant_id: QuantId
    location_id: LocationId
    lot: str
    qty: int
    stage: AllocationStage
    pick_location_id: LocationId
    container_id: ContainerId | None = None


@dataclass(frozen=True, slots=True)
class LineResult:
    order_id: OrderId
    line_no: int
    product_id: ProductId
    ordered_qty: int
    allocated_qty: int
    backordered_qty: int
    status: LineStatus
    backorder_reason: BackorderReason | None = None


@dataclass(frozen=True, slots=True)
class OrderResult:
    order_id: OrderId
    status: OrderStatus
    allocated_qty: int
    backordered_qty: int


class Event:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class LineAllocated(Event):
    """Some or all of a line was allocated (`qty` units)."""

    order_id: OrderId
    line_no: int
    product_id: ProductId
    qty: int


@dataclass(frozen=True, slots=True)
class LineBackordered(Event):
    order_id: OrderId
    line_no: int
    product_id: ProductId
    qty: int
    reason: BackorderReason


@dataclass(frozen=True, slots=True)
class OrderAllocated(Event):
    order_id: OrderId


@dataclass(frozen=True, slots=True)
class OrderPartlyAllocated(Event):
    order_id: OrderId
    allocated_qty: int
    backordered_qty: int


@dataclass(frozen=True, slots=True)
class OrderBackordered(Event):
    order_id: OrderId
    backordered_qty: int


@dataclass(frozen=True)
class AllocationResult:
    """Everything is in competition order (the order lines were served in)."""

    allocations: tuple[Allocation, ...]
    lines: dict[tuple[OrderId, int], LineResult]
    orders: dict[OrderId, OrderResult]
    events: tuple[Event, ...]
    reserved_by_quant: dict[QuantId, int]

    def line(self, order_id: OrderId, line_no: int) -> LineResult:
        return self.lines[(order_id, line_no)]

    def order(self, order_id: OrderId) -> OrderResult:
        return self.orders[order_id]

    def allocations_for(self, order_id: OrderId, line_no: int | None = None) -> list[Allocation]:
        return [
            a
            for a in self.allocations
            if a.order_id == order_id and (line_no is None or a.line_no == line_no)
        ]


# ------------------------------------------------------------------ ordering


def stock_rotation_key(candidate: StockCandidate, expiry_tracked: bool) -> tuple:
    """Total sort key: FEFO (then FIFO) for expiry-tracked products, else FIFO."""
    walk = candidate.walk_key
    tail = (candidate.received_at, walk is None, walk or 0, candidate.quant_id)
    if expiry_tracked:
        expiry = candidate.expiry
        return (expiry is None, expiry or date.max, *tail)
    return tail


def competition_key(order: Order) -> tuple:
    """Earlier cut-off first (none: last), then higher priority, then order id."""
    cut_off = order.cut_off
    return (cut_off is None, cut_off or datetime.min, -order.priority, order.order_id)


def remaining_stock(
    candidates: Iterable[StockCandidate], reserved_by_quant: Mapping[QuantId, int]
) -> tuple[StockCandidate, ...]:
    """The candidates minus what a run reserved; quants left with nothing are dropped."""
    remaining = []
    for candidate in candidates:
        taken = reserved_by_quant.get(candidate.quant_id, 0)
        if candidate.available - taken > 0:
            remaining.append(
                replace(candidate, available=candidate.available - taken) if taken else candidate
            )
    return tuple(remaining)


def index_products(products: Iterable[ProductInfo]) -> dict[ProductId, ProductInfo]:
    by_id: dict[ProductId, ProductInfo] = {}
    for product in products:
        known = by_id.setdefault(product.product_id, product)
        if known != product:
            raise DuplicateId(f"product {product.product_id} given twice, differently")
    return by_id


# --------------------------------------------------------------- stock index


class _ProductStock:
    """One product's eligible quants, sorted once, with scan pointers.

    Lists hold indexes into the run's candidate/available arrays. The pointers
    skip a prefix that is exhausted for that stage; taking only ever moves
    them forward, giving back moves them back to the returned quant.
    """

    __slots__ = (
        "pick", "reserve", "pick_expiry", "reserve_expiry",
        "pick_ptr", "reserve_ptr", "case_ptr", "case_qty", "fefo",
    )

    def __init__(self, case_qty: int | None, fefo: bool) -> None:
        self.pick: list[int] = []
        self.reserve: list[int] = []
        self.pick_expiry: list[int] = []  # expiry ordinals, aligned with `pick` (FEFO only)
        self.reserve_expiry: list[int] = []
        self.pick_ptr = 0
        self.reserve_ptr = 0
        self.case_ptr = 0
        self.case_qty = case_qty
        self.fefo = fefo


class _StockIndex:
    def __init__(
        self,
        candidates: Iterable[StockCandidate],
        products: Mapping[ProductId, ProductInfo],
        demanded: set[ProductId],
        today: date,
    ) -> None:
        self.candidates: list[StockCandidate] = []
        self.available: list[int] = []
        self.position: list[int] = []  # index of each candidate in its product list
        self.by_product: dict[ProductId, _ProductStock] = {}
        seen: set[QuantId] = set()
        grouped: dict[ProductId, list[StockCandidate]] = {}
        for candidate in candidates:
            if candidate.quant_id in seen:
                raise DuplicateId(f"quant {candidate.quant_id} given twice")
            seen.add(candidate.quant_id)
            if candidate.product_id not in demanded or candidate.available <= 0:
                continue
            if products[candidate.product_id].expiry_tracked and (
                candidate.expiry is None or candidate.expiry < today
            ):
                continue  # can never be eligible in this run
            grouped.setdefault(candidate.product_id, []).append(candidate)

        for product_id in demanded:
            product = products[product_id]
            stock = _ProductStock(product.case_qty, product.expiry_tracked)
            self.by_product[product_id] = stock
            found = grouped.get(product_id)
            if not found:
                continue
            fefo = product.expiry_tracked
            found.sort(key=lambda c: stock_rotation_key(c, fefo))
            for candidate in found:
                index = len(self.candidates)
                self.candidates.append(candidate)
                self.available.append(candidate.available)
                if candidate.location_kind is LocationKind.PICK_FACE:
                    self.position.append(len(stock.pick))
                    stock.pick.append(index)
                    if fefo:
                        stock.pick_expiry.append(candidate.expiry.toordinal())
                else:
                    self.position.append(len(stock.reserve))
                    stock.reserve.append(index)
                    if fefo:
                        stock.reserve_expiry.append(candidate.expiry.toordinal())
        self.owner: list[_ProductStock] = [None] * len(self.candidates)  # type: ignore[list-item]
        for stock in self.by_product.values():
            for index in stock.pick:
                self.owner[index] = stock
            for index in stock.reserve:
                self.owner[index] = stock

    def take_for_line(
        self, stock: _ProductStock, want: int, threshold: int, pending: bool
    ) -> tuple[list[tuple[int, int, AllocationStage]], int]:
        """Take up to `want` units through the stages.

        Returns the (candidate index, qty, stage) takes and their total.
        """
        available = self.available
        takes: list[tuple[int, int, AllocationStage]] = []
        remaining = want
        case = stock.case_qty
        reserve = stock.reserve

        if not want:
            return takes, 0
        if case and remaining >= case and reserve:
            n = len(reserve)
            i = stock.case_ptr
            while i < n and available[reserve[i]] < case:
                i += 1
            stock.case_ptr = i
            if stock.fefo:
                i = max(i, bisect_left(stock.reserve_expiry, threshold))
            while i < n and remaining >= case:
                index = reserve[i]
                have = available[index]
                if have >= case:
                    qty = min(remaining // case, have // case) * case
                    available[index] = have - qty
                    remaining -= qty
                    takes.append((index, qty, AllocationStage.FULL_CASE))
                i += 1

        pick = stock.pick
        if remaining and pick:
            remaining = self._take_loose(
                pick, stock.pick_expiry, "pick_ptr", stock, remaining, threshold,
                AllocationStage.PICK_FACE, takes,
            )

        if remaining and reserve:
            stage = AllocationStage.PENDING_REPLENISHMENT if pending else AllocationStage.RESERVE
            remaining = self._take_loose(
                reserve, stock.reserve_expiry, "reserve_ptr", stock, remaining, threshold, stage, takes
            )
        return takes, want - remaining

    def _take_loose(
        self,
        quants: list[int],
        expiries: list[int],
        pointer: str,
        stock: _ProductStock,
        remaining: int,
        threshold: int,
        stage: AllocationStage,
        takes: list[tuple[int, int, AllocationStage]],
    ) -> int:
        available = self.available
        n = len(quants)
        i = getattr(stock, pointer)
        while i < n and not available[quants[i]]:
            i += 1
        setattr(stock, pointer, i)
        if stock.fefo:
            i = max(i, bisect_left(expiries, threshold))
        while i < n and remaining:
            index = quants[i]
            have = available[index]
            if have:
                qty = have if have < remaining else remaining
                available[index] = have - qty
                remaining -= qty
                takes.append((index, qty, stage))
            i += 1
        return remaining

    def give_back(self, takes: list[tuple[int, int, AllocationStage]]) -> None:
        for index, qty, _stage in takes:
            self.available[index] += qty
            stock = self.owner[index]
            position = self.position[index]
            if self.candidates[index].location_kind is LocationKind.PICK_FACE:
                stock.pick_ptr = min(stock.pick_ptr, position)
            else:
                stock.reserve_ptr = min(stock.reserve_ptr, position)
                stock.case_ptr = min(stock.case_ptr, position)


# ------------------------------------------------------------------ allocate


def allocate(
    orders: Iterable[Order],
    candidates: Iterable[StockCandidate],
    products: Iterable[ProductInfo],
    *,
    today: date,
    pending_pick_faces: Mapping[ProductId, LocationId] | None = None,
) -> AllocationResult:
    """Allocate every order line against the candidates; see the module docstring.

    `pending_pick_faces` maps a product to its pick face; for those products
    loose units the pick faces cannot cover are allocated as
    `pending_replenishment` (reserved on a reserve quant, picked at that pick
    face after an urgent replenishment) instead of as loose `reserve` picks.
    """
    product_by_id = index_products(products)
    pending_pick_faces = pending_pick_faces or {}
    ordered = sorted(orders, key=competition_key)
    demanded: set[ProductId] = set()
    seen_orders: set[OrderId] = set()
    for order in ordered:
        if order.order_id in seen_orders:
            raise DuplicateId(f"order {order.order_id} given twice")
        seen_orders.add(order.order_id)
        for line in order.lines:
            product = product_by_id.get(line.product_id)
            if product is None:
                raise UnknownProduct(f"order {order.order_id} line {line.line_no}: product {line.product_id}")
            if line.unit is OrderUnit.CASE and (
                not product.case_qty or line.qty % product.case_qty
            ):
                raise AllocationInputError(
                    f"order {order.order_id} line {line.line_no}: ordered in cases, but {line.qty} "
                    f"is not a whole number of cases of {product.case_qty}"
                )
            demanded.add(line.product_id)

    index = _StockIndex(candidates, product_by_id, demanded, today)
    today_ordinal = today.toordinal()
    record = _Recorder(index.candidates, pending_pick_faces)
    for order in ordered:
        served = _serve_order(order, index, today_ordinal, pending_pick_faces)
        record.order(order, served)
    return record.result()


_Take = tuple[int, int, AllocationStage]  # (candidate index, qty, stage)


def _serve_order(
    order: Order, index: _StockIndex, today_ordinal: int, pending_pick_faces: Mapping[ProductId, LocationId]
) -> list[tuple[OrderLine, list[_Take], int, bool]]:
    """Take stock for each line under the order's policy: (line, takes, qty taken, was short)."""
    threshold = today_ordinal + order.min_shelf_life_days
    fill_or_kill = order.backorder_policy is BackorderPolicy.FILL_OR_KILL
    served = []
    any_short = False
    for line in order.lines:  # already in line-number order
        stock = index.by_product[line.product_id]
        pending = line.product_id in pending_pick_faces
        takes, got = index.take_for_line(stock, line.qty, threshold, pending)
        short = got < line.qty
        if short:
            any_short = True
            if fill_or_kill:
                index.give_back(takes)
                takes, got = [], 0
            elif line.unit is OrderUnit.CASE and got % stock.case_qty:
                # Re-take whole cases only: the stages together reach any total up to what is eligible.
                index.give_back(takes)
                takes, got = index.take_for_line(stock, got - got % stock.case_qty, threshold, pending)
        served.append((line, takes, got, short))
    if any_short and order.backorder_policy is BackorderPolicy.SHIP_COMPLETE:
        # Give everything back before the next order is served (see the module docstring).
        for _line, takes, _got, _short in served:
            index.give_back(takes)
        served = [(line, [], 0, short) for line, _takes, _got, short in served]
    return served


_PENDING = AllocationStage.PENDING_REPLENISHMENT


class _Recorder:
    """Turns served takes into the result's allocations, line/order results and events."""

    def __init__(
        self, candidates: list[StockCandidate], pending_pick_faces: Mapping[ProductId, LocationId]
    ) -> None:
        self.candidates = candidates
        self.pending_pick_faces = pending_pick_faces
        self.allocations: list[Allocation] = []
        self.lines: dict[tuple[OrderId, int], LineResult] = {}
        self.orders: dict[OrderId, OrderResult] = {}
        self.events: list[Event] = []
        self.reserved_by_quant: dict[QuantId, int] = {}

    def order(self, order: Order, served: list[tuple[OrderLine, list[_Take], int, bool]]) -> None:
        order_id = order.order_id
        candidates = self.candidates
        reserved_by_quant = self.reserved_by_quant
        allocations = self.allocations
        events = self.events
        order_allocated = order_backordered = 0
        for line, takes, got, was_short in served:
            line_no = line.line_no
            product_id = line.product_id
            for candidate_index, qty, stage in takes:
                candidate = candidates[candidate_index]
                quant_id = candidate.quant_id
                reserved_by_quant[quant_id] = reserved_by_quant.get(quant_id, 0) + qty
                location_id = candidate.location_id
                allocations.append(
                    Allocation(
                        order_id, line_no, product_id, quant_id, location_id, candidate.lot, qty, stage,
                        self.pending_pick_faces[product_id] if stage is _PENDING else location_id,
                        candidate.container_id,
                    )
                )
            backordered = line.qty - got
            reason = None
            if got:
                events.append(LineAllocated(order_id, line_no, product_id, got))
            if backordered:
                reason = _INSUFFICIENT_STOCK if was_short else _ORDER_INCOMPLETE
                events.append(LineBackordered(order_id, line_no, product_id, backordered, reason))
                status = _LINE_PARTLY_ALLOCATED if got else _LINE_BACKORDERED
            else:
                status = _LINE_ALLOCATED
            self.lines[(order_id, line_no)] = LineResult(
                order_id, line_no, product_id, line.qty, got, backordered, status, reason
            )
            order_allocated += got
            order_backordered += backordered

        if not order_backordered:
            status = OrderStatus.ALLOCATED
            events.append(OrderAllocated(order_id))
        elif order_allocated:
            status = OrderStatus.PARTLY_ALLOCATED
            events.append(OrderPartlyAllocated(order_id, order_allocated, order_backordered))
        else:
            status = OrderStatus.BACKORDERED
            events.append(OrderBackordered(order_id, order_backordered))
        self.orders[order_id] = OrderResult(order_id, status, order_allocated, order_backordered)

    def result(self) -> AllocationResult:
        return AllocationResult(
            allocations=tuple(self.allocations),
            lines=self.lines,
            orders=self.orders,
            events=tuple(self.events),
            reserved_by_quant=self.reserved_by_quant,
        )


_INSUFFICIENT_STOCK = BackorderReason.INSUFFICIENT_STOCK
_ORDER_INCOMPLETE = BackorderReason.ORDER_INCOMPLETE
_LINE_ALLOCATED = LineStatus.ALLOCATED
_LINE_PARTLY_ALLOCATED = LineStatus.PARTLY_ALLOCATED
_LINE_BACKORDERED = LineStatus.BACKORDERED
