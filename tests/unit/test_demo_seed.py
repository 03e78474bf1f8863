"""`wes demo --seed N` builds a realistic site, the same for the same seed."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from backend import demo
from backend.app import build_runtime
from backend.gs1 import is_valid_gtin
from backend.migrate import upgrade
from backend.models import InboundShipment, Location, Order, Printer, ProductGtin, Quant, Task
from tests.conftest import make_settings


def _seeded(path) -> object:  # noqa: ANN001
    runtime = build_runtime(make_settings(f"sqlite:///{path}"))
    upgrade(runtime.engine)
    demo.seed(runtime, seed=5)
    return runtime


def _fingerprint(runtime) -> tuple:  # noqa: ANN001
    with runtime.sessions() as session:
        stock = session.exec(select(Quant.location_id, Quant.product_id, Quant.lot, Quant.on_hand)
                             .order_by(Quant.id)).all()
        lines = session.exec(select(Order.reference, Order.priority, Order.carrier).order_by(Order.id)).all()
    return tuple(stock), tuple(lines)


def test_demo_site_is_realistic_and_ready_to_work(tmp_path):  # noqa: ANN001
    runtime = _seeded(tmp_path / "a.db")
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


def test_the_same_seed_gives_the_same_site(tmp_path):  # noqa: ANN001
    assert _fingerprint(_seeded(tmp_path / "a.db")) == _fingerprint(_seeded(tmp_path / "b.db"))
