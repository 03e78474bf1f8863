"""Print jobs and printers as business actions: queue a label, reprint, cancel, register a printer, set routes.

Every function works inside the caller's transaction and never commits:
packing or receiving call `enqueue_label` in their own unit of work, so the
label exists exactly when their change does. The spool sends it after the
commit (it is woken at once when the session came from the app's session
factory, else within its poll interval).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, select

from backend import audit
from backend.containers import next_values
from backend.errors import Conflict, Forbidden, Invalid, NotFound
from backend.firmware import FirmwareProfiles, load_profiles
from backend.models import LABEL_TYPES, Printer, PrintJob, PrintRoute, Site, Zone, utcnow
from backend.printing.networks import Network, resolve
from backend.printing.printer_resolution import resolve_printer
from backend.roles import PACKING, RECEIVING, SITE_SETUP, SUPERVISORS, WORKERS, Role, in_order
from printers.errors import LabelDataError
from printers.render import render_zpl
from printers.setup import PrinterSetup

# session.info keys: the app's firmware profiles (set on the session factory at start-up),
# and the printers this transaction queued jobs for or changed (read by the spool after commit, to wake up).
PROFILES_KEY = "wes.firmware_profiles"
ENQUEUED_KEY = "wes.print_jobs_enqueued"
PRINTER_CHANGED_KEY = "wes.printers_changed"


def profiles_for(session: Session, profiles: FirmwareProfiles | None = None) -> FirmwareProfiles:
    """The running app's profiles (hung on every session it makes), else the repository's, loaded once per session."""
    if profiles is not None:
        return profiles
    found = session.info.get(PROFILES_KEY)
    if found is None:
        found = session.info[PROFILES_KEY] = load_profiles()
    return found


def printer_setup(printer: Printer, profiles: FirmwareProfiles) -> PrinterSetup:
    try:
        return profiles.printer(printer.profile_id).to_printer_setup()
    except KeyError:
        raise Conflict(f"printer {printer.code!r} uses profile {printer.profile_id!r}, which is not installed",
                       code="printer_profile_missing") from None


def label_json(data: Any) -> Any:
    """Label data (a `printers` label dataclass or a mapping) as JSON: dates ISO, decimals as text, tuples as lists."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: label_json(getattr(data, f.name)) for f in dataclasses.fields(data)}
    if isinstance(data, Mapping):
        return {str(key): label_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [label_json(value) for value in data]
    if isinstance(data, (datetime, date)):
        return data.isoformat()
    if isinstance(data, Decimal):
        return str(data)
    return data


# Who may queue a label of each kind with data of their own (POST /print-jobs) or reprint one: the roles whose
# work makes that label. A label is a claim the floor trusts (an SSCC on a carton or pallet, a location's check
# digits, a product's GTIN and lot, a QR code that enrolls a handheld), so nobody else may print one. Labels the
# server makes in the course of work (a received pallet's LPN, a closed carton's shipping label, a tour's totes)
# are not affected. The table is rendered in docs/printing.md.
LABEL_MAKERS: dict[str, tuple[Role, ...]] = {
    "shipping": in_order(PACKING),  # a shipping carton's SSCC and address: the pack bench
    "lpn": in_order(RECEIVING | PACKING),  # a pallet's or case's SSCC: receiving, building pallets
    "tote": in_order(WORKERS),  # a tote whose label tore: whoever carries it
    "location": in_order(SITE_SETUP),  # a bin's code and check digits: site set-up
    "product": in_order(RECEIVING | {Role.INTEGRATION}),  # GTIN, lot, expiry: relabelling at the dock
    "enrollment": in_order(SUPERVISORS),  # enrolls a handheld: those who manage devices
}


def check_label_maker(roles: Iterable[str], label_type: str) -> None:
    """403 `label_type_forbidden` unless one of `roles` makes labels of `label_type` (see LABEL_MAKERS)."""
    check_label_type(label_type)
    makers = LABEL_MAKERS[label_type]
    if not set(makers).intersection(roles):
        raise Forbidden(f"{label_type} labels are printed by {', '.join(makers)}", code="label_type_forbidden",
                        details={"field": "label_type", "roles": list(makers)})


def check_label_type(label_type: str) -> None:
    if label_type not in LABEL_TYPES:
        raise Invalid(f"unknown label type {label_type!r}; one of {', '.join(LABEL_TYPES)}",
                      code="unknown_label_type", details={"field": "label_type"})


def render_label(label_type: str, data: Mapping[str, Any], setup: PrinterSetup) -> str:
    """ZPL for one label; bad data is a 422 naming the field (`data.<field>`)."""
    check_label_type(label_type)
    try:
        return render_zpl(label_type, data, setup).decode("ascii")
    except LabelDataError as exc:
        raise Invalid(f"data.{exc.field}: {exc.problem}", code="invalid_label_data",
                      details={"field": f"data.{exc.field}", "problem": exc.problem}) from None


def next_sequence(session: Session, printer_id: int) -> int:
    """The printer's next job number from its counter: the row stays locked until the caller
    commits, so a printer's sequence order is its commit order and the spool never sees
    job n+1 before job n."""
    return next_values(session, f"print_job:{printer_id}")[0]


def _new_job(
    session: Session,
    printer: Printer,
    label_type: str,
    data: Mapping[str, Any],
    *,
    profiles: FirmwareProfiles,
    user_id: int | None,
    reprint_of: int | None = None,
) -> PrintJob:
    zpl = render_label(label_type, data, printer_setup(printer, profiles))
    sequence = next_sequence(session, printer.id)
    job = PrintJob(site_id=printer.site_id, printer_id=printer.id, sequence=sequence, label_type=label_type,
                   data=dict(data), zpl=zpl, created_by=user_id, reprint_of=reprint_of)
    session.add(job)
    session.flush()
    audit.record(session, user_id=user_id, site_id=printer.site_id,
                 action="print_job.reprint" if reprint_of else "print_job.create", entity="print_job",
                 entity_id=job.id, after={"printer": printer.code, "label_type": label_type,
                                          "sequence": sequence, "reprint_of": reprint_of})
    session.info.setdefault(ENQUEUED_KEY, set()).add(printer.id)
    return job


def enqueue_label(
    session: Session,
    site_id: int,
    label_type: str,
    data: Any,
    *,
    printer_code: str | None = None,
    station: str | None = None,
    zone_id: int | None = None,
    user_id: int | None = None,
    profiles: FirmwareProfiles | None = None,
) -> PrintJob:
    """Queue one label in the caller's transaction (no commit): routed, rendered for the printer's dpi, sequenced.

    `data` is a `printers` label dataclass or a JSON-like mapping for the
    template named by `label_type` (lpn, shipping, tote, location, product,
    enrollment). The printer is `printer_code`, else routed by station, zone
    and label type (see `backend.printing.printer_resolution`). Raises Invalid
    (`invalid_label_data`, details.field = "data.<field>"), NotFound
    (`unknown_printer`), Conflict (`printer_disabled`) or Invalid
    (`no_printer_route`).
    """
    check_label_type(label_type)
    resolution = resolve_printer(session, site_id, label_type, printer_code=printer_code, station=station,
                                 zone_id=zone_id)
    return _new_job(session, resolution.printer, label_type, label_json(data),
                    profiles=profiles_for(session, profiles), user_id=user_id)


def reprint_job(
    session: Session,
    job: PrintJob,
    *,
    user_id: int | None,
    printer_code: str | None = None,
    profiles: FirmwareProfiles | None = None,
) -> PrintJob:
    """An explicit second copy: a new job with the same label data, `reprint_of` pointing at the original.

    Only for jobs that are finished (sent, failed, cancelled): a queued or
    sending job will still print, so a reprint then would be a duplicate.
    Another printer of the same site may be named (re-rendered for its dpi).
    """
    if job.state in ("queued", "sending"):
        raise Conflict(f"print job {job.id} is still {job.state}; it will print — cancel it or wait",
                       code="print_job_not_finished")
    if printer_code:
        printer = resolve_printer(session, job.site_id, job.label_type, printer_code=printer_code).printer
    else:
        printer = session.get(Printer, job.printer_id)
        if not printer.enabled:
            raise Conflict(f"printer {printer.code!r} is disabled; name another printer", code="printer_disabled",
                           details={"field": "printer"})
    return _new_job(session, printer, job.label_type, job.data, profiles=profiles_for(session, profiles),
                    user_id=user_id, reprint_of=job.id)


def cancel_job(session: Session, job: PrintJob, *, user_id: int | None) -> PrintJob:
    """Cancel a job the spool has not started: one conditional UPDATE, so it races the spool safely."""
    cancelled = session.execute(
        update(PrintJob).where(PrintJob.id == job.id, PrintJob.state == "queued")
        .values(state="cancelled", updated_at=utcnow(), next_attempt_at=None)
    ).rowcount
    session.refresh(job)
    if not cancelled:
        raise Conflict(f"print job {job.id} is {job.state}; only a queued job can be cancelled",
                       code="print_job_not_cancellable")
    audit.record(session, user_id=user_id, site_id=job.site_id, action="print_job.cancel", entity="print_job",
                 entity_id=job.id, before={"state": "queued"}, after={"state": "cancelled"})
    return job


def zone_by_code(session: Session, site_id: int, code: str, field: str = "zone") -> Zone:
    zone = session.exec(select(Zone).where(Zone.site_id == site_id, Zone.code == code)).first()
    if zone is None:
        raise NotFound(f"zone {code!r} not found", code="unknown_zone", details={"field": field})
    return zone


_PRINTER_FIELDS = ("name", "host", "port", "profile_id", "enabled", "station", "zone_id")


def upsert_printer(
    session: Session,
    site: Site,
    *,
    code: str,
    name: str,
    host: str,
    port: int,
    profile_id: str,
    enabled: bool,
    station: str | None,
    zone_code: str | None,
    profiles: FirmwareProfiles,
    user_id: int | None,
    networks: Sequence[Network] | None = None,
) -> tuple[Printer, bool]:
    """Create or update a printer by code; the profile must be one of the installed printer profiles, and with
    `networks` (the app's WES_PRINTER_NETWORKS) every address the host stands for must be inside them."""
    if profile_id not in profiles.printers:
        raise Invalid(f"unknown printer profile {profile_id!r}; installed: {', '.join(sorted(profiles.printers))}",
                      code="unknown_profile", details={"field": "profile"})
    zone_id = zone_by_code(session, site.id, zone_code).id if zone_code else None
    if networks is not None:
        check_printer_host(host, networks)
    values = {"name": name, "host": host, "port": port, "profile_id": profile_id, "enabled": enabled,
              "station": station or None, "zone_id": zone_id}
    printer = session.exec(select(Printer).where(Printer.site_id == site.id, Printer.code == code)).first()
    created = printer is None
    before = None if created else audit.snapshot(printer, _PRINTER_FIELDS)
    if created:
        printer = Printer(site_id=site.id, code=code, **values)
    else:
        for key, value in values.items():
            setattr(printer, key, value)
        if before.get("host") != host or before.get("port") != port or not before.get("enabled"):
            # A new address or a printer back in service: try it now, not after the old backoff.
            printer.retry_at = None
            printer.failures = 0
        printer.updated_at = utcnow()
    session.add(printer)
    session.flush()
    audit.record(session, user_id=user_id, site_id=site.id, action="printer.create" if created else "printer.update",
                 entity="printer", entity_id=printer.id, before=before, after=audit.snapshot(printer, _PRINTER_FIELDS))
    if enabled:
        session.info.setdefault(PRINTER_CHANGED_KEY, set()).add(printer.id)  # jobs may have been waiting for it
    return printer, created


def check_printer_host(host: str, networks: Sequence[Network]) -> None:
    """422 unless `host` resolves, and only to addresses inside `networks` (`backend.printing.networks`)."""
    found = resolve(host, networks)
    allowed = [str(network) for network in networks]
    if found.error:
        raise Invalid(f"printer host {found.error}", code="printer_host_unresolvable",
                      details={"field": "host"})
    if found.refused:
        raise Invalid(f"printer host {host!r} is outside the printer networks ({', '.join(allowed)}; "
                      "WES_PRINTER_NETWORKS)", code="printer_host_not_allowed",
                      details={"field": "host", "networks": allowed})


def replace_routes(
    session: Session,
    site: Site,
    routes: Iterable[Mapping[str, Any]],
    *,
    user_id: int | None,
) -> list[PrintRoute]:
    """Replace the site's routing rules. Each: station or zone (or neither: site-wide), label_type or None, printer."""
    printers = {p.code: p for p in session.exec(select(Printer).where(Printer.site_id == site.id)).all()}
    zones: dict[str, Zone] = {}
    rows: list[PrintRoute] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, route in enumerate(routes):
        station, zone_code = route.get("station") or None, route.get("zone") or None
        label_type = route.get("label_type") or ""
        field = f"routes.{index}"
        if station and zone_code:
            raise Invalid("a route is for a station or for a zone, not both", code="invalid_route",
                          details={"field": field})
        if label_type and label_type not in LABEL_TYPES:
            raise Invalid(f"unknown label type {label_type!r}", code="unknown_label_type",
                          details={"field": f"{field}.label_type"})
        printer = printers.get(route["printer"])
        if printer is None:
            raise NotFound(f"printer {route['printer']!r} not found", code="unknown_printer",
                           details={"field": f"{field}.printer"})
        if zone_code:
            if zone_code not in zones:
                zones[zone_code] = zone_by_code(session, site.id, zone_code, f"{field}.zone")
            scope, key = "zone", str(zones[zone_code].id)
        elif station:
            scope, key = "station", station
        else:
            scope, key = "site", ""
        if (scope, key, label_type) in seen:
            raise Invalid(f"routes {seen[(scope, key, label_type)]} and {index} are for the same place and label type",
                          code="duplicate_route", details={"field": field})
        seen[(scope, key, label_type)] = index
        rows.append(PrintRoute(site_id=site.id, scope=scope, scope_key=key, label_type=label_type,
                               printer_id=printer.id))
    before = len(session.exec(select(PrintRoute.id).where(PrintRoute.site_id == site.id)).all())
    session.execute(delete(PrintRoute).where(PrintRoute.site_id == site.id))
    session.add_all(rows)
    session.flush()
    audit.record(session, user_id=user_id, site_id=site.id, action="print_routes.replace", entity="print_route",
                 entity_id=site.id, before={"count": before}, after={"count": len(rows)})
    return rows
