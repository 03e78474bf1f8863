"""The database-backed ScanLookup for one site."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.models import Container, Location, Product, Site
from backend.sql import Raw
from backend.scanning.classify import classify_scan
from backend.scanning.errors import ScanError
from backend.scanning.lookup import LocationRef, LpnRef, ProductRef, ToteRef


# A site's products are its company's: a GTIN resolves within that company only (another company may use it).
_BY_GTIN = ("SELECT p.id, p.sku FROM product_gtin AS g JOIN product AS p ON p.id = g.product_id "
            "WHERE g.company_id = (SELECT company_id FROM site WHERE id = :site_id) AND g.gtin = :gtin")


def ahead_product_scan(session: Session, site_id: int, raw: str) -> None:
    """Send ahead the GTIN lookup that classifying this product scan at the site will make (backend.sql)."""
    try:
        gtin = classify_scan(raw).gtin
    except ScanError:
        return
    if gtin:
        Raw.of(session).prefetch(_BY_GTIN, site_id=site_id, gtin=gtin)


class SiteScanLookup:
    def __init__(self, session: Session, site_id: int) -> None:
        self._session = session
        self._site_id = site_id

    def location_by_code(self, code: str) -> LocationRef | None:
        loc = self._session.exec(
            select(Location).where(Location.site_id == self._site_id, Location.code == code)
        ).first()
        return LocationRef(loc.id, loc.code, loc.check_digits) if loc else None

    def _container(self, code: str | None = None, sscc: str | None = None) -> Container | None:
        query = select(Container).where(Container.site_id == self._site_id)
        query = query.where(Container.code == code) if code is not None else query.where(Container.sscc == sscc)
        return self._session.exec(query).first()

    def lpn_by_code(self, code: str) -> LpnRef | None:
        c = self._container(code=code)
        return LpnRef(c.id, c.code, c.sscc) if c and c.kind != "tote" else None

    def lpn_by_sscc(self, sscc: str) -> LpnRef | None:
        c = self._container(sscc=sscc)
        return LpnRef(c.id, c.code, c.sscc) if c else None

    def tote_by_code(self, code: str) -> ToteRef | None:
        c = self._container(code=code)
        return ToteRef(c.id, c.code) if c and c.kind == "tote" else None

    def product_by_gtin(self, gtin14: str) -> ProductRef | None:
        # Every product scan of every pick asks this: plain SQL (backend.sql).
        row = Raw.of(self._session).one(_BY_GTIN, site_id=self._site_id, gtin=gtin14)
        return ProductRef(row[0], row[1]) if row else None

    def product_by_code(self, code: str) -> ProductRef | None:
        row = self._session.exec(select(Product.id, Product.sku).join(Site, Site.company_id == Product.company_id)
                                 .where(Site.id == self._site_id, Product.sku == code)).first()
        return ProductRef(row[0], row[1]) if row else None
