"""Builds small, known sites through the public API."""

from __future__ import annotations

from sqlmodel import select

from backend.gs1 import check_digit, make_sscc
from backend.inventory.ledger import StockIdentity, post_move
from backend.models import Container, Location, Product, Quant, Site, User, UserSite


def gtin13(n: int) -> str:
    body = f"501234{n:06d}"
    return body + str(check_digit(body))


def gtin14_case(n: int) -> str:
    body = "1" + gtin13(n)[:-1]
    return body + str(check_digit(body))


def sscc(n: int, prefix: str = "4012345") -> str:
    return make_sscc(3, prefix, n)


SKU_A, SKU_B, SKU_C = "SKU-A", "SKU-B", "SKU-C"
PASSWORD = "tote-scan-1942x"  # meets the password policy (backend.auth.passwords)


def insert_user(sessions, passwords, username: str, roles: list[str], sites: list[str] | None = None, *,  # noqa: ANN001
                all_sites: bool = False, password: str = PASSWORD) -> None:
    """A user straight into the database (the first admin of a fresh app has nobody to create it)."""
    with sessions() as session:
        user = User(username=username, roles=roles, all_sites=all_sites, password_hash=passwords.hash(password))
        session.add(user)
        session.flush()
        for code in sites or []:
            site = session.exec(select(Site).where(Site.code == code)).one()
            session.add(UserSite(user_id=user.id, site_id=site.id))
        session.commit()


def build_site(api, code: str = "S1", *, tolerance: float = 10.0, company: str = "C1") -> None:  # noqa: ANN001
    root = api.as_("root")
    name = "Company one" if company == "C1" else f"Company {company}"
    r = root.post("/api/v1/companies", json={"code": company, "name": name})
    assert r.status_code == 201, r.text
    r = root.post("/api/v1/sites", json={"code": code, "name": f"Site {code}", "company": company,
                                         "receipt_tolerance_pct": tolerance})
    assert r.status_code == 201, r.text
    r = root.post("/api/v1/zones", json={"site": code, "zones": [
        {"code": "PF", "name": "Pick faces"}, {"code": "RES", "name": "Reserve"},
        {"code": "BEV", "name": "Beverage reserve", "category": "beverage"},
        {"code": "DOCK"}, {"code": "QA"},
    ]})
    assert r.status_code == 200, r.text
    r = root.post("/api/v1/products", json={"site": code, "products": [
        {"sku": SKU_A, "description": "Widget", "gtins": {"each": gtin13(1), "case": gtin14_case(1)},
         "units_per_case": 12, "category": "hardware"},
        {"sku": SKU_B, "description": "Yoghurt", "lot_tracked": True, "expiry_tracked": True,
         "gtins": {"each": gtin13(2), "case": gtin14_case(2)}, "units_per_case": 6, "category": "grocery"},
        {"sku": SKU_C, "description": "Lemonade", "gtins": {"each": gtin13(3)}, "category": "beverage"},
    ]})
    assert r.status_code == 200, r.text
    locations = [
        {"code": "DOCK-1", "kind": "dock", "zone": "DOCK", "x": 0, "y": 0},
        {"code": "QA-1", "kind": "quarantine", "zone": "QA", "x": 1, "y": 0, "mixed_products": True},
        {"code": "PF-01", "kind": "pick_face", "zone": "PF", "x": 4, "y": 2, "capacity": 100, "fixed_sku": SKU_A},
    ]
    for aisle in (1, 2, 3):
        for bay in (1, 2, 3):
            locations.append({"code": f"R{aisle}-{bay:02d}", "kind": "reserve", "zone": "BEV" if aisle == 3 else "RES",
                              "x": 4.0 * aisle, "y": 2.0 + 2 * bay, "capacity": 1000, "aisle": f"A{aisle}",
                              "bay": f"{bay:02d}", "level": "2", "mixed_products": aisle == 2})
    r = root.post("/api/v1/locations", json={"site": code, "locations": locations})
    assert r.status_code == 200, r.text
    r = root.put("/api/v1/putaway-rules", json={"site": code, "rules": [{"category": "beverage", "zone": "BEV"}]})
    assert r.status_code == 200, r.text


def add_site_users(api, site: str = "S1") -> None:  # noqa: ANN001
    api.add_user("recv", ["receiver"], [site])
    api.add_user("sup", ["supervisor"], [site])
    api.add_user("pick", ["picker"], [site])
    api.add_user("integ", ["integration"], [site])


def add_stock(api, site: str, location: str, sku: str, quantity: int, *, lot: str = "", expiry=None,  # noqa: ANN001
              lpn: str | None = None, received_at=None) -> None:  # noqa: ANN001
    """Put stock straight into the ledger (an initial stock take), bypassing receiving."""
    with api.runtime.sessions() as session:
        site_row = session.exec(select(Site).where(Site.code == site)).one()
        loc = session.exec(select(Location).where(Location.site_id == site_row.id, Location.code == location)).one()
        product = session.exec(select(Product).where(Product.company_id == site_row.company_id,
                                                     Product.sku == sku)).one()
        container_id = None
        if lpn:
            container = Container(site_id=site_row.id, code=lpn, kind="pallet", location_id=loc.id)
            session.add(container)
            session.flush()
            container_id = container.id
        ident = StockIdentity(product.id, loc.id, container_id, lot, expiry)
        post_move(session, site_id=site_row.id, product_id=product.id, quantity=quantity, reason="initial",
                  destination=ident, reference="test")
        if received_at is not None:
            quant = session.exec(select(Quant).where(Quant.stock_key == ident.key)).one()
            quant.received_at = received_at
            session.add(quant)
        session.commit()
