"""Business events for the ERP (the outbox), webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, text
from sqlmodel import Field, SQLModel

from .base import utcnow

DELIVERY_STATES = ("queued", "sending", "delivered", "failed")


class IntegrationEvent(SQLModel, table=True):
    """One business event, written in the transaction of the change it reports (backend.webhooks.outbox).

    `id` is given just before that transaction commits, from one counter row locked until the COMMIT: a
    larger id always committed later, so a reader that has seen id N has seen every event below N.
    """

    __tablename__ = "integration_event"
    __table_args__ = (
        Index("uq_integration_event_id", "id", unique=True),
        Index("ix_integration_event_site_id", "site_id", "id"),
        # the rows of transactions not committed yet (and only those): what the COMMIT numbers
        Index("ix_integration_event_unnumbered", "pk", postgresql_where=text("id IS NULL"),
              sqlite_where=text("id IS NULL")),
    )
    pk: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    site_id: int = Field(foreign_key="site.id")
    type: str = Field(max_length=40)
    occurred_at: datetime = Field(default_factory=utcnow)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))


class WebhookSubscription(SQLModel, table=True):
    """An ERP endpoint that hears a site's events of some types, in order, signed, with its delivery state."""

    __tablename__ = "webhook_subscription"
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    event_types: list = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    secret: str = Field(max_length=100)
    # After a rotation the old secret signs too, until previous_secret_until.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = None
    # Every event of the site with an id up to this one has been delivered (or was before the subscription).
    delivered_through: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # Failed tries of the next event in a row; it is not tried again before retry_at.
    failures: int = 0
    retry_at: datetime | None = None
    last_error: str = Field(default="", max_length=500)
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One try to deliver one event to one subscription (the delivery log), or a manual redelivery queued."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
        Index("ix_webhook_delivery_queued", "subscription_id", postgresql_where=text("state IN ('queued', 'sending')"),
              sqlite_where=text("state IN ('queued', 'sending')")),
    )
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    event_type: str = Field(max_length=40)
    state: str = Field(max_length=16)  # DELIVERY_STATES
    manual: bool = False
    attempt: int = 1
    http_status: int | None = None
    error: str = Field(default="", max_length=500)
    duration_ms: float | None = None
    requested_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
