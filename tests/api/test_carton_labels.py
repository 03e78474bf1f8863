"""Shipping labels of a multi-carton order say "n of m" only once m is final (rule: backend.execution.packing)."""

from __future__ import annotations

from sqlmodel import select

from backend.models import PrintJob
from printers import field_texts
from tests.api.test_execution_flow import _gtin_of, _one, _totes
from tests.api.test_outbound_flow import SOON, _orders, _outbound_site
from tests.helpers import SKU_A, SKU_C

# One order, one tote slot, three picks: PF-01 A × 6, R1-01 A × 24, PF-03 C × 2.
ORDER = {"reference": "SO-9", "cut_off": SOON, "carrier": "DHL", "lines": [
    {"line_no": 1, "sku": SKU_A, "quantity": 30}, {"line_no": 2, "sku": SKU_C, "quantity": 2}]}


def _released_order(api) -> tuple[list[dict], str]:  # noqa: ANN001
    """SO-9 released in a wave, a printer at PACK-1: its picks in walking order and the tote they go into."""
    _outbound_site(api)
    assert _orders(api, [ORDER]).status_code == 201
    sup = api.as_("sup")
    wave = sup.post("/api/v1/waves", json={"site": "S1", "cart": {"totes": 8}}).json()
    assert sup.post(f"/api/v1/waves/{wave['id']}/release").status_code == 200
    r = sup.post("/api/v1/printers", json={"site": "S1", "code": "ZT-PACK", "host": "127.0.0.1", "port": 9,
                                            "profile": "zebra-zt411-203", "station": "PACK-1"})
    assert r.status_code in (200, 201), r.text
    (tour,) = sup.get(f"/api/v1/waves/{wave['id']}/tours").json()["data"]
    assert [(p["location"], p["quantity"]) for p in tour["picks"]] == [("PF-01", 6), ("R1-01", 24), ("PF-03", 2)]
    (tote,) = _totes(api, 1)
    return tour["picks"], tote


def _pick(api, pick: dict, tote: str) -> None:  # noqa: ANN001
    result = _one(api, "pick", "confirm_pick", {"task_id": pick["task_id"], "location": pick["check_digits"],
                                                "product": _gtin_of(pick["sku"]), "tote": tote,
                                                "quantity": pick["quantity"]})
    assert result["ok"], result.get("error")


def _pack(api, tote: str, picks: list[dict]) -> dict:  # noqa: ANN001
    items: dict[str, int] = {}
    for pick in picks:
        items[_gtin_of(pick["sku"])] = items.get(_gtin_of(pick["sku"]), 0) + pick["quantity"]
    packed = _one(api, "sup", "pack", {"tote": tote, "station": "PACK-1", "items": [
        {"product": product, "quantity": quantity} for product, quantity in items.items()]})
    assert packed["ok"], packed.get("error")
    return packed["result"]


def _close(api, carton: dict, weight_kg: float) -> dict:  # noqa: ANN001
    closed = _one(api, "sup", "close_carton", {"carton": carton["sscc"], "station": "PACK-1", "weight_kg": weight_kg})
    assert closed["ok"], closed.get("error")
    return closed["result"]


def _labels(api) -> list[tuple[int, str, str, tuple[int, int | None], str]]:  # noqa: ANN001
    """Every shipping label queued, in print order: job id, SSCC, the CARTON box as printed, the data's
    carton number and count, and the weight as printed."""
    with api.runtime.sessions() as session:
        jobs = session.exec(select(PrintJob).where(PrintJob.label_type == "shipping")
                            .order_by(PrintJob.sequence)).all()
        labels = []
        for job in jobs:
            texts = field_texts(job.zpl)
            labels.append((job.id, job.data["sscc"], texts[texts.index("CARTON") + 1],
                           (job.data["carton_number"], job.data["carton_count"]), texts[texts.index("WEIGHT") + 1]))
        return labels


def test_a_one_carton_order_s_label_says_1_of_1(api):  # noqa: ANN001
    picks, tote = _released_order(api)
    for pick in picks:
        _pick(api, pick, tote)
    carton = _pack(api, tote, picks)

    closed = _close(api, carton, 7.5)

    assert (closed["carton_no"], closed["carton_count"]) == (1, 1)
    assert closed["order_status"] == "packed"
    assert _labels(api) == [(closed["print_job_id"], carton["sscc"], "1 of 1", (1, 1), "7.50 kg")]


def test_a_carton_closed_while_its_order_is_still_picking_says_only_its_number_and_the_last_close_n_of_m(
        api):  # noqa: ANN001
    picks, tote = _released_order(api)
    _pick(api, picks[0], tote)
    first = _pack(api, tote, picks[:1])

    closed_first = _close(api, first, 2.4)

    # Two picks are still open: more cartons may follow, so m is left off.
    assert (closed_first["carton_no"], closed_first["carton_count"]) == (1, None)
    assert closed_first["order_status"] == "picking"
    assert _labels(api) == [(closed_first["print_job_id"], first["sscc"], "1", (1, None), "2.40 kg")]

    for pick in picks[1:]:
        _pick(api, pick, tote)
    second = _pack(api, tote, picks[1:])
    closed_second = _close(api, second, 5.1)

    # The order is now completely packed: its count is final. One label per carton, none of them wrong.
    assert (closed_second["carton_no"], closed_second["carton_count"]) == (2, 2)
    assert closed_second["order_status"] == "packed"
    assert _labels(api) == [
        (closed_first["print_job_id"], first["sscc"], "1", (1, None), "2.40 kg"),
        (closed_second["print_job_id"], second["sscc"], "2 of 2", (2, 2), "5.10 kg"),
    ]
    # A carrier that wants m on every carton gets the set again, on request.
    reprinted = _one(api, "sup", "print_carton_labels", {"order": "SO-9", "station": "PACK-1"})
    assert reprinted["ok"], reprinted.get("error")
    assert [(x["sscc"], x["carton_no"]) for x in reprinted["result"]["labels"]] == [(first["sscc"], 1), (second["sscc"], 2)]
    assert [label[2:4] for label in _labels(api)[2:]] == [("1 of 2", (1, 2)), ("2 of 2", (2, 2))]
    for carton in (first, second):  # shipping takes every carton of the order loaded at the door
        loaded = _one(api, "sup", "load", {"dock": "DOCK-1", "carton": carton["sscc"]})
        assert loaded["ok"], loaded.get("error")
    shipped = _one(api, "sup", "ship", {"order": "SO-9", "dock": "DOCK-1"})
    assert shipped["ok"], shipped.get("error")
    assert sorted(shipped["result"]["cartons"]) == sorted([first["sscc"], second["sscc"]])


def test_while_another_carton_of_the_order_is_open_a_close_leaves_m_off_and_the_order_unpacked(api):  # noqa: ANN001
    picks, tote = _released_order(api)
    _pick(api, picks[0], tote)
    first = _pack(api, tote, picks[:1])
    for pick in picks[1:]:
        _pick(api, pick, tote)
    second = _pack(api, tote, picks[1:])

    closed_second = _close(api, second, 5.1)

    # Every pick is done and the tote is empty, but carton 1 is open: it may still be split.
    assert (closed_second["carton_count"], closed_second["order_status"]) == (None, "picked")
    not_yet = _one(api, "sup", "ship", {"order": "SO-9", "dock": "DOCK-1"})
    assert not not_yet["ok"] and not_yet["error"]["code"] == "order_not_packed"
    early = _one(api, "sup", "print_carton_labels", {"order": "SO-9", "station": "PACK-1"})
    assert not early["ok"] and early["error"]["code"] == "carton_count_open"

    closed_first = _close(api, first, 2.4)

    assert (closed_first["carton_count"], closed_first["order_status"]) == (2, "packed")
    assert _labels(api) == [
        (closed_second["print_job_id"], second["sscc"], "2", (2, None), "5.10 kg"),
        (closed_first["print_job_id"], first["sscc"], "1 of 2", (1, 2), "2.40 kg"),
    ]


def test_a_closed_carton_cannot_be_closed_again_and_prints_nothing_more(api):  # noqa: ANN001
    picks, tote = _released_order(api)
    for pick in picks:
        _pick(api, pick, tote)
    carton = _pack(api, tote, picks)
    _close(api, carton, 7.5)

    again = _one(api, "sup", "close_carton", {"carton": carton["sscc"], "station": "PACK-1", "weight_kg": 7.5})

    assert not again["ok"] and again["error"]["code"] == "carton_closed"
    assert [label[2] for label in _labels(api)] == ["1 of 1"]


def test_a_carton_that_holds_no_order_s_pack_is_not_closed(api):  # noqa: ANN001
    _released_order(api)
    r = api.as_("sup").post("/api/v1/containers", json={"site": "S1", "kind": "carton", "count": 1})
    assert r.status_code == 201, r.text
    (empty,) = r.json()["data"]

    closed = _one(api, "sup", "close_carton", {"carton": empty["code"], "station": "PACK-1", "weight_kg": 1.0})

    assert not closed["ok"] and closed["error"]["code"] == "carton_not_packed"
    assert _labels(api) == []
