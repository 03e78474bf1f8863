"""A realistic, deterministic demo site (``wes demo --seed N``).

Layout: 12 parallel aisles (x = 4 m apart, 2.5 m apart between both sides'
pick faces), 30 bays a side of 1.2 m, level 1 pick faces and levels 2–4
reserve; docks, quarantine, pack and ship on the front cross aisle (y = 0).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert
from sqlmodel import Session, select

from backend.config import Settings
from backend.gs1 import check_digit, make_sscc
from backend.inventory.ledger import StockIdentity, post_move
from backend.masterdata import upsert_locations, upsert_products, upsert_zones
from backend.models import (
    Company,
    Container,
    InboundLine,
    InboundShipment,
    Location,
    Order,
    OrderLine,
    Product,
    PutawayRule,
    Site,
    User,
    UserSite,
    Zone,
    utcnow,
)
from backend.runtime import Runtime

SITE_CODE = "DEMO1"
AISLES = 12
BAYS_PER_SIDE = 30
LEVELS = 4
PRODUCTS = 600
CATEGORIES = ("grocery", "beverage", "household", "health", "pet")
CARRIERS = ("DHL", "UPS", "DPD", "GLS")


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]


DEMO_USERS = (
    DemoUser("admin", "demo-admin", ("admin",)),
    DemoUser("super", "demo-super", ("supervisor",)),
    DemoUser("picker1", "demo-picker", ("picker",)),
    DemoUser("picker2", "demo-picker", ("picker",)),
    DemoUser("receiver1", "demo-receiver", ("receiver",)),
    DemoUser("packer1", "demo-packer", ("packer",)),
    DemoUser("erp", "demo-integration", ("integration",)),
)


def _gtin(prefix: str, item: int, length: int = 13) -> str:
    body = f"{prefix}{item:0{length - 1 - len(prefix)}d}"
    return body + str(check_digit(body))


def site_exists(session: Session) -> bool:
    return session.exec(select(Site).where(Site.code == SITE_CODE)).first() is not None


def seed(runtime: Runtime, seed: int = 1, orders: int = 300, printer_port: int = 9100) -> None:
    """Build the demo site in one transaction. Same seed, same site."""
    rng = random.Random(seed)
    settings: Settings = runtime.settings
    with runtime.sessions() as session:
        company = Company(code="DEMO", name="Demo Distribution Ltd")
        session.add(company)
        session.flush()
        site = Site(company_id=company.id, code=SITE_CODE, name="Demo DC", receipt_tolerance_pct=5.0)
        session.add(site)
        session.flush()
        for du in DEMO_USERS:
            user = User(username=du.username, password_hash=runtime.passwords.hash(du.password), roles=list(du.roles),
                        all_sites=du.username == "admin", full_name=du.username.capitalize())
            session.add(user)
            session.flush()
            session.add(UserSite(user_id=user.id, site_id=site.id))
        upsert_zones(session, site, [
            {"code": "FAST", "name": "Fast pick", "category": None},
            {"code": "RES-A", "name": "Reserve aisles 1-6", "category": None},
            {"code": "RES-B", "name": "Reserve aisles 7-12", "category": None},
            {"code": "DOCK", "name": "Receiving docks", "category": None},
            {"code": "OUT", "name": "Pack and ship", "category": None},
            {"code": "QA", "name": "Quarantine", "category": None},
        ], None)
        zones = {z.code: z.id for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
        session.add(PutawayRule(site_id=site.id, category="beverage", zone_id=zones["RES-B"]))
        session.add(PutawayRule(site_id=site.id, category="grocery", zone_id=zones["RES-A"]))

        products = []
        for i in range(1, PRODUCTS + 1):
            category = CATEGORIES[i % len(CATEGORIES)]
            per_case = rng.choice((6, 8, 12, 12, 24))
            products.append({
                "sku": f"SKU-{i:05d}",
                "description": f"{category.capitalize()} item {i}",
                "category": category,
                "uom": "each",
                "expiry_tracked": category in ("grocery", "health"),
                "lot_tracked": category in ("grocery", "health"),
                "units_per_case": per_case,
                "units_per_pallet": per_case * 40,
                "weight_g": float(rng.randint(80, 2500)),
                "length_mm": float(rng.randint(50, 300)),
                "width_mm": float(rng.randint(50, 300)),
                "height_mm": float(rng.randint(30, 250)),
                "abc_class": "A" if i <= 60 else "B" if i <= 180 else "C",
                "gtins": {"each": _gtin("50123", i), "case": _case_gtin(_gtin("50123", i))},
            })
        upsert_products(session, products, None)
        sku_ids = {p.sku: p.id for p in session.exec(select(Product)).all()}

        locations = []
        for aisle in range(1, AISLES + 1):
            aisle_x = 4.0 * aisle
            zone = "RES-A" if aisle <= AISLES // 2 else "RES-B"
            for side in (0, 1):
                for bay in range(1, BAYS_PER_SIDE + 1):
                    bay_no = bay * 2 - 1 + side
                    y = 1.0 + 1.2 * bay
                    for level in range(1, LEVELS + 1):
                        code = f"A{aisle:02d}-{bay_no:03d}-{level}"
                        pick = level == 1
                        locations.append({
                            "code": code, "kind": "pick_face" if pick else "reserve",
                            "zone": "FAST" if pick else zone, "capacity": 200 if pick else 2000,
                            "aisle": f"A{aisle:02d}", "bay": f"{bay_no:03d}", "level": str(level),
                            "x": aisle_x, "y": y, "mixed_products": False,
                        })
        for i in range(1, 7):
            locations.append({"code": f"DOCK-{i:02d}", "kind": "dock", "zone": "DOCK", "x": 6.0 * i, "y": 0.0})
        for i in range(1, 4):
            locations.append({"code": f"QA-{i:02d}", "kind": "quarantine", "zone": "QA", "x": 60.0 + i, "y": 0.0,
                              "mixed_products": True})
            locations.append({"code": f"PACK-{i:02d}", "kind": "pack", "zone": "OUT", "x": 2.0 * i, "y": 0.0,
                              "mixed_products": True})
            locations.append({"code": f"SHIP-{i:02d}", "kind": "ship", "zone": "OUT", "x": 70.0 + i, "y": 0.0,
                              "mixed_products": True})
        # Fixed pick faces for the first products, with min/max for replenishment.
        pick_faces = [loc for loc in locations if loc["kind"] == "pick_face"]
        pick_codes = [loc["code"] for loc in pick_faces]
        for index, loc in enumerate(pick_faces[:PRODUCTS]):
            loc["fixed_sku"] = f"SKU-{index + 1:05d}"
            loc["replenish_min"] = 20
            loc["replenish_max"] = 150
        upsert_locations(session, site, locations, None)
        loc_ids = dict(session.exec(select(Location.code, Location.id).where(Location.site_id == site.id)).all())

        # Stock: pick faces partly full, a reserve pallet for popular products.
        today = date(2026, 1, 1)
        for index, code in enumerate(pick_codes[:PRODUCTS]):
            sku = f"SKU-{index + 1:05d}"
            tracked = products[index]["expiry_tracked"]
            lot = f"L{rng.randint(1000, 9999)}" if tracked else ""
            expiry = today + timedelta(days=rng.randint(120, 700)) if tracked else None
            qty = rng.randint(30, 150)
            post_move(session, site_id=site.id, product_id=sku_ids[sku], quantity=qty, reason="initial",
                      destination=StockIdentity(sku_ids[sku], loc_ids[code], None, lot, expiry), reference="demo")
        reserve_codes = [loc["code"] for loc in locations if loc["kind"] == "reserve"]
        rng.shuffle(reserve_codes)
        for index in range(200):
            sku = f"SKU-{index + 1:05d}"
            code = reserve_codes[index]
            per_case = products[index]["units_per_case"]
            tracked = products[index]["expiry_tracked"]
            container = Container(site_id=site.id, code=make_sscc(0, settings.gs1_company_prefix, 900000 + index),
                                  kind="pallet", location_id=loc_ids[code])
            container.sscc = container.code
            session.add(container)
            session.flush()
            post_move(session, site_id=site.id, product_id=sku_ids[sku], quantity=per_case * rng.randint(10, 40),
                      reason="initial", reference="demo",
                      destination=StockIdentity(sku_ids[sku], loc_ids[code], container.id,
                                                f"L{rng.randint(1000, 9999)}" if tracked else "",
                                                today + timedelta(days=rng.randint(200, 900)) if tracked else None))

        # Open ASNs: pallets with supplier SSCCs, one or two SKUs each.
        for n in range(1, 11):
            shipment = InboundShipment(site_id=site.id, reference=f"ASN-{n:05d}", supplier=f"Supplier {n % 4 + 1}",
                                       expected_at=utcnow() + timedelta(hours=n))
            session.add(shipment)
            session.flush()
            lines = []
            for line_no in range(1, rng.randint(2, 5) + 1):
                index = rng.randrange(PRODUCTS)
                tracked = products[index]["expiry_tracked"]
                lines.append({
                    "shipment_id": shipment.id, "line_no": line_no, "product_id": sku_ids[f"SKU-{index + 1:05d}"],
                    "quantity_expected": products[index]["units_per_case"] * rng.randint(5, 30),
                    "quantity_received": 0,
                    "lot": f"L{rng.randint(1000, 9999)}" if tracked else "",
                    "expiry": today + timedelta(days=rng.randint(300, 900)) if tracked else None,
                    "sscc": make_sscc(1, "4012345", n * 100 + line_no),
                })
            session.execute(insert(InboundLine), lines)

        # Open orders with carrier cut-offs later today.
        now = utcnow().replace(minute=0, second=0, microsecond=0)
        popularity = [1.0 / (i + 1) ** 0.8 for i in range(PRODUCTS)]
        for n in range(1, orders + 1):
            order = Order(site_id=site.id, reference=f"SO-{n:06d}", customer=f"Customer {rng.randint(1, 80)}",
                          priority=rng.choice((3, 5, 5, 5, 7)), carrier=rng.choice(CARRIERS),
                          cut_off=now + timedelta(hours=rng.choice((2, 4, 6, 8))),
                          ship_to={"name": f"Customer {n}", "city": rng.choice(("Leeds", "Lyon", "Lodz", "Lille"))})
            session.add(order)
            session.flush()
            chosen = sorted(set(rng.choices(range(PRODUCTS), weights=popularity, k=rng.choice((1, 1, 2, 2, 3, 4)))))
            for line_no, index in enumerate(chosen, start=1):
                qty = rng.choice((1, 1, 1, 2, 2, 3, 6))
                session.add(OrderLine(order_id=order.id, line_no=line_no, product_id=sku_ids[f"SKU-{index + 1:05d}"],
                                      quantity=qty, unit_quantity=qty))
        # The demo's virtual Zebra printer (wes demo starts it on 127.0.0.1:9100) prints every label type.
        from backend.firmware import load_profiles
        from backend.printing.service import replace_routes, upsert_printer

        upsert_printer(session, site, code="DEMO-ZT411", name="Virtual ZT411 at the pack benches", host="127.0.0.1",
                       port=printer_port, profile_id="zebra-zt411-203", enabled=True, station="PACK-01",
                       zone_code="OUT", profiles=load_profiles(), user_id=None)
        replace_routes(session, site, [{"station": None, "zone": None, "label_type": None, "printer": "DEMO-ZT411"}],
                       user_id=None)
        session.commit()

    # One released wave of the most urgent orders, so a picker has work at once.
    from datetime import datetime, timezone

    from backend.waves.service import WaveCriteria, create_wave, release_wave

    today = datetime.now(timezone.utc).date()
    with runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == SITE_CODE)).one()
        wave, _ = create_wave(session, site, WaveCriteria(max_orders=40, totes=8), today=today, user_id=None)
        release_wave(session, site, wave, today=today, user_id=None)
        session.commit()


def _case_gtin(each_gtin13: str) -> str:
    body = "1" + each_gtin13[:-1]
    return body + str(check_digit(body))


def handheld_enrollment(runtime: Runtime, name: str = "handheld-1") -> str:
    """A fresh one-time enrollment token for the demo site's handheld (created on first use)."""
    from backend.devices.tokens import digest, new_enrollment_secret
    from backend.models import Device

    with runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == SITE_CODE)).one()
        device = session.exec(select(Device).where(Device.site_id == site.id, Device.name == name)).first()
        if device is None:
            device = Device(site_id=site.id, name=name, kind="handheld", firmware_profile="zebra-tc52")
        secret = new_enrollment_secret()
        device.enrollment_token_hash = digest(secret)
        device.enrollment_expires_at = utcnow() + timedelta(minutes=runtime.settings.device_enrollment_minutes)
        session.add(device)
        session.commit()
    return secret
