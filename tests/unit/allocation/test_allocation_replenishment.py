"""Behaviour of min/max and wave-driven (urgent) replenishment planning."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from backend.allocation import (
    Allocation,
    AllocationStage,
    LocationKind,
    Order,
    OrderLine,
    PickFace,
    PickFaceStock,
    ProductInfo,
    ReplenishmentKind,
    StockCandidate,
    allocate,
    plan_min_max_replenishment,
    plan_urgent_replenishment,
)

TODAY = date(2025, 6, 1)
SOAP = 3  # case of 12, FIFO
MILK = 1  # expiry-tracked, case of 12
BOLTS = 2  # no case quantity
PRODUCTS = (
    ProductInfo(MILK, expiry_tracked=True, case_qty=12),
    ProductInfo(BOLTS),
    ProductInfo(SOAP, case_qty=12),
)
FACE = 10  # the pick face location


def reserve(quant_id, product_id, available, *, expiry=None, received_day=1, location_id=None):
    return StockCandidate(
        quant_id=quant_id,
        product_id=product_id,
        location_id=location_id if location_id is not None else 200 + quant_id,
        location_kind=LocationKind.RESERVE,
        available=available,
        received_at=datetime(2025, 1, received_day),
        lot=f"LOT{quant_id}",
        expiry=expiry,
    )


def moves(replenishments):
    return [(r.from_quant_id, r.to_location_id, r.qty) for r in replenishments]


# ------------------------------------------------------------------ min/max


def test_min_max_refills_a_face_below_min_in_whole_cases_without_passing_max():
    face = PickFace(SOAP, FACE, min_qty=10, max_qty=50)
    stock = [PickFaceStock(SOAP, FACE, on_hand=8)]
    plan = plan_min_max_replenishment([face], stock, [reserve(1, SOAP, 100)], PRODUCTS, today=TODAY)

    assert moves(plan) == [(1, FACE, 36)]  # room 42 -> three cases
    assert plan[0].kind is ReplenishmentKind.MIN_MAX


def test_min_max_leaves_a_face_at_or_above_min_alone():
    face = PickFace(SOAP, FACE, min_qty=10, max_qty=50)
    stock = [PickFaceStock(SOAP, FACE, on_hand=10)]
    assert plan_min_max_replenishment([face], stock, [reserve(1, SOAP, 100)], PRODUCTS, today=TODAY) == ()


def test_min_max_counts_reserved_picks_and_open_inbound_replenishments():
    face = PickFace(SOAP, FACE, min_qty=10, max_qty=50)
    drained = [PickFaceStock(SOAP, FACE, on_hand=30, reserved=25)]  # projected 5
    on_its_way = [PickFaceStock(SOAP, FACE, on_hand=30, reserved=25, inbound=12)]  # projected 17
    candidates = [reserve(1, SOAP, 100)]

    assert moves(plan_min_max_replenishment([face], drained, candidates, PRODUCTS, today=TODAY)) == [
        (1, FACE, 12)  # only 20 physically fit: one case
    ]
    assert plan_min_max_replenishment([face], on_its_way, candidates, PRODUCTS, today=TODAY) == ()


def test_min_max_suggests_nothing_when_less_than_a_case_fits():
    face = PickFace(SOAP, FACE, min_qty=10, max_qty=20)
    stock = [PickFaceStock(SOAP, FACE, on_hand=9)]
    assert plan_min_max_replenishment([face], stock, [reserve(1, SOAP, 100)], PRODUCTS, today=TODAY) == ()


def test_min_max_draws_fefo_from_reserve_and_never_moves_expired_stock():
    face = PickFace(MILK, FACE, min_qty=12, max_qty=48)
    candidates = [
        reserve(1, MILK, 24, expiry=TODAY + timedelta(days=90)),
        reserve(2, MILK, 24, expiry=TODAY - timedelta(days=1)),
        reserve(3, MILK, 18, expiry=TODAY + timedelta(days=20)),  # one case and six loose
    ]
    plan = plan_min_max_replenishment([face], [], candidates, PRODUCTS, today=TODAY)

    assert moves(plan) == [(3, FACE, 12), (1, FACE, 24)]


def test_min_max_case_quantity_of_the_face_overrides_the_product():
    face = PickFace(BOLTS, FACE, min_qty=5, max_qty=40, case_qty=8)
    plan = plan_min_max_replenishment([face], [], [reserve(1, BOLTS, 100)], PRODUCTS, today=TODAY)

    assert moves(plan) == [(1, FACE, 40)]


def test_min_max_serves_the_emptier_face_first_when_reserve_is_short():
    fuller = PickFace(BOLTS, 11, min_qty=10, max_qty=20)
    emptier = PickFace(BOLTS, 12, min_qty=10, max_qty=20)
    stock = [PickFaceStock(BOLTS, 11, on_hand=8), PickFaceStock(BOLTS, 12, on_hand=1)]
    plan = plan_min_max_replenishment([fuller, emptier], stock, [reserve(1, BOLTS, 15)], PRODUCTS, today=TODAY)

    assert moves(plan) == [(1, 12, 15)]


# ------------------------------------------------------------------- urgent


def pick(order_id, qty, *, quant_id=50, stage=AllocationStage.PICK_FACE, product_id=SOAP):
    return Allocation(
        order_id=order_id,
        line_no=1,
        product_id=product_id,
        quant_id=quant_id,
        location_id=FACE,
        lot="FACELOT",
        qty=qty,
        stage=stage,
        pick_location_id=FACE,
    )


def test_urgent_replenishment_covers_the_wave_shortfall_and_maps_who_waits_for_what():
    planned = [pick("A", 4), pick("B", 6), pick("C", 3)]  # 13 wanted, 5 on the face
    stock = [PickFaceStock(SOAP, FACE, on_hand=5)]
    candidates = [reserve(7, SOAP, 4, received_day=1), reserve(8, SOAP, 48, received_day=2)]
    face = PickFace(SOAP, FACE, min_qty=10, max_qty=60)
    plan = plan_urgent_replenishment(planned, stock, candidates, PRODUCTS, today=TODAY, pick_faces=[face])

    assert moves(plan.replenishments) == [(7, FACE, 4), (8, FACE, 12)]  # FIFO; 4 short rounded up to a case
    assert all(r.kind is ReplenishmentKind.URGENT for r in plan.replenishments)
    first, second = (r.key for r in plan.replenishments)
    assert plan.waits_for(planned[0]) == ()  # covered by the face
    assert plan.waits_for(planned[1]) == (first, second)  # 1 from the face, 4 + 1 brought
    assert plan.waits_for(planned[2]) == (second,)
    assert plan.uncovered == ()


def test_urgent_replenishment_does_not_round_up_past_max():
    planned = [pick("A", 9)]
    stock = [PickFaceStock(SOAP, FACE, on_hand=5)]
    face = PickFace(SOAP, FACE, min_qty=0, max_qty=8)
    plan = plan_urgent_replenishment(
        planned, stock, [reserve(8, SOAP, 48)], PRODUCTS, today=TODAY, pick_faces=[face]
    )

    assert moves(plan.replenishments) == [(8, FACE, 4)]  # exactly the shortfall


def test_urgent_replenishment_reports_what_reserve_cannot_cover():
    planned = [pick("A", 5), pick("B", 10)]
    stock = [PickFaceStock(SOAP, FACE, on_hand=5)]
    plan = plan_urgent_replenishment(planned, stock, [reserve(8, SOAP, 4)], PRODUCTS, today=TODAY)

    assert moves(plan.replenishments) == [(8, FACE, 4)]
    [short] = plan.uncovered
    assert (short.allocation, short.waits_for, short.uncovered_qty) == (planned[1], (plan.replenishments[0].key,), 6)


def test_urgent_replenishment_does_not_reuse_reserve_stock_the_wave_already_holds():
    planned = [
        pick("A", 24, quant_id=8, stage=AllocationStage.FULL_CASE),  # takes all of quant 8
        pick("B", 6),
    ]
    stock = [PickFaceStock(SOAP, FACE, on_hand=0)]
    candidates = [reserve(8, SOAP, 24, received_day=1), reserve(9, SOAP, 24, received_day=2)]
    plan = plan_urgent_replenishment(planned, stock, candidates, PRODUCTS, today=TODAY)

    assert moves(plan.replenishments) == [(9, FACE, 6)]


def test_wave_allocated_pending_replenishment_is_moved_from_its_own_reserve_quant():
    # FEFO would take quant 1 first, but it is too short-dated for these customers.
    candidates = [
        StockCandidate(3, MILK, FACE, LocationKind.PICK_FACE, 5, datetime(2025, 1, 1), "FACE",
                       expiry=TODAY + timedelta(days=60)),
        reserve(1, MILK, 30, expiry=TODAY + timedelta(days=10)),
        reserve(2, MILK, 30, expiry=TODAY + timedelta(days=70)),
    ]
    orders = [
        Order("A", (OrderLine(1, MILK, 8),), min_shelf_life_days=30, priority=2),
        Order("B", (OrderLine(1, MILK, 3),), min_shelf_life_days=30, priority=1),
    ]
    result = allocate(orders, candidates, PRODUCTS, today=TODAY, pending_pick_faces={MILK: FACE})
    pending = [a for a in result.allocations if a.stage is AllocationStage.PENDING_REPLENISHMENT]
    assert [(a.order_id, a.quant_id, a.qty, a.pick_location_id) for a in pending] == [
        ("A", 2, 3, FACE),
        ("B", 2, 3, FACE),
    ]

    stock = [PickFaceStock(MILK, FACE, on_hand=5)]
    face = PickFace(MILK, FACE, min_qty=6, max_qty=24)
    plan = plan_urgent_replenishment(
        result.allocations, stock, candidates, PRODUCTS, today=TODAY, pick_faces=[face]
    )

    [move] = plan.replenishments
    assert (move.from_quant_id, move.from_location_id, move.to_location_id, move.lot) == (2, 202, FACE, "LOT2")
    assert move.qty == 12  # the six promised, rounded up to a whole case
    assert [plan.waits_for(a) for a in pending] == [(move.key,), (move.key,)]
    assert plan.waits_for(result.allocations[0]) == ()  # A's five from the face itself
