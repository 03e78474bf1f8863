"""What a dock expects: the open ASNs with each line's progress, for the receiver's screen.

ASNs carry no dock of their own, so the ones already being received at this
dock come first (a receipt posted here), then the ones being received
elsewhere, then the rest by expected arrival (unknown last), oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from backend.auth.principal import Principal
from backend.models import InboundLine, InboundShipment, Location, Product, Receipt, Site
from backend.receiving.service import OPEN_SHIPMENT_STATES, blind_receipt_allowed, find_dock


@dataclass
class ExpectedLine:
    line_no: int
    sku: str
    description: str
    quantity_expected: int
    quantity_received: int
    lot: str
    expiry: date | None
    sscc: str | None

    @property
    def done(self) -> bool:
        return self.quantity_received >= self.quantity_expected


@dataclass
class ExpectedShipment:
    reference: str
    supplier: str
    expected_at: datetime | None
    status: str
    at_this_dock: bool
    lines: list[ExpectedLine] = field(default_factory=list)

    @property
    def lines_done(self) -> int:
        return sum(1 for line in self.lines if line.done)

    @property
    def units_expected(self) -> int:
        return sum(line.quantity_expected for line in self.lines)

    @property
    def units_received(self) -> int:
        return sum(line.quantity_received for line in self.lines)


@dataclass
class DockExpectation:
    dock: str
    blind_receipt_allowed: bool
    shipments: list[ExpectedShipment]
    count: int


def expected_at_dock(session: Session, site: Site, dock_code: str, user: Principal, *,
                     limit: int = 50) -> DockExpectation:
    dock: Location = find_dock(session, site, dock_code)
    shipments = session.exec(select(InboundShipment).where(
        InboundShipment.site_id == site.id, InboundShipment.status.in_(OPEN_SHIPMENT_STATES))).all()
    here = set(session.exec(select(Receipt.shipment_id).where(
        Receipt.site_id == site.id, Receipt.location_id == dock.id, Receipt.shipment_id.is_not(None)).distinct()).all())

    def order(shipment: InboundShipment) -> tuple:
        return (shipment.id not in here, shipment.status != "receiving", shipment.expected_at is None,
                shipment.expected_at or datetime.min, shipment.id)

    chosen = sorted(shipments, key=order)[:limit]
    lines_by_shipment: dict[int, list[ExpectedLine]] = {s.id: [] for s in chosen}
    if chosen:
        rows = session.exec(
            select(InboundLine, Product.sku, Product.description).join(Product, Product.id == InboundLine.product_id)
            .where(InboundLine.shipment_id.in_(list(lines_by_shipment))).order_by(InboundLine.line_no)
        ).all()
        for line, sku, description in rows:
            lines_by_shipment[line.shipment_id].append(ExpectedLine(
                line.line_no, sku, description, line.quantity_expected, line.quantity_received, line.lot,
                line.expiry, line.sscc))
    return DockExpectation(
        dock=dock.code,
        blind_receipt_allowed=blind_receipt_allowed(user, site),
        shipments=[ExpectedShipment(s.reference, s.supplier, s.expected_at, s.status, s.id in here,
                                    lines_by_shipment[s.id]) for s in chosen],
        count=len(shipments),
    )
