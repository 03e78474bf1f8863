"""Planning an LPN's putaway (pure): whole when a location takes it whole, else a mixed LPN one product at a time."""

from __future__ import annotations

from backend.receiving.putaway import (
    CategoryZoneRule,
    LpnLine,
    PlannedPutaway,
    PutawayRequest,
    choose_putaway,
    destination_problems,
    plan_lpn_putaway,
)
from tests.unit.test_putaway_rules import BEVERAGE_ZONE, LEMONADE, PICK_ZONE, WIDGET, YOGHURT, loc


def planned(plan: list[PlannedPutaway]) -> list[tuple]:
    return [(p.product_id, p.quantity, p.choice.code if p.choice else None, p.choice.rule if p.choice else None,
             p.part, p.parts) for p in plan]


def test_a_single_product_lpn_is_one_putaway_even_with_nowhere_to_go():
    lines = [LpnLine(WIDGET, "hardware", 30), LpnLine(WIDGET, "hardware", 10)]  # two lots of one product
    assert planned(plan_lpn_putaway(lines, 0, 0, [loc("R-01", 1)])) == [(WIDGET, 40, "R-01", "nearest_empty", 1, 1)]
    assert planned(plan_lpn_putaway(lines, 0, 0, [])) == [(WIDGET, 40, None, None, 1, 1)]


def test_a_mixed_lpn_goes_whole_where_mixing_is_allowed():
    lines = [LpnLine(WIDGET, None, 30), LpnLine(YOGHURT, None, 10)]
    candidates = [loc("R-01", 1), loc("R-MIX", 9, mixed=True)]
    assert planned(plan_lpn_putaway(lines, 0, 0, candidates)) == [(None, 40, "R-MIX", "nearest_empty", 1, 1)]


def test_a_mixed_lpn_joins_mixed_stock_when_no_empty_location_takes_it():
    request = PutawayRequest(frozenset({WIDGET, YOGHURT}), None, 40, 0, 0)
    candidates = [loc("R-01", 1), loc("R-MIX", 9, mixed=True, capacity=100, on_hand=50, products={LEMONADE}),
                  loc("R-MIX-FULL", 2, mixed=True, capacity=60, on_hand=50, products={LEMONADE})]
    assert (choose_putaway(request, candidates).code, choose_putaway(request, candidates).rule) == (
        "R-MIX", "mixed_reserve")


def test_a_mixed_lpn_nothing_takes_whole_is_broken_down_largest_first():
    lines = [LpnLine(YOGHURT, "grocery", 10), LpnLine(LEMONADE, "beverage", 25), LpnLine(WIDGET, "hardware", 10)]
    candidates = [loc("PF-W", 30, kind="pick_face", zone=PICK_ZONE, fixed=WIDGET),
                  loc("BEV-1", 20, zone=BEVERAGE_ZONE), loc("R-01", 1), loc("R-02", 2)]
    plan = plan_lpn_putaway(lines, 0, 0, candidates, [CategoryZoneRule("beverage", BEVERAGE_ZONE)])
    assert planned(plan) == [
        (LEMONADE, 25, "BEV-1", "category_zone", 1, 3),
        (WIDGET, 10, "PF-W", "fixed_pick_face", 2, 3),  # ties on quantity: by product id
        (YOGHURT, 10, "R-01", "nearest_empty", 3, 3),
    ]


def test_each_part_counts_against_the_room_and_mixing_the_ones_before_it_took():
    # One empty location only: the first (largest) part takes it, and the second may not join a product there.
    lines = [LpnLine(WIDGET, None, 30), LpnLine(YOGHURT, None, 10)]
    candidates = [loc("R-01", 1, capacity=100), loc("R-02", 2, capacity=35)]
    plan = plan_lpn_putaway(lines, 0, 0, candidates)
    assert planned(plan) == [(WIDGET, 30, "R-01", "nearest_empty", 1, 2), (YOGHURT, 10, "R-02", "nearest_empty", 2, 2)]
    plan = plan_lpn_putaway(lines, 0, 0, [loc("R-01", 1)])
    assert planned(plan) == [(WIDGET, 30, "R-01", "nearest_empty", 1, 2), (YOGHURT, 10, None, None, 2, 2)]


def test_a_planned_part_never_lands_where_destination_problems_object():
    lines = [LpnLine(WIDGET, None, 30), LpnLine(YOGHURT, None, 20), LpnLine(LEMONADE, None, 5)]
    candidates = [loc("R-01", 1, capacity=40), loc("R-02", 2, capacity=40, on_hand=10, products={YOGHURT}),
                  loc("R-03", 3, capacity=25), loc("R-04", 4)]
    pool = {c.code: c for c in candidates}
    for part in plan_lpn_putaway(lines, 0, 0, candidates):
        assert part.choice is not None
        request = PutawayRequest(frozenset({part.product_id}), None, part.quantity, 0, 0)
        assert destination_problems(request, pool[part.choice.code]) == []
        target = pool[part.choice.code]
        pool[part.choice.code] = type(target)(**{**target.__dict__, "on_hand": target.on_hand + part.quantity,
                                                "product_ids": target.product_ids | {part.product_id}})


def test_an_empty_lpn_needs_no_putaway():
    assert plan_lpn_putaway([LpnLine(WIDGET, None, 0)], 0, 0, [loc("R-01", 1)]) == []
