"""The order-batching benchmark's instances (Henn & Wäscher) and its savings baseline."""

import pytest

from backend.bench.batching_bench import (
    CART,
    Slot,
    _points_of,
    generate_instance,
    henn_waescher_layout,
    savings_batches,
)
from backend.routing.baselines import route_s_shape
from backend.routing.exact import TourLengths
from backend.routing.layout import PickPoint


def test_the_layout_is_ten_aisles_of_45_slots_a_side_with_the_depot_in_front_of_the_first():
    layout = henn_waescher_layout()
    assert layout.is_single_block
    assert layout.aisle_x == tuple(5.0 * a for a in range(10))
    assert layout.aisle_length == 47.0  # 1 m + 45 slots of 1 m + 1 m
    assert layout.depot == (0.0, 0.0) == (layout.aisle_x[0], layout.cross_aisles_y[0])
    assert layout.cross_aisles_y == (0.0, 47.0)


def test_slots_sit_in_the_middle_of_their_metre_and_facing_slots_are_one_stop():
    assert Slot(0, 0, 1).point == PickPoint(0, 1.5)
    assert Slot(9, 1, 45).point == PickPoint(9, 45.5)
    assert Slot(3, 0, 17).point == Slot(3, 1, 17).point
    instance = generate_instance(200, 5)
    slots = {slot for order in instance.orders for slot in order}
    codes = {slot.code for slot in slots}
    assert len(codes) == len(slots)
    for slot in slots:
        assert 0 <= slot.aisle < 10 and slot.side in (0, 1) and 1 <= slot.number <= 45
        instance.layout.check_point(slot.point)


def test_orders_have_5_to_25_articles_on_distinct_slots_and_a_seed_gives_the_same_orders():
    instance = generate_instance(300, 2)
    sizes = [len(order) for order in instance.orders]
    assert min(sizes) == 5 and max(sizes) == 25
    assert all(len(set(order)) == len(order) for order in instance.orders)
    assert instance.articles == sum(sizes)
    assert generate_instance(300, 2) == instance
    assert generate_instance(300, 3) != instance
    pick_orders = instance.pick_orders()
    assert [sum(line.quantity for line in o.lines) for o in pick_orders] == sizes
    assert CART.max_units == 45


@pytest.mark.parametrize("routing", ["s_shape", "optimal"])
def test_savings_batching_fills_carts_up_to_45_articles_and_saves_walking(routing):
    instance = generate_instance(40, 7)
    layout = instance.layout
    points = instance.order_points()
    units = [len(order) for order in instance.orders]
    exact = TourLengths(layout)

    def length(stops):
        if routing == "s_shape":
            return route_s_shape(layout, stops).length_m
        picks = {}
        for p in stops:
            picks.setdefault(p.aisle, []).append(p.y)
        return exact.length(picks)

    batches = savings_batches(points, units, 45, length)
    assert sorted(i for batch in batches for i in batch) == list(range(40))
    assert all(sum(units[i] for i in batch) <= 45 for batch in batches)
    assert len(batches) < 40
    together = sum(length(_points_of(batch, points)) for batch in batches)
    assert together < sum(length(list(p)) for p in points)
    # No two batches could still share a cart: every feasible merge was taken or saved nothing.
    loads = [sum(units[i] for i in batch) for batch in batches]
    for a in range(len(batches)):
        for b in range(a + 1, len(batches)):
            if loads[a] + loads[b] <= 45:
                merged = length(_points_of(batches[a] + batches[b], points))
                saving = length(_points_of(batches[a], points)) + length(_points_of(batches[b], points)) - merged
                assert saving < 1e-9
