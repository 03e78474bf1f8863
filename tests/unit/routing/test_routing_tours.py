import itertools
import random

import pytest

from backend.routing.baselines import route_largest_gap, route_s_shape
from backend.routing.exact import route_ratliff_rosenthal
from backend.routing.layout import Layout, PickPoint
from backend.routing.local_search import route_local_search
from backend.routing.route import order_length, tour_length
from backend.routing.router import route_tour


def brute_force_length(layout, points):
    matrix = layout.distance_matrix(points)
    return min(order_length(matrix, order) for order in itertools.permutations(range(1, len(points) + 1)))


def random_layout(rng, multi_block=False):
    aisles = rng.randint(1, 7)
    xs = tuple(1.5 + 3.0 * a for a in range(aisles))
    depot_x = rng.choice([xs[0], xs[rng.randrange(aisles)], round(rng.uniform(0.0, xs[-1] + 1.5), 1)])
    middle = (10.0,) if multi_block else ()
    return Layout(xs, 20.0, (depot_x, 0.0), middle)


def random_points(rng, layout, count):
    # Whole metres make ties (same y in several aisles, picks on a cross aisle) common.
    return sorted({PickPoint(rng.randrange(len(layout.aisle_x)), float(rng.randint(0, 20))) for _ in range(count)})


def assert_visits_each_once(route, points):
    assert sorted(route.stops) == sorted(set(points))
    assert len(route.stops) == len(set(route.stops))


def test_ratliff_rosenthal_matches_brute_force_on_small_instances():
    rng = random.Random(11)
    for _ in range(250):
        layout = random_layout(rng)
        points = random_points(rng, layout, rng.randint(1, 8))
        route = route_ratliff_rosenthal(layout, points)
        assert_visits_each_once(route, points)
        assert route.length_m == pytest.approx(brute_force_length(layout, points), abs=1e-6)
        assert route.length_m == pytest.approx(tour_length(layout, route.stops))


def test_ratliff_rosenthal_handles_a_depot_between_aisles():
    layout = Layout((0.0, 10.0), 20.0, depot=(5.0, 0.0))
    points = [PickPoint(0, 15.0), PickPoint(1, 2.0)]
    route = route_ratliff_rosenthal(layout, points)
    assert route.length_m == pytest.approx(brute_force_length(layout, points))


@pytest.mark.parametrize("multi_block", [False, True])
def test_route_tour_visits_every_stop_once_and_never_walks_more_than_s_shape(multi_block):
    rng = random.Random(5 + multi_block)
    for _ in range(150):
        aisles = rng.randint(2, 24)
        layout = Layout(
            tuple(1.5 + 3.0 * a for a in range(aisles)),
            34.0,
            (round(rng.uniform(0.0, 3.0 * aisles), 1), 0.0),
            (17.0,) if multi_block else (),
        )
        points = [PickPoint(rng.randrange(aisles), round(rng.uniform(0.0, 34.0), 1)) for _ in range(rng.randint(1, 40))]
        route = route_tour(layout, points)
        assert_visits_each_once(route, points)
        assert route.length_m == pytest.approx(tour_length(layout, route.stops))
        assert route.length_m <= route_s_shape(layout, points).length_m + 1e-9


def test_multi_block_route_is_close_to_brute_force_on_small_instances():
    rng = random.Random(23)
    ratios = []
    for _ in range(80):
        layout = random_layout(rng, multi_block=True)
        points = random_points(rng, layout, rng.randint(1, 7))
        route = route_tour(layout, points)
        assert_visits_each_once(route, points)
        best = brute_force_length(layout, points)
        assert route.length_m >= best - 1e-6
        ratios.append(route.length_m / best if best else 1.0)
    assert sum(ratios) / len(ratios) < 1.01


def test_local_search_visits_every_stop_once_and_keeps_the_better_start():
    rng = random.Random(3)
    for _ in range(60):
        layout = random_layout(rng, multi_block=rng.random() < 0.5)
        points = random_points(rng, layout, rng.randint(1, 30))
        s_shape = route_s_shape(layout, points)
        route = route_local_search(layout, points, starts=(s_shape.stops,))
        assert_visits_each_once(route, points)
        assert route.length_m <= s_shape.length_m + 1e-9


def test_baselines_visit_every_stop_and_are_never_shorter_than_the_optimum():
    rng = random.Random(17)
    for _ in range(120):
        layout = random_layout(rng)
        points = random_points(rng, layout, rng.randint(1, 7))
        best = brute_force_length(layout, points)
        for route in (route_s_shape(layout, points), route_largest_gap(layout, points)):
            assert_visits_each_once(route, points)
            assert route.length_m >= best - 1e-6


def test_s_shape_traverses_aisles_in_a_snake():
    layout = Layout((0.0, 5.0, 10.0), 20.0, depot=(0.0, 0.0))
    points = [PickPoint(0, 5.0), PickPoint(0, 15.0), PickPoint(1, 4.0), PickPoint(1, 16.0)]
    route = route_s_shape(layout, points)
    assert route.stops == (PickPoint(0, 5.0), PickPoint(0, 15.0), PickPoint(1, 16.0), PickPoint(1, 4.0))
    assert route.length_m == pytest.approx(20.0 + 5.0 + 20.0 + 5.0)


def test_exact_and_largest_gap_need_a_single_block():
    layout = Layout((0.0, 5.0), 20.0, middle_cross_aisles_y=(10.0,))
    with pytest.raises(ValueError):
        route_ratliff_rosenthal(layout, [PickPoint(0, 1.0)])
    with pytest.raises(ValueError):
        route_largest_gap(layout, [PickPoint(0, 1.0)])


def test_no_stops_is_an_empty_route():
    layout = Layout((0.0, 5.0), 20.0)
    for router in (route_tour, route_s_shape, route_ratliff_rosenthal, route_local_search):
        route = router(layout, [])
        assert route.stops == () and route.length_m == 0.0


def test_duplicate_points_are_one_stop():
    layout = Layout((0.0, 5.0), 20.0)
    route = route_tour(layout, [PickPoint(1, 3.0), PickPoint(1, 3.0)])
    assert route.stops == (PickPoint(1, 3.0),)
    assert route.length_m == pytest.approx(2 * (5.0 + 3.0))
