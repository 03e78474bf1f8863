"""Devices: a supervisor enrolls one (one-time token / QR), the device trades it for its device token."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import func, select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, ensure_site_access, resolve_site
from backend.api.schemas import Page, Strict
from backend.bounds import Count, Id, MultilineText, Text
from backend.devices.profiles import firmware_profiles, scanner_settings
from backend.devices.stream import emit
from backend.devices.tokens import device_tokens, digest, new_enrollment_secret
from backend.errors import Conflict, Invalid, NotFound
from backend.models import Device, Site, User, utcnow

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceCreate(Strict):
    site: Text | None = None
    name: Text = Field(min_length=1, max_length=64)
    kind: Literal["handheld", "station", "printer"] = "handheld"
    firmware_profile: Text | None = Field(default=None, max_length=64,
                                         description="a scanner profile id (handheld, station) or printer profile id")


class DeviceOut(BaseModel):
    id: int
    site: str
    name: str
    kind: str
    firmware_profile: str | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    signed_on: str | None
    last_seq: int
    last_seen_at: datetime | None
    created_at: datetime


class EnrollmentOut(BaseModel):
    device: DeviceOut
    enrollment_token: str
    enrollment_expires_at: datetime
    qr_payload: str


class EnrollIn(Strict):
    enrollment_token: Text = Field(min_length=8, max_length=200)


class EnrolledOut(BaseModel):
    device: DeviceOut
    device_token: str
    token_type: str = "device"
    expires_in: int
    scanner: dict[str, Any] | None


class MessageIn(Strict):
    text: MultilineText = Field(min_length=1, max_length=500)


class MessageOut(BaseModel):
    message_id: str
    delivered_to: int


def _out(session, device: Device) -> DeviceOut:  # noqa: ANN001
    site = session.get(Site, device.site_id)
    user = session.get(User, device.current_user_id) if device.current_user_id else None
    return DeviceOut(id=device.id, site=site.code, name=device.name, kind=device.kind,
                     firmware_profile=device.firmware_profile, enrolled_at=device.enrolled_at,
                     revoked_at=device.revoked_at, signed_on=user.username if user else None, last_seq=device.last_seq,
                     last_seen_at=device.last_seen_at, created_at=device.created_at)


def _load(session, me, device_id: int, *, lock: bool = False) -> Device:  # noqa: ANN001
    query = select(Device).where(Device.id == device_id)
    device = session.exec(query.with_for_update() if lock else query).first()
    if device is None:
        raise NotFound(f"device {device_id} not found", code="unknown_device")
    ensure_site_access(me, device.site_id, f"device {device_id}", code="unknown_device")
    return device


def _enrollment(request: Request, runtime, session, device: Device) -> EnrollmentOut:  # noqa: ANN001
    secret = new_enrollment_secret()
    device.enrollment_token_hash = digest(secret)
    device.enrollment_expires_at = utcnow() + timedelta(minutes=runtime.settings.device_enrollment_minutes)
    session.add(device)
    server = str(request.base_url).rstrip("/")
    qr = json.dumps({"wes": "enroll", "server": server, "token": secret}, separators=(",", ":"))
    return EnrollmentOut(device=_out(session, device), enrollment_token=secret,
                         enrollment_expires_at=device.enrollment_expires_at, qr_payload=qr)


@router.post("", status_code=201, response_model=EnrollmentOut)
def create_device(body: DeviceCreate, request: Request, me: CurrentUser, runtime: RuntimeDep,
                  session: SessionDep) -> EnrollmentOut:
    """Register a device; its one-time enrollment token (also as a QR payload) is shown once."""
    site = resolve_site(session, me, body.site)
    if body.firmware_profile:
        profiles = firmware_profiles(runtime)
        known = profiles.printers if body.kind == "printer" else profiles.scanners
        if body.firmware_profile not in known:
            raise Invalid(f"no {'printer' if body.kind == 'printer' else 'scanner'} profile "
                          f"{body.firmware_profile!r}", code="unknown_firmware_profile",
                          details={"field": "firmware_profile", "known": sorted(known)})
    if session.exec(select(Device).where(Device.site_id == site.id, Device.name == body.name)).first():
        raise Conflict(f"a device named {body.name!r} exists at {site.code}", code="device_exists")
    device = Device(site_id=site.id, name=body.name, kind=body.kind, firmware_profile=body.firmware_profile,
                    created_by=me.id)
    session.add(device)
    session.flush()
    out = _enrollment(request, runtime, session, device)
    audit.record(session, user_id=me.id, site_id=site.id, action="device.create", entity="device",
                 entity_id=device.id, after={"name": device.name, "kind": device.kind})
    session.commit()
    return out


@router.get("", response_model=Page[DeviceOut])
def list_devices(me: CurrentUser, session: SessionDep, site: Text | None = None,
                 limit: int = Query(default=200, ge=1, le=5000), offset: Count = 0) -> Page[DeviceOut]:
    site_row = resolve_site(session, me, site)
    total = session.exec(select(func.count()).select_from(Device).where(Device.site_id == site_row.id)).one()
    rows = session.exec(select(Device).where(Device.site_id == site_row.id).order_by(Device.name)
                        .offset(offset).limit(limit)).all()
    return Page(data=[_out(session, d) for d in rows], count=total)


@router.get("/{device_id}", response_model=DeviceOut)
def get_device(device_id: Id, me: CurrentUser, session: SessionDep) -> DeviceOut:
    return _out(session, _load(session, me, device_id))


@router.post("/{device_id}/enrollment", response_model=EnrollmentOut)
def renew_enrollment(device_id: Id, request: Request, me: CurrentUser, runtime: RuntimeDep,
                     session: SessionDep) -> EnrollmentOut:
    """A new one-time token (a replaced or reset device); its current device token works until it is used."""
    device = _load(session, me, device_id, lock=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked", code="device_revoked")
    out = _enrollment(request, runtime, session, device)
    audit.record(session, user_id=me.id, site_id=device.site_id, action="device.enrollment", entity="device",
                 entity_id=device.id)
    session.commit()
    return out


@router.post("/enroll", response_model=EnrolledOut)
def enroll(body: EnrollIn, me: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> EnrolledOut:
    """The device, with a worker signed in on it, trades the one-time token for its device token."""
    device = session.exec(select(Device).where(Device.enrollment_token_hash == digest(body.enrollment_token))
                          .with_for_update()).first()
    # One answer for unknown, used, expired and another site's token: nothing leaks.
    if (device is None or device.revoked_at is not None or not me.may_access(device.site_id)
            or device.enrollment_expires_at is None or device.enrollment_expires_at < utcnow()):
        raise NotFound("enrollment token unknown, used or expired", code="unknown_enrollment_token")
    issuer = device_tokens(runtime)
    token, ttl = issuer.issue(device.id, kind="device")
    device.token_hash = digest(token)
    device.enrollment_token_hash = None
    device.enrollment_expires_at = None
    device.enrolled_at = utcnow()
    session.add(device)
    audit.record(session, user_id=me.id, site_id=device.site_id, action="device.enroll", entity="device",
                 entity_id=device.id)
    session.commit()
    return EnrolledOut(device=_out(session, device), device_token=token, expires_in=ttl,
                       scanner=scanner_settings(runtime, device.firmware_profile))


@router.post("/{device_id}/revoke", response_model=DeviceOut)
def revoke(device_id: Id, me: CurrentUser, session: SessionDep) -> DeviceOut:
    """The device's token stops working; a connected device is told and disconnected."""
    device = _load(session, me, device_id, lock=True)
    if device.revoked_at is None:
        emit(session, [device.id], "device.revoked", {"device_id": device.id})
        device.revoked_at = utcnow()
        device.token_hash = None
        device.enrollment_token_hash = None
        device.current_user_id = None
        session.add(device)
        audit.record(session, user_id=me.id, site_id=device.site_id, action="device.revoke", entity="device",
                     entity_id=device.id)
        session.commit()
    return _out(session, device)


@router.post("/{device_id}/messages", response_model=MessageOut, status_code=201)
def send_message(device_id: Id, body: MessageIn, me: CurrentUser, session: SessionDep) -> MessageOut:
    """A message on the device's screen (a `message` event); the worker acknowledges it with message_ack."""
    device = _load(session, me, device_id)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked", code="device_revoked")
    message_id = uuid.uuid4().hex
    emit(session, [device.id], "message", {"message_id": message_id, "text": body.text, "from": me.username})
    audit.record(session, user_id=me.id, site_id=device.site_id, action="device.message", entity="device",
                 entity_id=device.id, after={"message_id": message_id, "text": body.text})
    session.commit()
    return MessageOut(message_id=message_id, delivered_to=device.id)

