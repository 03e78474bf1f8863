"""KPI rollups: settled hours of the ledger summed once, so a month of KPIs reads thousands of rows, not millions.

Rebuildable at any time from the ledger (backend.insights.kpis.refresh_rollups): nothing here is a counter
that work updates; empty the three tables and the next KPI request rolls the history up again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class KpiRollup(SQLModel, table=True):
    """How far a site's history is rolled up: every hour before `rolled_until` is in the rollups."""

    __tablename__ = "kpi_rollup"
    site_id: int = Field(foreign_key="site.id", primary_key=True)
    rolled_until: datetime | None = None


class KpiPickHour(SQLModel, table=True):
    """Pick lines and units booked in the ledger in one hour, per zone (of the location picked from) and worker."""

    __tablename__ = "kpi_pick_hour"
    __table_args__ = (Index("ix_kpi_pick_hour_site_hour", "site_id", "hour"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    hour: datetime
    zone_id: int | None = None
    user_id: int | None = None
    lines: int
    units: int


class KpiShippedOrder(SQLModel, table=True):
    """An order as it shipped: when (its last ship move), release to shipped, and what of it shipped."""

    __tablename__ = "kpi_shipped_order"
    __table_args__ = (
        UniqueConstraint("order_id", name="uq_kpi_shipped_order"),
        Index("ix_kpi_shipped_order_site_shipped", "site_id", "shipped_at",
              postgresql_include=["cycle_s", "units_ordered", "units_shipped", "lines", "lines_full"]),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    order_id: int = Field(foreign_key="outbound_order.id")
    shipped_at: datetime
    # Seconds from its wave's release to its last ship move (null: shipped without a released wave).
    cycle_s: float | None = None
    units_ordered: int
    units_shipped: int
    lines: int
    lines_full: int
