"""What the supervisor's insights remember: each order's at-risk predictions and how they turned out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from .base import utcnow

SCORED = "outcome IS NOT NULL"


class OrderRiskPrediction(SQLModel, table=True):
    """One row each time an order's prediction changes (flagged, action or bottleneck zone), never one per look.

    When the order ships, or its cut-off passes unshipped, its last row before that gets the outcome (one scored
    row per order); an order never flagged gets a row then, as "predicted to make it" (backend.insights.at_risk).
    """

    __tablename__ = "order_risk_prediction"
    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('made', 'missed')", name="risk_outcome"),
        Index("ix_risk_site_cut_off", "site_id", "cut_off"),
        Index("ix_risk_order", "order_id", "id"),
        Index("uq_risk_scored_order", "order_id", unique=True, postgresql_where=text(SCORED),
              sqlite_where=text(SCORED)),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    order_id: int = Field(foreign_key="outbound_order.id")
    cut_off: datetime
    at: datetime = Field(default_factory=utcnow)
    at_risk: bool
    # The action suggested (release_now, move_picker, split_order, none) and the zone that holds the order up.
    action: str = Field(max_length=16)
    zone: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=300)
    # Predicted minutes between the order's finish (packed and shipped) and its cut-off; negative: late.
    slack_minutes: float | None = None
    outcome: str | None = Field(default=None, max_length=8)
    # When it shipped, or its cut-off (not shipped by then).
    outcome_at: datetime | None = None
    scored_at: datetime | None = None
