"""Behaviour of the pure allocation core (backend.allocation.core)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from backend.allocation import (
    AllocationInputError,
    AllocationStage,
    BackorderPolicy,
    BackorderReason,
    DuplicateId,
    LineAllocated,
    LineBackordered,
    LineStatus,
    LocationKind,
    Order,
    OrderAllocated,
    OrderBackordered,
    OrderLine,
    OrderPartlyAllocated,
    OrderStatus,
    OrderUnit,
    ProductInfo,
    StockCandidate,
    UnknownProduct,
    allocate,
    remaining_stock,
)

TODAY = date(2025, 6, 1)
PICK = LocationKind.PICK_FACE
RESERVE = LocationKind.RESERVE
MILK = 1  # expiry-tracked
BOLTS = 2  # not expiry-tracked
SOAP = 3  # case of 12

PRODUCTS = (
    ProductInfo(MILK, expiry_tracked=True),
    ProductInfo(BOLTS),
    ProductInfo(SOAP, case_qty=12),
)


def quant(
    quant_id,
    product_id,
    available,
    *,
    kind=PICK,
    location_id=None,
    expiry=None,
    received_day=1,
    lot="",
    walk_key=None,
):
    return StockCandidate(
        quant_id=quant_id,
        product_id=product_id,
        location_id=location_id if location_id is not None else 100 + quant_id,
        location_kind=kind,
        available=available,
        received_at=datetime(2025, 1, received_day, 8, 0),
        lot=lot or f"LOT{quant_id}",
        expiry=expiry,
        walk_key=walk_key,
    )


def order(order_id, *lines, **kwargs):
    return Order(
        order_id=order_id,
        lines=tuple(OrderLine(n, product_id, qty) for n, (product_id, qty) in enumerate(lines, start=1)),
        **kwargs,
    )


def taken(result, order_id, line_no=None):
    """{quant_id: qty} allocated to an order (line)."""
    counts: Counter = Counter()
    for allocation in result.allocations_for(order_id, line_no):
        counts[allocation.quant_id] += allocation.qty
    return dict(counts)


# -------------------------------------------------------------- rotation


def test_fefo_allocates_earliest_expiry_first():
    stock = [
        quant(1, MILK, 5, expiry=TODAY + timedelta(days=30), received_day=1),
        quant(2, MILK, 5, expiry=TODAY + timedelta(days=10), received_day=9),
        quant(3, MILK, 5, expiry=TODAY + timedelta(days=20), received_day=5),
    ]
    result = allocate([order("A", (MILK, 8))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty) for a in result.allocations] == [(2, 5), (3, 3)]


def test_fifo_allocates_oldest_receipt_first_for_untracked_products():
    stock = [
        quant(1, BOLTS, 5, received_day=20, expiry=TODAY),  # expiry ignored: not tracked
        quant(2, BOLTS, 5, received_day=3),
        quant(3, BOLTS, 5, received_day=10),
    ]
    result = allocate([order("A", (BOLTS, 8))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty) for a in result.allocations] == [(2, 5), (3, 3)]


def test_walking_order_breaks_ties_between_equal_lots():
    stock = [
        quant(1, BOLTS, 5, walk_key=30),
        quant(2, BOLTS, 5, walk_key=10),
        quant(3, BOLTS, 5, walk_key=None),
    ]
    result = allocate([order("A", (BOLTS, 12))], stock, PRODUCTS, today=TODAY)

    assert [a.quant_id for a in result.allocations] == [2, 1, 3]


def test_min_shelf_life_excludes_short_dated_lots():
    stock = [
        quant(1, MILK, 10, expiry=TODAY + timedelta(days=5)),
        quant(2, MILK, 10, expiry=TODAY + timedelta(days=45)),
    ]
    picky = order("A", (MILK, 10), min_shelf_life_days=30)
    result = allocate([picky], stock, PRODUCTS, today=TODAY)

    assert taken(result, "A") == {2: 10}


def test_short_dated_lot_is_not_used_even_when_the_line_goes_short():
    stock = [
        quant(1, MILK, 10, expiry=TODAY + timedelta(days=5)),
        quant(2, MILK, 4, expiry=TODAY + timedelta(days=45)),
    ]
    result = allocate([order("A", (MILK, 10), min_shelf_life_days=30)], stock, PRODUCTS, today=TODAY)

    assert taken(result, "A") == {2: 4}
    assert result.line("A", 1).backordered_qty == 6


def test_never_allocates_expired_or_undated_stock_of_an_expiry_tracked_product():
    stock = [
        quant(1, MILK, 10, expiry=TODAY - timedelta(days=1)),
        quant(2, MILK, 10, expiry=None),
        quant(3, MILK, 3, expiry=TODAY),  # last day of shelf life still ships at minimum 0
    ]
    result = allocate([order("A", (MILK, 10))], stock, PRODUCTS, today=TODAY)

    assert taken(result, "A") == {3: 3}


def test_a_lenient_line_still_gets_the_short_dated_lot_a_strict_line_skipped():
    stock = [
        quant(1, MILK, 5, expiry=TODAY + timedelta(days=5)),
        quant(2, MILK, 5, expiry=TODAY + timedelta(days=60)),
    ]
    strict = order("A", (MILK, 5), min_shelf_life_days=30, priority=9)
    lenient = order("B", (MILK, 5))
    result = allocate([lenient, strict], stock, PRODUCTS, today=TODAY)

    assert taken(result, "A") == {2: 5}
    assert taken(result, "B") == {1: 5}


# ---------------------------------------------------------------- stages


def test_prefers_pick_face_over_reserve():
    stock = [
        quant(1, BOLTS, 50, kind=RESERVE, received_day=1),  # older, but in reserve
        quant(2, BOLTS, 6, kind=PICK, received_day=9),
    ]
    result = allocate([order("A", (BOLTS, 8))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty, a.stage) for a in result.allocations] == [
        (2, 6, AllocationStage.PICK_FACE),
        (1, 2, AllocationStage.RESERVE),
    ]


def test_takes_full_cases_from_reserve_and_the_rest_from_the_pick_face():
    stock = [
        quant(1, SOAP, 20, kind=PICK),
        quant(2, SOAP, 36, kind=RESERVE),
    ]
    result = allocate([order("A", (SOAP, 30))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty, a.stage) for a in result.allocations] == [
        (2, 24, AllocationStage.FULL_CASE),
        (1, 6, AllocationStage.PICK_FACE),
    ]


def test_full_cases_come_only_from_whole_cases_in_a_reserve_quant():
    stock = [
        quant(1, SOAP, 30, kind=PICK),
        quant(2, SOAP, 18, kind=RESERVE),  # one case and six loose
    ]
    result = allocate([order("A", (SOAP, 30))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty, a.stage) for a in result.allocations] == [
        (2, 12, AllocationStage.FULL_CASE),
        (1, 18, AllocationStage.PICK_FACE),
    ]


def test_falls_back_to_the_pick_face_when_reserve_holds_no_full_case():
    stock = [
        quant(1, SOAP, 40, kind=PICK),
        quant(2, SOAP, 7, kind=RESERVE),
    ]
    result = allocate([order("A", (SOAP, 30))], stock, PRODUCTS, today=TODAY)

    assert [(a.quant_id, a.qty, a.stage) for a in result.allocations] == [(1, 30, AllocationStage.PICK_FACE)]


def test_full_case_stage_is_fefo_within_reserve():
    stock = [
        quant(1, 4, 24, kind=RESERVE, expiry=TODAY + timedelta(days=90)),
        quant(2, 4, 24, kind=RESERVE, expiry=TODAY + timedelta(days=40)),
        quant(3, 4, 24, kind=PICK, expiry=TODAY + timedelta(days=200)),
    ]
    products = (ProductInfo(4, expiry_tracked=True, case_qty=12),)
    result = allocate([order("A", (4, 30))], stock, products, today=TODAY)

    assert [(a.quant_id, a.qty, a.stage) for a in result.allocations] == [
        (2, 24, AllocationStage.FULL_CASE),
        (3, 6, AllocationStage.PICK_FACE),
    ]


def test_a_line_ordered_in_cases_is_allocated_in_whole_cases_only():
    stock = [quant(1, SOAP, 30, kind=PICK)]
    case_line = Order("A", (OrderLine(1, SOAP, 36, unit=OrderUnit.CASE),))
    result = allocate([case_line], stock, PRODUCTS, today=TODAY)

    line = result.line("A", 1)
    assert (line.allocated_qty, line.backordered_qty) == (24, 12)
    assert result.reserved_by_quant == {1: 24}


def test_rejects_a_case_line_that_is_not_a_whole_number_of_cases():
    with pytest.raises(AllocationInputError):
        allocate([Order("A", (OrderLine(1, SOAP, 30, unit=OrderUnit.CASE),))], [], PRODUCTS, today=TODAY)


def test_allocates_pending_replenishment_at_the_pick_face_instead_of_loose_reserve_picks():
    stock = [
        quant(1, BOLTS, 4, kind=PICK, location_id=10),
        quant(2, BOLTS, 50, kind=RESERVE, location_id=20),
    ]
    result = allocate(
        [order("A", (BOLTS, 10))], stock, PRODUCTS, today=TODAY, pending_pick_faces={BOLTS: 10}
    )

    pending = result.allocations[1]
    assert (pending.quant_id, pending.qty, pending.stage) == (2, 6, AllocationStage.PENDING_REPLENISHMENT)
    assert (pending.location_id, pending.pick_location_id) == (20, 10)


# ---------------------------------------------------- backorder policies


def test_allow_partial_allocates_what_is_there_and_backorders_the_rest():
    stock = [quant(1, BOLTS, 7)]
    result = allocate(
        [order("A", (BOLTS, 10), (MILK, 3), backorder_policy=BackorderPolicy.ALLOW_PARTIAL)],
        stock,
        PRODUCTS,
        today=TODAY,
    )

    first, second = result.line("A", 1), result.line("A", 2)
    assert (first.allocated_qty, first.backordered_qty, first.status) == (7, 3, LineStatus.PARTLY_ALLOCATED)
    assert (second.allocated_qty, second.status) == (0, LineStatus.BACKORDERED)
    assert second.backorder_reason is BackorderReason.INSUFFICIENT_STOCK
    assert result.order("A").status is OrderStatus.PARTLY_ALLOCATED


def test_fill_or_kill_backorders_a_short_line_whole_and_leaves_its_stock_to_others():
    stock = [quant(1, BOLTS, 7), quant(2, SOAP, 5)]
    fok = order(
        "A", (BOLTS, 10), (SOAP, 5), backorder_policy=BackorderPolicy.FILL_OR_KILL, priority=9
    )
    later = order("B", (BOLTS, 7))
    result = allocate([fok, later], stock, PRODUCTS, today=TODAY)

    assert result.line("A", 1).status is LineStatus.BACKORDERED
    assert result.line("A", 1).backordered_qty == 10
    assert result.line("A", 2).status is LineStatus.ALLOCATED
    assert result.order("A").status is OrderStatus.PARTLY_ALLOCATED
    assert taken(result, "B") == {1: 7}


def test_ship_complete_leaves_no_reservation_for_an_order_it_cannot_complete():
    stock = [quant(1, BOLTS, 10), quant(2, SOAP, 2)]
    result = allocate(
        [order("A", (BOLTS, 10), (SOAP, 5), backorder_policy=BackorderPolicy.SHIP_COMPLETE)],
        stock,
        PRODUCTS,
        today=TODAY,
    )

    assert result.allocations == ()
    assert result.reserved_by_quant == {}
    assert result.order("A").status is OrderStatus.BACKORDERED
    assert result.line("A", 1).backorder_reason is BackorderReason.ORDER_INCOMPLETE
    assert result.line("A", 2).backorder_reason is BackorderReason.INSUFFICIENT_STOCK


def test_ship_complete_gives_the_stock_back_to_later_orders_in_the_same_run():
    stock = [quant(1, BOLTS, 10), quant(2, SOAP, 2)]
    complete_only = order(
        "A", (BOLTS, 10), (SOAP, 5), backorder_policy=BackorderPolicy.SHIP_COMPLETE,
        cut_off=datetime(2025, 6, 1, 12),
    )
    later = order("B", (BOLTS, 10), cut_off=datetime(2025, 6, 1, 18))
    result = allocate([later, complete_only], stock, PRODUCTS, today=TODAY)

    assert taken(result, "A") == {}
    assert taken(result, "B") == {1: 10}
    assert result.order("B").status is OrderStatus.ALLOCATED


def test_ship_complete_allocates_a_completable_order_in_full():
    stock = [quant(1, BOLTS, 10), quant(2, SOAP, 5)]
    result = allocate(
        [order("A", (BOLTS, 10), (SOAP, 5), backorder_policy=BackorderPolicy.SHIP_COMPLETE)],
        stock,
        PRODUCTS,
        today=TODAY,
    )

    assert result.order("A").status is OrderStatus.ALLOCATED
    assert result.reserved_by_quant == {1: 10, 2: 5}


def test_records_past_tense_events_per_line_and_order():
    stock = [quant(1, BOLTS, 7), quant(2, SOAP, 4)]
    result = allocate(
        [order("A", (BOLTS, 10)), order("B", (SOAP, 4)), order("C", (MILK, 1))],
        stock,
        PRODUCTS,
        today=TODAY,
    )

    assert result.events == (
        LineAllocated("A", 1, BOLTS, 7),
        LineBackordered("A", 1, BOLTS, 3, BackorderReason.INSUFFICIENT_STOCK),
        OrderPartlyAllocated("A", 7, 3),
        LineAllocated("B", 1, SOAP, 4),
        OrderAllocated("B"),
        LineBackordered("C", 1, MILK, 1, BackorderReason.INSUFFICIENT_STOCK),
        OrderBackordered("C", 1),
    )


# ------------------------------------------------------ scarce stock


def test_scarce_stock_goes_to_the_earlier_cut_off():
    stock = [quant(1, BOLTS, 10)]
    late = order("A", (BOLTS, 10), cut_off=datetime(2025, 6, 1, 18), priority=9)
    early = order("B", (BOLTS, 10), cut_off=datetime(2025, 6, 1, 12), priority=0)
    no_cut_off = order("0", (BOLTS, 10), priority=99)
    result = allocate([late, no_cut_off, early], stock, PRODUCTS, today=TODAY)

    assert taken(result, "B") == {1: 10}
    assert result.order("A").status is OrderStatus.BACKORDERED
    assert result.order("0").status is OrderStatus.BACKORDERED


def test_at_the_same_cut_off_higher_priority_then_lower_order_id_wins():
    stock = [quant(1, BOLTS, 4)]
    cut_off = datetime(2025, 6, 1, 15)
    orders = [
        order("C", (BOLTS, 2), cut_off=cut_off, priority=1),
        order("B", (BOLTS, 2), cut_off=cut_off, priority=5),
        order("A", (BOLTS, 2), cut_off=cut_off, priority=1),
    ]
    result = allocate(orders, stock, PRODUCTS, today=TODAY)

    assert list(result.orders) == ["B", "A", "C"]
    assert result.order("C").status is OrderStatus.BACKORDERED


def test_never_allocates_more_than_a_quant_has_across_lines():
    stock = [quant(1, BOLTS, 10), quant(2, BOLTS, 5, kind=RESERVE), quant(3, SOAP, 30, kind=RESERVE)]
    orders = [order(f"O{i}", (BOLTS, 3), (SOAP, 12), (BOLTS, 1)) for i in range(6)]
    result = allocate(orders, stock, PRODUCTS, today=TODAY)

    per_quant = Counter()
    for allocation in result.allocations:
        per_quant[allocation.quant_id] += allocation.qty
    assert per_quant == Counter({1: 10, 2: 5, 3: 30})  # two full cases, then the loose six
    assert dict(per_quant) == result.reserved_by_quant
    assert sum(line.allocated_qty for line in result.lines.values()) == 45


def _random_workload(seed):
    rng = random.Random(seed)
    products = [ProductInfo(p, expiry_tracked=p % 2 == 0, case_qty=rng.choice([None, 6, 12])) for p in range(8)]
    stock = [
        StockCandidate(
            quant_id=q,
            product_id=rng.randrange(8),
            location_id=rng.randrange(5),  # shared locations and equal dates force tie-breaks
            location_kind=rng.choice([PICK, RESERVE]),
            available=rng.randint(0, 40),
            received_at=datetime(2025, 1, rng.randint(1, 3)),
            lot=f"L{q}",
            expiry=TODAY + timedelta(days=rng.randint(-5, 60)),
            walk_key=rng.choice([None, 1, 2]),
        )
        for q in range(60)
    ]
    orders = [
        Order(
            order_id=o,
            lines=tuple(OrderLine(n, rng.randrange(8), rng.randint(1, 30)) for n in range(1, rng.randint(2, 5))),
            cut_off=rng.choice([None, datetime(2025, 6, 1, 12), datetime(2025, 6, 1, 15)]),
            priority=rng.randint(0, 2),
            min_shelf_life_days=rng.choice([0, 10, 30]),
            backorder_policy=rng.choice(list(BackorderPolicy)),
        )
        for o in range(40)
    ]
    return orders, stock, products


@pytest.mark.parametrize("seed", range(5))
def test_gives_the_same_result_whatever_the_input_order(seed):
    orders, stock, products = _random_workload(seed)
    expected = allocate(orders, stock, products, today=TODAY)

    rng = random.Random(seed + 100)
    for _ in range(3):
        rng.shuffle(orders)
        rng.shuffle(stock)
        rng.shuffle(products)
        again = allocate(orders, stock, products, today=TODAY)
        assert again.allocations == expected.allocations
        assert list(again.lines.items()) == list(expected.lines.items())
        assert again.events == expected.events
    assert expected.allocations  # the workload really allocates something


@pytest.mark.parametrize("seed", range(5))
def test_random_runs_respect_quant_availability_and_shelf_life(seed):
    orders, stock, products = _random_workload(seed)
    result = allocate(orders, stock, products, today=TODAY)

    by_quant = {c.quant_id: c for c in stock}
    min_days = {o.order_id: o.min_shelf_life_days for o in orders}
    tracked = {p.product_id for p in products if p.expiry_tracked}
    for quant_id, qty in result.reserved_by_quant.items():
        assert qty <= by_quant[quant_id].available
    for allocation in result.allocations:
        candidate = by_quant[allocation.quant_id]
        assert candidate.product_id == allocation.product_id
        if allocation.product_id in tracked:
            assert candidate.expiry >= TODAY + timedelta(days=min_days[allocation.order_id])
    for line in result.lines.values():
        assert line.allocated_qty + line.backordered_qty == line.ordered_qty
        assert line.allocated_qty == sum(a.qty for a in result.allocations_for(line.order_id, line.line_no))


# ---------------------------------------------------------- input / helpers


def test_rejects_a_line_for_an_unknown_product():
    with pytest.raises(UnknownProduct):
        allocate([order("A", (999, 1))], [], PRODUCTS, today=TODAY)


def test_rejects_the_same_quant_twice():
    with pytest.raises(DuplicateId):
        allocate([order("A", (BOLTS, 1))], [quant(1, BOLTS, 5), quant(1, BOLTS, 5)], PRODUCTS, today=TODAY)


def test_rejects_a_non_positive_line_quantity():
    with pytest.raises(AllocationInputError):
        OrderLine(1, BOLTS, 0)


def test_remaining_stock_subtracts_what_a_run_reserved():
    stock = [quant(1, BOLTS, 10), quant(2, BOLTS, 5, kind=RESERVE), quant(3, SOAP, 4)]
    result = allocate([order("A", (BOLTS, 12))], stock, PRODUCTS, today=TODAY)

    left = remaining_stock(stock, result.reserved_by_quant)
    assert [(c.quant_id, c.available) for c in left] == [(2, 3), (3, 4)]
