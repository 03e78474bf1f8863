"""Tasks (one unit of work for one person) and exceptions for supervisors."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, text
from sqlmodel import Field, SQLModel

from backend.tasks.states import TASK_STATES

from .base import utcnow

TASK_KINDS = ("receive", "putaway", "pick", "replenish", "pack", "count", "move")


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('receive','putaway','pick','replenish','pack','count','move')", name="task_kind"
        ),
        CheckConstraint(
            "state IN (" + ",".join(f"'{state}'" for state in TASK_STATES) + ")",
            name="task_state",
        ),
        Index("ix_task_site_state", "site_id", "state", "priority"),
        Index("ix_task_container", "container_id"),
        Index("ix_task_site_kind_done", "site_id", "kind", "done_at", postgresql_where=text("done_at IS NOT NULL"),
              sqlite_where=text("done_at IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    kind: str = Field(max_length=16)
    state: str = Field(default="pending", max_length=16)
    # Lower number = more urgent.
    priority: int = 500
    product_id: int | None = Field(default=None, foreign_key="product.id")
    quantity: int | None = None
    lot: str = Field(default="", max_length=64)
    expiry: date | None = None
    from_location_id: int | None = Field(default=None, foreign_key="location.id")
    to_location_id: int | None = Field(default=None, foreign_key="location.id")
    container_id: int | None = Field(default=None, foreign_key="container.id")
    assigned_to: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    reference: str = Field(default="", max_length=100)
    details: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Outbound work: which wave/tour, the walking sequence within the tour, the line and tote.
    wave_id: int | None = Field(default=None, foreign_key="wave.id", index=True)
    tour_id: int | None = Field(default=None, foreign_key="tour.id", index=True)
    sequence: int | None = None
    order_line_id: int | None = Field(default=None, foreign_key="order_line.id", index=True)
    reservation_id: int | None = Field(default=None, foreign_key="reservation.id")
    tote_no: int | None = None
    # A pick waits for the replenishment that fills its pick face.
    depends_on_task_id: int | None = Field(default=None, foreign_key="task.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class WarehouseException(SQLModel, table=True):
    """Something a supervisor must look at; never deleted, only resolved."""

    __tablename__ = "warehouse_exception"
    __table_args__ = (
        Index("ix_exception_site_state", "site_id", "state"),
        Index("ix_exception_site_kind_created", "site_id", "kind", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    kind: str = Field(max_length=32)  # over_receipt, damaged, short_pick, count_variance, ...
    state: str = Field(default="open", max_length=16)  # open, approved, rejected
    task_id: int | None = Field(default=None, foreign_key="task.id")
    message: str = Field(default="", max_length=500)
    details: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    raised_by: int | None = Field(default=None, foreign_key="app_user.id")
    resolved_by: int | None = Field(default=None, foreign_key="app_user.id")
    resolution_note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class PutawayRule(SQLModel, table=True):
    """Category → zone rule; fixed pick faces live on the location itself."""

    __tablename__ = "putaway_rule"
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    category: str = Field(max_length=64)
    zone_id: int = Field(foreign_key="zone.id")
    priority: int = 100
