"""A realistic, deterministic demo site (``wes demo --seed N``).

Layout: 12 parallel aisles (x = 4 m apart, 2.5 m apart between both sides'
pick faces), 30 bays a side of 1.2 m, level 1 pick faces and levels 2–4
reserve; docks, quarantine, pack and ship on the front cross aisle (y = 0).
"""

from __future__ import annotations

import json
import random
from itertools import groupby
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert
from sqlmodel import Session, select

from backend.config import Settings
from backend.gs1 import check_digit, make_sscc
from backend.inventory.ledger import StockIdentity, post_move
from backend.location_kinds import STATIONS
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
    ProductGtin,
    PutawayRule,
    Quant,
    Site,
    Task,
    User,
    UserSite,
    Zone,
    utcnow,
)
from backend.roles import Role
from backend.runtime import Runtime
from printers.scan_sheet import ScanSheet, SheetCode, SheetSection
from printers.scan_sheet import scan_sheet_pdf as render_scan_sheet

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
    roles: tuple[Role, ...]


DEMO_USERS = (
    DemoUser("admin", "orange-forklift-7", (Role.ADMIN,)),
    DemoUser("super", "blue-wall-board-7", (Role.SUPERVISOR,)),
    DemoUser("supervisor1", "blue-wall-board-7", (Role.SUPERVISOR,)),
    DemoUser("picker1", "green-tote-cart-7", (Role.PICKER,)),
    DemoUser("picker2", "green-tote-cart-7", (Role.PICKER,)),
    DemoUser("receiver1", "red-dock-door-7", (Role.RECEIVER,)),
    DemoUser("packer1", "brown-carton-tape-7", (Role.PACKER,)),
    # Loading is a packer's job here (the ship command is the packers'): loader1 ships at SHIP-01.
    DemoUser("loader1", "grey-truck-bay-7", (Role.PACKER,)),
    DemoUser("erp", "ledger-sync-key-7", (Role.INTEGRATION,)),
)
# The floor's places: where goods come in, are packed and leave (all on the front cross aisle, y = 0).
RECEIVING_DOCKS = tuple(f"DOCK-{i:02d}" for i in range(1, 7))
PACK_STATIONS = tuple(f"PACK-{i:02d}" for i in range(1, 4))
SHIP_DOCKS = tuple(f"SHIP-{i:02d}" for i in range(1, 4))
# Empty totes for the pick carts (a cart is a tour's tote slots: 8 a tour, so 10 carts' worth).
TOTES = tuple(f"TOTE-{i:04d}" for i in range(1, 81))
# One enrollment token each, printed by `wes demo` and on the scan sheet.
HANDHELDS = ("handheld-1", "handheld-2", "handheld-3", "handheld-4")
PRINTER = "DEMO-ZT411"
# The stock's expiry dates count from this day, whatever day the demo is built.
STOCK_DATE = date(2026, 1, 1)


def _gtin(prefix: str, item: int, length: int = 13) -> str:
    body = f"{prefix}{item:0{length - 1 - len(prefix)}d}"
    return body + str(check_digit(body))


def site_exists(session: Session) -> bool:
    return session.exec(select(Site).where(Site.code == SITE_CODE)).first() is not None


def seed(runtime: Runtime, seed: int = 1, orders: int = 300, printer_port: int = 9100) -> None:
    """Build the demo site in one transaction, then release a first wave. Same seed, same site."""
    rng = random.Random(seed)
    with runtime.sessions() as session:
        company, site = _company_and_site(session)
        _users(session, runtime, site)
        _zones_and_putaway(session, site)
        products, sku_ids = _products(session, company, rng)
        locations, loc_ids = _locations(session, site)
        _stock(session, runtime.settings, site, rng, products, sku_ids, locations, loc_ids)
        _open_asns(session, site, rng, products, sku_ids)
        _open_orders(session, site, rng, orders, sku_ids)
        _totes(session, site)
        _printer_and_routes(session, site, printer_port)
        session.commit()
    _release_first_wave(runtime)


def _company_and_site(session: Session) -> tuple[Company, Site]:
    company = Company(code="DEMO", name="Demo Distribution Ltd")
    session.add(company)
    session.flush()
    site = Site(company_id=company.id, code=SITE_CODE, name="Demo DC", receipt_tolerance_pct=5.0)
    session.add(site)
    session.flush()
    return company, site


def _users(session: Session, runtime: Runtime, site: Site) -> None:
    for du in DEMO_USERS:
        user = User(username=du.username, password_hash=runtime.passwords.hash(du.password), roles=list(du.roles),
                    all_sites=du.username == "admin", full_name=du.username.capitalize())
        session.add(user)
        session.flush()
        session.add(UserSite(user_id=user.id, site_id=site.id))


def _zones_and_putaway(session: Session, site: Site) -> None:
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


def _products(session: Session, company: Company, rng: random.Random) -> tuple[list[dict], dict[str, int]]:
    """The catalogue (rows as upserted, SKU-00001 first) and each SKU's product id."""
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
    upsert_products(session, company.id, products, None)
    sku_ids = {p.sku: p.id for p in session.exec(select(Product).where(Product.company_id == company.id)).all()}
    return products, sku_ids


def _locations(session: Session, site: Site) -> tuple[list[dict], dict[str, int]]:
    """The racking, the front cross aisle's places and the fixed pick faces (rows as upserted), and their ids."""
    locations = _racking()
    for i, code in enumerate(RECEIVING_DOCKS, start=1):
        locations.append({"code": code, "kind": "dock", "zone": "DOCK", "x": 6.0 * i, "y": 0.0})
    for i in range(1, 4):
        locations.append({"code": f"QA-{i:02d}", "kind": "quarantine", "zone": "QA", "x": 60.0 + i, "y": 0.0,
                          "mixed_products": True})
    # Pack benches at the front of aisles 1-2: PACK-01, in front of aisle 1, is the inferred depot where
    # carts start and end, and the nearest bench to most tours' last pick.
    for i, code in enumerate(PACK_STATIONS):
        locations.append({"code": code, "kind": "pack", "zone": "OUT", "x": 4.0 + 2.0 * i, "y": 0.0,
                          "mixed_products": True})
    for i, code in enumerate(SHIP_DOCKS, start=1):
        locations.append({"code": code, "kind": "ship", "zone": "OUT", "x": 70.0 + i, "y": 0.0,
                          "mixed_products": True})
    # Fixed pick faces for the first products, with min/max for replenishment.
    pick_faces = [loc for loc in locations if loc["kind"] == "pick_face"]
    for index, loc in enumerate(pick_faces[:PRODUCTS]):
        loc["fixed_sku"] = f"SKU-{index + 1:05d}"
        loc["replenish_min"] = 20
        loc["replenish_max"] = 150
    upsert_locations(session, site, locations, None)
    loc_ids = dict(session.exec(select(Location.code, Location.id).where(Location.site_id == site.id)).all())
    return locations, loc_ids


def _racking() -> list[dict]:
    """The aisles' locations: level 1 pick faces (zone FAST), levels above reserve (RES-A, RES-B)."""
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
    return locations


def _stock(session: Session, settings: Settings, site: Site, rng: random.Random, products: list[dict],
           sku_ids: dict[str, int], locations: list[dict], loc_ids: dict[str, int]) -> None:
    """Pick faces partly full, a reserve pallet for the popular products."""
    pick_codes = [loc["code"] for loc in locations if loc["kind"] == "pick_face"]
    for index, code in enumerate(pick_codes[:PRODUCTS]):
        sku = f"SKU-{index + 1:05d}"
        tracked = products[index]["expiry_tracked"]
        lot = f"L{rng.randint(1000, 9999)}" if tracked else ""
        expiry = STOCK_DATE + timedelta(days=rng.randint(120, 700)) if tracked else None
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
                                            STOCK_DATE + timedelta(days=rng.randint(200, 900)) if tracked else None))


def _open_asns(session: Session, site: Site, rng: random.Random, products: list[dict],
               sku_ids: dict[str, int]) -> None:
    """Open ASNs: pallets with supplier SSCCs, one or two SKUs each."""
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
                "expiry": STOCK_DATE + timedelta(days=rng.randint(300, 900)) if tracked else None,
                "sscc": make_sscc(1, "4012345", n * 100 + line_no),
            })
        session.execute(insert(InboundLine), lines)


def _open_orders(session: Session, site: Site, rng: random.Random, orders: int, sku_ids: dict[str, int]) -> None:
    """Orders with carrier cut-offs later today, their lines mostly of the popular products."""
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


def _totes(session: Session, site: Site) -> None:
    """Empty totes for the pick carts; a tote is bound to a tour's slot when the picker scans it."""
    session.execute(insert(Container), [{"site_id": site.id, "code": code, "kind": "tote", "status": "open",
                                         "created_at": utcnow()} for code in TOTES])


def _printer_and_routes(session: Session, site: Site, printer_port: int) -> None:
    """The demo's virtual Zebra printer (wes demo starts it on 127.0.0.1:9100) prints every label type.

    Shipping labels at the pack benches (and reprints at the ship docks), LPN labels at the receiving
    docks, and anything else through the site's route.
    """
    from backend.firmware import load_profiles
    from backend.printing.service import replace_routes, upsert_printer

    upsert_printer(session, site, code=PRINTER, name="Virtual ZT411 at the pack benches", host="127.0.0.1",
                   port=printer_port, profile_id="zebra-zt411-203", enabled=True, station=PACK_STATIONS[0],
                   zone_code="OUT", profiles=load_profiles(), user_id=None)
    routes: list[dict] = [{"station": None, "zone": None, "label_type": None, "printer": PRINTER}]
    routes += [{"station": code, "label_type": "shipping", "printer": PRINTER}
               for code in PACK_STATIONS + SHIP_DOCKS]
    routes += [{"station": code, "label_type": "tote", "printer": PRINTER} for code in PACK_STATIONS]
    routes += [{"station": code, "label_type": "lpn", "printer": PRINTER} for code in RECEIVING_DOCKS]
    replace_routes(session, site, routes, user_id=None)


def _release_first_wave(runtime: Runtime) -> None:
    """One released wave of the most urgent orders, so a picker has work at once."""
    from datetime import timezone

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


# --- enrollment and the scan sheet ------------------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    """A handheld's one-time enrollment token, as `wes demo` prints it and the scan sheet shows it."""

    device: str
    token: str
    expires_at: datetime

    def qr_payload(self, server: str) -> str:
        """The JSON the handheld's enrollment card reads from a QR code (as `POST /devices` gives it)."""
        return json.dumps({"wes": "enroll", "server": server, "token": self.token}, separators=(",", ":"))


def handheld_enrollments(runtime: Runtime, names: tuple[str, ...] = HANDHELDS) -> list[Enrollment]:
    """A fresh one-time enrollment token for each of the demo's handhelds (created on first use)."""
    from backend.devices.tokens import digest, new_enrollment_secret
    from backend.models import Device

    out = []
    with runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == SITE_CODE)).one()
        for name in names:
            device = session.exec(select(Device).where(Device.site_id == site.id, Device.name == name)).first()
            if device is None:
                device = Device(site_id=site.id, name=name, kind="handheld", firmware_profile="zebra-tc52")
            secret = new_enrollment_secret()
            device.enrollment_token_hash = digest(secret)
            device.enrollment_expires_at = utcnow() + timedelta(minutes=runtime.settings.device_enrollment_minutes)
            session.add(device)
            out.append(Enrollment(name, secret, device.enrollment_expires_at))
        session.commit()
    return out


def handheld_enrollment(runtime: Runtime, name: str = "handheld-1") -> str:
    """A fresh one-time enrollment token for one demo handheld (created on first use)."""
    return handheld_enrollments(runtime, (name,))[0].token


def demo_site(session: Session) -> Site | None:
    return session.exec(select(Site).where(Site.code == SITE_CODE)).first()


_PICKS_ON_SHEET = 32  # whole tours up to ~2 pages; the served sheet shows the tours being picked first
_TOTES_ON_SHEET = 40
_SHEET_PATH = "/demo/scan-sheet.pdf"


def scan_sheet(session: Session, site: Site, *, server: str, enrollments: Sequence[Enrollment] = (),
               now: datetime | None = None) -> ScanSheet:
    """What to scan for the demo's whole day, read from the site as it is now (see printers.scan_sheet).

    Fixed parts: the users, the handhelds' enrollment QR codes (when given), the docks, pack stations and
    ship docks, the totes, a few products, and the pallets of the next open ASN (with the putaway
    destination the rules would suggest at DOCK-01). Live parts: pallets waiting for putaway, the picks
    of the open tours (tours on a cart first), replenishments, totes at the pack stations and closed
    cartons waiting to ship.
    """
    now = now or utcnow()
    locations = {loc.code: loc for loc in session.exec(select(Location).where(
        Location.site_id == site.id, Location.kind.in_(STATIONS))).all()}

    def place(code: str, note: str) -> SheetCode:
        return SheetCode(code, code, "location", note=note, check_digits=locations[code].check_digits)

    sections = [
        _sign_in_section(enrollments, server),
        SheetSection("Places", (
            *(place(code, "receiving dock: receive here; LPN labels print at " + PRINTER) for code in RECEIVING_DOCKS),
            *(place(code, "pack station: drop totes, pack, close cartons; labels print here") for code in PACK_STATIONS),
            *(place(code, "ship dock: load cartons and ship") for code in SHIP_DOCKS),
        ), intro="Dock doors, pack benches and ship docks, as their location labels show them."),
        _receive_section(session, site),
        _putaway_section(session, site),
        _pick_section(session, site),
        _replenish_section(session, site),
        _totes_section(session, site),
        _pack_section(session, site),
        _ship_section(session, site),
        _products_section(session, site),
    ]
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    return ScanSheet(
        title=f"WES demo scan sheet · {site.code} {site.name}",
        intro=(
            f"Scan these codes with the handheld's scanner from paper or from a second screen. As of {stamp}: "
            f"the live sections (put away, pick, pack, ship) change as you work, so open {server}{_SHEET_PATH} "
            "again (the link on the handheld's sign-in screen) for the labels of what you just received, "
            "picked or packed.",
            "Walk: receive a pallet at DOCK-01 → put it away → pick a tour into totes → drop the totes at "
            "PACK-01 and pack them → ship the order's cartons at SHIP-01.",
        ),
        sections=tuple(sections),
        footer=f"WES demo scan sheet · {site.code} · {stamp}",
    )


def _sign_in_section(enrollments: Sequence[Enrollment], server: str) -> SheetSection:
    codes = [SheetCode(f"{user.username} · {', '.join(user.roles)}", user.username,
                       note=f"password {user.password}")
             for user in DEMO_USERS if user.roles[0] not in (Role.ADMIN, Role.INTEGRATION) and user.username != "super"]
    for enrollment in enrollments:
        codes.append(SheetCode(f"Enroll {enrollment.device}", enrollment.qr_payload(server), "qr",
                               note=f"token {enrollment.token} · once, before "
                                    f"{enrollment.expires_at.strftime('%H:%M UTC')}"))
    intro = ("Sign in: scan your user name on the sign-in screen, type the password. Then enroll the handheld "
             "once by scanning one of the QR codes (one device each).")
    if not enrollments:
        intro += (" The enrollment QR codes are on the sheet `wes demo` writes (var/demo-scan-sheet.pdf) and served "
                  "while `wes demo` runs; a supervisor can also make one: POST /api/v1/devices.")
    return SheetSection("Sign in and enroll", tuple(codes), intro=intro, columns=3)


def _sscc_code(caption: str, sscc: str, note: str = "") -> SheetCode:
    return SheetCode(caption, symbology="gs1-128", gs1=(("00", sscc),), note=note)


def _container_code(caption: str, container: Container, note: str = "") -> SheetCode:
    if container.sscc:
        return _sscc_code(caption, container.sscc, note)
    return SheetCode(caption, container.code, note=note)


def _location_code(caption: str, location: Location | None, note: str = "") -> SheetCode:
    if location is None:
        return SheetCode(caption, symbology="none", note=note or "no location suggested")
    return SheetCode(caption, location.code, "location", note=note, check_digits=location.check_digits)


def _product_code(caption: str, product: Product, gtin: str | None, note: str = "") -> SheetCode:
    if gtin and gtin.startswith("0"):
        return SheetCode(caption, gtin, "ean13", note=note)
    if gtin:
        return SheetCode(caption, symbology="gs1-128", gs1=(("01", gtin),), note=note)
    return SheetCode(caption, product.sku, note=note)


def _each_gtins(session: Session, product_ids: set[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = session.exec(select(ProductGtin.product_id, ProductGtin.gtin, ProductGtin.units).where(
        ProductGtin.product_id.in_(product_ids)).order_by(ProductGtin.units, ProductGtin.id)).all()
    out: dict[int, str] = {}
    for product_id, gtin, _units in rows:
        out.setdefault(product_id, gtin)  # the smallest pack: what a picker holds in the hand
    return out


def _receive_section(session: Session, site: Site) -> SheetSection:
    from backend.receiving.putaway import CategoryZoneRule, PutawayRequest, choose_putaway
    from backend.receiving.putaway_service import putaway_candidates

    received = set(session.exec(select(Container.sscc).where(Container.site_id == site.id,
                                                              Container.sscc.is_not(None))).all())
    rows = session.exec(
        select(InboundLine, InboundShipment.reference, Product)
        .join(InboundShipment, InboundShipment.id == InboundLine.shipment_id)
        .join(Product, Product.id == InboundLine.product_id)
        .where(InboundShipment.site_id == site.id, InboundShipment.status == "open", InboundLine.sscc.is_not(None),
               InboundLine.quantity_received < InboundLine.quantity_expected)
        .order_by(InboundShipment.expected_at, InboundShipment.id, InboundLine.line_no)).all()
    pallets: dict[str, tuple[str, list]] = {}
    for line, reference, product in rows:
        if line.sscc in received:
            continue
        if pallets and reference != next(iter(pallets.values()))[0]:
            break  # the next ASN to arrive (the live sheet moves on to the next one once it is received)
        pallets.setdefault(line.sscc, (reference, []))[1].append((line, product))
    dock = session.exec(select(Location).where(Location.site_id == site.id,
                                               Location.code == RECEIVING_DOCKS[0])).one()
    candidates = putaway_candidates(session, site.id)
    rules = [CategoryZoneRule(r.category, r.zone_id, r.priority)
             for r in session.exec(select(PutawayRule).where(PutawayRule.site_id == site.id)).all()]
    codes = []
    for sscc, (reference, lines) in pallets.items():
        products = {product.id: product for _, product in lines}
        quantity = sum(line.quantity_expected - line.quantity_received for line, _ in lines)
        category = next(iter(products.values())).category if len(products) == 1 else None
        choice = choose_putaway(PutawayRequest(frozenset(products), category, quantity, dock.x, dock.y),
                                candidates, rules)
        what = ", ".join(f"{line.quantity_expected - line.quantity_received} × {product.sku}"
                         + (f" lot {line.lot}" if line.lot else "") for line, product in lines)
        codes.append(_sscc_code(f"{reference} pallet", sscc, note=f"{what}; put away to "
                                f"{choice.code if choice else '(none suggested)'}"))
        destination = session.get(Location, choice.location_id) if choice else None
        codes.append(_location_code(f"Put away to {destination.code if destination else '?'}", destination,
                                    note="suggested when the pallet is received at DOCK-01 first"))
    return SheetSection(
        "Receive: pallets of the next ASN", tuple(codes), columns=2,
        intro="At DOCK-01: scan the pallet's SSCC label (GS1-128, AI 00) to receive the whole pallet as announced; "
              "then put it away: scan the same label, then the location label beside it.")


def _putaway_section(session: Session, site: Site) -> SheetSection:
    from backend.tasks.states import WORKABLE_STATES

    rows = session.exec(select(Task, Container).join(Container, Container.id == Task.container_id).where(
        Task.site_id == site.id, Task.kind == "putaway", Task.state.in_(WORKABLE_STATES))
        .order_by(Task.id).limit(12)).all()
    codes = []
    for task, container in rows:
        source = session.get(Location, task.from_location_id) if task.from_location_id else None
        target = session.get(Location, task.to_location_id) if task.to_location_id else None
        codes.append(_container_code(f"LPN {container.code}", container,
                                     note=f"{task.quantity or 0} units at {source.code if source else '?'}"))
        codes.append(_location_code(f"Put away to {target.code if target else '?'}", target))
    return SheetSection("Put away: LPNs waiting (live)", tuple(codes), columns=2,
                        intro="Received LPNs and where the rules send them: scan the LPN, then the location.")


def _pick_section(session: Session, site: Site) -> SheetSection:
    from backend.models import Tour

    rows = session.exec(
        select(Task, Tour.number, Tour.status, Location, Product)
        .join(Tour, Tour.id == Task.tour_id)
        .join(Location, Location.id == Task.from_location_id)
        .join(Product, Product.id == Task.product_id)
        .where(Task.site_id == site.id, Task.kind == "pick", Task.state.in_(("pending", "assigned", "in_progress",
                                                                                "suspended")))
    ).all()
    # tours on a cart first (they are what a picker is walking now), then by number; each in walking order
    rows = sorted(rows, key=lambda r: (r[2] != "picking", r[1], r[0].sequence or 0, r[0].id))
    shown: list = []
    for _tour, group in groupby(rows, key=lambda r: (r[2] != "picking", r[1])):  # whole tours, at least one
        group = list(group)
        if shown and len(shown) + len(group) > _PICKS_ON_SHEET:
            break
        shown += group
    gtins = _each_gtins(session, {product.id for *_, product in shown})
    codes = []
    for task, number, _status, location, product in shown:
        codes.append(_location_code(f"Tour {number} · stop {task.sequence or '-'}", location))
        codes.append(_product_code(f"{task.quantity} × {product.sku}", product, gtins.get(product.id),
                                   note=f"{product.description}; tote slot {task.tote_no or '-'}"))
    intro = ("Open picks by tour, in walking order: the location label, then the product (EAN-13). Tours on a "
             "cart come first.")
    if len(rows) > len(shown):
        left = sorted({number for _, number, *_ in rows[len(shown):]})
        intro += (f" {len(rows) - len(shown)} more picks (tours {', '.join(map(str, left))}): open the sheet "
                  "from the app again once your tour is on your handheld.")
    return SheetSection("Pick (live)", tuple(codes), intro=intro, columns=4)


def _replenish_section(session: Session, site: Site) -> SheetSection:
    rows = session.exec(select(Task, Product).join(Product, Product.id == Task.product_id).where(
        Task.site_id == site.id, Task.kind == "replenish", Task.state.in_(("pending", "assigned", "in_progress")))
        .order_by(Task.priority, Task.id).limit(4)).all()
    gtins = _each_gtins(session, {product.id for _, product in rows})
    codes = []
    for task, product in rows:
        source = session.get(Location, task.from_location_id) if task.from_location_id else None
        target = session.get(Location, task.to_location_id) if task.to_location_id else None
        codes.append(_location_code(f"From {source.code if source else '?'}", source))
        codes.append(_product_code(f"{task.quantity or ''} × {product.sku}".strip(), product, gtins.get(product.id),
                                   note=f"lot {task.lot}" if task.lot else ""))
        codes.append(_location_code(f"To {target.code if target else '?'}", target))
    return SheetSection("Replenish (live)", tuple(codes), columns=3,
                        intro="Reserve → pick face: the from-location, the product, the pick face.")


def _totes_section(session: Session, site: Site) -> SheetSection:
    from backend.models import Tour, TourTote

    busy = dict(session.exec(select(Container.code, Tour.number).join(TourTote, TourTote.container_id == Container.id)
                             .join(Tour, Tour.id == TourTote.tour_id)
                             .where(Container.site_id == site.id, Tour.status.in_(("pending", "picking", "picked"))))
                .all())
    # the totes on a cart first (each pick is scanned into its tote), then free ones
    codes = [SheetCode(code, code, note=f"tour {busy[code]}") for code in sorted(busy)]
    codes += [SheetCode(code, code, note="free") for code in TOTES if code not in busy]
    return SheetSection("Totes", tuple(codes[:_TOTES_ON_SHEET]), columns=5,
                        intro="Totes on a cart first, then empty ones: scan an empty tote into each slot of your "
                              "tour. A tote stays with its order until it is packed empty.")


def _pack_section(session: Session, site: Site) -> SheetSection:
    rows = session.exec(
        select(Container, Location.code, Product, func.sum(Quant.on_hand))
        .join(Location, Location.id == Container.location_id)
        .join(Quant, Quant.container_id == Container.id)
        .join(Product, Product.id == Quant.product_id)
        .where(Container.site_id == site.id, Container.kind == "tote", Location.kind == "pack", Quant.on_hand > 0)
        .group_by(Container.id, Location.code, Product.id).order_by(Container.code, Product.sku)).all()
    gtins = _each_gtins(session, {product.id for _, _, product, _ in rows})
    codes = []
    seen = set()
    for tote, station, product, quantity in rows[:40]:
        if tote.id not in seen:
            seen.add(tote.id)
            codes.append(SheetCode(f"{tote.code} at {station}", tote.code, note="scan the tote first"))
        codes.append(_product_code(f"{int(quantity)} × {product.sku}", product, gtins.get(product.id),
                                   note=product.description))
    return SheetSection("Pack: totes at the pack stations (live)", tuple(codes), columns=4,
                        intro="Scan the tote, then each item in it (key the quantity for several of one product).")


def _ship_section(session: Session, site: Site) -> SheetSection:
    rows = session.exec(select(Container, Order.reference, Order.status).join(Order, Order.id == Container.order_id)
                        .where(Container.site_id == site.id, Container.kind == "carton",
                               Container.status == "closed").order_by(Order.reference, Container.carton_no)
                        .limit(24)).all()
    codes = [_container_code(f"{reference} carton {carton.carton_no}", carton, note=f"order {status}")
             for carton, reference, status in rows]
    return SheetSection("Ship: closed cartons (live)", tuple(codes), columns=3,
                        intro="At SHIP-01: scan each carton's SSCC (as on its shipping label), then ship the order.")


def _products_section(session: Session, site: Site) -> SheetSection:
    rows = session.exec(select(Product, Location).join(Location, Location.fixed_product_id == Product.id).where(
        Location.site_id == site.id).order_by(Product.sku).limit(8)).all()
    gtins = _each_gtins(session, {product.id for product, _ in rows})
    codes = [_product_code(product.sku, product, gtins.get(product.id),
                           note=f"{product.description}; pick face {location.code}") for product, location in rows]
    return SheetSection("A few products", tuple(codes), columns=4,
                        intro="Unit GTINs (EAN-13) of the first products, for counting or a blind receipt.")


def scan_sheet_pdf(runtime: Runtime, *, server: str, enrollments: Sequence[Enrollment] = ()) -> bytes:
    """The demo site's scan sheet as PDF (raises LookupError when there is no demo site)."""
    with runtime.sessions() as session:
        site = demo_site(session)
        if site is None:
            raise LookupError(f"no demo site {SITE_CODE}")
        sheet = scan_sheet(session, site, server=server, enrollments=enrollments)
    return render_scan_sheet(sheet)


def usable_enrollments(session: Session, site: Site, enrollments: Sequence[Enrollment]) -> list[Enrollment]:
    """The enrollments still good for a device: not used yet (nor replaced) and not expired."""
    from backend.devices.tokens import digest
    from backend.models import Device

    now = utcnow()
    hashes = {name: token_hash for name, token_hash in session.exec(
        select(Device.name, Device.enrollment_token_hash).where(Device.site_id == site.id)).all()}
    return [e for e in enrollments if e.expires_at > now and hashes.get(e.device) == digest(e.token)]
