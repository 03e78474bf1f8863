from collections import Counter

import pytest

from backend.bench.workload import generate_workload
from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import CartSpec, PickLine, PickOrder, plan_fcfs, plan_tours

LAYOUT = Layout(tuple(1.5 + 3.0 * a for a in range(6)), 20.0, depot=(7.5, 0.0))


def line(line_id, aisle, y, quantity=1, volume=1.0, weight=0.5):
    return PickLine(line_id, PickPoint(aisle, y), quantity, volume, weight)


def order(order_id, *lines, cut_off=1_000_000.0, priority=0):
    return PickOrder(order_id, cut_off, priority, tuple(lines))


@pytest.fixture(scope="module")
def workload():
    return generate_workload(600, seed=3, cart=CartSpec(totes=6, tote_volume_l=12.0, tote_weight_kg=6.0))


@pytest.mark.parametrize("planner", [plan_tours, plan_fcfs])
def test_carts_and_totes_stay_within_their_limits(workload, planner):
    plan = planner(workload.layout, workload.pick_orders(), workload.cart)
    cart = workload.cart
    for tour in plan.tours:
        assert len(tour.totes) <= cart.totes
        assert sorted(load.tote for load in tour.totes) == list(range(len(tour.totes)))
        for load in tour.totes:
            assert load.volume_l <= cart.tote_volume_l + 1e-9
            assert load.weight_kg <= cart.tote_weight_kg + 1e-9


@pytest.mark.parametrize("planner", [plan_tours, plan_fcfs])
def test_every_order_is_planned_exactly_once_with_all_its_units(workload, planner):
    orders = workload.pick_orders()
    plan = planner(workload.layout, orders, workload.cart)
    planned = [order_id for tour in plan.tours for order_id in tour.order_ids]
    unplanned = [u.order_id for u in plan.unplanned]
    assert sorted(planned + unplanned) == sorted(o.order_id for o in orders)
    assert len(set(planned)) == len(planned)
    picked = Counter()
    for tour in plan.tours:
        totes_of = {load.tote: load.order_id for load in tour.totes}
        for stop in tour.stops:
            for pick in stop.picks:
                assert totes_of[pick.tote] == pick.order_id  # one order per tote
                picked[pick.line_id] += pick.quantity
    wanted = {ln.line_id: ln.quantity for o in orders if o.order_id in set(planned) for ln in o.lines}
    assert dict(picked) == wanted


def test_every_stop_is_where_its_lines_are_and_each_spot_is_one_stop(workload):
    orders = workload.pick_orders()
    where = {ln.line_id: ln.point for o in orders for ln in o.lines}
    plan = plan_tours(workload.layout, orders, workload.cart)
    for tour in plan.tours:
        points = [stop.point for stop in tour.stops]
        assert len(points) == len(set(points))
        for stop in tour.stops:
            assert stop.picks
            assert all(where[pick.line_id] == stop.point for pick in stop.picks)


def test_an_order_too_big_for_one_tote_is_split_over_several():
    cart = CartSpec(totes=4, tote_volume_l=10.0, tote_weight_kg=100.0)
    big = order("big", line("b1", 0, 5.0, quantity=7, volume=2.0), line("b2", 3, 8.0, quantity=2, volume=3.0))
    small = order("small", line("s1", 1, 2.0))
    plan = plan_tours(LAYOUT, [big, small], cart)
    assert len(plan.tours) == 1
    loads = [load for load in plan.tours[0].totes if load.order_id == "big"]
    assert len(loads) == 2  # 20 litres in 10-litre totes
    assert sum(load.volume_l for load in loads) == pytest.approx(20.0)
    units = Counter()
    for stop in plan.tours[0].stops:
        for pick in stop.picks:
            if pick.order_id == "big":
                units[pick.line_id] += pick.quantity
    assert units == {"b1": 7, "b2": 2}


def test_weight_limits_split_totes_too():
    cart = CartSpec(totes=5, tote_volume_l=100.0, tote_weight_kg=10.0)
    heavy = order("heavy", line("h1", 2, 5.0, quantity=5, volume=1.0, weight=4.0))
    plan = plan_tours(LAYOUT, [heavy], cart)
    loads = plan.tours[0].totes
    assert len(loads) == 3  # 2 + 2 + 1 units of 4 kg
    assert all(load.weight_kg <= 10.0 for load in loads)


def test_orders_that_cannot_ride_a_cart_are_reported_not_dropped():
    cart = CartSpec(totes=2, tote_volume_l=10.0, tote_weight_kg=10.0)
    oversize_unit = order("sofa", line("x1", 0, 3.0, volume=50.0))
    too_many_totes = order("bulk", line("x2", 1, 3.0, quantity=30, volume=1.0))
    fine = order("fine", line("x3", 2, 3.0))
    plan = plan_tours(LAYOUT, [oversize_unit, too_many_totes, fine], cart)
    assert {(u.order_id, u.reason) for u in plan.unplanned} == {
        ("sofa", "unit_exceeds_tote"),
        ("bulk", "order_exceeds_cart"),
    }
    assert [t.order_ids for t in plan.tours] == [("fine",)]


def test_a_full_cart_starts_a_new_tour():
    cart = CartSpec(totes=3)
    orders = [order(f"o{i}", line(f"l{i}", i % 6, 4.0 + i)) for i in range(7)]
    plan = plan_tours(LAYOUT, orders, cart)
    assert sorted(len(t.order_ids) for t in plan.tours) == [1, 3, 3]


def test_tour_time_adds_walking_stops_and_lines():
    from backend.waves.batching import PlanSettings

    settings = PlanSettings(walk_speed_m_s=2.0, seconds_per_stop=10.0, seconds_per_line=3.0)
    orders = [order("a", line("a1", 0, 4.0), line("a2", 0, 4.0))]
    tour = plan_tours(LAYOUT, orders, CartSpec(), settings).tours[0]
    assert len(tour.stops) == 1
    assert tour.duration_s == pytest.approx(tour.distance_m / 2.0 + 10.0 + 2 * 3.0)


def test_batching_walks_much_less_than_first_come_first_served(workload):
    orders = workload.pick_orders()
    ours = plan_tours(workload.layout, orders, workload.cart)
    baseline = plan_fcfs(workload.layout, orders, workload.cart)
    assert ours.distance_m < 0.8 * baseline.distance_m


def test_orders_without_lines_are_reported_and_duplicates_refused():
    plan = plan_tours(LAYOUT, [order("empty"), order("one", line("l1", 0, 2.0))], CartSpec())
    assert [(u.order_id, u.reason) for u in plan.unplanned] == [("empty", "no_lines")]
    with pytest.raises(ValueError):
        plan_tours(LAYOUT, [order("dup", line("a", 0, 2.0)), order("dup", line("b", 1, 2.0))], CartSpec())
    with pytest.raises(ValueError):
        line("bad", 0, 2.0, quantity=0)
