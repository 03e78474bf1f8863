"""Printers, label routing rules and print jobs (create, list, reprint, cancel, preview)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, func, select

from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, ensure_site_access, resolve_site
from backend.api.downloads import content_disposition
from backend.api.schemas import Page, Strict
from backend.auth.principal import Principal
from backend.bounds import Count, Id, QueryBool, StrictBool, Text
from backend.errors import Invalid, NotFound
from backend.firmware import FirmwareProfiles
from backend.models import Printer, PrintJob, PrintRoute, Zone
from backend.printing import cancel_job, enqueue_label, replace_routes, reprint_job, resolve_printer, upsert_printer
from backend.printing.service import check_label_maker, profiles_for, zone_by_code
from backend.roles import SUPERVISORS
from backend.runtime import Runtime
from printers.errors import LabelDataError
from printers.render import render_pdf

router = APIRouter(tags=["printing"])


LabelType = Literal["lpn", "shipping", "tote", "location", "product", "enrollment"]
JobState = Literal["queued", "sending", "sent", "failed", "cancelled"]
CODE = r"^[A-Za-z0-9_.\-/]+$"


def _profiles(runtime: Runtime, session: Session) -> FirmwareProfiles:
    return runtime.firmware_profiles or profiles_for(session)


# --- printers ---------------------------------------------------------------------------------


class PrinterIn(Strict):
    site: Text | None = None
    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    name: Text = Field(default="", max_length=200)
    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-\[\]]+$")
    port: int = Field(default=9100, ge=1, le=65535)
    profile: Text = Field(min_length=1, max_length=64, description="firmware profile id, e.g. zebra-zt411-203")
    enabled: StrictBool = True
    station: str | None = Field(default=None, max_length=40, pattern=CODE,
                                description="the station it stands at: a station code or a location code")
    zone: Text | None = Field(default=None, max_length=32)


class PrinterOut(BaseModel):
    id: int
    code: str
    name: str
    host: str
    port: int
    profile: str
    dpi: int | None
    enabled: bool
    station: str | None
    zone: str | None
    status: str
    status_detail: str
    status_at: datetime | None
    retry_at: datetime | None
    queued: int


def _printer_out(session: Session, printer: Printer, profiles: FirmwareProfiles, zone_code: str | None = None,
                 queued: int | None = None) -> PrinterOut:
    if zone_code is None and printer.zone_id is not None:
        zone_code = session.get(Zone, printer.zone_id).code
    if queued is None:
        queued = session.exec(select(func.count()).select_from(PrintJob).where(
            PrintJob.printer_id == printer.id, PrintJob.state.in_(("queued", "sending")))).one()
    profile = profiles.printers.get(printer.profile_id)
    return PrinterOut(id=printer.id, code=printer.code, name=printer.name, host=printer.host, port=printer.port,
                      profile=printer.profile_id, dpi=profile.dpi if profile else None, enabled=printer.enabled,
                      station=printer.station, zone=zone_code, status=printer.status,
                      status_detail=printer.status_detail, status_at=printer.status_at, retry_at=printer.retry_at,
                      queued=queued)


@router.post("/printers", response_model=PrinterOut,
             responses={201: {"model": PrinterOut, "description": "created"}})
def upsert(body: PrinterIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep,
           response: Response) -> PrinterOut:
    """Create or update a printer by code (200 updated, 201 created); the profile must be installed, and the host
    must be inside WES_PRINTER_NETWORKS (422 `printer_host_not_allowed`, or `printer_host_unresolvable`)."""
    site = resolve_site(session, me, body.site)
    profiles = _profiles(runtime, session)
    printer, created = upsert_printer(
        session, site, code=body.code, name=body.name, host=body.host, port=body.port, profile_id=body.profile,
        enabled=body.enabled, station=body.station, zone_code=body.zone, profiles=profiles, user_id=me.id,
        networks=runtime.settings.printer_networks,
    )
    session.commit()
    response.status_code = 201 if created else 200
    return _printer_out(session, printer, profiles)


@router.get("/printers", response_model=Page[PrinterOut])
def list_printers(me: CurrentUser, runtime: RuntimeDep, session: SessionDep, site: Text | None = None,
                  station: Text | None = None, zone: Text | None = None,
                  enabled: QueryBool | None = None) -> Page[PrinterOut]:
    site_row = resolve_site(session, me, site)
    conditions = [Printer.site_id == site_row.id]
    if station:
        conditions.append(Printer.station == station)
    if zone:
        conditions.append(Zone.code == zone)
    if enabled is not None:
        conditions.append(Printer.enabled == enabled)
    rows = session.exec(select(Printer, Zone.code).outerjoin(Zone, Zone.id == Printer.zone_id)
                        .where(*conditions).order_by(Printer.code)).all()
    queued = dict(session.exec(
        select(PrintJob.printer_id, func.count()).where(PrintJob.site_id == site_row.id,
                                                         PrintJob.state.in_(("queued", "sending")))
        .group_by(PrintJob.printer_id)).all())
    profiles = _profiles(runtime, session)
    return Page(data=[_printer_out(session, p, profiles, zone_code, queued.get(p.id, 0)) for p, zone_code in rows],
                count=len(rows))


# --- routing rules ----------------------------------------------------------------------------


class RouteIn(Strict):
    station: str | None = Field(default=None, max_length=40, pattern=CODE)
    zone: Text | None = Field(default=None, max_length=32)
    label_type: LabelType | None = None
    printer: Text = Field(min_length=1, max_length=40)


class RoutesIn(Strict):
    site: Text | None = None
    routes: list[RouteIn] = Field(max_length=5000)


class RouteOut(BaseModel):
    station: str | None
    zone: str | None
    label_type: str | None
    printer: str


class ResolutionOut(BaseModel):
    printer: str
    rule: str


def _routes_out(session: Session, site_id: int) -> list[RouteOut]:
    zones = dict(session.exec(select(Zone.id, Zone.code).where(Zone.site_id == site_id)).all())
    rows = session.exec(select(PrintRoute, Printer.code).join(Printer, Printer.id == PrintRoute.printer_id)
                        .where(PrintRoute.site_id == site_id)
                        .order_by(PrintRoute.scope, PrintRoute.scope_key, PrintRoute.label_type)).all()
    return [RouteOut(station=r.scope_key if r.scope == "station" else None,
                     zone=zones.get(int(r.scope_key)) if r.scope == "zone" else None,
                     label_type=r.label_type or None, printer=code) for r, code in rows]


@router.get("/printer-routes", response_model=Page[RouteOut])
def list_routes(me: CurrentUser, session: SessionDep, site: Text | None = None) -> Page[RouteOut]:
    """The site's label routing rules (see /printer-routes/resolve for the order they apply in)."""
    site_row = resolve_site(session, me, site)
    routes = _routes_out(session, site_row.id)
    return Page(data=routes, count=len(routes))


@router.put("/printer-routes", response_model=Page[RouteOut])
def put_routes(body: RoutesIn, me: CurrentUser, session: SessionDep) -> Page[RouteOut]:
    """Replace the site's routing rules: per station or zone (or site-wide), per label type or for any."""
    site = resolve_site(session, me, body.site)
    replace_routes(session, site, [route.model_dump() for route in body.routes], user_id=me.id)
    session.commit()
    routes = _routes_out(session, site.id)
    return Page(data=routes, count=len(routes))


@router.get("/printer-routes/resolve", response_model=ResolutionOut)
def resolve(me: CurrentUser, session: SessionDep, label_type: LabelType, site: Text | None = None,
            printer: Text | None = None, station: Text | None = None, zone: Text | None = None) -> ResolutionOut:
    """Which printer a label would go to, and which rule chose it.

    Order: explicit printer > station + label type > station (its route, else a printer standing there) >
    zone + label type > zone (its route, else a printer in it) > site route for the label type > site route
    for any label. A station that is a location code brings its zone; disabled printers are passed over.
    """
    site_row = resolve_site(session, me, site)
    zone_id = zone_by_code(session, site_row.id, zone).id if zone else None
    found = resolve_printer(session, site_row.id, label_type, printer_code=printer, station=station, zone_id=zone_id)
    return ResolutionOut(printer=found.printer.code, rule=found.rule)


# --- print jobs -------------------------------------------------------------------------------


class PrintJobIn(Strict):
    site: Text | None = None
    label_type: LabelType
    data: dict[Text, Any]
    printer: Text | None = Field(default=None, max_length=40, description="a printer code; else routed")
    station: Text | None = Field(default=None, max_length=40)
    zone: Text | None = Field(default=None, max_length=32)


class ReprintIn(Strict):
    printer: Text | None = Field(default=None, max_length=40, description="another printer; default: the same one")


class PrintJobOut(BaseModel):
    id: int
    printer: str
    sequence: int
    label_type: str
    data: dict[str, Any]
    state: str
    attempts: int
    error_code: str | None
    last_error: str
    next_attempt_at: datetime | None
    reprint_of: int | None
    exception_id: int | None
    created_by: int | None
    created_at: datetime
    sent_at: datetime | None
    zpl: str | None = None


# An enrollment label's data is a one-time token that enrolls a handheld: only those who make them read it.
ENROLLMENT_READERS = SUPERVISORS
HIDDEN = "(hidden: enrollment labels are for supervisors and admins)"


def _readable(job: PrintJob, me: Principal) -> bool:
    return job.label_type != "enrollment" or me.has_any(ENROLLMENT_READERS)


def _job_out(job: PrintJob, printer_code: str, me: Principal, with_zpl: bool = False) -> PrintJobOut:
    readable = _readable(job, me)
    data = job.data if readable else {key: HIDDEN for key in job.data}
    return PrintJobOut(id=job.id, printer=printer_code, sequence=job.sequence, label_type=job.label_type,
                       data=data, state=job.state, attempts=job.attempts, error_code=job.error_code,
                       last_error=job.last_error, next_attempt_at=job.next_attempt_at, reprint_of=job.reprint_of,
                       exception_id=job.exception_id, created_by=job.created_by, created_at=job.created_at,
                       sent_at=job.sent_at, zpl=job.zpl if with_zpl and readable else None)


def _load_job(session: Session, me, job_id: int) -> PrintJob:  # noqa: ANN001
    job = session.get(PrintJob, job_id)
    if job is None:
        raise NotFound(f"print job {job_id} not found", code="unknown_print_job")
    ensure_site_access(me, job.site_id, f"print job {job_id}", code="unknown_print_job")
    return job


def _code(session: Session, printer_id: int) -> str:
    return session.get(Printer, printer_id).code


@router.post("/print-jobs", response_model=PrintJobOut, status_code=201)
def create_job(body: PrintJobIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> PrintJobOut:
    """Queue a label: to `printer`, or routed by station/zone and label type. Bad label data is a 422 naming the
    field (`details.field`, e.g. `data.sscc`). Each label type is printed only by the roles that make it
    (403 `label_type_forbidden`; shipping: packer, supervisor, admin; enrollment: supervisor, admin; see
    docs/printing.md)."""
    site = resolve_site(session, me, body.site)  # (another site's callers learn nothing of its labels)
    check_label_maker(me.roles, body.label_type)
    zone_id = zone_by_code(session, site.id, body.zone).id if body.zone else None
    job = enqueue_label(session, site.id, body.label_type, body.data, printer_code=body.printer,
                        station=body.station, zone_id=zone_id, user_id=me.id, profiles=_profiles(runtime, session))
    session.commit()
    return _job_out(job, _code(session, job.printer_id), me)


@router.get("/print-jobs", response_model=Page[PrintJobOut])
def list_jobs(
    me: CurrentUser, session: SessionDep, site: Text | None = None, state: JobState | None = None,
    printer: Text | None = None, label_type: LabelType | None = None, reprint_of: Id | None = None,
    error_code: Text | None = None, limit: int = Query(default=200, ge=1, le=5000),
    offset: Count = 0,
) -> Page[PrintJobOut]:
    """Newest first."""
    site_row = resolve_site(session, me, site)
    conditions = [PrintJob.site_id == site_row.id]
    if state:
        conditions.append(PrintJob.state == state)
    if printer:
        conditions.append(Printer.code == printer)
    if label_type:
        conditions.append(PrintJob.label_type == label_type)
    if reprint_of is not None:
        conditions.append(PrintJob.reprint_of == reprint_of)
    if error_code:
        conditions.append(PrintJob.error_code == error_code)
    joined = select(func.count()).select_from(PrintJob).join(Printer, Printer.id == PrintJob.printer_id)
    total = session.exec(joined.where(*conditions)).one()
    rows = session.exec(select(PrintJob, Printer.code).join(Printer, Printer.id == PrintJob.printer_id)
                        .where(*conditions).order_by(PrintJob.id.desc()).offset(offset).limit(limit)).all()
    return Page(data=[_job_out(job, code, me) for job, code in rows], count=total)


@router.get("/print-jobs/{job_id}", response_model=PrintJobOut)
def get_job(job_id: Id, me: CurrentUser, session: SessionDep) -> PrintJobOut:
    """One job, with its rendered ZPL (an enrollment label's data and ZPL only for supervisors and admins)."""
    job = _load_job(session, me, job_id)
    return _job_out(job, _code(session, job.printer_id), me, with_zpl=True)


@router.get("/print-jobs/{job_id}/label.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def preview_job(job_id: Id, me: CurrentUser, session: SessionDep) -> Response:
    """The job's label as a PDF the size of the label (preview, or a laser printer); an enrollment label only for
    supervisors and admins (403 `label_type_forbidden`)."""
    job = _load_job(session, me, job_id)
    if not _readable(job, me):
        check_label_maker(me.roles, job.label_type)
    try:
        pdf = render_pdf(job.label_type, job.data)
    except LabelDataError as exc:  # data stored before a template tightened its checks
        raise Invalid(f"data.{exc.field}: {exc.problem}", code="invalid_label_data",
                      details={"field": f"data.{exc.field}"}) from None
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": content_disposition(f"print-job-{job.id}.pdf")})


@router.post("/print-jobs/{job_id}/reprint", response_model=PrintJobOut, status_code=201)
def reprint(job_id: Id, body: ReprintIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> PrintJobOut:
    """An explicit copy of a finished job (sent, failed or cancelled) as a new job with `reprint_of` set; only by
    the roles that make that label type (403 `label_type_forbidden`)."""
    job = _load_job(session, me, job_id)
    check_label_maker(me.roles, job.label_type)
    copy = reprint_job(session, job, user_id=me.id, printer_code=body.printer, profiles=_profiles(runtime, session))
    session.commit()
    return _job_out(copy, _code(session, copy.printer_id), me)


@router.post("/print-jobs/{job_id}/cancel", response_model=PrintJobOut)
def cancel(job_id: Id, me: CurrentUser, session: SessionDep) -> PrintJobOut:
    """Cancel a job that has not started sending (409 once it is sending or sent)."""
    job = _load_job(session, me, job_id)
    cancel_job(session, job, user_id=me.id)
    session.commit()
    return _job_out(job, _code(session, job.printer_id), me)

