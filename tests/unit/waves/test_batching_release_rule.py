import random

from backend.bench.workload import generate_workload
from backend.routing.layout import Layout, PickPoint
from backend.waves.batching import (
    CartSpec,
    PickLine,
    PickOrder,
    PlanSettings,
    plan_fcfs,
    plan_tours,
    release_key,
)

LAYOUT = Layout(tuple(1.5 + 3.0 * a for a in range(8)), 20.0, depot=(1.5, 0.0))


def tour_number_of(plan):
    return {order_id: tour.number for tour in plan.tours for order_id in tour.order_ids}


def mixed_orders(count, seed):
    rng = random.Random(seed)
    cut_offs = [50_400.0, 55_800.0, 61_200.0, 61_500.0]  # 14:00, 15:30, 17:00, 17:05 on day 0
    orders = []
    for i in range(count):
        lines = tuple(
            PickLine(f"o{i}-{k}", PickPoint(rng.randrange(8), float(rng.randint(1, 19))), 1, 1.0, 0.5)
            for k in range(rng.randint(1, 4))
        )
        orders.append(PickOrder(f"o{i}", rng.choice(cut_offs), rng.choice([0, 0, 0, 1, 2]), lines))
    return orders


def test_earlier_windows_and_higher_priorities_are_never_released_after_later_ones():
    settings = PlanSettings()
    orders = mixed_orders(400, seed=1)
    plan = plan_tours(LAYOUT, orders, CartSpec(totes=5), settings)
    number = tour_number_of(plan)
    keyed = sorted((release_key(o, settings), number[o.order_id]) for o in orders)
    for (key_a, tour_a), (key_b, tour_b) in zip(keyed, keyed[1:]):
        assert tour_a <= tour_b
        if key_a < key_b:
            assert tour_a < tour_b  # orders of different release keys never share a tour


def test_release_key_is_cut_off_window_then_priority():
    settings = PlanSettings(cut_off_window_s=1800.0)
    urgent_late = PickOrder("u", 61_200.0, 2, ())
    normal_early = PickOrder("n", 50_400.0, 0, ())
    high_early = PickOrder("h", 50_400.0, 1, ())
    keys = sorted([urgent_late, normal_early, high_early], key=lambda o: release_key(o, settings))
    assert [o.order_id for o in keys] == ["h", "n", "u"]


def test_cut_offs_in_one_window_may_share_a_tour_but_not_across_windows():
    orders = mixed_orders(300, seed=2)
    same_window = PlanSettings(cut_off_window_s=1800.0)  # 17:00 and 17:05 share a window
    exact = PlanSettings(cut_off_window_s=0.0)
    by_id = {o.order_id: o for o in orders}
    mixed_cut_offs = [
        t for t in plan_tours(LAYOUT, orders, CartSpec(totes=6), same_window).tours
        if len({by_id[i].cut_off for i in t.order_ids}) > 1
    ]
    assert mixed_cut_offs
    assert all({by_id[i].cut_off for i in t.order_ids} <= {61_200.0, 61_500.0} for t in mixed_cut_offs)
    for tour in plan_tours(LAYOUT, orders, CartSpec(totes=6), exact).tours:
        assert len({by_id[i].cut_off for i in tour.order_ids}) == 1


def test_tours_are_numbered_from_one_in_release_order():
    workload = generate_workload(500, seed=9)
    plan = plan_tours(workload.layout, workload.pick_orders(), workload.cart)
    assert [t.number for t in plan.tours] == list(range(1, len(plan.tours) + 1))
    assert [t.release_key for t in plan.tours] == sorted(t.release_key for t in plan.tours)


def test_first_come_first_served_keeps_release_order_too():
    settings = PlanSettings()
    orders = mixed_orders(300, seed=4)
    number = tour_number_of(plan_fcfs(LAYOUT, orders, CartSpec(totes=5), settings))
    keyed = sorted((release_key(o, settings), number[o.order_id]) for o in orders)
    assert all(a[1] <= b[1] for a, b in zip(keyed, keyed[1:]))
