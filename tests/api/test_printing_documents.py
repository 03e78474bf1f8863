"""PDF documents: pick lists in walking order, packing slip, wave summary, location label sheets — parsed back."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from io import BytesIO

from pypdf import PdfReader
from sqlmodel import select

from backend.models import Location, Order, OrderLine, Product, Site, Task, Tour, TourTote, Wave
from tests.conftest import Api
from tests.helpers import SKU_A, SKU_B, SKU_C, build_site

API = "/api/v1"
CUT_OFF = datetime(2030, 5, 17, 15, 0, tzinfo=timezone.utc)


def _pdf(response) -> PdfReader:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return PdfReader(BytesIO(response.content))


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def _released_wave(api: Api, site_code: str = "S1") -> dict:
    """Two orders, a released wave with two tours; tour 1's picks stored out of walking order."""
    with api.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == site_code)).one()
        products = {p.sku: p for p in session.exec(select(Product)).all()}
        locations = {loc.code: loc for loc in session.exec(select(Location).where(Location.site_id == site.id)).all()}
        wave = Wave(site_id=site.id, status="released", criteria={}, orders=2, lines=3, tours=2,
                    released_at=datetime.now(timezone.utc))
        session.add(wave)
        session.flush()
        orders = []
        for n, (reference, carrier, lines) in enumerate((
            ("SO-100", "DHL", [(SKU_A, 5), (SKU_B, 2)]),
            ("SO-200", "UPS", [(SKU_C, 7)]),
        )):
            order = Order(site_id=site.id, reference=reference, customer="Café Müller", carrier=carrier,
                          service="Express", cut_off=CUT_OFF + timedelta(hours=n), status="picking", wave_id=wave.id,
                          ship_to={"name": f"Müller {reference}", "lines": ["Kaiserstraße 5"], "city": "Frankfurt",
                                   "postcode": "60311", "country": "DE"})
            session.add(order)
            session.flush()
            for line_no, (sku, quantity) in enumerate(lines, start=1):
                session.add(OrderLine(order_id=order.id, line_no=line_no, product_id=products[sku].id,
                                      quantity=quantity, quantity_picked=quantity - 1 if line_no == 1 else quantity))
            orders.append(order)
        session.flush()
        tours = []
        for number in (1, 2):
            tour = Tour(site_id=site.id, wave_id=wave.id, number=number, totes=1)
            session.add(tour)
            session.flush()
            session.add(TourTote(tour_id=tour.id, tote_no=1, order_id=orders[number - 1].id))
            tours.append(tour)
        # inserted in a different order from the walk: the sequence decides
        for tour, location, sku, quantity, sequence in (
            (tours[0], "R2-03", SKU_B, 2, 3), (tours[0], "PF-01", SKU_A, 5, 1), (tours[0], "R1-02", SKU_B, 1, 2),
            (tours[1], "R3-01", SKU_C, 7, 1),
        ):
            session.add(Task(site_id=site.id, kind="pick", state="pending", product_id=products[sku].id,
                             quantity=quantity, from_location_id=locations[location].id, wave_id=wave.id,
                             tour_id=tour.id, sequence=sequence, tote_no=1))
        session.commit()
        return {"wave_id": wave.id, "tour_ids": [t.id for t in tours], "tour_numbers": [t.number for t in tours]}


def test_a_tour_pick_list_lists_its_stops_in_walking_order(api):  # noqa: ANN001
    build_site(api)
    world = _released_wave(api)
    api.add_user("pick", ["picker"], ["S1"])
    reader = _pdf(api.as_("pick").get(f"{API}/tours/{world['tour_ids'][0]}/pick-list.pdf"))
    text = _text(reader)
    assert len(reader.pages) == 1
    wave = f"W{world['wave_id']}"
    assert f"tour {wave}-T1" in text
    positions = [text.index(code) for code in ("PF-01", "R1-02", "R2-03")]
    assert positions == sorted(positions)
    assert "R3-01" not in text  # another tour's stop
    assert "5 EA" in text and "Widget" in text


def test_a_wave_s_pick_lists_give_each_tour_its_own_pages(api):  # noqa: ANN001
    build_site(api)
    world = _released_wave(api)
    wave = f"W{world['wave_id']}"
    for page_size in ("A4", "Letter"):
        reader = _pdf(api.as_("root").get(f"{API}/waves/{world['wave_id']}/pick-lists.pdf",
                                          params={"page_size": page_size}))
        assert len(reader.pages) == 2
        assert f"tour {wave}-T1" in reader.pages[0].extract_text()
        assert f"tour {wave}-T2" in reader.pages[1].extract_text() and "R3-01" in reader.pages[1].extract_text()
    width = float(reader.pages[0].mediabox.width)
    assert round(width) == 612  # US Letter, 8.5 in


def test_the_packing_slip_shows_ship_to_and_lines(api):  # noqa: ANN001
    build_site(api)
    _released_wave(api)
    api.add_user("pack", ["packer"], ["S1"])
    text = _text(_pdf(api.as_("pack").get(f"{API}/orders/SO-100/packing-slip.pdf", params={"site": "S1"})))
    assert "Packing slip · SO-100" in text
    assert "Müller SO-100" in text and "Kaiserstraße 5" in text and "60311 Frankfurt" in text
    assert SKU_A in text and SKU_B in text and SKU_C not in text
    assert "(short)" in text  # line 1 was picked one short
    assert "Company one" in text and "DHL" in text
    r = api.as_("pack").get(f"{API}/orders/SO-999/packing-slip.pdf", params={"site": "S1"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_order"


def test_the_wave_summary_lists_orders_by_carrier(api):  # noqa: ANN001
    build_site(api)
    world = _released_wave(api)
    reader = _pdf(api.as_("root").get(f"{API}/waves/{world['wave_id']}/summary.pdf"))
    text = _text(reader)
    assert len(reader.pages) == 1
    assert f"Wave summary · W{world['wave_id']}" in text
    assert "SO-100" in text and "SO-200" in text and "DHL" in text and "UPS" in text
    assert "2030-05-17 15:00" in text


def test_location_label_sheets_fit_21_on_a4_and_10_on_letter(api):  # noqa: ANN001
    build_site(api)  # 12 locations
    root = api.as_("root")
    a4 = _pdf(root.get(f"{API}/locations/labels.pdf", params={"site": "S1"}))
    letter = _pdf(root.get(f"{API}/locations/labels.pdf", params={"site": "S1", "page_size": "Letter"}))
    assert len(a4.pages) == 1 and len(letter.pages) == 2
    assert round(float(a4.pages[0].mediabox.width)) == 595
    text = _text(a4)
    for code in ("DOCK-1", "PF-01", "R3-03"):
        assert code in text
    aisle = _text(_pdf(root.get(f"{API}/locations/labels.pdf", params={"site": "S1", "aisle": "A1"})))
    assert set(re.findall(r"R\d-\d\d", aisle)) == {"R1-01", "R1-02", "R1-03"}
    r = root.get(f"{API}/locations/labels.pdf", params={"site": "S1", "aisle": "A9"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_locations"
    r = root.get(f"{API}/locations/labels.pdf", params={"site": "S1", "page_size": "A3"})
    assert r.status_code == 422


def test_documents_of_another_site_look_like_missing_ones(api):  # noqa: ANN001
    build_site(api)
    world = _released_wave(api)
    r = api.as_("root").post(f"{API}/sites", json={"code": "S2", "name": "Site two", "company": "C1"})
    assert r.status_code == 201, r.text
    api.add_user("s2-sup", ["supervisor"], ["S2"])
    s2 = api.as_("s2-sup")
    checks = [
        (f"/tours/{world['tour_ids'][0]}/pick-list.pdf", {}, "unknown_tour"),
        (f"/waves/{world['wave_id']}/pick-lists.pdf", {}, "unknown_wave"),
        (f"/waves/{world['wave_id']}/summary.pdf", {}, "unknown_wave"),
        ("/orders/SO-100/packing-slip.pdf", {"site": "S1"}, "site_not_found"),
        ("/orders/SO-100/packing-slip.pdf", {"site": "S2"}, "unknown_order"),
        ("/locations/labels.pdf", {"site": "S1"}, "site_not_found"),
    ]
    for path, params, code in checks:
        r = s2.get(API + path, params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (404, code), path
