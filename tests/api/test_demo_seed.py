"""`wes demo --seed N` builds a realistic site, the same for the same seed, with all a day's work needs."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import func
from sqlmodel import select

from backend import demo
from backend.app import build_runtime
from backend.gs1 import is_valid_gtin, is_valid_sscc
from backend.migrate import upgrade
from backend.models import (
    Container,
    Device,
    InboundLine,
    InboundShipment,
    Location,
    Order,
    Printer,
    ProductGtin,
    Quant,
    Site,
    Task,
    User,
)
from backend.roles import ROLES
from backend.printing.printer_resolution import resolve_printer
from backend.waves.site_layout import infer_layout
from printers.scan_sheet import codes_of
from tests.conftest import make_settings


def _seeded(path) -> object:  # noqa: ANN001
    runtime = build_runtime(make_settings(f"sqlite:///{path}"))
    upgrade(runtime.engine)
    demo.seed(runtime, seed=5)
    return runtime


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):  # noqa: ANN001, ANN201
    runtime = _seeded(tmp_path_factory.mktemp("demo") / "a.db")
    yield runtime
    runtime.engine.dispose()


def _fingerprint(runtime) -> tuple:  # noqa: ANN001
    with runtime.sessions() as session:
        stock = session.exec(select(Quant.location_id, Quant.product_id, Quant.lot, Quant.on_hand)
                             .order_by(Quant.id)).all()
        lines = session.exec(select(Order.reference, Order.priority, Order.carrier).order_by(Order.id)).all()
        totes = session.exec(select(Container.code).where(Container.kind == "tote").order_by(Container.code)).all()
    return tuple(stock), tuple(lines), tuple(totes)


def test_demo_site_is_realistic_and_ready_to_work(runtime):  # noqa: ANN001
    with runtime.sessions() as session:
        locations = session.exec(select(func.count()).select_from(Location)).one()
        aisles = session.exec(select(func.count(func.distinct(Location.aisle))).where(Location.aisle != "")).one()
        gtins = session.exec(select(ProductGtin.gtin)).all()
        products_with_gtin = session.exec(select(func.count(func.distinct(ProductGtin.product_id)))).one()
        stocked = session.exec(select(func.count()).select_from(Quant).where(Quant.on_hand > 0)).one()
        open_asns = session.exec(select(func.count()).select_from(InboundShipment)
                                 .where(InboundShipment.status == "open")).one()
        open_orders = session.exec(select(func.count()).select_from(Order).where(Order.status == "new")).one()
        picks = session.exec(select(func.count()).select_from(Task).where(Task.kind == "pick")).one()
        printers = session.exec(select(Printer.host, Printer.port)).all()
    assert locations >= 2000 and aisles >= 10
    assert products_with_gtin >= 500 and all(is_valid_gtin(g) for g in gtins)
    assert stocked >= 500 and open_asns >= 5
    assert open_orders >= 200 and picks > 0  # one wave is released, the rest wait
    assert printers == [("127.0.0.1", 9100)]
    assert demo.handheld_enrollment(runtime)


def test_the_demo_has_what_a_whole_day_needs(runtime):  # noqa: ANN001
    with runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == demo.SITE_CODE)).one()
        kinds = dict(session.exec(select(Location.code, Location.kind).where(Location.site_id == site.id)).all())
        totes = session.exec(select(Container.code).where(Container.kind == "tote", Container.status == "open")
                             .order_by(Container.code)).all()
        roles = {role for user_roles in session.exec(select(User.roles)).all() for role in user_roles}
        usernames = set(session.exec(select(User.username)).all())
        # labels go to the demo's printer by the routes a supervisor would set (PUT /printer-routes)
        shipping = {code: resolve_printer(session, site.id, "shipping", station=code)
                    for code in demo.PACK_STATIONS + demo.SHIP_DOCKS}
        lpn = resolve_printer(session, site.id, "lpn", station=demo.RECEIVING_DOCKS[0])
        layout = infer_layout(session, site)
        pack01 = session.exec(select(Location).where(Location.code == "PACK-01")).one()
        asn_ssccs = session.exec(select(InboundLine.sscc).join(InboundShipment).where(
            InboundShipment.status == "open", InboundLine.sscc.is_not(None))).all()
    assert totes == list(demo.TOTES) and len(totes) >= 60 and totes[0] == "TOTE-0001"
    assert all(kinds[code] == "pack" for code in demo.PACK_STATIONS)
    assert all(kinds[code] == "ship" for code in demo.SHIP_DOCKS)
    assert all(kinds[code] == "dock" for code in demo.RECEIVING_DOCKS)
    assert roles == set(ROLES)  # a demo user for every role
    assert {"picker1", "picker2", "receiver1", "packer1", "loader1", "supervisor1", "super", "admin"} <= usernames
    assert {r.printer.code for r in shipping.values()} == {demo.PRINTER}
    assert {r.rule for r in shipping.values()} == {"station+label_type"}
    assert (lpn.printer.code, lpn.rule) == (demo.PRINTER, "station+label_type")
    # carts start and end at PACK-01, in front of aisle 1
    assert layout["depot"] == [pack01.x, 0.0] and pack01.x == layout["aisle_x"][0]
    assert asn_ssccs and all(is_valid_sscc(s) for s in asn_ssccs)


def test_each_handheld_gets_its_own_enrollment_token(runtime):  # noqa: ANN001
    enrollments = demo.handheld_enrollments(runtime)
    assert [e.device for e in enrollments] == list(demo.HANDHELDS)
    assert len({e.token for e in enrollments}) == len(enrollments)
    payload = json.loads(enrollments[0].qr_payload("http://127.0.0.1:8000"))
    assert payload == {"wes": "enroll", "server": "http://127.0.0.1:8000", "token": enrollments[0].token}
    with runtime.sessions() as session:
        site = demo.demo_site(session)
        devices = session.exec(select(Device.name, Device.kind).where(Device.site_id == site.id)).all()
        assert set(devices) >= {(name, "handheld") for name in demo.HANDHELDS}
        assert demo.usable_enrollments(session, site, enrollments) == enrollments
    # a newer token replaces the older one of the same handheld
    newer = demo.handheld_enrollments(runtime, ("handheld-1",))
    with runtime.sessions() as session:
        site = demo.demo_site(session)
        assert [e.device for e in demo.usable_enrollments(session, site, enrollments)] == list(demo.HANDHELDS[1:])
        assert demo.usable_enrollments(session, site, newer) == newer


def test_the_scan_sheet_carries_the_demo_codes(runtime):  # noqa: ANN001
    enrollments = demo.handheld_enrollments(runtime, ("handheld-2",))
    with runtime.sessions() as session:
        site = demo.demo_site(session)
        sheet = demo.scan_sheet(session, site, server="http://wes.local:8000", enrollments=enrollments)
        first_asn_pallet = session.exec(
            select(InboundLine.sscc).join(InboundShipment).where(InboundShipment.status == "open")
            .order_by(InboundShipment.expected_at, InboundShipment.id, InboundLine.line_no)).first()
        first_pick = session.exec(select(Task).where(Task.kind == "pick").order_by(Task.tour_id, Task.sequence)).first()
        pick_location = session.get(Location, first_pick.from_location_id)
        pick_gtin = session.exec(select(ProductGtin.gtin).where(ProductGtin.product_id == first_pick.product_id,
                                                                 ProductGtin.pack_level == "each")).one()
    codes = codes_of(sheet)
    by_data = {(c.symbology, c.data or c.gs1): c for c in codes}
    assert ("code128", "TOTE-0001") in by_data and ("code128", "picker1") in by_data
    for place in ("DOCK-01", "PACK-01", "SHIP-01"):
        assert by_data[("location", place)].check_digits
    # the inbound pallet as a GS1-128 pallet label (AI 00), so a scanner sends it as ]C1 00…
    assert ("gs1-128", (("00", first_asn_pallet),)) in by_data
    # the first pick: its location label (with the check digits printed on it) and the product's EAN-13
    location_card = by_data[("location", pick_location.code)]
    assert location_card.check_digits == pick_location.check_digits
    assert ("ean13", pick_gtin) in by_data
    qr = [c for c in codes if c.symbology == "qr"]
    assert [json.loads(c.data)["token"] for c in qr] == [enrollments[0].token]

    pdf = demo.render_scan_sheet(sheet)
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert pdf.startswith(b"%PDF-") and 3 <= len(reader.pages) <= 10
    for expected in ("TOTE-0001", "PACK-01", "SHIP-01", "DOCK-01", "picker1", "green-tote-cart-7",
                     f"(00) {first_asn_pallet}", pick_location.code, enrollments[0].token,
                     f"{pick_gtin[2:8]} {pick_gtin[8:]}"):  # (an EAN-13's digits are printed in two groups)
        assert expected in text, expected


def test_the_same_seed_gives_the_same_site(runtime, tmp_path):  # noqa: ANN001
    assert _fingerprint(runtime) == _fingerprint(_seeded(tmp_path / "b.db"))
