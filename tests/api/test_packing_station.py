"""The pack bench and the dock door (rules: backend.execution.packing), on SQLite and PostgreSQL.

A tote is split into its orders, packed into cartons of a chosen size (part of a tote per carton), each
item checked at its scan; a missing item raises a `pack_short` exception; cartons are loaded at a dock door
and an order ships only once every carton of it is on that load.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import select

from backend.gs1 import is_valid_sscc
from backend.models import Move, Order, Task, TourTote, WarehouseException
from tests.api.test_carton_labels import _labels, _pick, _released_order
from tests.api.test_execution_flow import _gtin_of, _ledger_ok, _one, _totes
from tests.api.test_outbound_flow import SOON, _orders, _outbound_site
from tests.helpers import SKU_A, SKU_B, SKU_C, gtin13

API = "/api/v1"


def _picked_tote(api) -> str:  # noqa: ANN001
    """SO-9 (A × 30, C × 2) picked whole into one tote, a printer at PACK-1, a ship door SHIP-1."""
    picks, tote = _released_order(api)
    for pick in picks:
        _pick(api, pick, tote)
    r = api.as_("root").post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "SHIP-1", "kind": "ship", "x": 0, "y": 1, "mixed_products": True}]})
    assert r.status_code == 200, r.text
    api.add_user("packer", ["packer"], ["S1"])
    return tote


def _pack(api, tote: str, items: list[tuple[str, int]], **extra) -> dict:  # noqa: ANN001, ANN003
    return _one(api, "packer", "pack", {"tote": tote, "station": "PACK-1", "items": [
        {"product": product, "quantity": quantity} for product, quantity in items], **extra})


def _view(api, tote: str) -> dict:  # noqa: ANN001
    r = api.as_("packer").get(f"{API}/totes/{tote}/packing", params={"site": "S1"})
    assert r.status_code == 200, r.text
    return r.json()


def _check(api, tote: str, scan: str, **body):  # noqa: ANN001, ANN003, ANN202
    return api.as_("packer").post(f"{API}/totes/{tote}/packing/check", json={"site": "S1", "scan": scan, **body})


def _tote_units(api, tote: str) -> dict[str, int]:  # noqa: ANN001
    units: dict[str, int] = {}
    for q in api.as_("sup").get(f"{API}/inventory", params={"site": "S1", "lpn": tote}).json()["data"]:
        units[q["sku"]] = units.get(q["sku"], 0) + q["on_hand"]  # (a quant per location it was picked at)
    return units


def test_the_bench_sees_what_the_tote_holds_for_its_order_and_the_carton_sizes(api):  # noqa: ANN001
    tote = _picked_tote(api)

    view = _view(api, tote)

    assert view["tote"] == tote and view["empty"] is False and view["unassigned"] == []
    (order,) = view["orders"]
    assert (order["order"], order["carrier"], order["units"], order["cartons"]) == ("SO-9", "DHL", 32, [])
    assert [(ln["sku"], ln["description"], ln["gtin"], ln["quantity"], ln["ordered"], ln["packed"])
            for ln in order["lines"]] == [(SKU_A, "Widget", gtin13(1), 30, 30, 0),
                                          (SKU_C, "Lemonade", gtin13(3), 2, 2, 0)]
    assert [t["code"] for t in view["carton_types"]] == ["S", "M", "L", "XL"]
    # Scanned as the label says it, AIM prefix and all, the tote is found the same.
    assert api.as_("packer").get(f"{API}/totes/{quote(']C0' + tote)}/packing", params={"site": "S1"}).json()[
        "orders"] == view["orders"]
    not_a_tote = api.as_("packer").get(f"{API}/totes/{gtin13(1)}/packing", params={"site": "S1"})
    assert not_a_tote.status_code == 422 and not_a_tote.json()["error"]["code"] == "not_a_tote"
    assert "That is a product (SKU-A): scan the tote" in not_a_tote.json()["error"]["message"]


def test_a_tote_is_packed_into_two_cartons_each_labelled_with_its_own_sscc(api):  # noqa: ANN001
    tote = _picked_tote(api)

    first = _pack(api, tote, [(_gtin_of(SKU_A), 20)], carton_type="M", weight_kg=6.0)

    assert first["ok"], first.get("error")
    one = first["result"]
    assert (one["order"], one["carton_no"], one["carton_type"], one["left_for_order"]) == ("SO-9", 1, "M", 12)
    # More is in the tote for SO-9: carton 1's label says only "1".
    assert (one["carton_count"], one["order_status"]) == (None, "picked")
    assert _tote_units(api, tote) == {SKU_A: 10, SKU_C: 2}
    assert [ln["quantity"] for ln in _view(api, tote)["orders"][0]["lines"]] == [10, 2]

    second = _pack(api, tote, [(_gtin_of(SKU_A), 10), (SKU_C, 2)], carton_type="S", weight_kg=3.5)

    assert second["ok"], second.get("error")
    two = second["result"]
    assert (two["carton_no"], two["carton_count"], two["order_status"], two["left_in_tote"]) == (2, 2, "packed", 0)
    assert is_valid_sscc(one["sscc"]) and is_valid_sscc(two["sscc"]) and one["sscc"] != two["sscc"]
    # One label per carton, each with its own SSCC; none is wrong once the second closes.
    assert [(label[1], label[2]) for label in _labels(api)] == [(one["sscc"], "1"), (two["sscc"], "2 of 2")]
    assert _tote_units(api, tote) == {}
    assert _view(api, tote)["empty"] is True
    cartons = {c["code"]: c for c in api.as_("sup").get(f"{API}/containers", params={
        "site": "S1", "kind": "carton"}).json()["data"]}
    assert {cartons[one["carton"]]["status"], cartons[two["carton"]]["status"]} == {"closed"}
    assert _ledger_ok(api)


def test_a_wrong_or_surplus_item_is_refused_at_its_scan(api):  # noqa: ANN001
    tote = _picked_tote(api)

    right = _check(api, tote, _gtin_of(SKU_A), quantity=12)
    aim_gs1 = _check(api, tote, "]C101" + "0" + gtin13(3), in_carton={SKU_A: 12})
    wrong = _check(api, tote, _gtin_of(SKU_B))
    surplus = _check(api, tote, _gtin_of(SKU_A), in_carton={SKU_A: 30})
    too_many_keyed = _check(api, tote, _gtin_of(SKU_C), quantity=3)
    not_an_item = _check(api, tote, "PF-01")

    assert right.status_code == 200, right.text
    assert (right.json()["order"], right.json()["sku"], right.json()["remaining"]) == ("SO-9", SKU_A, 18)
    assert aim_gs1.status_code == 200 and aim_gs1.json()["sku"] == SKU_C and aim_gs1.json()["remaining"] == 1
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_item"
    assert wrong.json()["error"]["message"] == f"Wrong item: you scanned {SKU_B} — tote {tote} holds {SKU_A}, " \
                                              f"{SKU_C} for SO-9"
    assert surplus.status_code == 422 and surplus.json()["error"]["code"] == "pack_surplus"
    assert surplus.json()["error"]["message"] == f"Too many {SKU_A}: tote {tote} holds 30 for SO-9"
    assert too_many_keyed.status_code == 422 and too_many_keyed.json()["error"]["code"] == "pack_surplus"
    assert not_an_item.status_code == 422 and not_an_item.json()["error"]["code"] == "not_a_product"
    assert _tote_units(api, tote) == {SKU_A: 30, SKU_C: 2}  # a check changes nothing


def test_pack_refuses_what_the_tote_does_not_hold_and_moves_nothing(api):  # noqa: ANN001
    tote = _picked_tote(api)

    wrong = _pack(api, tote, [(_gtin_of(SKU_A), 2), (_gtin_of(SKU_B), 1)])
    surplus = _pack(api, tote, [(SKU_C, 3)])
    bad_size = _pack(api, tote, [(SKU_C, 1)], carton_type="XXL")

    assert not wrong["ok"] and wrong["error"]["code"] == "wrong_item"
    assert wrong["error"]["details"]["field"] == "items.1.product"
    assert not surplus["ok"] and surplus["error"]["code"] == "pack_surplus"
    assert not bad_size["ok"] and bad_size["error"]["code"] == "unknown_carton_type"
    assert _tote_units(api, tote) == {SKU_A: 30, SKU_C: 2}
    assert api.as_("sup").get(f"{API}/containers", params={"site": "S1", "kind": "carton"}).json()["count"] == 0
    picker = _one(api, "pick", "pack", {"tote": tote, "station": "PACK-1", "items": [{"product": SKU_C,
                                                                                   "quantity": 1}]})
    assert not picker["ok"] and picker["error"]["code"] == "role_forbidden"


SHARED = [
    {"reference": "SO-7", "cut_off": SOON, "carrier": "DHL", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 2}, {"line_no": 2, "sku": SKU_C, "quantity": 1}]},
    {"reference": "SO-8", "cut_off": SOON, "carrier": "UPS", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 3}]},
]


def _one_tote_two_orders(api) -> str:  # noqa: ANN001
    """SO-7 and SO-8 released in one tour whose cart puts both in tote slot 1, picked into one tote."""
    _outbound_site(api)
    api.add_user("packer", ["packer"], ["S1"])
    assert _orders(api, SHARED).status_code == 201
    sup = api.as_("sup")
    wave = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"{API}/waves/{wave['id']}/release").status_code == 200
    r = sup.post(f"{API}/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1", "port": 9,
                                          "profile": "zebra-zt411-203", "station": "PACK-1"})
    assert r.status_code in (200, 201), r.text
    (tour,) = sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"]
    with api.runtime.sessions() as session:  # small orders sharing a tote: one slot, two orders
        for row in session.exec(select(TourTote).where(TourTote.tour_id == tour["id"])).all():
            row.tote_no = 1
            session.add(row)
        for task in session.exec(select(Task).where(Task.tour_id == tour["id"])).all():
            task.tote_no = 1
            session.add(task)
        session.commit()
    (tote,) = _totes(api, 1)
    for pick in sup.get(f"{API}/waves/{wave['id']}/tours").json()["data"][0]["picks"]:
        _pick(api, pick, tote)
    return tote


def test_a_tote_holding_two_orders_is_split_into_its_orders(api):  # noqa: ANN001
    tote = _one_tote_two_orders(api)
    assert _tote_units(api, tote) == {SKU_A: 5, SKU_C: 1}

    view = _view(api, tote)

    assert [(o["order"], [(ln["sku"], ln["quantity"]) for ln in o["lines"]]) for o in view["orders"]] == [
        ("SO-7", [(SKU_A, 2), (SKU_C, 1)]), ("SO-8", [(SKU_A, 3)])]
    # A is in both orders: the packer chooses the order; C is only SO-7's.
    ambiguous = _check(api, tote, _gtin_of(SKU_A))
    assert ambiguous.status_code == 409 and ambiguous.json()["error"]["code"] == "order_required"
    assert ambiguous.json()["error"]["details"]["orders"] == ["SO-7", "SO-8"]
    assert _check(api, tote, _gtin_of(SKU_C)).json()["order"] == "SO-7"
    surplus = _check(api, tote, _gtin_of(SKU_A), order="SO-8", quantity=4)
    assert surplus.status_code == 422 and surplus.json()["error"]["message"] == \
        f"Too many {SKU_A}: tote {tote} holds 3 for SO-8"
    assert not _pack(api, tote, [(_gtin_of(SKU_A), 1)])["ok"]

    so8 = _pack(api, tote, [(_gtin_of(SKU_A), 3)], order="SO-8", weight_kg=1.0)
    so7 = _pack(api, tote, [(_gtin_of(SKU_A), 2), (_gtin_of(SKU_C), 1)], weight_kg=1.5)  # the only order left

    assert so8["ok"] and so7["ok"], (so8, so7)
    assert (so8["result"]["order"], so8["result"]["carton_no"], so8["result"]["carton_count"]) == ("SO-8", 1, 1)
    assert (so7["result"]["order"], so7["result"]["carton_no"], so7["result"]["carton_count"]) == ("SO-7", 1, 1)
    assert so8["result"]["order_status"] == so7["result"]["order_status"] == "packed"
    assert _tote_units(api, tote) == {}


def test_packing_one_order_of_a_shared_tote_leaves_the_other_s_count_open(api):  # noqa: ANN001
    tote = _one_tote_two_orders(api)

    so8 = _pack(api, tote, [(_gtin_of(SKU_A), 3)], order="SO-8", weight_kg=1.0)

    # SO-8 is complete although SO-7's units are still in the tote.
    assert so8["ok"] and so8["result"]["carton_count"] == 1 and so8["result"]["order_status"] == "packed"
    assert [o["order"] for o in _view(api, tote)["orders"]] == ["SO-7"]


def test_a_missing_item_raises_a_pack_short_exception_and_the_rest_still_packs(api):  # noqa: ANN001
    tote = _picked_tote(api)
    first = _pack(api, tote, [(_gtin_of(SKU_A), 28)], carton_type="L", weight_kg=8.0)
    assert first["ok"] and first["result"]["carton_count"] is None

    too_many = _one(api, "packer", "report_pack_short", {"tote": tote, "station": "PACK-1", "product": SKU_A,
                                                          "quantity": 3})
    missing = _one(api, "packer", "report_pack_short", {"tote": tote, "station": "PACK-1", "product": SKU_A,
                                                         "quantity": 2})

    assert not too_many["ok"] and too_many["error"]["code"] == "too_many_missing"
    assert missing["ok"], missing.get("error")
    result = missing["result"]
    assert (result["order"], result["sku"], result["quantity"], result["left_for_order"]) == ("SO-9", SKU_A, 2, 2)
    exc = api.as_("sup").get(f"{API}/exceptions/{result['exception_id']}").json()
    assert exc["kind"] == "pack_short" and exc["state"] == "open"
    assert {k: exc["details"][k] for k in ("tote", "station", "order", "sku", "quantity", "reported_by_name")} == {
        "tote": tote, "station": "PACK-1", "order": "SO-9", "sku": SKU_A, "quantity": 2, "reported_by_name": "packer"}
    assert "packer" in exc["message"] and "PACK-1" in exc["message"]
    # The shelf the units came from is counted; the order says 28 of 30 A were picked.
    counts = [api.as_("sup").get(f"{API}/tasks/{t}").json() for t in result["count_task_ids"]]
    assert counts and {c["kind"] for c in counts} == {"count"}
    assert {c["from_location"] for c in counts} <= {"PF-01", "R1-01"}
    order = api.as_("sup").get(f"{API}/orders/SO-9", params={"site": "S1"}).json()
    assert [(ln["sku"], ln["quantity_picked"]) for ln in order["lines"]] == [(SKU_A, 28), (SKU_C, 2)]
    assert _tote_units(api, tote) == {SKU_C: 2}

    last = _pack(api, tote, [(SKU_C, 2)], weight_kg=1.0)

    assert last["ok"] and (last["result"]["carton_count"], last["result"]["order_status"]) == (2, "packed")
    assert _ledger_ok(api)


def test_an_item_reported_missing_after_the_last_carton_closed_makes_the_count_final(api):  # noqa: ANN001
    tote = _picked_tote(api)
    packed = _pack(api, tote, [(_gtin_of(SKU_A), 30), (SKU_C, 1)], weight_kg=8.0)
    assert packed["ok"] and packed["result"]["carton_count"] is None  # one C is still in the tote

    missing = _one(api, "packer", "report_pack_short", {"tote": tote, "station": "PACK-1", "product": gtin13(3),
                                                         "quantity": 1})

    assert missing["ok"], missing.get("error")
    result = missing["result"]
    assert (result["carton_count"], result["order_status"]) == (1, "packed")
    assert [label[2] for label in _labels(api)] == ["1"]  # nothing reprinted unless asked


def _packed_in_two_cartons(api) -> tuple[str, str]:  # noqa: ANN001
    tote = _picked_tote(api)
    first = _pack(api, tote, [(_gtin_of(SKU_A), 30)], weight_kg=7.0)
    second = _pack(api, tote, [(SKU_C, 2)], weight_kg=1.0)
    assert first["ok"] and second["ok"] and second["result"]["order_status"] == "packed"
    return first["result"]["sscc"], second["result"]["sscc"]


def _load(api, dock: str, carton: str) -> dict:  # noqa: ANN001
    return _one(api, "packer", "load", {"dock": dock, "carton": carton})


def test_a_loader_scans_cartons_onto_a_door_s_load_and_sees_what_is_missing(api):  # noqa: ANN001
    one, two = _packed_in_two_cartons(api)

    first = _load(api, "SHIP-1", "]C100" + one)  # the SSCC label as DataWedge types it

    assert first["ok"], first.get("error")
    load = first["result"]["load"]
    assert (first["result"]["carton_no"], first["result"]["already_loaded"]) == (1, False)
    assert (load["order"], load["carton_count"], load["loaded"], load["complete"]) == ("SO-9", 2, 1, False)
    assert [(c["carton_no"], c["sscc"], c["status"]) for c in load["missing"]] == [(2, two, "closed")]
    on_door = api.as_("packer").get(f"{API}/docks/SHIP-1/load", params={"site": "S1"}).json()
    assert [(o["order"], o["loaded"], [c["carton_no"] for c in o["missing"]]) for o in on_door["orders"]] == [
        ("SO-9", 1, [2])]
    stock = api.as_("sup").get(f"{API}/inventory", params={"site": "S1", "lpn": one}).json()["data"]
    assert {q["location"] for q in stock} == {"SHIP-1"}

    again = _load(api, "SHIP-1", one)
    second = _load(api, "SHIP-1", two)

    assert again["ok"] and again["result"]["already_loaded"] is True
    assert second["ok"] and second["result"]["load"]["complete"] is True and second["result"]["load"]["missing"] == []
    assert _ledger_ok(api)


def test_a_load_takes_only_closed_cartons_at_a_dock_door(api):  # noqa: ANN001
    tote = _picked_tote(api)
    open_carton = _pack(api, tote, [(SKU_C, 1)])
    assert open_carton["ok"]

    still_open = _load(api, "SHIP-1", open_carton["result"]["sscc"])
    not_a_door = _load(api, "PACK-1", open_carton["result"]["sscc"])
    a_tote = _load(api, "SHIP-1", tote)

    assert not still_open["ok"] and still_open["error"]["code"] == "carton_open"
    assert still_open["error"]["message"] == "Carton 1 of SO-9 is still open: close it at the pack bench first"
    assert not not_a_door["ok"] and not_a_door["error"]["code"] == "wrong_station"
    assert not a_tote["ok"] and a_tote["error"]["code"] == "not_a_carton"


def test_a_missing_carton_blocks_the_ship_naming_it_and_the_full_load_ships(api):  # noqa: ANN001
    one, two = _packed_in_two_cartons(api)
    assert _load(api, "SHIP-1", one)["ok"]

    blocked = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})

    assert not blocked["ok"] and blocked["error"]["code"] == "cartons_not_loaded"
    assert blocked["error"]["message"] == (f"Carton 2 of SO-9 is not loaded: scan it onto the load at SHIP-1 first "
                                           f"(SSCC {two})")
    assert [c["sscc"] for c in blocked["error"]["details"]["missing"]] == [two]
    assert api.as_("sup").get(f"{API}/orders/SO-9", params={"site": "S1"}).json()["status"] == "packed"

    assert _load(api, "SHIP-1", two)["ok"]
    shipped = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})

    assert shipped["ok"], shipped.get("error")
    assert (shipped["result"]["units"], sorted(shipped["result"]["cartons"])) == (32, sorted([one, two]))
    assert api.as_("sup").get(f"{API}/orders/SO-9", params={"site": "S1"}).json()["status"] == "shipped"
    assert api.as_("packer").get(f"{API}/docks/SHIP-1/load", params={"site": "S1"}).json()["orders"] == []
    again = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})
    assert not again["ok"] and again["error"]["code"] == "order_shipped"
    assert _ledger_ok(api)


def test_a_carton_loaded_at_one_door_and_scanned_at_another_is_on_the_second_load(api):  # noqa: ANN001
    one, two = _packed_in_two_cartons(api)
    assert _load(api, "SHIP-1", one)["ok"] and _load(api, "SHIP-1", two)["ok"]

    moved = _load(api, "DOCK-1", two)

    assert moved["ok"] and moved["result"]["moved_from"] == "SHIP-1"
    ship_here = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})
    assert not ship_here["ok"] and [c["sscc"] for c in ship_here["error"]["details"]["missing"]] == [two]
    assert [c["location"] for c in ship_here["error"]["details"]["missing"]] == ["DOCK-1"]


def test_shipping_a_partly_packed_order_is_refused(api):  # noqa: ANN001
    tote = _picked_tote(api)
    carton = _pack(api, tote, [(SKU_C, 2)], weight_kg=1.0)
    assert carton["ok"] and _load(api, "SHIP-1", carton["result"]["sscc"])["ok"]

    refused = _one(api, "packer", "ship", {"order": "SO-9", "dock": "SHIP-1"})

    assert not refused["ok"] and refused["error"]["code"] == "order_not_packed"
    with api.runtime.sessions() as session:
        assert session.exec(select(Order.status).where(Order.reference == "SO-9")).one() == "picked"
        assert session.exec(select(Move).where(Move.reason == "ship")).all() == []
        assert session.exec(select(WarehouseException).where(WarehouseException.kind == "pack_short")).all() == []
