"""Directed putaway rules (pure): which location a pallet at the dock is sent to, and why not elsewhere."""

from __future__ import annotations

import itertools

import pytest

from backend.receiving.putaway import (
    CategoryZoneRule,
    PutawayCandidate,
    PutawayChoice,
    PutawayRequest,
    choose_putaway,
    destination_problems,
    front_aisle_distance,
)

WIDGET, YOGHURT, LEMONADE = 1, 2, 3
RESERVE_ZONE, BEVERAGE_ZONE, CHILLED_ZONE, PICK_ZONE = 10, 20, 30, 40
_ids = itertools.count(100)


def loc(code: str, x: float, y: float = 0.0, *, kind: str = "reserve", zone: int | None = RESERVE_ZONE,
        capacity: int = 0, on_hand: int = 0, products: set[int] = frozenset(), mixed: bool = False,
        fixed: int | None = None, active: bool = True) -> PutawayCandidate:
    return PutawayCandidate(location_id=next(_ids), code=code, kind=kind, zone_id=zone, capacity=capacity,
                            on_hand=on_hand, product_ids=frozenset(products), mixed_products=mixed,
                            fixed_product_id=fixed, x=x, y=y, active=active)


def pallet(*products: int, quantity: int = 40, category: str | None = None, dock: tuple[float, float] = (0.0, 0.0),
           ) -> PutawayRequest:
    return PutawayRequest(frozenset(products), category, quantity, *dock)


def chosen(choice: PutawayChoice | None) -> tuple[str, str] | None:
    return (choice.code, choice.rule) if choice else None


# --- fixed pick face -----------------------------------------------------------------------


def test_fixed_pick_face_comes_first_even_when_reserve_is_nearer():
    candidates = [loc("R-01", 1), loc("PF-WIDGET", 30, kind="pick_face", zone=PICK_ZONE, capacity=100, fixed=WIDGET)]
    assert chosen(choose_putaway(pallet(WIDGET), candidates)) == ("PF-WIDGET", "fixed_pick_face")


def test_fixed_pick_face_comes_before_a_category_rule():
    candidates = [loc("BEV-01", 1, zone=BEVERAGE_ZONE),
                  loc("PF-LEMONADE", 9, kind="pick_face", zone=PICK_ZONE, capacity=100, fixed=LEMONADE)]
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE)]
    choice = choose_putaway(pallet(LEMONADE, category="beverage"), candidates, rules)
    assert chosen(choice) == ("PF-LEMONADE", "fixed_pick_face")


def test_fixed_pick_face_without_room_falls_back_to_reserve():
    face = loc("PF-WIDGET", 1, kind="pick_face", zone=PICK_ZONE, capacity=100, on_hand=70, products={WIDGET},
               fixed=WIDGET)
    candidates = [face, loc("R-05", 5)]
    assert chosen(choose_putaway(pallet(WIDGET, quantity=31), candidates)) == ("R-05", "nearest_empty")
    # Exactly filling the face still fits.
    assert chosen(choose_putaway(pallet(WIDGET, quantity=30), candidates)) == ("PF-WIDGET", "fixed_pick_face")


def test_nearest_of_several_fixed_pick_faces_with_room_is_chosen():
    candidates = [loc("PF-FAR", 20, kind="pick_face", fixed=WIDGET), loc("PF-NEAR", 3, kind="pick_face", fixed=WIDGET),
                  loc("PF-FULL", 1, kind="pick_face", fixed=WIDGET, capacity=10, on_hand=10, products={WIDGET})]
    assert chosen(choose_putaway(pallet(WIDGET), candidates)) == ("PF-NEAR", "fixed_pick_face")


def test_another_product_s_pick_face_is_never_chosen():
    candidates = [loc("PF-YOGHURT", 1, kind="pick_face", fixed=YOGHURT), loc("R-09", 9)]
    assert chosen(choose_putaway(pallet(WIDGET), candidates)) == ("R-09", "nearest_empty")


def test_mixed_pallet_skips_pick_faces_and_needs_a_location_that_allows_mixing():
    candidates = [loc("PF-WIDGET", 1, kind="pick_face", fixed=WIDGET), loc("PF-OPEN", 1, kind="pick_face"),
                  loc("R-SINGLE", 2), loc("R-MIXED", 6, mixed=True)]
    assert chosen(choose_putaway(pallet(WIDGET, YOGHURT), candidates)) == ("R-MIXED", "nearest_empty")


# --- category → zone ----------------------------------------------------------------------


def test_category_rule_sends_the_pallet_to_its_zone_though_other_reserve_is_nearer():
    candidates = [loc("R-01", 1), loc("BEV-20", 20, zone=BEVERAGE_ZONE), loc("BEV-25", 25, zone=BEVERAGE_ZONE)]
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE)]
    choice = choose_putaway(pallet(LEMONADE, category="beverage"), candidates, rules)
    assert chosen(choice) == ("BEV-20", "category_zone")
    assert choice.distance_m == 20


def test_category_rules_are_tried_in_priority_order_not_by_distance():
    candidates = [loc("CHILL-02", 2, zone=CHILLED_ZONE), loc("BEV-30", 30, zone=BEVERAGE_ZONE)]
    rules = [CategoryZoneRule("beverage", CHILLED_ZONE, priority=50), CategoryZoneRule("beverage", BEVERAGE_ZONE,
                                                                                       priority=10)]
    choice = choose_putaway(pallet(LEMONADE, category="beverage"), candidates, rules)
    assert chosen(choice) == ("BEV-30", "category_zone")


def test_a_full_category_zone_falls_through_to_the_next_rule_then_to_nearest_empty():
    full_bev = loc("BEV-01", 1, zone=BEVERAGE_ZONE, capacity=50, on_hand=50, products={LEMONADE})
    chilled = loc("CHILL-40", 40, zone=CHILLED_ZONE)
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE, priority=1), CategoryZoneRule("beverage", CHILLED_ZONE, 2)]
    request = pallet(LEMONADE, category="beverage")
    assert chosen(choose_putaway(request, [full_bev, chilled, loc("R-05", 5)], rules)) == ("CHILL-40", "category_zone")
    assert chosen(choose_putaway(request, [full_bev, loc("R-05", 5)], rules)) == ("R-05", "nearest_empty")


def test_rules_for_other_categories_and_uncategorised_products_are_ignored():
    candidates = [loc("BEV-05", 5, zone=BEVERAGE_ZONE), loc("R-03", 3)]
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE)]
    assert chosen(choose_putaway(pallet(YOGHURT, category="grocery"), candidates, rules)) == ("R-03", "nearest_empty")
    assert chosen(choose_putaway(pallet(YOGHURT), candidates, rules)) == ("R-03", "nearest_empty")
    assert chosen(choose_putaway(pallet(LEMONADE, category="beverage"), candidates, rules)) == ("BEV-05",
                                                                                                "category_zone")


def test_category_zone_tops_up_a_location_already_holding_the_same_product():
    candidates = [loc("BEV-09", 9, zone=BEVERAGE_ZONE),
                  loc("BEV-04", 4, zone=BEVERAGE_ZONE, capacity=100, on_hand=30, products={LEMONADE})]
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE)]
    assert chosen(choose_putaway(pallet(LEMONADE, category="beverage"), candidates, rules)) == ("BEV-04",
                                                                                                 "category_zone")


def test_category_zone_does_not_put_a_product_beside_another_unless_mixing_is_allowed():
    holding_yoghurt = loc("BEV-02", 2, zone=BEVERAGE_ZONE, on_hand=10, products={YOGHURT})
    rules = [CategoryZoneRule("beverage", BEVERAGE_ZONE)]
    request = pallet(LEMONADE, category="beverage")
    assert chosen(choose_putaway(request, [holding_yoghurt, loc("BEV-08", 8, zone=BEVERAGE_ZONE)], rules)) == (
        "BEV-08", "category_zone")
    mixable = loc("BEV-02", 2, zone=BEVERAGE_ZONE, on_hand=10, products={YOGHURT}, mixed=True)
    assert chosen(choose_putaway(request, [mixable, loc("BEV-08", 8, zone=BEVERAGE_ZONE)], rules)) == (
        "BEV-02", "category_zone")


# --- nearest empty ---------------------------------------------------------------------------


def test_nearest_empty_is_measured_along_the_aisles_from_the_dock():
    # Straight-line distance would pick DIAGONAL (4.2 m); walking the aisles, ALONG (5 m) is nearer.
    candidates = [loc("DIAGONAL", 3, 3), loc("ALONG", 5, 0), loc("FAR", 9, 9)]
    choice = choose_putaway(pallet(WIDGET), candidates)
    assert chosen(choice) == ("ALONG", "nearest_empty") and choice.distance_m == 5


def test_nearest_empty_depends_on_which_dock_the_pallet_is_at():
    candidates = [loc("WEST", 2, 4), loc("EAST", 30, 4)]
    assert choose_putaway(pallet(WIDGET, dock=(0, 0)), candidates).code == "WEST"
    assert choose_putaway(pallet(WIDGET, dock=(32, 0)), candidates).code == "EAST"


def test_nearest_empty_skips_locations_that_already_hold_stock():
    candidates = [loc("R-01", 1, capacity=1000, on_hand=10, products={WIDGET}), loc("R-07", 7)]
    assert chosen(choose_putaway(pallet(WIDGET), candidates)) == ("R-07", "nearest_empty")


def test_nearest_empty_ignores_inactive_and_non_storage_locations():
    candidates = [loc("R-OFF", 1, active=False), loc("STAGE-1", 1, kind="staging"), loc("DOCK-2", 1, kind="dock"),
                  loc("QA-1", 1, kind="quarantine", mixed=True), loc("R-06", 6)]
    assert chosen(choose_putaway(pallet(WIDGET), candidates)) == ("R-06", "nearest_empty")


def test_equal_distances_are_broken_by_location_code():
    candidates = [loc("R-B", 0, 4), loc("R-A", 4, 0), loc("R-C", 2, 2)]
    assert choose_putaway(pallet(WIDGET), candidates).code == "R-A"


def test_a_site_specific_distance_function_is_used():
    candidates = [loc("R-NEAR-BY-AISLES", 5, 0), loc("R-NEAR-BY-LIFT", 20, 20)]

    def lift_distance(x1: float, y1: float, x2: float, y2: float) -> float:
        return 1.0 if (x2, y2) == (20, 20) else front_aisle_distance(x1, y1, x2, y2)

    assert choose_putaway(pallet(WIDGET), candidates, distance=lift_distance).code == "R-NEAR-BY-LIFT"


def test_nothing_suitable_gives_no_choice():
    candidates = [loc("R-FULL", 1, capacity=10, on_hand=10, products={WIDGET}), loc("PF-Y", 2, kind="pick_face",
                                                                                   fixed=YOGHURT)]
    assert choose_putaway(pallet(WIDGET), candidates) is None
    assert choose_putaway(pallet(WIDGET), []) is None


# --- why a location cannot take a pallet -----------------------------------------------------


@pytest.mark.parametrize(
    ("location", "request_", "problems"),
    [
        (loc("R-OK", 1), pallet(WIDGET), []),
        (loc("R-OFF", 1, active=False), pallet(WIDGET), ["location_inactive"]),
        (loc("DOCK-1", 1, kind="dock"), pallet(WIDGET), ["not_a_storage_location"]),
        (loc("PF-Y", 1, kind="pick_face", fixed=YOGHURT), pallet(WIDGET), ["fixed_to_another_product"]),
        (loc("PF-W", 1, kind="pick_face", fixed=WIDGET), pallet(WIDGET), []),
        (loc("PF-W", 1, kind="pick_face", fixed=WIDGET, mixed=True), pallet(WIDGET, YOGHURT),
         ["fixed_to_another_product"]),
        (loc("PF-OPEN", 1, kind="pick_face", mixed=True), pallet(WIDGET, YOGHURT), ["mixed_pallet_on_pick_face"]),
        (loc("R-100", 1, capacity=100, on_hand=61), pallet(WIDGET, quantity=40), ["over_capacity"]),
        (loc("R-100", 1, capacity=100, on_hand=60, products={WIDGET}), pallet(WIDGET, quantity=40), []),
        (loc("R-ANY", 1, capacity=0, on_hand=10_000, products={WIDGET}), pallet(WIDGET, quantity=40), []),
        (loc("R-Y", 1, on_hand=5, products={YOGHURT}), pallet(WIDGET), ["mixing_not_allowed"]),
        (loc("R-Y", 1, on_hand=5, products={YOGHURT}, mixed=True), pallet(WIDGET), []),
        (loc("R-EMPTY", 1), pallet(WIDGET, YOGHURT), ["mixing_not_allowed"]),
        (loc("STAGE", 1, kind="staging", capacity=10, on_hand=5, products={YOGHURT}, active=False),
         pallet(WIDGET, quantity=6), ["location_inactive", "not_a_storage_location", "over_capacity",
                                      "mixing_not_allowed"]),
    ],
    ids=lambda value: value.code if isinstance(value, PutawayCandidate) else None,
)
def test_destination_problems_name_every_reason(location, request_, problems):  # noqa: ANN001
    assert destination_problems(request_, location) == problems


def test_choice_never_lands_where_destination_problems_object():
    candidates = [
        loc("PF-W", 1, kind="pick_face", fixed=WIDGET, capacity=20, on_hand=15, products={WIDGET}),
        loc("R-Y", 2, on_hand=5, products={YOGHURT}),
        loc("R-OFF", 3, active=False),
        loc("R-SMALL", 4, capacity=30),
        loc("BEV-1", 5, zone=BEVERAGE_ZONE),
        loc("R-OK", 6),
    ]
    request = pallet(WIDGET, quantity=40, category="hardware")
    choice = choose_putaway(request, candidates, [CategoryZoneRule("hardware", RESERVE_ZONE)])
    assert chosen(choice) == ("R-OK", "category_zone")
    by_code = {c.code: c for c in candidates}
    assert destination_problems(request, by_code[choice.code]) == []
