"""The site `wes bench realtime` works on: a released pick wave, totes, pickers, supervisors and handhelds.

Seeded through the real service layer, as `wes bench waves` does: the
generated site (pick faces, products, stock) and order book of
backend.bench.workload, then import → allocate → create wave → release, each
its own transaction. Release makes pick tasks grouped in tours, each task
with the tote slot (`tote_no`) of its tour's cart it goes into. Around that:

- every product gets a GTIN-13 (deterministic from its SKU's index) so a
  handheld can scan it;
- one open tote container `TOTE-{tour_id}-{tote_no}` per tote slot of the wave, and a few more per tour
  for the slots it gains when picks change hands mid-tour (backend.tasks.tote_slots);
- pickers (w0000…), supervisors (sup0…), and one enrolled handheld per picker,
  with their device and access tokens issued here.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from sqlalchemy import insert
from sqlmodel import select

from backend.allocation.service import allocate_orders
from backend.app import build_runtime
from backend.auth.security import PasswordHashing, TokenIssuer
from backend.bench.waves_bench import _load_site, _order_rows
from backend.bench.workload import generate_workload
from backend.config import Settings
from backend.devices import stream
from backend.devices.tokens import digest
from backend.gs1 import check_digit
from backend.migrate import upgrade
from backend.models import (
    Container, Device, Product, ProductGtin, Site, Task, Tour, TourTote, User, UserSite, Wave, utcnow,
)
from backend.orders.service import import_orders
from backend.waves.service import WaveCriteria, create_wave, release_wave

PASSWORD = "bench-password"
LINES_PER_ORDER = 2.8  # the workload's mean is ~2.9 lines an order, one pick each: a little margin
WORKLOAD_SEED = 7


def gtin_of_index(index: int) -> str:
    """A valid GTIN-13 for the product at this index: '87' + 10-digit index + check digit."""
    payload = f"87{index:010d}"
    return payload + str(check_digit(payload))


def orders_for(picks: int) -> int:
    """Orders to generate so their lines give about `picks` pick tasks."""
    return max(1, math.ceil(picks / LINES_PER_ORDER))


def seed(database_url: str, secret: str, clients: int, picks: int, supervisors: int) -> dict:
    """Seed a fresh database; returns the tokens, the sku → GTIN map and what was seeded."""
    workload = generate_workload(orders_for(picks), seed=WORKLOAD_SEED)
    runtime = build_runtime(Settings(database_url=database_url, environment="test"))
    # Task changes may emit device events (and tell wall screens), which need a session from a
    # sessionmaker with the realtime stream installed. Nobody is signed on at seed time and no hub
    # listens here, so there is nothing to announce.
    uninstall = stream.install(runtime.sessions, lambda announcement: None)
    try:
        upgrade(runtime.engine)
        site_id = _load_site(runtime, workload)
        gtins = _add_gtins(runtime, workload)
        wave_id = _release_wave(runtime, site_id, workload)
        totes, skus = _add_totes(runtime, site_id, wave_id)
        people = _add_people(runtime, site_id, secret, clients, supervisors)
        with runtime.sessions() as session:
            tasks = session.exec(select(Task.id).where(Task.wave_id == wave_id, Task.kind == "pick")).all()
        _analyze(runtime.engine)
    finally:
        uninstall()
        runtime.engine.dispose()
    return {**people, "gtins": {sku: gtins[sku] for sku in sorted(skus)},
            "seeded": {"orders": len(workload.orders), "pick_tasks": len(tasks), "totes": totes}}


def _analyze(engine) -> None:  # noqa: ANN001
    """Planner statistics, as a running site has them.

    Autovacuum would gather them within minutes; a database loaded seconds ago has none, and
    PostgreSQL then plans index lookups as scans. Like autovacuum, it leaves empty tables alone:
    statistics saying "empty" make PostgreSQL plan a table that is about to fill (device_command,
    device_event) as a scan of nothing, and a command connection keeps that generic plan while the
    table grows; a table never analyzed is planned from its actual size.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name != "postgresql":
            conn.exec_driver_sql("ANALYZE")
            return
        tables = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname").scalars().all()
        for table in tables:
            if conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{table}")').scalar():
                conn.exec_driver_sql(f'ANALYZE "{table}"')


def _add_gtins(runtime, workload) -> dict[str, str]:  # noqa: ANN001
    """An 'each' GTIN for every product (bulk insert: _load_site gives none)."""
    gtins = {p.sku: gtin_of_index(index) for index, p in enumerate(workload.products, start=1)}
    with runtime.sessions() as session:
        product_ids = dict(session.exec(select(Product.sku, Product.id)).all())
        company_ids = dict(session.exec(select(Product.id, Product.company_id)).all())
        session.execute(insert(ProductGtin), [
            {"product_id": product_ids[sku], "company_id": company_ids[product_ids[sku]], "pack_level": "each",
             "gtin": gtin.zfill(14), "units": 1}
            for sku, gtin in gtins.items()])
        session.commit()
    return gtins


def _release_wave(runtime, site_id: int, workload) -> int:  # noqa: ANN001
    """Import, allocate, plan one wave of every order and release it: one transaction each."""
    today = datetime.now(timezone.utc).date()
    cart = workload.cart
    criteria = WaveCriteria(totes=cart.totes, tote_volume_l=cart.tote_volume_l, tote_weight_kg=cart.tote_weight_kg)
    with runtime.sessions() as session:
        outcomes = import_orders(session, session.get(Site, site_id), _order_rows(workload), partial=False,
                                 user_id=None)
        rejected = [o for o in outcomes if o.problems]
        if rejected:
            raise RuntimeError(f"{len(rejected)} bench orders were rejected: {rejected[0].problems}")
        session.commit()
    with runtime.sessions() as session:
        allocate_orders(session, site_id, None, today=today)
        session.commit()
    with runtime.sessions() as session:
        wave, _plan = create_wave(session, session.get(Site, site_id), criteria, today=today, user_id=None)
        session.commit()
        wave_id = wave.id
    with runtime.sessions() as session:
        release_wave(session, session.get(Site, site_id), session.get(Wave, wave_id), today=today, user_id=None)
        session.commit()
    return wave_id


SPARE_SLOTS = 6  # per tour: a pick reassigned mid-tour moves to a new tote slot (backend.tasks.tote_slots)


def _add_totes(runtime, site_id: int, wave_id: int) -> tuple[int, set[str]]:  # noqa: ANN001
    """One open tote per (tour, tote slot) of the wave, coded TOTE-{tour_id}-{tote_no}, and one for each of the
    slots a tour may gain when its picks change hands; and the SKUs to pick."""
    with runtime.sessions() as session:
        slots = sorted(set(session.exec(
            select(TourTote.tour_id, TourTote.tote_no).join(Tour, Tour.id == TourTote.tour_id)
            .where(Tour.wave_id == wave_id)).all()))
        last = {}
        for tour_id, tote_no in slots:
            last[tour_id] = max(last.get(tour_id, 0), tote_no)
        slots += [(tour_id, n) for tour_id, top in sorted(last.items()) for n in range(top + 1, top + 1 + SPARE_SLOTS)]
        now = utcnow()
        if slots:
            session.execute(insert(Container), [
                {"site_id": site_id, "code": f"TOTE-{tour_id}-{tote_no}", "kind": "tote", "status": "open",
                 "created_at": now} for tour_id, tote_no in slots])
        skus = set(session.exec(select(Product.sku).join(Task, Task.product_id == Product.id)
                                .where(Task.wave_id == wave_id, Task.kind == "pick").distinct()).all())
        session.commit()
    return len(slots), skus


def _add_people(runtime, site_id: int, secret: str, clients: int, supervisors: int) -> dict:  # noqa: ANN001
    """Pickers with one enrolled handheld each, and supervisors; their tokens are issued here."""
    users = TokenIssuer(secret, 24 * 60)
    devices = TokenIssuer(secret, 24 * 60)
    password_hash = PasswordHashing().hash(PASSWORD)
    with runtime.sessions() as session:
        people = []
        for n in range(clients + supervisors):
            roles = ["picker"] if n < clients else ["supervisor"]
            user = User(username=f"w{n:04d}" if n < clients else f"sup{n - clients}", roles=roles,
                        password_hash=password_hash)
            session.add(user)
            people.append(user)
        session.flush()
        session.execute(insert(UserSite), [{"user_id": u.id, "site_id": site_id} for u in people])
        handhelds = []
        for n in range(clients):
            device = Device(site_id=site_id, name=f"HH-{n:04d}", kind="handheld", firmware_profile="zebra-tc52",
                            enrolled_at=utcnow())
            session.add(device)
            handhelds.append(device)
        session.flush()
        tokens = []
        for device, user in zip(handhelds, people[:clients]):
            device_token, _ = devices.issue(device.id, kind="device")
            device.token_hash = digest(device_token)
            tokens.append({"device_token": device_token, "access_token": users.issue(user.id)[0],
                           "username": user.username})
        session.commit()
        supervisor_tokens = [users.issue(u.id)[0] for u in people[clients:]]
    return {"handhelds": tokens, "supervisors": supervisor_tokens}
