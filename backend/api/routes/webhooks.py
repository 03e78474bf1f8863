"""ERP integration: webhook subscriptions (signed, in order, with a delivery log) and the pull feed of events.

See docs/webhooks.md for the event types, the body and the signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, HttpUrl, field_validator
from sqlalchemy import delete
from sqlmodel import Session, func, select

from backend import audit
from backend.api.deps import CurrentUser, RuntimeDep, SessionDep, ensure_site_access, resolve_site
from backend.bounds import StrictBool, Text
from backend.api.schemas import Page, Strict
from backend.auth.principal import Principal
from backend.errors import Invalid, NotFound
from backend.models import IntegrationEvent, Site, WebhookDelivery, WebhookSubscription, utcnow
from backend.webhooks.delivery import WAKE
from backend.webhooks import outbox
from backend.webhooks.outbox import EVENT_TYPES
from backend.webhooks.signing import new_secret

router = APIRouter(tags=["webhooks"])  # admins and integration users of the site (backend.api.access)

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]  (the one list: backend.webhooks.outbox)
DeliveryState = Literal["queued", "sending", "delivered", "failed"]


class SubscriptionIn(Strict):
    site: Text | None = None
    url: HttpUrl = Field(description="http(s) URL the events are POSTed to")
    event_types: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1,
                                         description="the event types to deliver (default: all)")
    description: Text = Field(default="", max_length=200)
    active: StrictBool = True
    start_after: int | None = Field(
        default=None, ge=0, le=2**62,
        description="deliver the site's events with a larger id (default: only events recorded from now on; "
                    "0: every event the site has)")

    @field_validator("url")
    @classmethod
    def _short_enough(cls, value: HttpUrl) -> HttpUrl:
        if len(str(value)) > 2000:
            raise ValueError("at most 2000 characters")
        return value


class SubscriptionUpdate(Strict):
    """Only the fields given change."""

    url: HttpUrl | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: Text | None = Field(default=None, max_length=200)
    active: StrictBool | None = None


class SubscriptionOut(BaseModel):
    id: int
    site: str
    url: str
    description: str
    event_types: list[str]
    active: bool
    secret_hint: str = Field(description="the secret's last 4 characters (the secret is shown only when made)")
    previous_secret_until: datetime | None = Field(description="until when the rotated-out secret also signs")
    delivered_through: int = Field(description="every wanted event of the site up to this id has been delivered")
    pending: int = Field(description="events of the wanted types not delivered yet")
    failures: int = Field(description="failed tries of the next event in a row")
    retry_at: datetime | None
    last_error: str
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="the signing secret: store it now, it is not shown again")


class RotateIn(Strict):
    overlap_hours: float | None = Field(default=None, ge=0, le=24 * 30,
                                        description="how long the old secret still signs (default: the server's)")


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event_id: int
    event_type: str
    state: str
    manual: bool
    attempt: int
    http_status: int | None
    error: str
    duration_ms: float | None
    created_at: datetime
    finished_at: datetime | None


class RedeliverIn(Strict):
    event_id: int = Field(ge=1, le=2**62)


class RedeliveryOut(BaseModel):
    status: Literal["queued", "next_in_order"] = Field(
        description="queued: a manual delivery was queued (it is logged like any other); next_in_order: the "
                    "event has not been delivered yet, and is tried again now, in order")
    delivery: DeliveryOut | None


class EventOut(BaseModel):
    id: int
    type: str
    site: str
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    data: list[EventOut]
    next_after: int = Field(description="the `after` of the next page (the last id here, or the `after` given)")


# --- subscriptions ----------------------------------------------------------------------------


def _load(session: Session, me: Principal, subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id, with_for_update=lock)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} not found", code="unknown_subscription")
    ensure_site_access(me, sub.site_id, f"webhook subscription {subscription_id}", code="unknown_subscription")
    return sub


def _pending(session: Session, sub: WebhookSubscription) -> int:
    return session.exec(select(func.count()).select_from(IntegrationEvent).where(
        IntegrationEvent.site_id == sub.site_id, IntegrationEvent.id > sub.delivered_through,
        IntegrationEvent.type.in_(list(sub.event_types)))).one()


def _out(session: Session, sub: WebhookSubscription, site_code: str | None = None) -> dict:
    site_code = site_code or session.exec(select(Site.code).where(Site.id == sub.site_id)).one()
    return dict(id=sub.id, site=site_code, url=sub.url, description=sub.description, event_types=sub.event_types,
                active=sub.active, secret_hint=sub.secret[-4:], previous_secret_until=sub.previous_secret_until,
                delivered_through=sub.delivered_through, pending=_pending(session, sub), failures=sub.failures,
                retry_at=sub.retry_at, last_error=sub.last_error, created_at=sub.created_at,
                updated_at=sub.updated_at)


def _public(sub: WebhookSubscription) -> dict:
    """What the audit log keeps of a subscription (never its secrets)."""
    return {"url": sub.url, "event_types": sub.event_types, "description": sub.description, "active": sub.active}


@router.post("/webhooks", response_model=SubscriptionWithSecret, status_code=201)
def create_subscription(body: SubscriptionIn, me: CurrentUser, session: SessionDep) -> SubscriptionWithSecret:
    """A new subscription; its signing secret is in this answer only."""
    site = resolve_site(session, me, body.site)
    start = body.start_after
    if start is None:
        start = session.exec(select(func.max(IntegrationEvent.id))).one() or 0
    sub = WebhookSubscription(site_id=site.id, url=str(body.url), description=body.description,
                              event_types=sorted(set(body.event_types), key=EVENT_TYPES.index), active=body.active,
                              secret=new_secret(), delivered_through=start, created_by=me.id)
    session.add(sub)
    session.flush()
    audit.record(session, user_id=me.id, site_id=site.id, action="webhook.create", entity="webhook_subscription",
                 entity_id=sub.id, after={**_public(sub), "start_after": start})
    session.info[WAKE] = True
    session.commit()
    return SubscriptionWithSecret(**_out(session, sub, site.code), secret=sub.secret)


@router.get("/webhooks", response_model=Page[SubscriptionOut])
def list_subscriptions(me: CurrentUser, session: SessionDep, site: Text | None = None) -> Page[SubscriptionOut]:
    site_row = resolve_site(session, me, site)
    subs = session.exec(select(WebhookSubscription).where(WebhookSubscription.site_id == site_row.id)
                        .order_by(WebhookSubscription.id)).all()
    return Page(data=[SubscriptionOut(**_out(session, s, site_row.code)) for s in subs], count=len(subs))


@router.get("/webhooks/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: int, me: CurrentUser, session: SessionDep) -> SubscriptionOut:
    return SubscriptionOut(**_out(session, _load(session, me, _id(subscription_id))))


@router.put("/webhooks/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(subscription_id: int, body: SubscriptionUpdate, me: CurrentUser,
                        session: SessionDep) -> SubscriptionOut:
    """Change the URL, the event types, the description or whether it is active (fields left out keep theirs)."""
    sub = _load(session, me, _id(subscription_id))
    before = _public(sub)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        sub.url = str(body.url)
    if changes.get("event_types") is not None:
        sub.event_types = sorted(set(body.event_types), key=EVENT_TYPES.index)
    if changes.get("description") is not None:
        sub.description = body.description
    if changes.get("active") is not None:
        sub.active = body.active
        if body.active:  # switched back on: the next try is now
            sub.retry_at = None
    sub.updated_at = utcnow()
    session.add(sub)
    audit.record(session, user_id=me.id, site_id=sub.site_id, action="webhook.update", entity="webhook_subscription",
                 entity_id=sub.id, before=before, after=_public(sub))
    session.info[WAKE] = True
    session.commit()
    return SubscriptionOut(**_out(session, sub))


@router.delete("/webhooks/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: int, me: CurrentUser, session: SessionDep) -> Response:
    """Delete the subscription and its delivery log (the events stay: the pull feed still serves them)."""
    # Locked first: a sender recording deliveries updates the row before it logs them, so it waits, then finds the
    # subscription gone and logs nothing (else its log rows could land between the two deletes: a foreign key error).
    sub = _load(session, me, _id(subscription_id), lock=True)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    audit.record(session, user_id=me.id, site_id=sub.site_id, action="webhook.delete", entity="webhook_subscription",
                 entity_id=sub.id, before=_public(sub))
    session.delete(sub)
    session.commit()
    return Response(status_code=204)


@router.post("/webhooks/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(subscription_id: int, body: RotateIn, me: CurrentUser, runtime: RuntimeDep,
                  session: SessionDep) -> SubscriptionWithSecret:
    """A new signing secret (in this answer only); the old one still signs beside it for the overlap."""
    sub = _load(session, me, _id(subscription_id))
    overlap = body.overlap_hours if body.overlap_hours is not None else runtime.settings.webhook_secret_overlap_hours
    now = utcnow()
    sub.previous_secret, sub.secret = sub.secret, new_secret()
    sub.previous_secret_until = now + timedelta(hours=overlap)
    sub.updated_at = now
    session.add(sub)
    audit.record(session, user_id=me.id, site_id=sub.site_id, action="webhook.rotate_secret",
                 entity="webhook_subscription", entity_id=sub.id,
                 after={"previous_secret_until": sub.previous_secret_until.isoformat()})
    session.commit()
    return SubscriptionWithSecret(**_out(session, sub), secret=sub.secret)


# --- the delivery log and redelivery ----------------------------------------------------------


@router.get("/webhooks/{subscription_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(subscription_id: int, me: CurrentUser, session: SessionDep,
                    state: DeliveryState | None = None,
                    event_id: int | None = Query(default=None, ge=1, le=2**62),
                    before_id: int | None = Query(default=None, ge=1, le=2**62,
                                                  description="older than this delivery (paging back)"),
                    limit: int = Query(default=100, ge=1, le=1000)) -> Page[DeliveryOut]:
    """The subscription's deliveries and tries, newest first."""
    sub = _load(session, me, _id(subscription_id))
    conditions = [WebhookDelivery.subscription_id == sub.id]
    if state is not None:
        conditions.append(WebhookDelivery.state == state)
    if event_id is not None:
        conditions.append(WebhookDelivery.event_id == event_id)
    if before_id is not None:
        conditions.append(WebhookDelivery.id < before_id)
    total = session.exec(select(func.count()).select_from(WebhookDelivery).where(*conditions)).one()
    rows = session.exec(select(WebhookDelivery).where(*conditions).order_by(WebhookDelivery.id.desc())
                        .limit(limit)).all()
    return Page(data=[DeliveryOut(**row.model_dump()) for row in rows], count=total)


def _redeliver(session: Session, me: Principal, sub: WebhookSubscription, event_id: int) -> RedeliveryOut:
    found = session.exec(select(IntegrationEvent).where(IntegrationEvent.id == event_id,
                                                        IntegrationEvent.site_id == sub.site_id)).first()
    if found is None:
        raise NotFound(f"event {event_id} not found at this subscription's site", code="unknown_event")
    if event_id > sub.delivered_through:
        if found.type not in sub.event_types:
            raise Invalid(f"subscription {sub.id} does not take {found.type} events", code="event_type_not_subscribed",
                          details={"event_type": found.type})
        sub.retry_at = None  # the next in order: tried again now
        session.add(sub)
        result = RedeliveryOut(status="next_in_order", delivery=None)
        after: dict = {"event_id": event_id, "status": "next_in_order"}
    else:
        delivery = WebhookDelivery(subscription_id=sub.id, event_id=found.id, event_type=found.type, state="queued",
                                   manual=True, attempt=1, requested_by=me.id)
        session.add(delivery)
        session.flush()
        result = RedeliveryOut(status="queued", delivery=DeliveryOut(**delivery.model_dump()))
        after = {"event_id": event_id, "status": "queued", "delivery_id": delivery.id}
    audit.record(session, user_id=me.id, site_id=sub.site_id, action="webhook.redeliver",
                 entity="webhook_subscription", entity_id=sub.id, after=after)
    session.info[WAKE] = True
    session.commit()
    return result


@router.post("/webhooks/{subscription_id}/redeliver", response_model=RedeliveryOut, status_code=202)
def redeliver_event(subscription_id: int, body: RedeliverIn, me: CurrentUser, session: SessionDep) -> RedeliveryOut:
    """Send one event of the site to this subscription again (a delivered one is queued; one not delivered yet is
    tried again now, in order)."""
    return _redeliver(session, me, _load(session, me, _id(subscription_id)), body.event_id)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response_model=RedeliveryOut, status_code=202)
def redeliver_delivery(delivery_id: int, me: CurrentUser, session: SessionDep) -> RedeliveryOut:
    """Send the event of a logged delivery (a failed one, say) again."""
    delivery = session.get(WebhookDelivery, _id(delivery_id))
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found", code="unknown_delivery")
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    ensure_site_access(me, sub.site_id, f"delivery {delivery_id}", code="unknown_delivery")
    return _redeliver(session, me, sub, delivery.event_id)


# --- the pull feed ----------------------------------------------------------------------------


@router.get("/events", response_model=EventPage)
def events(me: CurrentUser, session: SessionDep, site: Text | None = None,
           after: int = Query(default=0, ge=0, le=2**62, description="the last event id the caller has"),
           limit: int = Query(default=100, ge=1, le=1000),
           types: str | None = Query(default=None, max_length=1000,
                                     description="comma-separated event types (default: all)")) -> EventPage:
    """The site's events with an id above `after`, oldest first: ids follow commit order, so paging on
    `next_after` never skips an event that commits later."""
    site_row = resolve_site(session, me, site)
    outbox.number_waiting(session)  # (events of device commands get their ids after their COMMIT)
    conditions = [IntegrationEvent.site_id == site_row.id, IntegrationEvent.id > after]
    if types:
        wanted = [t.strip() for t in types.split(",") if t.strip()]
        unknown = sorted(set(wanted) - set(EVENT_TYPES))
        if unknown:
            raise Invalid(f"unknown event types: {', '.join(unknown)}", code="unknown_event_type",
                          details={"field": "types", "unknown": unknown, "known": list(EVENT_TYPES)})
        conditions.append(IntegrationEvent.type.in_(wanted))
    rows = session.exec(select(IntegrationEvent).where(*conditions).order_by(IntegrationEvent.id).limit(limit)).all()
    data = [EventOut(id=r.id, type=r.type, site=site_row.code, occurred_at=r.occurred_at, data=r.payload) for r in rows]
    return EventPage(data=data, next_after=rows[-1].id if rows else after)


def _id(value: int) -> int:
    """A path id the database can hold (a larger one is simply not there)."""
    if not 1 <= value <= 2**31 - 1:
        raise NotFound(f"{value} not found", code="not_found")
    return value

