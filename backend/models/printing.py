"""Printers, label routing rules and the print spool's jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .base import utcnow

LABEL_TYPES = ("lpn", "shipping", "tote", "location", "product", "enrollment")
PRINT_JOB_STATES = ("queued", "sending", "sent", "failed", "cancelled")
ROUTE_SCOPES = ("station", "zone", "site")


class Printer(SQLModel, table=True):
    """A label printer on TCP 9100, its firmware profile, and the spool's view of it (lease, health, backoff)."""

    __tablename__ = "printer"
    __table_args__ = (UniqueConstraint("site_id", "code"), Index("ix_printer_site_station", "site_id", "station"))
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    code: str = Field(max_length=40)
    name: str = Field(default="", max_length=200)
    host: str = Field(max_length=255)
    port: int = 9100
    # A file name stem under firmware_profiles/printers/, e.g. zebra-zt411-203.
    profile_id: str = Field(max_length=64)
    enabled: bool = True
    # Where it stands: a station code (free text, or a location code such as a pack bench) and/or a zone.
    station: str | None = Field(default=None, max_length=40)
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    # Health as the spool last saw it: unknown, ready, not_ready (paper out, head open…), offline.
    status: str = Field(default="unknown", max_length=16)
    status_detail: str = Field(default="", max_length=300)
    status_at: datetime | None = None
    # Consecutive failed tries; the printer is not tried again before retry_at (backoff).
    failures: int = 0
    retry_at: datetime | None = None
    # One spool worker at a time sends to a printer: it holds this lease while it does.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    # The open printer_fault exception for this printer's condition, so there is at most one.
    fault_exception_id: int | None = Field(default=None, foreign_key="warehouse_exception.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PrintRoute(SQLModel, table=True):
    """Which printer gets a label: per station, per zone or site-wide, optionally per label type.

    `scope_key` is the station code, the zone id as text, or '' for the site;
    `label_type` '' means any label type. Both are never NULL, so the unique
    constraint holds on SQLite and PostgreSQL alike.
    """

    __tablename__ = "print_route"
    __table_args__ = (
        UniqueConstraint("site_id", "scope", "scope_key", "label_type"),
        CheckConstraint("scope IN ('station','zone','site')", name="print_route_scope"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    scope: str = Field(max_length=8)
    scope_key: str = Field(default="", max_length=40)
    label_type: str = Field(default="", max_length=16)
    printer_id: int = Field(foreign_key="printer.id", index=True)


class PrintJob(SQLModel, table=True):
    """One label for one printer. `sequence` orders a printer's jobs; the spool never lets a later one overtake."""

    __tablename__ = "print_job"
    __table_args__ = (
        UniqueConstraint("printer_id", "sequence"),
        CheckConstraint("state IN ('queued','sending','sent','failed','cancelled')", name="print_job_state"),
        Index("ix_print_job_printer_state", "printer_id", "state", "sequence"),
        Index("ix_print_job_site_state", "site_id", "state"),
        Index("ix_print_job_site_created", "site_id", "created_at", postgresql_include=["label_type", "state"]),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    printer_id: int = Field(foreign_key="printer.id")
    sequence: int
    label_type: str = Field(max_length=16)
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    # Rendered at creation for the printer's dpi; ZPL is pure ASCII.
    zpl: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="queued", max_length=16)
    attempts: int = 0
    # Set while the job is `sending`: which delivery attempt owns it.
    attempt_id: str | None = Field(default=None, max_length=36)
    error_code: str | None = Field(default=None, max_length=32)
    last_error: str = Field(default="", max_length=500)
    next_attempt_at: datetime | None = None
    reprint_of: int | None = Field(default=None, foreign_key="print_job.id", index=True)
    exception_id: int | None = Field(default=None, foreign_key="warehouse_exception.id")
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
