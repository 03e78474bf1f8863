"""Shared checks for the scans that confirm work on the floor."""

from __future__ import annotations

from sqlmodel import Session, select

from backend import audit
from backend.errors import DomainError, Invalid, NotFound
from backend.models import Container, Location, Product, Quant, Task
from backend.models.inventory import SCAN_REFUSED
from backend.scanning import classify_scan, confirms_location
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError, UnknownScan
from backend.scanning.lookup import LocationRef
from backend.scanning.result import ScanKind, ScanResult


def classify(session: Session, site_id: int, raw: str, field: str) -> ScanResult:
    try:
        return classify_scan(raw, lookup=SiteScanLookup(session, site_id))
    except UnknownScan as exc:
        raise NotFound(exc.message, code=exc.code, details={"field": field, **exc.details}) from exc
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": field, **exc.details}) from exc


def verify_location(location: Location | LocationRef, raw: str, field: str = "location") -> None:
    """The worker is at `location`: its barcode, code + check digits, or the check digits alone."""
    ref = location if isinstance(location, LocationRef) else LocationRef(location.id, location.code,
                                                                        location.check_digits)
    try:
        ok = confirms_location(raw, ref)
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": field, **exc.details}) from exc
    if not ok:
        raise Invalid(f"Wrong location: go to {location.code} and scan its label", code="wrong_location",
                      details={"field": field, "expected": location.code})


def verify_product(session: Session, site_id: int, raw: str, product_id: int, location_id: int, lot: str,
                   field: str = "product") -> ScanResult:
    """The scan shows the expected product: its GTIN, a GS1 string (lot checked), or an LPN holding it here."""
    scanned = classify(session, site_id, raw, field)
    if scanned.kind in (ScanKind.PRODUCT, ScanKind.GS1) and scanned.product is not None:
        if scanned.product.id != product_id:
            expected = session.get(Product, product_id)
            raise Invalid(f"Wrong product: you scanned {scanned.product.sku} — take {expected.sku}",
                          code="wrong_product", details={"field": field, "scanned": scanned.product.sku,
                                                         "expected": expected.sku})
        if lot and scanned.lot and scanned.lot != lot:
            raise Invalid(f"Wrong lot: you scanned lot {scanned.lot} — take lot {lot}", code="wrong_lot",
                          details={"field": field, "scanned": scanned.lot, "expected": lot})
        return scanned
    if scanned.kind in (ScanKind.LPN, ScanKind.SSCC) and scanned.lpn is not None:
        holds = session.exec(select(Quant.id).where(
            Quant.container_id == scanned.lpn.id, Quant.location_id == location_id, Quant.product_id == product_id,
            Quant.on_hand > 0)).first()
        if holds is None:
            expected = session.get(Product, product_id)
            raise Invalid(f"Wrong LPN: {scanned.lpn.code} holds no {expected.sku} here", code="wrong_product",
                          details={"field": field, "expected": expected.sku})
        return scanned
    raise Invalid(f"That is a {scanned.kind.value.replace('_', ' ')}: scan the product (GTIN or GS1 label) or its LPN",
                  code="wrong_product", details={"field": field})


def container_by_scan(session: Session, site_id: int, raw: str, kind: str, field: str) -> Container:
    code = raw.strip()
    container = session.exec(select(Container).where(
        Container.site_id == site_id, (Container.code == code) | (Container.sscc == code))).first()
    if container is None:
        scanned = classify(session, site_id, raw, field)
        ref = scanned.tote or scanned.lpn
        container = session.get(Container, ref.id) if ref else None
    if container is None or container.kind != kind:
        raise NotFound(f"no {kind} {code[:40]!r} here", code=f"unknown_{kind}", details={"field": field})
    return container


def record_refused_scan(session: Session, task: Task, user_id: int, step: str, scan: str,
                        refusal: DomainError) -> None:
    """Keep a scan refused at its check as an audit row (`scan.refused`), committed on its own: the check
    changes nothing, so nothing else would remember that a wrong scan was made (the pick accuracy KPI
    counts them). Whatever the session held is rolled back first."""
    site_id, task_id, kind = task.site_id, task.id, task.kind
    session.rollback()
    audit.record(session, user_id=user_id, site_id=site_id, action=SCAN_REFUSED, entity="task", entity_id=task_id,
                 after={"kind": kind, "step": step, "code": refusal.code, "scan": scan[:80]})
    session.commit()
