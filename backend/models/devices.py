"""Devices, their ordered event streams, applied device commands, and worker attributes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .base import utcnow

DEVICE_KINDS = ("handheld", "station", "printer")


class Device(SQLModel, table=True):
    """A handheld, station or printer enrolled at one site."""

    __tablename__ = "device"
    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        CheckConstraint("kind IN ('handheld','station','printer')", name="device_kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    firmware_profile: str | None = Field(default=None, max_length=64)
    # One-time enrollment secret, kept as a SHA-256 hex digest until it is used.
    enrollment_token_hash: str | None = Field(default=None, max_length=64, index=True)
    enrollment_expires_at: datetime | None = None
    enrolled_at: datetime | None = None
    # Digest of the one device token in force: re-enrolling or revoking retires older tokens.
    token_hash: str | None = Field(default=None, max_length=64)
    revoked_at: datetime | None = None
    # The worker signed on at this device now; events for their tasks go to this device.
    current_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    # Highest sequence number handed out in this device's event stream.
    last_seq: int = 0
    last_seen_at: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class DeviceEvent(SQLModel, table=True):
    """One event in one device's stream; seq increases by one per device, without gaps."""

    __tablename__ = "device_event"
    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_device_event_seq"),)
    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    device_id: int = Field(foreign_key="device.id")
    seq: int
    type: str = Field(max_length=40)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class DeviceCommand(SQLModel, table=True):
    """A command applied once: its client-made id and the answer a repeat gets."""

    __tablename__ = "device_command"
    __table_args__ = (
        UniqueConstraint("user_id", "command_id", name="uq_device_command_user_id"),
        Index("ix_device_command_task", "task_id"),
        # Refused commands by time (the pick accuracy KPI); applied ones, nearly all, write no entry.
        Index("ix_device_command_refused", "created_at", postgresql_where=text("NOT ok"), sqlite_where=text("ok = 0")),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    command_id: str = Field(max_length=64)
    device_id: int | None = Field(default=None, foreign_key="device.id")
    type: str = Field(max_length=40)
    # SHA-256 of the canonical payload: the same id with another payload is refused.
    payload_hash: str = Field(max_length=64)
    task_id: int | None = None
    ok: bool
    result: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WorkerProfile(SQLModel, table=True):
    """What a worker may be sent to do at one site, and where they were last there.

    Per (user, site): a worker of several sites has one profile at each, and a supervisor of one site
    changes that site's profile only."""

    __tablename__ = "worker_profile"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    site_id: int = Field(foreign_key="site.id", primary_key=True)
    # Zone ids the worker works in; empty means any zone.
    zone_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Task kinds the worker is trained for; empty means every kind.
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Equipment the worker has (forklift, reach_truck, pallet_jack, …).
    equipment: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_location_id: int | None = Field(default=None, foreign_key="location.id")
    updated_at: datetime = Field(default_factory=utcnow)
