"""Receiving at the dock: SSCC pallets in one step, cases line by line, blind receipts.

Over-receipt is checked with one conditional UPDATE on the ASN line, so any
number of concurrent receipts can never take a line past its tolerance. More
goods for an ASN already fully received are an over-receipt too.

An LPN built at the dock holds one ASN's goods (or only blind ones): adding a
case of another ASN is refused, so each ASN's pallets stay apart. A new LPN
gets an SSCC from our GS1 prefix and its label is queued at the dock's
printer in the same transaction; a supplier's SSCC pallet keeps its own label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, update
from sqlmodel import Session, select

from backend import audit
from backend.auth.principal import Principal
from backend.config import Settings
from backend.containers import container_by_code, create_containers, new_ssccs
from backend.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from backend.inventory.ledger import StockIdentity, post_move
from backend.masterdata import product_at_site
from backend.webhooks import outbox, payloads
from backend.models import (
    Container,
    InboundLine,
    InboundShipment,
    Location,
    Printer,
    Product,
    ProductGtin,
    Quant,
    Receipt,
    Site,
    WarehouseException,
)
from backend.receiving.putaway_service import plan_putaway_for_container
from backend.roles import SUPERVISORS, Role
from backend.scanning import ScanProfile, classify_scan
from backend.scanning.profile import GS
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError, UnknownScan
from backend.scanning.result import ScanKind

OPEN_SHIPMENT_STATES = ("open", "receiving")
FULLY_RECEIVED = "received"
# A fully received ASN still matches scans: more of its goods are an over-receipt for a supervisor, not unknown.
MATCHING_SHIPMENT_STATES = (*OPEN_SHIPMENT_STATES, FULLY_RECEIVED)


@dataclass
class ReceiveRequest:
    dock: str
    scan: str | None = None
    shipment: str | None = None
    sku: str | None = None
    line_no: int | None = None
    quantity: int | None = None
    lot: str | None = None
    expiry: date | None = None
    lpn: str | None = None
    damaged: bool = False
    blind: bool = False
    damage_note: str = ""
    # What the scanner sends in place of GS (its firmware profile), besides GS itself.
    gs_substitutes: tuple[str, ...] = ()
    # The ASN being unloaded at the dock: a case is matched to its lines first (a pallet's SSCC names its own).
    unloading: str | None = None

    def scan_profile(self) -> ScanProfile:
        return ScanProfile(gs_substitutes=(GS, *self.gs_substitutes)) if self.gs_substitutes else ScanProfile()


@dataclass
class ReceivedLine:
    receipt_id: int
    shipment: str | None
    line_no: int | None
    sku: str
    quantity: int
    lot: str
    expiry: date | None


@dataclass
class PlannedPutawayOut:
    task_id: int
    sku: str | None  # None: the whole mixed LPN
    quantity: int
    to_location: str | None
    instruction: str | None


@dataclass
class LabelOutcome:
    """Whether the LPN label was queued, where, and the words for the receiver."""

    printed: bool
    message: str
    printer: str | None = None
    print_job_id: int | None = None
    # printing | has_label (a supplier's SSCC pallet, or an LPN added to) | not_printed (no printer, no SSCC)
    status: str = "printing"


@dataclass
class ReceiveOutcome:
    lpn: str | None
    location: str
    lines: list[ReceivedLine] = field(default_factory=list)
    putaway_task_id: int | None = None
    exception_id: int | None = None
    putaway: list[PlannedPutawayOut] = field(default_factory=list)
    label: LabelOutcome | None = None


class OverReceipt(Conflict):
    code = "over_receipt"

    def __init__(self, message: str, *, details: dict, posts_to: tuple[str, int] | None = None) -> None:
        super().__init__(message, details=details)
        # The ASN line refused (reference, line number): an approval posts onto it, not onto whatever matches then.
        self.posts_to = posts_to


def find_dock(session: Session, site: Site, code: str) -> Location:
    dock = session.exec(select(Location).where(Location.site_id == site.id, Location.code == code)).first()
    if dock is None:
        raise NotFound(f"No location here is called {code}: scan the dock door's label.", code="unknown_location",
                       details={"field": "dock"})
    if dock.kind != "dock":
        raise Invalid(f"{code} is not a dock (it is {dock.kind.replace('_', ' ')}): scan the dock door's label.",
                      code="not_a_dock", details={"field": "dock"})
    return dock


def _quarantine(session: Session, site: Site) -> Location:
    loc = session.exec(
        select(Location).where(Location.site_id == site.id, Location.kind == "quarantine", Location.active)
        .order_by(Location.code)
    ).first()
    if loc is None:
        raise Conflict("this site has no quarantine location for damaged goods", code="no_quarantine_location")
    return loc


def _line_limit(line: InboundLine, tolerance_pct: float) -> int:
    return math.floor(line.quantity_expected * (1 + tolerance_pct / 100.0) + 1e-9)


def _claim_line_quantity(session: Session, line: InboundLine, shipment: InboundShipment, quantity: int,
                         limit: int) -> None:
    claimed = session.execute(
        update(InboundLine)
        .where(and_(InboundLine.id == line.id, InboundLine.quantity_received + quantity <= limit))
        .values(quantity_received=InboundLine.quantity_received + quantity)
        .returning(InboundLine.quantity_received)
    ).scalar_one_or_none()
    if claimed is None:
        session.refresh(line)
        raise OverReceipt(
            f"Over receipt: {quantity} more would take {shipment.reference} line {line.line_no} past what it allows "
            f"({line.quantity_received} of {line.quantity_expected} received, at most {limit})",
            details={
                "shipment": shipment.reference,
                "line_no": line.line_no,
                "quantity": quantity,
                "quantity_expected": line.quantity_expected,
                "quantity_received": line.quantity_received,
                "limit": limit,
            },
            posts_to=(shipment.reference, line.line_no),
        )


def _fully_received(shipment: InboundShipment, line: InboundLine, quantity: int) -> OverReceipt:
    return OverReceipt(
        f"Over receipt: {shipment.reference} is already fully received ({line.quantity_received} of "
        f"{line.quantity_expected} on line {line.line_no}): {quantity} more is past what it allows",
        details={
            "shipment": shipment.reference,
            "shipment_status": shipment.status,
            "line_no": line.line_no,
            "quantity": quantity,
            "quantity_expected": line.quantity_expected,
            "quantity_received": line.quantity_received,
            "limit": line.quantity_received,
        },
        posts_to=(shipment.reference, line.line_no),
    )


def _check_tracking(product: Product, lot: str, expiry: date | None) -> None:
    if product.lot_tracked and not lot:
        raise Invalid(f"{product.sku} is lot-tracked: a lot is required", code="lot_required", details={"field": "lot"})
    if product.expiry_tracked and expiry is None:
        raise Invalid(
            f"{product.sku} is expiry-tracked: an expiry date is required", code="expiry_required",
            details={"field": "expiry"},
        )


class Receiver:
    """One receive action at one dock; the caller commits."""

    def __init__(self, session: Session, settings: Settings, user: Principal, site: Site) -> None:
        self.session = session
        self.settings = settings
        self.user = user
        self.site = site

    def receive(self, req: ReceiveRequest, *, allow_over: bool = False) -> ReceiveOutcome:
        dock = find_dock(self.session, self.site, req.dock)
        if req.quantity is not None and req.quantity <= 0:
            raise Invalid("quantity must be positive", code="invalid_quantity", details={"field": "quantity"})
        product: Product | None = None
        quantity = req.quantity
        lot, expiry = req.lot or "", req.expiry
        if req.scan:
            try:
                scanned = classify_scan(req.scan, req.scan_profile(), SiteScanLookup(self.session, self.site.id))
            except UnknownScan as exc:
                raise NotFound(exc.message, code=exc.code, details={"field": "scan", **exc.details}) from exc
            except ScanError as exc:
                raise Invalid(exc.message, code=exc.code, details={"field": "scan", **exc.details}) from exc
            if scanned.kind == ScanKind.SSCC or (scanned.kind == ScanKind.GS1 and scanned.sscc and not scanned.gtin):
                return self._receive_pallet(dock, scanned.sscc, req, allow_over)
            if scanned.kind in (ScanKind.PRODUCT, ScanKind.GS1) and scanned.product is not None:
                product = self.session.get(Product, scanned.product.id)
                lot = scanned.lot or lot
                expiry = scanned.expiry or expiry
                if quantity is None:
                    quantity = self._units_from_scan(product, scanned.gtin, scanned.quantity)
            else:
                raise Invalid(
                    f"a {scanned.kind.value} was scanned; receive expects a pallet SSCC or a product",
                    code="unexpected_scan", details={"field": "scan", "kind": scanned.kind.value},
                )
        elif req.sku:
            product = product_at_site(self.session, self.site.id, req.sku)
            if product is None:
                raise NotFound(f"unknown SKU {req.sku!r}", code="unknown_sku", details={"field": "sku"})
        elif req.shipment and req.line_no is not None:
            pass
        else:
            raise Invalid("give a scan, a SKU, or a shipment and line number", code="nothing_to_receive")

        line, shipment = self._find_line(req, product, lot)
        if line is not None:
            product = product or self.session.get(Product, line.product_id)
            lot = lot or line.lot
            expiry = expiry or line.expiry
        if quantity is None:
            quantity = 1
        _check_tracking(product, lot, expiry)
        # An LPN named to add to is checked before anything is counted: it must be here and hold this ASN's goods.
        existing = None
        if req.lpn and not req.damaged:
            existing = self._container_at_dock(req.lpn, dock)
            self._check_lpn_asn(existing, shipment)
        if line is None:
            self._check_blind_allowed(req)
        elif shipment.status == FULLY_RECEIVED and not allow_over:
            raise _fully_received(shipment, line, quantity)
        else:
            limit = _line_limit(line, self.site.receipt_tolerance_pct)
            _claim_line_quantity(self.session, line, shipment, quantity, 2_000_000_000 if allow_over else limit)

        outcome = ReceiveOutcome(lpn=None, location=dock.code)
        if req.damaged:
            destination = _quarantine(self.session, self.site)
            outcome.location = destination.code
            container = None
        else:
            destination = dock
            container = existing or self._new_lpn_at_dock(dock)
            outcome.lpn = container.code
        receipt = self._post(product, quantity, lot, expiry, destination, container, line, shipment, req)
        outcome.lines.append(
            ReceivedLine(receipt.id, shipment.reference if shipment else None, line.line_no if line else None,
                         product.sku, quantity, lot, expiry)
        )
        if req.damaged:
            self._finish(outcome, dock, None, req,
                         f"{quantity} × {product.sku} received damaged into {destination.code}",
                         {"receipt_id": receipt.id, "sku": product.sku, "quantity": quantity})
        else:
            self._finish(outcome, dock, container, req)
            outcome.label = (print_lpn_label(self.session, self.site, container, dock.code, self.user.id)
                             if existing is None else
                             LabelOutcome(False, f"Added to LPN {container.code}: its label is already on it.",
                                          status="has_label"))
        if shipment is not None:
            self._update_shipment_status(shipment)
        self._announce(outcome, [shipment] if shipment is not None else [], req)
        return outcome

    # -- pallets ---------------------------------------------------------
    def _receive_pallet(self, dock: Location, sscc: str, req: ReceiveRequest, allow_over: bool) -> ReceiveOutcome:
        rows = self.session.exec(
            select(InboundLine, InboundShipment)
            .join(InboundShipment, InboundShipment.id == InboundLine.shipment_id)
            .where(
                InboundShipment.site_id == self.site.id,
                # A received ASN's pallet has nothing left to receive: "already received", as on an open ASN.
                InboundShipment.status.in_(MATCHING_SHIPMENT_STATES),
                InboundLine.sscc == sscc,
            )
            .order_by(InboundLine.id)
        ).all()
        if req.shipment:
            rows = [(line, shp) for line, shp in rows if shp.reference == req.shipment]
        if not rows:
            if container_by_code(self.session, self.site.id, sscc) is not None:
                raise Conflict(f"pallet {sscc} has already been received", code="already_received",
                               details={"sscc": sscc})
            raise NotFound(f"no open inbound shipment announces pallet {sscc}", code="unknown_sscc",
                           details={"sscc": sscc})
        if container_by_code(self.session, self.site.id, sscc) is not None:
            raise Conflict(f"pallet {sscc} has already been received", code="already_received", details={"sscc": sscc})
        outcome = ReceiveOutcome(lpn=sscc, location=dock.code)
        destination = _quarantine(self.session, self.site) if req.damaged else dock
        container = Container(site_id=self.site.id, code=sscc, kind="pallet", sscc=sscc, location_id=destination.id)
        self.session.add(container)
        self.session.flush()
        shipments = {}
        for line, shipment in rows:
            remaining = line.quantity_expected - line.quantity_received
            if remaining <= 0:
                continue
            product = self.session.get(Product, line.product_id)
            _check_tracking(product, line.lot, line.expiry)
            _claim_line_quantity(self.session, line, shipment, remaining, line.quantity_expected)
            receipt = self._post(product, remaining, line.lot, line.expiry, destination, container, line, shipment, req)
            outcome.lines.append(ReceivedLine(receipt.id, shipment.reference, line.line_no, product.sku, remaining,
                                              line.lot, line.expiry))
            shipments[shipment.id] = shipment
        if not outcome.lines:
            raise Conflict(f"pallet {sscc} has already been received", code="already_received", details={"sscc": sscc})
        outcome.location = destination.code
        if req.damaged:
            self._finish(outcome, dock, None, req, f"pallet {sscc} received damaged into {destination.code}",
                         {"sscc": sscc})
        else:
            self._finish(outcome, dock, container, req)
            outcome.label = LabelOutcome(False, f"Pallet {sscc} keeps its supplier's SSCC label: no new label.",
                                         status="has_label")
        # In id order: two pallets spanning the same ASNs lock them in the same order.
        for shipment_id in sorted(shipments):
            self._update_shipment_status(shipments[shipment_id])
        self._announce(outcome, [shipments[i] for i in sorted(shipments)], req)
        return outcome

    def _announce(self, outcome: ReceiveOutcome, shipments: list[InboundShipment], req: ReceiveRequest) -> None:
        """`receipt.completed`: what this receipt booked, and each ASN's lines and status after it (an ASN is
        complete for the ERP when its status is `received`)."""
        asns = []
        for shipment in shipments:
            lines = self.session.exec(
                select(InboundLine.line_no, Product.sku, InboundLine.quantity_expected, InboundLine.quantity_received)
                .join(Product, Product.id == InboundLine.product_id).where(InboundLine.shipment_id == shipment.id)
                .order_by(InboundLine.line_no)).all()
            asns.append({"reference": shipment.reference, "supplier": shipment.supplier, "status": shipment.status,
                         "lines": [{"line_no": n, "sku": sku, "expected": e, "received": r} for n, sku, e, r in lines]})
        outbox.record(self.session, self.site.id, "receipt.completed", {
            "lpn": outcome.lpn, "location": outcome.location, "damaged": req.damaged,
            "exception_id": outcome.exception_id,
            "lines": [{"receipt_id": ln.receipt_id, "asn": ln.shipment, "line_no": ln.line_no, "sku": ln.sku,
                       "quantity": ln.quantity, "lot": ln.lot, "expiry": ln.expiry.isoformat() if ln.expiry else None,
                       "blind": ln.shipment is None} for ln in outcome.lines],
            "asns": asns})

    def _finish(self, outcome: ReceiveOutcome, dock: Location, container: Container | None, req: ReceiveRequest,
                damage: str = "", details: dict | None = None) -> None:
        """Damaged goods raise an exception for a supervisor; good LPNs get a putaway task."""
        if req.damaged:
            exc = WarehouseException(site_id=self.site.id, kind="damaged", raised_by=self.user.id, message=damage,
                                     details={**(details or {}), "note": req.damage_note})
            payloads.exception_raised(self.session, exc)
            outcome.exception_id = exc.id
        elif container is not None:
            tasks = plan_putaway_for_container(self.session, self.site, container, dock, self.user.id)
            outcome.putaway_task_id = tasks[0].id if tasks else None
            outcome.putaway = planned_putaway_out(self.session, tasks)

    # -- helpers -----------------------------------------------------------
    def _units_from_scan(self, product: Product, gtin14: str | None, scanned_qty: int | None) -> int:
        pack_units = 1
        if gtin14:
            row = self.session.exec(select(ProductGtin).where(ProductGtin.product_id == product.id,
                                                              ProductGtin.gtin == gtin14)).first()
            if row is not None:
                pack_units = row.units
        return (scanned_qty or 1) * pack_units

    def _find_line(self, req: ReceiveRequest, product: Product | None, lot: str):  # noqa: ANN202
        """The ASN line a receipt is for: on the named ASN; else an open one; else the newest fully received one."""
        query = (
            select(InboundLine, InboundShipment)
            .join(InboundShipment, InboundShipment.id == InboundLine.shipment_id)
            .where(InboundShipment.site_id == self.site.id)
        )
        if req.shipment:
            shipment = self.session.exec(
                select(InboundShipment).where(
                    InboundShipment.site_id == self.site.id, InboundShipment.reference == req.shipment
                )
            ).first()
            if shipment is None:
                raise NotFound(f"inbound shipment {req.shipment!r} not found", code="unknown_shipment",
                               details={"field": "shipment"})
            if shipment.status not in MATCHING_SHIPMENT_STATES:
                raise Conflict(f"inbound shipment {req.shipment!r} is {shipment.status}", code="shipment_closed",
                               details={"field": "shipment", "status": shipment.status})
            return self._match_line(query.where(InboundShipment.id == shipment.id), req, product, lot)
        if req.unloading and product is not None and req.line_no is None:
            # Goods scanned while this ASN is unloaded are its goods: past its quantities they are an
            # over-receipt for a supervisor, not a receipt against some other ASN that also has the product.
            line, shipment = self._match_line(
                query.where(InboundShipment.reference == req.unloading,
                            InboundShipment.status.in_(MATCHING_SHIPMENT_STATES)), req, product, lot)
            if line is not None:
                return line, shipment
        line, shipment = self._match_line(query.where(InboundShipment.status.in_(OPEN_SHIPMENT_STATES)),
                                          req, product, lot)
        # An explicit blind receipt is not matched to a past ASN: it would block every product ever announced.
        if line is None and product is not None and req.line_no is None and not req.blind:
            line, shipment = self._match_line(query.where(InboundShipment.status == FULLY_RECEIVED), req, product,
                                              lot, newest_first=True)
        return line, shipment

    def _match_line(self, query, req: ReceiveRequest, product: Product | None, lot: str, *,  # noqa: ANN001, ANN202
                    newest_first: bool = False):
        if req.line_no is not None:
            query = query.where(InboundLine.line_no == req.line_no)
            row = self.session.exec(query).first()
            if row is None:
                raise NotFound(f"line {req.line_no} not found", code="unknown_line", details={"field": "line_no"})
            if product is not None and row[0].product_id != product.id:
                raise Invalid(f"line {req.line_no} is for another product", code="wrong_product",
                              details={"field": "line_no"})
            return row
        if product is None:
            return None, None
        # The extra goods most likely came with the latest delivery.
        shipment_order = InboundShipment.id.desc() if newest_first else InboundShipment.id
        candidates = self.session.exec(
            query.where(InboundLine.product_id == product.id).order_by(shipment_order, InboundLine.line_no)
        ).all()
        if lot:
            lot_matches = [row for row in candidates if row[0].lot in (lot, "")]
            candidates = lot_matches
        # Prefer a line with quantity still to come; else the first (the tolerance check decides).
        for line, shipment in candidates:
            if line.quantity_received < line.quantity_expected:
                return line, shipment
        return candidates[0] if candidates else (None, None)

    def _check_blind_allowed(self, req: ReceiveRequest) -> None:
        allowed = blind_receipt_allowed(self.user, self.site)
        if not req.blind:
            raise Conflict(
                "Not expected: no open ASN has this. " + (
                    "Receive it blind, or set it aside for a supervisor." if allowed else
                    "Set it aside for a supervisor (your role may not receive without an ASN)."),
                code="not_expected", details={"blind_allowed": allowed},
            )
        if not allowed:
            raise Forbidden("Your role may not receive without an ASN: set it aside and ask a supervisor.",
                            code="blind_receipt_forbidden")

    def _container_at_dock(self, lpn: str, dock: Location) -> Container:
        container = container_by_code(self.session, self.site.id, lpn)
        if container is None:
            raise NotFound(f"LPN {lpn!r} not found", code="unknown_lpn", details={"field": "lpn"})
        if container.location_id != dock.id or container.status != "open":
            raise Conflict(f"LPN {lpn!r} is not open at dock {dock.code}", code="lpn_not_at_dock",
                           details={"field": "lpn"})
        return container

    def _new_lpn_at_dock(self, dock: Location) -> Container:
        """A new pallet LPN at the dock, with an SSCC of our own for its label."""
        (container,) = create_containers(
            self.session, self.settings, site_id=self.site.id, site_code=self.site.code, kind="pallet",
            location_id=dock.id, user_id=self.user.id,
        )
        container.sscc = new_ssccs(self.session, self.settings, 1)[0]
        self.session.add(container)
        self.session.flush()
        return container

    def _check_lpn_asn(self, container: Container, shipment: InboundShipment | None) -> None:
        """An LPN holds one ASN's goods (or blind ones only): another ASN's goods go onto a new LPN."""
        held = set(self.session.exec(
            select(Receipt.shipment_id).where(Receipt.container_id == container.id).distinct()).all())
        here = shipment.id if shipment is not None else None
        if not held or here in held:
            return
        references = sorted(self.session.exec(select(InboundShipment.reference).where(
            InboundShipment.id.in_([i for i in held if i is not None]))).all()) or ["blind receipts"]
        this = shipment.reference if shipment is not None else "no ASN (blind)"
        raise Conflict(
            f"LPN {container.code} holds {', '.join(references)}; this is for {this}: receive it onto a new LPN.",
            code="lpn_other_asn",
            details={"field": "lpn", "lpn": container.code, "lpn_shipments": references,
                     "shipment": shipment.reference if shipment is not None else None},
        )

    def _post(self, product, quantity, lot, expiry, destination, container, line, shipment, req) -> Receipt:  # noqa: ANN001
        receipt = Receipt(
            site_id=self.site.id, shipment_id=shipment.id if shipment else None, line_id=line.id if line else None,
            product_id=product.id, quantity=quantity, lot=lot, expiry=expiry,
            container_id=container.id if container else None, location_id=destination.id, damaged=req.damaged,
            blind=line is None, user_id=self.user.id,
        )
        self.session.add(receipt)
        self.session.flush()
        post_move(
            self.session, site_id=self.site.id, product_id=product.id, quantity=quantity, reason="receipt",
            destination=StockIdentity(product.id, destination.id, container.id if container else None, lot, expiry),
            reference=f"receipt:{receipt.id}", user_id=self.user.id,
        )
        audit.record(self.session, user_id=self.user.id, site_id=self.site.id, action="receipt.post",
                     entity="receipt", entity_id=receipt.id, after=audit.snapshot(receipt))
        return receipt

    def _update_shipment_status(self, shipment: InboundShipment) -> None:
        """The ASN's status from its lines, under the ASN row's lock: the last lock a receipt takes, after its lines'.

        Without it two receipts finishing different lines at once each read the other's line as not
        done (READ COMMITTED) and neither sets `received`; with it the later one reads after the earlier
        commits. (A conditional UPDATE would not do: after waiting it re-reads the lines' old snapshot.)
        """
        # NO KEY UPDATE: other receipts' foreign-key checks on this row (KEY SHARE) don't wait on it.
        self.session.exec(select(InboundShipment).where(InboundShipment.id == shipment.id)
                          .with_for_update(key_share=True).execution_options(populate_existing=True)).one()
        # A new statement, so a new snapshot: it sees every receipt that held the lock before us.
        lines = self.session.exec(select(InboundLine).where(InboundLine.shipment_id == shipment.id)
                                  .execution_options(populate_existing=True)).all()
        before = shipment.status
        done = all(line.quantity_received >= line.quantity_expected for line in lines)
        shipment.status = "received" if done else "receiving"
        if before != shipment.status:
            self.session.add(shipment)
            audit.record(self.session, user_id=self.user.id, site_id=self.site.id, action="shipment.status",
                         entity="inbound_shipment", entity_id=shipment.id, before={"status": before},
                         after={"status": shipment.status})


def blind_receipt_allowed(user: Principal, site: Site) -> bool:
    """Whether this user may receive goods no ASN announced at this site."""
    if user.has_any(SUPERVISORS):
        return True
    return user.has_any((Role.RECEIVER,)) and site.allow_blind_receipt_by_receivers


def planned_putaway_out(session: Session, tasks: list) -> list[PlannedPutawayOut]:
    out = []
    for task in tasks:
        sku = session.get(Product, task.product_id).sku if task.product_id is not None else None
        to = session.get(Location, task.to_location_id).code if task.to_location_id is not None else None
        out.append(PlannedPutawayOut(task.id, sku, task.quantity or 0, to, (task.details or {}).get("instruction")))
    return out


def lpn_label_data(session: Session, container: Container) -> dict:
    """What the LPN label says: the SSCC barcode, the LPN, and its contents now (one product, or "mixed")."""
    quants = session.exec(select(Quant).where(Quant.container_id == container.id, Quant.on_hand > 0)
                          .order_by(Quant.id)).all()
    product_ids = sorted({q.product_id for q in quants})
    data: dict = {"sscc": container.sscc, "lpn": container.code}
    if len(product_ids) == 1:
        product = session.get(Product, product_ids[0])
        lots = {q.lot for q in quants if q.lot}
        data.update(sku=product.sku, description=product.description or None,
                    quantity=sum(q.on_hand for q in quants), unit=(product.uom or "")[:10] or None,
                    lot=lots.pop() if len(lots) == 1 else None)
    elif product_ids:
        data.update(description=f"MIXED: {len(product_ids)} products", quantity=sum(q.on_hand for q in quants))
    return data


def print_lpn_label(session: Session, site: Site, container: Container, station: str,
                    user_id: int | None) -> LabelOutcome:
    """Queue the LPN's label at the station's printer (the dock), in the caller's transaction.

    A label that cannot be queued (no printer routed there, printer off) never undoes the receipt:
    the outcome says why, in the receiver's words.
    """
    from backend.printing.service import enqueue_label

    if not container.sscc:
        return LabelOutcome(False, f"LPN {container.code} has no SSCC to print.", status="not_printed")
    try:
        job = enqueue_label(session, site.id, "lpn", lpn_label_data(session, container), station=station,
                            user_id=user_id)
    except DomainError as exc:  # (nothing is written before these refusals)
        return LabelOutcome(False, f"The LPN label did not print: {exc.message}. Ask a supervisor for a printer "
                                   f"at {station}, then print it again.", status="not_printed")
    printer = session.get(Printer, job.printer_id)
    return LabelOutcome(True, f"LPN label printing at {printer.name or printer.code}.", printer.code, job.id)


def raise_over_receipt_exception(session: Session, site_id: int, user: Principal, req: ReceiveRequest,
                                 error: OverReceipt) -> WarehouseException:
    """Record a refused over-receipt for a supervisor (in its own transaction)."""
    details = {"request": _request_json(req), "check": error.details, "requested_by": user.id}
    if error.posts_to is not None:
        details["posts_to"] = {"shipment": error.posts_to[0], "line_no": error.posts_to[1]}
    exc = WarehouseException(site_id=site_id, kind="over_receipt", raised_by=user.id, message=error.message,
                             details=details)
    payloads.exception_raised(session, exc)
    audit.record(session, user_id=user.id, site_id=site_id, action="exception.raise", entity="warehouse_exception",
                 entity_id=exc.id, after={"kind": "over_receipt"})
    return exc


def _request_json(req: ReceiveRequest) -> dict:
    data = dict(req.__dict__)
    if data.get("expiry") is not None:
        data["expiry"] = data["expiry"].isoformat()
    return data


def request_from_json(data: dict) -> ReceiveRequest:
    data = dict(data)
    if data.get("expiry"):
        data["expiry"] = date.fromisoformat(data["expiry"])
    data["gs_substitutes"] = tuple(data.get("gs_substitutes") or ())
    return ReceiveRequest(**data)


def approved_request(details: dict) -> ReceiveRequest:
    """What an approved over-receipt exception posts: the refused request, onto the ASN line it was refused on."""
    req = request_from_json(details["request"])
    posts_to = details.get("posts_to")
    if posts_to:
        req.shipment, req.line_no = posts_to["shipment"], posts_to["line_no"]
    return req
