import pytest

from backend.routing.layout import DEPOT, Layout, PickPoint, distance_matrix

SINGLE = Layout(aisle_x=(0.0, 4.0, 8.0), aisle_length=20.0, depot=(4.0, 0.0))
TWO_BLOCKS = Layout(aisle_x=(0.0, 4.0, 8.0), aisle_length=20.0, depot=(0.0, 0.0), middle_cross_aisles_y=(10.0,))


def test_same_aisle_is_walked_straight_along_it():
    assert SINGLE.distance(PickPoint(1, 3.0), PickPoint(1, 17.0)) == 14.0


def test_different_aisles_go_round_the_nearer_cross_aisle():
    # via the front: 3 + 4 + 5 = 12; via the back: 17 + 4 + 15 = 36
    assert SINGLE.distance(PickPoint(0, 3.0), PickPoint(1, 5.0)) == 12.0
    # via the back: 2 + 8 + 1 = 11; via the front: 18 + 8 + 19 = 45
    assert SINGLE.distance(PickPoint(0, 18.0), PickPoint(2, 19.0)) == 11.0


def test_middle_cross_aisle_gives_a_shortcut():
    # both near the middle cross aisle (y = 10): 1 + 8 + 2 = 11
    assert TWO_BLOCKS.distance(PickPoint(0, 9.0), PickPoint(2, 12.0)) == 11.0
    # in one block, the nearer of its two cross aisles: 4 + 4 + 3 (via y=10)
    assert TWO_BLOCKS.distance(PickPoint(0, 14.0), PickPoint(1, 13.0)) == 11.0
    # the same points without the middle cross aisle walk round the back: 6 + 4 + 7
    assert TWO_BLOCKS.without_middle_cross_aisles().distance(PickPoint(0, 14.0), PickPoint(1, 13.0)) == 17.0


def test_depot_is_reached_along_the_front_cross_aisle():
    assert SINGLE.distance(DEPOT, PickPoint(0, 7.0)) == 11.0
    assert SINGLE.distance(PickPoint(1, 7.0), DEPOT) == 7.0
    assert SINGLE.distance(DEPOT, DEPOT) == 0.0


def test_matrix_matches_pairwise_distances_and_is_symmetric():
    points = [PickPoint(a, y) for a in range(3) for y in (0.0, 2.5, 9.0, 10.0, 11.5, 20.0)]
    for layout in (SINGLE, TWO_BLOCKS):
        matrix = distance_matrix(layout, points)
        nodes = [DEPOT, *points]
        for i, p in enumerate(nodes):
            for j, q in enumerate(nodes):
                assert matrix[i][j] == pytest.approx(layout.distance(p, q))
                assert matrix[i][j] == matrix[j][i]


def test_distance_is_never_shorter_than_straight_line_manhattan():
    points = [PickPoint(a, y) for a in range(3) for y in (1.0, 6.0, 14.0)]
    for p in points:
        for q in points:
            manhattan = abs(TWO_BLOCKS.x_of(p) - TWO_BLOCKS.x_of(q)) + abs(p.y - q.y)
            assert TWO_BLOCKS.distance(p, q) >= manhattan - 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aisle_x": (), "aisle_length": 10.0},
        {"aisle_x": (2.0, 1.0), "aisle_length": 10.0},
        {"aisle_x": (1.0,), "aisle_length": 0.0},
        {"aisle_x": (1.0,), "aisle_length": 10.0, "middle_cross_aisles_y": (10.0,)},
        {"aisle_x": (1.0,), "aisle_length": 10.0, "depot": (0.0, 3.0)},
    ],
)
def test_layout_refuses_impossible_geometry(kwargs):
    with pytest.raises(ValueError):
        Layout(**kwargs)


def test_points_outside_the_layout_are_refused():
    with pytest.raises(ValueError):
        SINGLE.check_point(PickPoint(3, 1.0))
    with pytest.raises(ValueError):
        SINGLE.check_point(PickPoint(0, 21.0))
