"""Inbound shipments (ASNs) and receipts at the dock."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field, model_validator
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, resolve_site
from backend.api.schemas import Page, Strict
from backend.bounds import Count, LineNo, MultilineText, Quantity, Reference, ScanText, StrictBool, Text
from backend.containers import container_by_code
from backend.db import unit_of_work
from backend.errors import Invalid, NotFound
from backend.gs1 import is_valid_sscc
from backend.masterdata import product_ids_by_sku
from backend.models import InboundLine, InboundShipment, Product
from backend.receiving.expected import expected_at_dock
from backend.receiving.service import (
    OverReceipt,
    Receiver,
    ReceiveRequest,
    find_dock,
    print_lpn_label,
    raise_over_receipt_exception,
)

router = APIRouter(tags=["receiving"])

class AsnLineIn(Strict):
    line_no: LineNo
    sku: Text = Field(min_length=1, max_length=64)
    quantity: Quantity
    lot: Text = Field(default="", max_length=64)
    expiry: date | None = None
    sscc: str | None = Field(default=None, pattern=r"^(00)?\d{18}$")

class AsnIn(Strict):
    site: Text | None = None
    reference: Reference = Field(min_length=1, max_length=64)
    supplier: Text = Field(default="", max_length=200)
    expected_at: datetime | None = None
    lines: list[AsnLineIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _unique_line_numbers(self) -> "AsnIn":
        seen: set[int] = set()
        for index, line in enumerate(self.lines):
            if line.line_no in seen:
                raise ValueError(f"lines.{index}: line_no {line.line_no} appears twice")
            seen.add(line.line_no)
        return self

class AsnLineOut(Strict):
    line_no: int
    sku: str
    quantity_expected: int
    quantity_received: int
    lot: str
    expiry: date | None
    sscc: str | None

class AsnOut(Strict):
    id: int
    site: str
    reference: str
    supplier: str
    expected_at: datetime | None
    status: str
    created: bool = False
    lines: list[AsnLineOut]

def _asn_out(session, shipment: InboundShipment, site_code: str, created: bool = False) -> AsnOut:  # noqa: ANN001
    rows = session.exec(
        select(InboundLine, Product.sku).join(Product, Product.id == InboundLine.product_id)
        .where(InboundLine.shipment_id == shipment.id).order_by(InboundLine.line_no)
    ).all()
    return AsnOut(
        id=shipment.id, site=site_code, reference=shipment.reference, supplier=shipment.supplier,
        expected_at=shipment.expected_at, status=shipment.status, created=created,
        lines=[AsnLineOut(line_no=ln.line_no, sku=sku, quantity_expected=ln.quantity_expected,
                          quantity_received=ln.quantity_received, lot=ln.lot, expiry=ln.expiry, sscc=ln.sscc)
               for ln, sku in rows],
    )

@router.post("/inbound-shipments", response_model=AsnOut, status_code=201,
             responses={200: {"model": AsnOut, "description": "an ASN with this reference was there: the first one"}})
def create_asn(body: AsnIn, me: CurrentUser, session: SessionDep, response: Response) -> AsnOut:
    """Announce an inbound shipment. Idempotent by the sender's reference: a repeat returns the first (200)."""
    site = resolve_site(session, me, body.site)
    existing = session.exec(
        select(InboundShipment).where(InboundShipment.site_id == site.id, InboundShipment.reference == body.reference)
    ).first()
    if existing is not None:
        response.status_code = 200
        return _asn_out(session, existing, site.code)
    products = product_ids_by_sku(session, site.company_id, sorted({line.sku for line in body.lines}))
    for index, line in enumerate(body.lines):
        if line.sku not in products:
            raise Invalid(f"line {line.line_no}: unknown SKU {line.sku!r}", code="unknown_sku",
                          details={"line_no": line.line_no, "row": index, "field": f"lines.{index}.sku"})
        if line.sscc and not is_valid_sscc(line.sscc[-18:]):
            raise Invalid(f"line {line.line_no}: SSCC {line.sscc} has a wrong check digit", code="invalid_sscc",
                          details={"line_no": line.line_no, "row": index, "field": f"lines.{index}.sscc"})
    shipment = InboundShipment(site_id=site.id, reference=body.reference, supplier=body.supplier,
                               expected_at=body.expected_at)
    session.add(shipment)
    site_id, site_code = site.id, site.code
    try:
        session.flush()
    except IntegrityError:
        # The same reference sent twice at once: the other request created it first.
        session.rollback()
        existing = session.exec(select(InboundShipment).where(
            InboundShipment.site_id == site_id, InboundShipment.reference == body.reference)).one()
        response.status_code = 200
        return _asn_out(session, existing, site_code)
    session.execute(insert(InboundLine), [
        {"shipment_id": shipment.id, "line_no": line.line_no, "product_id": products[line.sku],
         "quantity_expected": line.quantity, "quantity_received": 0, "lot": line.lot, "expiry": line.expiry,
         "sscc": line.sscc[-18:] if line.sscc else None}
        for line in body.lines
    ])
    audit.record(session, user_id=me.id, site_id=site.id, action="asn.create", entity="inbound_shipment",
                 entity_id=shipment.id, after={"reference": body.reference, "lines": len(body.lines)})
    session.commit()
    return _asn_out(session, shipment, site.code, created=True)

@router.get("/inbound-shipments", response_model=Page[AsnOut])
def list_asns(
    me: CurrentUser, session: SessionDep, site: Text | None = None, status: Text | None = None,
    reference: Text | None = None, limit: int = Query(default=100, ge=1, le=1000), offset: Count = 0,
) -> Page[AsnOut]:
    site_row = resolve_site(session, me, site)
    conditions = [InboundShipment.site_id == site_row.id]
    if status:
        conditions.append(InboundShipment.status == status)
    if reference:
        conditions.append(InboundShipment.reference == reference)
    total = session.exec(select(func.count()).select_from(InboundShipment).where(*conditions)).one()
    rows = session.exec(select(InboundShipment).where(*conditions).order_by(InboundShipment.id)
                        .offset(offset).limit(limit)).all()
    return Page(data=[_asn_out(session, s, site_row.code) for s in rows], count=total)

@router.get("/inbound-shipments/{reference}", response_model=AsnOut)
def get_asn(reference: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> AsnOut:
    site_row = resolve_site(session, me, site)
    shipment = session.exec(select(InboundShipment).where(
        InboundShipment.site_id == site_row.id, InboundShipment.reference == reference)).first()
    if shipment is None:
        raise NotFound(f"inbound shipment {reference!r} not found", code="unknown_shipment")
    return _asn_out(session, shipment, site_row.code)

class ReceiptIn(Strict):
    site: Text | None = None
    dock: Text = Field(min_length=1, max_length=40)
    scan: ScanText | None = Field(default=None, max_length=512,
                             description="pallet SSCC, case GTIN or GS1-128 string, exactly as scanned")
    shipment: Text | None = None
    sku: Text | None = None
    line_no: LineNo | None = None
    quantity: Quantity | None = None
    lot: Text | None = Field(default=None, max_length=64)
    expiry: date | None = None
    lpn: Text | None = Field(default=None, max_length=40, description="keep building this LPN at the dock")
    damaged: StrictBool = False
    damage_note: MultilineText = Field(default="", max_length=300)
    blind: StrictBool = Field(default=False, description="receive without an ASN (role permitting)")
    unloading: Text | None = Field(default=None, max_length=64,
                                  description="the ASN being unloaded: a case is matched to its lines first, and "
                                              "past them it is an over-receipt (a pallet SSCC names its own ASN)")
    gs_substitutes: list[Annotated[ScanText, Field(min_length=1, max_length=4)]] | None = Field(
        default=None, max_length=4,
        description="what the scanner sends in place of GS (\\x1d), from its firmware profile")

class ReceivedLineOut(Strict):
    receipt_id: int
    shipment: str | None
    line_no: int | None
    sku: str
    quantity: int
    lot: str
    expiry: date | None

class PlannedPutawayOut(Strict):
    task_id: int
    sku: str | None = Field(description="null: the whole mixed LPN")
    quantity: int
    to_location: str | None
    instruction: str | None = Field(description="what to do, in plain words, when it is not simply 'take it there'")


class LabelOut(Strict):
    printed: bool = Field(description="the LPN label was queued at a printer")
    message: str = Field(description="where it prints, or why it did not, in the receiver's words")
    printer: str | None = None
    print_job_id: int | None = None
    status: Literal["printing", "has_label", "not_printed"] = Field(
        description="printing: queued at `printer`; has_label: nothing to print (a supplier's SSCC pallet, or "
                    "goods added to an LPN); not_printed: it should have printed and did not (see `message`)")


class ReceiptOut(Strict):
    lpn: str | None
    location: str
    lines: list[ReceivedLineOut]
    putaway_task_id: int | None = Field(description="the first of `putaway`")
    exception_id: int | None
    putaway: list[PlannedPutawayOut] = Field(description="the LPN's putaway task(s): one, or one per product of a "
                                                         "mixed LPN no location takes whole")
    label: LabelOut | None = Field(description="the LPN label (null: nothing went onto an LPN, e.g. damaged)")

@router.post("/receipts", response_model=ReceiptOut, status_code=201)
def receive(body: ReceiptIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> ReceiptOut:
    """Receive at a dock: scan a pallet SSCC (whole pallet), a case GTIN/GS1-128, or name SKU/line."""
    site = resolve_site(session, me, body.site)
    site_id = site.id
    request = ReceiveRequest(**body.model_dump(exclude={"site", "gs_substitutes"}),
                             gs_substitutes=tuple(body.gs_substitutes or ()))
    try:
        outcome = Receiver(session, runtime.settings, me, site).receive(request)
        session.commit()
    except OverReceipt as error:
        # Rolling back expires every loaded row: touch none of them afterwards, or
        # this session would begin again and hold SQLite's write lock.
        session.rollback()
        # The refused receipt is still a fact on the dock: queue it for a supervisor.
        with unit_of_work(runtime.sessions) as own:
            exc = raise_over_receipt_exception(own, site_id, me, request, error)
        error.message = (f"{error.message}. Sent to a supervisor for approval (exception #{exc.id}): "
                         "keep the goods aside at the dock.")
        error.details = {**(error.details or {}), "exception_id": exc.id, "sent_to_supervisor": True}
        raise
    return ReceiptOut(lpn=outcome.lpn, location=outcome.location,
                      lines=[ReceivedLineOut(**line.__dict__) for line in outcome.lines],
                      putaway_task_id=outcome.putaway_task_id, exception_id=outcome.exception_id,
                      putaway=[PlannedPutawayOut(**p.__dict__) for p in outcome.putaway],
                      label=LabelOut(**outcome.label.__dict__) if outcome.label else None)


class LpnLabelIn(Strict):
    site: Text | None = None
    dock: Text = Field(min_length=1, max_length=40, description="where the label prints (the dock's printer)")
    lpn: Text = Field(min_length=1, max_length=40)


@router.post("/receipts/lpn-label", response_model=LabelOut)
def print_lpn_label_again(body: LpnLabelIn, me: CurrentUser, session: SessionDep) -> LabelOut:
    """Print an LPN's label at the dock again, with what is on it now (after a printer fault, or more cases)."""
    site = resolve_site(session, me, body.site)
    dock = find_dock(session, site, body.dock)
    container = container_by_code(session, site.id, body.lpn)
    if container is None or container.kind == "tote":
        raise NotFound(f"No LPN here is called {body.lpn}.", code="unknown_lpn", details={"field": "lpn"})
    outcome = print_lpn_label(session, site, container, dock.code, me.id)
    session.commit()
    return LabelOut(**outcome.__dict__)


class ExpectedLineOut(Strict):
    line_no: int
    sku: str
    description: str
    quantity_expected: int
    quantity_received: int
    lot: str
    expiry: date | None
    sscc: str | None
    done: bool


class ExpectedAsnOut(Strict):
    reference: str
    supplier: str
    expected_at: datetime | None
    status: str
    at_this_dock: bool = Field(description="something of it was already received at this dock")
    lines_done: int
    units_expected: int
    units_received: int
    lines: list[ExpectedLineOut]


class DockExpectedOut(Strict):
    dock: str
    blind_receipt_allowed: bool = Field(description="you may receive goods no ASN announced (role and site setting)")
    data: list[ExpectedAsnOut]
    count: int = Field(description="open ASNs at the site (data holds at most `limit`)")


@router.get("/docks/{code}/expected", response_model=DockExpectedOut)
def dock_expected(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None,
                  limit: int = Query(default=50, ge=1, le=500)) -> DockExpectedOut:
    """What the dock expects: open ASNs (those being received here first) with each line's progress, and
    whether you may receive blind."""
    site_row = resolve_site(session, me, site)
    view = expected_at_dock(session, site_row, code, me, limit=limit)
    return DockExpectedOut(
        dock=view.dock, blind_receipt_allowed=view.blind_receipt_allowed, count=view.count,
        data=[ExpectedAsnOut(reference=s.reference, supplier=s.supplier, expected_at=s.expected_at, status=s.status,
                             at_this_dock=s.at_this_dock, lines_done=s.lines_done, units_expected=s.units_expected,
                             units_received=s.units_received,
                             lines=[ExpectedLineOut(**ln.__dict__, done=ln.done) for ln in s.lines])
              for s in view.shipments])
