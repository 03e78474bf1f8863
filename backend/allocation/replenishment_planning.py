"""Replenishment: moving stock from reserve quants to pick faces.

Plain data in, plain data out, like `core`. Two planners:

`plan_min_max_replenishment`
    For each pick face whose projected quantity (on hand - reserved for picks
    + open inbound replenishments) is below its min, suggest moves from
    reserve that fill it back towards its max. The quantity is whatever fits
    physically (max - on hand - inbound: reserved units are still on the
    shelf until picked), rounded *down* to whole cases when a case quantity
    is known, so a suggestion never overfills the face; a face with less room
    than one case gets nothing this time. Sources are reserve quants in
    FEFO/FIFO order (`core.stock_rotation_key`); with a case quantity only
    whole cases are moved, a reserve quant's loose remainder stays where it
    is. Expired stock is never moved to a pick face. When reserve stock is
    short, the face furthest below its min (per product) is served first.

`plan_urgent_replenishment`
    For a wave: the allocations the wave will pick at pick faces, and the
    pick faces' stock; returns the urgent replenishments to run first and,
    per allocation, which replenishments its pick must wait for.

Design choice: the allocation core allocates "pending replenishment", but
always against real stock. Reservations in the ledger never exceed a quant's
on hand, so a pick face cannot be reserved beyond what it holds. Instead,
`core.allocate(..., pending_pick_faces={product: face})` lets the units the
pick faces lack be reserved on a *reserve* quant (FEFO and minimum shelf life
checked there, as for any stage) with stage `pending_replenishment` and
`pick_location_id` = the pick face. That allocation says both "these units
are promised" and "they will be picked at the face once moved". This planner
turns each such group into an urgent move of exactly that quant, rounded up
to a whole case if the quant has the spare units and the face the room, so
the lot and shelf life the customer was promised are the ones that arrive.
The service moves the reservation along with the stock when the
replenishment is done. The alternative — a phantom pick-face quant with a
negative balance, or a reservation not tied to any quant — would break the
ledger's invariants and let two waves promise the same reserve stock.

The planner also covers pick-face allocations that exceed the face's stock
(e.g. a count found less since the allocation, or allocations planned outside
the core): the shortfall is drawn FEFO/FIFO from the remaining reserve stock
(whole cases where possible; only not-expired stock, since the customer's
minimum shelf life is not known here), and the allocations that exceed the
face, in the order given, wait for those moves.

All inputs describe one snapshot *before* the planned allocations are
reserved: the same candidates that were given to `core.allocate`, and
`PickFaceStock.reserved` without the planned picks. The planner subtracts the
planned allocations itself (never going below zero, so a snapshot taken
after reserving is merely conservative).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .core import (
    Allocation,
    AllocationInputError,
    AllocationStage,
    ContainerId,
    DuplicateId,
    LocationId,
    LocationKind,
    ProductId,
    ProductInfo,
    QuantId,
    StockCandidate,
    UnknownProduct,
    index_products,
    stock_rotation_key,
)


@dataclass(frozen=True, slots=True)
class PickFace:
    """The replenishment settings of one pick face for one product."""

    product_id: ProductId
    location_id: LocationId
    min_qty: int
    max_qty: int  # the face's capacity for this product, in units
    case_qty: int | None = None  # falls back to the product's case quantity

    def __post_init__(self) -> None:
        if not (0 <= self.min_qty <= self.max_qty) or self.max_qty <= 0:
            raise AllocationInputError(
                f"pick face {self.location_id}: need 0 <= min ({self.min_qty}) "
                f"<= max ({self.max_qty}) and max > 0"
            )
        if self.case_qty is not None and self.case_qty <= 0:
            raise AllocationInputError(f"pick face {self.location_id}: case_qty must be positive")


@dataclass(frozen=True, slots=True)
class PickFaceStock:
    product_id: ProductId
    location_id: LocationId
    on_hand: int = 0
    reserved: int = 0  # reserved for picks (not counting a wave being planned)
    inbound: int = 0  # open replenishments on their way to this face

    def __post_init__(self) -> None:
        if min(self.on_hand, self.reserved, self.inbound) < 0 or self.reserved > self.on_hand:
            raise AllocationInputError(
                f"pick face {self.location_id}: need on_hand >= reserved >= 0 and inbound >= 0"
            )


class ReplenishmentKind(StrEnum):
    MIN_MAX = "min_max"
    URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class Replenishment:
    """Move `qty` of `from_quant_id` to the pick face `to_location_id`."""

    key: str  # unique within one plan: "<kind>:<to_location_id>:<from_quant_id>"
    kind: ReplenishmentKind
    product_id: ProductId
    from_quant_id: QuantId
    from_location_id: LocationId
    to_location_id: LocationId
    lot: str
    qty: int
    container_id: ContainerId | None = None


@dataclass(frozen=True, slots=True)
class PickDependency:
    """A planned pick that must wait for replenishments (or cannot be covered)."""

    allocation: Allocation
    waits_for: tuple[str, ...]  # Replenishment keys
    uncovered_qty: int = 0  # units no reserve stock can bring to the face


@dataclass(frozen=True)
class UrgentReplenishmentPlan:
    replenishments: tuple[Replenishment, ...]
    dependencies: tuple[PickDependency, ...]  # in the order the allocations were given

    def waits_for(self, allocation: Allocation) -> tuple[str, ...]:
        for dependency in self.dependencies:
            if dependency.allocation == allocation:
                return dependency.waits_for
        return ()

    @property
    def uncovered(self) -> tuple[PickDependency, ...]:
        return tuple(d for d in self.dependencies if d.uncovered_qty)


# ------------------------------------------------------------------ internals


class _ReservePool:
    """Reserve quants that may be moved to a pick face, with what is left of each."""

    def __init__(
        self,
        candidates: Iterable[StockCandidate],
        products: Mapping[ProductId, ProductInfo],
        today: date,
    ) -> None:
        self.available: dict[QuantId, int] = {}
        self.by_product: dict[ProductId, list[StockCandidate]] = {}
        for candidate in candidates:
            if candidate.location_kind is not LocationKind.RESERVE or candidate.available <= 0:
                continue
            if candidate.quant_id in self.available:
                raise DuplicateId(f"quant {candidate.quant_id} given twice")
            product = products.get(candidate.product_id)
            tracked = product is not None and product.expiry_tracked
            if tracked and (candidate.expiry is None or candidate.expiry < today):
                continue
            self.available[candidate.quant_id] = candidate.available
            self.by_product.setdefault(candidate.product_id, []).append(candidate)
        for product_id, quants in self.by_product.items():
            tracked = product_id in products and products[product_id].expiry_tracked
            quants.sort(key=lambda c: stock_rotation_key(c, tracked))

    def consume(self, quant_id: QuantId, qty: int) -> None:
        if quant_id in self.available:
            self.available[quant_id] = max(0, self.available[quant_id] - qty)

    def draw_whole_cases(
        self, product_id: ProductId, want: int, case: int | None
    ) -> list[tuple[StockCandidate, int]]:
        """Up to `want` units, in whole cases if `case` is known (min/max)."""
        draws = []
        for candidate in self.by_product.get(product_id, ()):
            if not want:
                break
            have = self.available[candidate.quant_id]
            qty = min(want, have // case * case) if case else min(want, have)
            if qty:
                self.available[candidate.quant_id] = have - qty
                want -= qty
                draws.append((candidate, qty))
        return draws

    def draw_to_cover(
        self, product_id: ProductId, need: int, case: int | None, spare_room: int
    ) -> tuple[list[tuple[StockCandidate, int, int]], int]:
        """Cover `need` units; round a draw up to a whole case while `spare_room` allows.

        Returns (candidate, qty moved, qty of it covering the need) draws and the spare room left.
        """
        draws = []
        for candidate in self.by_product.get(product_id, ()):
            if not need:
                break
            have = self.available[candidate.quant_id]
            if not have:
                continue
            target = need
            if case and need % case and case - need % case <= spare_room:
                target = need + case - need % case
            qty = min(have, target)
            covering = min(qty, need)
            self.available[candidate.quant_id] = have - qty
            need -= covering
            spare_room -= qty - covering
            draws.append((candidate, qty, covering))
        return draws, spare_room


def _index_faces(pick_faces: Iterable[PickFace]) -> dict[tuple[ProductId, LocationId], PickFace]:
    faces: dict[tuple[ProductId, LocationId], PickFace] = {}
    for face in pick_faces:
        key = (face.product_id, face.location_id)
        if key in faces:
            raise DuplicateId(f"pick face {face.location_id} for product {face.product_id} given twice")
        faces[key] = face
    return faces


def _index_stock(stock: Iterable[PickFaceStock]) -> dict[tuple[ProductId, LocationId], PickFaceStock]:
    by_face: dict[tuple[ProductId, LocationId], PickFaceStock] = {}
    for face_stock in stock:
        key = (face_stock.product_id, face_stock.location_id)
        if key in by_face:
            raise DuplicateId(
                f"stock for pick face {face_stock.location_id}, product {face_stock.product_id} given twice"
            )
        by_face[key] = face_stock
    return by_face


def _case_qty(face: PickFace | None, product: ProductInfo | None) -> int | None:
    if face is not None and face.case_qty:
        return face.case_qty
    return product.case_qty if product is not None else None


# ------------------------------------------------------------------- min/max


def plan_min_max_replenishment(
    pick_faces: Iterable[PickFace],
    stock: Iterable[PickFaceStock],
    reserve_candidates: Iterable[StockCandidate],
    products: Iterable[ProductInfo],
    *,
    today: date,
) -> tuple[Replenishment, ...]:
    """Suggest moves for every pick face below its min; see the module docstring.

    A face with no `PickFaceStock` is empty. `reserve_candidates` should be
    what is still free (e.g. `core.remaining_stock` after an allocation run).
    """
    product_by_id = index_products(products)
    faces = _index_faces(pick_faces)
    stock_by_face = _index_stock(stock)
    pool = _ReservePool(reserve_candidates, product_by_id, today)

    due = []
    for key, face in faces.items():
        face_stock = stock_by_face.get(key) or PickFaceStock(face.product_id, face.location_id)
        projected = face_stock.on_hand - face_stock.reserved + face_stock.inbound
        if projected < face.min_qty:
            due.append((face.product_id, projected - face.min_qty, face.location_id, face, face_stock))
    due.sort(key=lambda item: item[:3])

    suggestions = []
    for _product, _deficit, _location, face, face_stock in due:
        room = face.max_qty - face_stock.on_hand - face_stock.inbound
        case = _case_qty(face, product_by_id.get(face.product_id))
        want = room // case * case if case else room
        if want <= 0:
            continue
        for candidate, qty in pool.draw_whole_cases(face.product_id, want, case):
            suggestions.append(
                Replenishment(
                    key=f"{ReplenishmentKind.MIN_MAX}:{face.location_id}:{candidate.quant_id}",
                    kind=ReplenishmentKind.MIN_MAX,
                    product_id=face.product_id,
                    from_quant_id=candidate.quant_id,
                    from_location_id=candidate.location_id,
                    to_location_id=face.location_id,
                    lot=candidate.lot,
                    qty=qty,
                    container_id=candidate.container_id,
                )
            )
    return tuple(suggestions)


# -------------------------------------------------------------------- urgent


def plan_urgent_replenishment(
    planned: Iterable[Allocation],
    stock: Iterable[PickFaceStock],
    reserve_candidates: Iterable[StockCandidate],
    products: Iterable[ProductInfo],
    *,
    today: date,
    pick_faces: Iterable[PickFace] = (),
) -> UrgentReplenishmentPlan:
    """Urgent moves a wave needs before its pick-face picks, and who waits for which.

    `planned` is the wave's allocations in pick priority order (as
    `core.allocate` returns them): `pick_face` and `pending_replenishment`
    allocations may need moves; `full_case` and `reserve` ones only reduce
    what their reserve quants can still give. `pick_faces` gives the
    max (and case quantity) used to decide whether a move may be rounded up
    to a whole case; without it nothing is rounded up. A move always brings
    at least what the picks need, even beyond max: those units leave again
    with the wave's picks.
    """
    product_by_id = index_products(products)
    faces = _index_faces(pick_faces)
    stock_by_face = _index_stock(stock)
    pool = _ReservePool(reserve_candidates, product_by_id, today)
    planned = list(planned)
    pending, short = _what_faces_need(planned, product_by_id, stock_by_face, pool)
    moves = _UrgentMoves(planned)
    for face_key in sorted(pending.keys() | short.keys()):
        face = faces.get(face_key)
        case = _case_qty(face, product_by_id[face_key[0]])
        spare_room = _spare_room(face, stock_by_face.get(face_key))
        spare_room = _move_pending_reservations(moves, pool, face_key, pending.get(face_key, {}), case, spare_room)
        if face_key in short:
            _cover_shortfalls(moves, pool, face_key, short[face_key], case, spare_room)
    return moves.plan()


def _what_faces_need(
    planned: list[Allocation],
    product_by_id: Mapping[ProductId, ProductInfo],
    stock_by_face: Mapping[tuple[ProductId, LocationId], PickFaceStock],
    pool: _ReservePool,
) -> tuple[dict[tuple[ProductId, LocationId], dict[QuantId, list[int]]],
           dict[tuple[ProductId, LocationId], list[tuple[int, int]]]]:
    """Per face: the pending allocations reserved on each reserve quant (their indexes in `planned`), and the
    pick-face allocations beyond the face's free stock (index, units short). Reserve draws leave the pool."""
    free_on_face: dict[tuple[ProductId, LocationId], int] = {
        key: face_stock.on_hand - face_stock.reserved for key, face_stock in stock_by_face.items()
    }
    pending: dict[tuple[ProductId, LocationId], dict[QuantId, list[int]]] = {}
    short: dict[tuple[ProductId, LocationId], list[tuple[int, int]]] = {}
    for index, allocation in enumerate(planned):
        if allocation.product_id not in product_by_id:
            raise UnknownProduct(f"allocation for unknown product {allocation.product_id}")
        if allocation.stage is AllocationStage.PICK_FACE:
            face_key = (allocation.product_id, allocation.location_id)
            free = free_on_face.get(face_key, 0)
            covered = min(free, allocation.qty)
            free_on_face[face_key] = free - covered
            if allocation.qty > covered:
                short.setdefault(face_key, []).append((index, allocation.qty - covered))
        else:
            pool.consume(allocation.quant_id, allocation.qty)
            if allocation.stage is AllocationStage.PENDING_REPLENISHMENT:
                face_key = (allocation.product_id, allocation.pick_location_id)
                pending.setdefault(face_key, {}).setdefault(allocation.quant_id, []).append(index)
    return pending, short


def _spare_room(face: PickFace | None, face_stock: PickFaceStock | None) -> int:
    """Units a move may bring beyond what the picks need (to round up to a case) without passing max."""
    level = (face_stock.on_hand + face_stock.inbound) if face_stock else 0
    return max(0, face.max_qty - level) if face else 0


class _UrgentMoves:
    """The urgent plan as it is built: moves by key, and which allocations (by index) wait for which."""

    def __init__(self, planned: list[Allocation]) -> None:
        self.planned = planned
        self.moves: dict[str, list] = {}  # key -> [source fields..., qty], in creation order
        self.waits: dict[int, list[str]] = {}
        self.uncovered: dict[int, int] = {}

    def add(self, to_location: LocationId, product_id: ProductId, quant_id: QuantId,
            from_location: LocationId, lot: str, container: ContainerId | None, qty: int) -> str:
        """Move `qty` more from the quant to the face (one move per quant and face); its key."""
        key = f"{ReplenishmentKind.URGENT}:{to_location}:{quant_id}"
        if key in self.moves:
            self.moves[key][-1] += qty
        else:
            self.moves[key] = [product_id, quant_id, from_location, to_location, lot, container, qty]
        return key

    def plan(self) -> UrgentReplenishmentPlan:
        replenishments = tuple(
            Replenishment(
                key=key,
                kind=ReplenishmentKind.URGENT,
                product_id=product_id,
                from_quant_id=quant_id,
                from_location_id=from_location,
                to_location_id=to_location,
                lot=lot,
                qty=qty,
                container_id=container,
            )
            for key, (product_id, quant_id, from_location, to_location, lot, container, qty) in self.moves.items()
        )
        dependencies = tuple(
            PickDependency(self.planned[i], tuple(self.waits.get(i, ())), self.uncovered.get(i, 0))
            for i in sorted(self.waits.keys() | self.uncovered.keys())
        )
        return UrgentReplenishmentPlan(replenishments, dependencies)


def _move_pending_reservations(moves: _UrgentMoves, pool: _ReservePool, face_key: tuple[ProductId, LocationId],
                               pending: Mapping[QuantId, list[int]], case: int | None, spare_room: int) -> int:
    """One move per reserve quant the face's pending allocations are reserved on (rounded up to a whole case
    while the face has room and the quant has the units); the spare room left."""
    product_id, location_id = face_key
    planned = moves.planned
    for quant_id, indexes in pending.items():
        first = planned[indexes[0]]
        qty = sum(planned[i].qty for i in indexes)
        if case and qty % case:
            round_up = case - qty % case
            if round_up <= spare_room and pool.available.get(quant_id, 0) >= round_up:
                pool.consume(quant_id, round_up)
                spare_room -= round_up
                qty += round_up
        key = moves.add(location_id, product_id, quant_id, first.location_id, first.lot, first.container_id, qty)
        for i in indexes:
            moves.waits[i] = [key]
    return spare_room


def _cover_shortfalls(moves: _UrgentMoves, pool: _ReservePool, face_key: tuple[ProductId, LocationId],
                      shortfalls: list[tuple[int, int]], case: int | None, spare_room: int) -> None:
    """Moves from reserve for the face's short picks, handed out to them in order; what no reserve covers is
    uncovered."""
    product_id, location_id = face_key
    draws, spare_room = pool.draw_to_cover(product_id, sum(q for _i, q in shortfalls), case, spare_room)
    # Hand the moved units out to the short picks in order: [key, units not yet promised].
    segments = [
        [moves.add(location_id, product_id, c.quant_id, c.location_id, c.lot, c.container_id, qty), covering]
        for c, qty, covering in draws
    ]
    segment = 0
    for i, need in shortfalls:
        keys = moves.waits.setdefault(i, [])
        while need and segment < len(segments):
            key, left = segments[segment]
            used = min(need, left)
            keys.append(key)
            need -= used
            segments[segment][1] = left - used
            if used == left:
                segment += 1
        if need:
            moves.uncovered[i] = need
