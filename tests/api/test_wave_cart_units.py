"""A cart's capacity in articles, set in the wave's criteria."""

from __future__ import annotations

from tests.api.test_outbound_flow import SOON, _orders, _outbound_site
from tests.helpers import SKU_A, SKU_C

API = "/api/v1"


def test_a_cart_limited_in_articles_never_carries_more_and_a_bigger_order_is_left_out(api):  # noqa: ANN001
    _outbound_site(api)
    orders = [{"reference": f"SO-{n}", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 2},
                                                                   {"line_no": 2, "sku": SKU_C, "quantity": 2}]}
              for n in range(1, 4)]
    orders.append({"reference": "SO-BIG", "cut_off": SOON, "lines": [{"line_no": 1, "sku": SKU_C, "quantity": 9}]})
    assert _orders(api, orders).status_code == 201
    sup = api.as_("sup")

    r = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8, "max_units": 8}})

    assert r.status_code == 201, r.text
    wave = r.json()
    assert wave["criteria"]["max_units"] == 8
    assert sorted(len(t["orders"]) for t in wave["tour_plan"]) == [1, 2]  # 4 units an order: two to a cart
    references = {o["id"]: o["reference"] for o in sup.get(f"{API}/orders", params={"site": "S1"}).json()["data"]}
    assert [(references[u["order_id"]], u["reason"]) for u in wave["unplanned"]] == [("SO-BIG", "order_exceeds_cart")]
    assert sup.post(f"{API}/waves/{wave['id']}/discard").status_code == 200
    without = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert [len(t["orders"]) for t in without["tour_plan"]] == [4] and without["unplanned"] == []
    r = sup.post(f"{API}/waves", json={"site": "S1", "cart": {"totes": 8, "max_units": 0}})
    assert r.status_code == 422
