"""Containers (LPNs): pallets, cases, totes, cartons; SSCCs from our GS1 prefix."""

from __future__ import annotations

from sqlmodel import Session, select

from backend import audit
from backend.config import Settings
from backend.db import dialect_insert
from backend.errors import Conflict, Invalid
from backend.gs1 import make_sscc
from backend.models import Container, Counter

LPN_PREFIX = {"pallet": "P", "case": "C", "tote": "T", "carton": "K"}


def next_values(session: Session, name: str, count: int = 1) -> range:
    """Reserve `count` consecutive values of a named counter (the first is 1), in one statement.

    The counter row stays locked until the caller commits, so values are
    handed out in commit order.
    """
    statement = dialect_insert(session)(Counter).values(name=name, next_value=1 + count)
    statement = statement.on_conflict_do_update(
        index_elements=[Counter.name], set_={"next_value": Counter.next_value + count}
    ).returning(Counter.next_value)
    end = session.execute(statement).scalar_one()
    return range(end - count, end)


def new_ssccs(session: Session, settings: Settings, count: int) -> list[str]:
    prefix = settings.gs1_company_prefix
    capacity = 10 ** (16 - len(prefix))
    serials = next_values(session, f"sscc:{prefix}", count)
    if serials.stop > capacity:
        raise Conflict("the GS1 company prefix has no SSCC serial numbers left", code="sscc_exhausted")
    return [make_sscc(settings.sscc_extension_digit, prefix, serial) for serial in serials]


def create_containers(
    session: Session,
    settings: Settings,
    *,
    site_id: int,
    site_code: str,
    kind: str,
    count: int = 1,
    with_sscc: bool = False,
    location_id: int | None = None,
    user_id: int | None = None,
) -> list[Container]:
    if kind not in LPN_PREFIX:
        raise Invalid(f"unknown container kind {kind!r}", code="invalid_container_kind")
    ssccs = new_ssccs(session, settings, count) if with_sscc else [None] * count
    numbers = next_values(session, f"lpn:{site_id}:{kind}", count)
    created = []
    for number, sscc in zip(numbers, ssccs):
        code = sscc if sscc else f"{LPN_PREFIX[kind]}{site_code}{number:07d}"
        container = Container(site_id=site_id, code=code, kind=kind, sscc=sscc, location_id=location_id)
        session.add(container)
        created.append(container)
    session.flush()
    for container in created:
        audit.record(session, user_id=user_id, site_id=site_id, action="container.create", entity="container",
                     entity_id=container.id, after=audit.snapshot(container, ("code", "kind", "sscc", "location_id")))
    return created


def container_by_code(session: Session, site_id: int, code: str) -> Container | None:
    return session.exec(
        select(Container).where(Container.site_id == site_id, (Container.code == code) | (Container.sscc == code))
    ).first()
