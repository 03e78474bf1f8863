"""A cart's limit in articles (units): ``CartSpec.max_units``."""

import pytest

from backend.bench.workload import generate_workload
from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import CartSpec, PickLine, PickOrder, PlanSettings, plan_fcfs, plan_tours
from backend.waves.clustering import BatchingSettings

LAYOUT = Layout(tuple(1.5 + 3.0 * a for a in range(6)), 20.0, depot=(1.5, 0.0))
SEARCH_OFF = PlanSettings(batching=BatchingSettings(route_search_max_evaluations=0))


def order(order_id, *quantities, aisle=0):
    lines = tuple(
        PickLine(f"{order_id}-{k}", PickPoint((aisle + k) % 6, 2.0 + k), q, 0.1, 0.1) for k, q in enumerate(quantities)
    )
    return PickOrder(order_id, 1_000_000.0, 0, lines)


def units_of(tour, by_id):
    return sum(line.quantity for oid in tour.order_ids for line in by_id[oid].lines)


@pytest.mark.parametrize("planner", [plan_tours, plan_fcfs])
@pytest.mark.parametrize("settings", [PlanSettings(), SEARCH_OFF])
def test_no_cart_carries_more_articles_than_it_may(planner, settings):
    workload = generate_workload(300, seed=8, cart=CartSpec(totes=12, max_units=9))
    orders = workload.pick_orders()
    by_id = {o.order_id: o for o in orders}
    plan = planner(workload.layout, orders, workload.cart, settings)
    assert plan.tours
    assert all(units_of(tour, by_id) <= 9 for tour in plan.tours)
    # Orders of more than 9 units cannot ride any cart; all others are planned.
    too_big = {o.order_id for o in orders if sum(line.quantity for line in o.lines) > 9}
    assert {(u.order_id, u.reason) for u in plan.unplanned} == {(oid, "order_exceeds_cart") for oid in too_big}
    planned = [oid for tour in plan.tours for oid in tour.order_ids]
    assert sorted(planned) == sorted(set(by_id) - too_big)


@pytest.mark.parametrize("planner", [plan_tours, plan_fcfs])
def test_an_order_over_the_articles_limit_is_reported_not_dropped(planner):
    cart = CartSpec(totes=6, max_units=10)
    orders = [order("big", 6, 5), order("exact", 4, 6, aisle=2), order("small", 1, aisle=4)]
    plan = planner(LAYOUT, orders, cart)
    assert [(u.order_id, u.reason) for u in plan.unplanned] == [("big", "order_exceeds_cart")]
    assert sorted(oid for t in plan.tours for oid in t.order_ids) == ["exact", "small"]
    assert len(plan.tours) == 2  # 10 + 1 articles don't fit one cart of 10


def test_the_articles_limit_splits_carts_the_totes_would_allow():
    orders = [order(f"o{i}", 3, aisle=i % 6) for i in range(6)]
    loose = plan_tours(LAYOUT, orders, CartSpec(totes=12))
    tight = plan_tours(LAYOUT, orders, CartSpec(totes=12, max_units=6))
    assert len(loose.tours) == 1
    assert sorted(len(t.order_ids) for t in tight.tours) == [2, 2, 2]


def test_without_a_limit_plans_are_unchanged():
    workload = generate_workload(100, seed=2)
    orders = workload.pick_orders()
    assert workload.cart.max_units is None
    plain = plan_tours(workload.layout, orders, workload.cart)
    huge = plan_tours(workload.layout, orders, CartSpec(workload.cart.totes, workload.cart.tote_volume_l,
                                                        workload.cart.tote_weight_kg, max_units=10**9))
    assert [t.order_ids for t in plain.tours] == [t.order_ids for t in huge.tours]


def test_a_limit_below_one_article_is_refused():
    with pytest.raises(ValueError):
        CartSpec(max_units=0)
