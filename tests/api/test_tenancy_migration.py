"""Revision 0012 on a database with rows: products go to the companies whose sites use them, copied where shared.

A database is migrated to 0011, filled through plain SQL (as 0011 knew the tables), then upgraded to the head,
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from backend.db import make_engine
from backend.migrate import upgrade

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A database with no tables at all (the shared fixtures hand out migrated ones)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    databases = request.getfixturevalue("postgres_databases")
    name = f"wes_m_{uuid.uuid4().hex[:12]}"
    databases._admin(f"CREATE DATABASE {name}")
    try:
        yield databases.url_for(name)
    finally:
        databases.drop(name)


class OldRows:
    """Inserts rows into the tables as they are, filling the NOT NULL columns a test does not care about."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.meta = sa.MetaData()

    def add(self, table_name: str, **values) -> int:  # noqa: ANN003
        table = sa.Table(table_name, self.meta, autoload_with=self.conn) if table_name not in self.meta.tables \
            else self.meta.tables[table_name]
        row = {}
        for column in table.columns:
            if column.name in values or column.nullable or column.primary_key and column.name == "id":
                continue
            try:
                python_type = dict if isinstance(column.type, sa.JSON) else column.type.python_type
            except NotImplementedError:
                python_type = str
            row[column.name] = {bool: False, int: 0, float: 0.0, datetime: NOW, dict: []}.get(python_type, "x")
        row.update(values)
        result = self.conn.execute(sa.insert(table).values(**row))
        return result.inserted_primary_key[0] if result.inserted_primary_key else 0


def _rows(conn: sa.Connection, sql: str, **params) -> list[tuple]:  # noqa: ANN003
    return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]


def test_0012_gives_products_to_the_companies_that_use_them_and_profiles_to_each_site(empty_database_url: str):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0011")
        with engine.begin() as conn:
            old = OldRows(conn)
            c1, c2, c3 = (old.add("company", code=code, name=code) for code in ("C1", "C2", "C3"))
            s1 = old.add("site", company_id=c1, code="S1", name="S1", timezone="UTC")
            s2 = old.add("site", company_id=c2, code="S2", name="S2", timezone="UTC")
            z1 = old.add("zone", site_id=s1, code="Z1", name="")
            z2 = old.add("zone", site_id=s2, code="Z2", name="")
            shared = old.add("product", sku="SHARED", description="both", lot_tracked=True, abc_class="A",
                             uom="each")
            only_2 = old.add("product", sku="ONLY-2", description="S2's", abc_class="C", uom="each")
            unused = old.add("product", sku="UNUSED", description="nobody's yet", abc_class="C", uom="each")
            old.add("product_gtin", product_id=shared, gtin="05012340000010", pack_level="each", units=1)
            old.add("product_gtin", product_id=shared, gtin="15012340000017", pack_level="case", units=6)
            old.add("product_gtin", product_id=unused, gtin="05012340000027", pack_level="each", units=1)
            l1 = old.add("location", site_id=s1, zone_id=z1, code="L1", kind="reserve", check_digits="11",
                         fixed_product_id=shared)
            l2 = old.add("location", site_id=s2, zone_id=z2, code="L2", kind="reserve", check_digits="22")
            for site, loc, product in ((s1, l1, shared), (s2, l2, shared), (s2, l2, only_2)):
                key = f"{product}|{loc}|||"
                quant = old.add("quant", site_id=site, product_id=product, location_id=loc, lot="", stock_key=key,
                                on_hand=5, reserved=0, received_at=NOW)
                old.add("move", site_id=site, product_id=product, lot="", quantity=5, to_location_id=loc,
                        to_quant_id=quant, reason="initial", reference="", created_at=NOW)
            order = old.add("outbound_order", site_id=s2, reference="O-1", status="open", priority=5)
            old.add("order_line", order_id=order, line_no=1, product_id=shared, quantity=2)
            asn = old.add("inbound_shipment", site_id=s1, reference="ASN-1", status="open")
            old.add("inbound_line", shipment_id=asn, line_no=1, product_id=shared, quantity_expected=3)
            worker = old.add("app_user", username="w", full_name="", password_hash="!", roles=["picker"],
                             all_sites=False, active=True, created_at=NOW)
            old.add("user_site", user_id=worker, site_id=s1)
            old.add("user_site", user_id=worker, site_id=s2)
            old.add("worker_profile", user_id=worker, zone_ids=[z1, z2], skills=["pick"], equipment=["forklift"],
                    last_location_id=l2, updated_at=NOW)

        upgrade(engine)

        with engine.connect() as conn:
            products = _rows(conn, "SELECT company_id, sku, id, description, lot_tracked FROM product "
                                   "ORDER BY company_id, sku")
            by_key = {(company, sku): pid for company, sku, pid, _, _ in products}
            assert sorted(by_key) == [(c1, "SHARED"), (c1, "UNUSED"), (c2, "ONLY-2"), (c2, "SHARED"),
                                      (c2, "UNUSED"), (c3, "UNUSED")]
            # The first company keeps the row (and its id); another company gets a copy with the same data.
            assert by_key[(c1, "SHARED")] == shared and by_key[(c2, "ONLY-2")] == only_2
            assert by_key[(c1, "UNUSED")] == unused
            copy = by_key[(c2, "SHARED")]
            assert {(d, bool(lot)) for c, s, _, d, lot in products if s == "SHARED"} == {("both", True)}
            gtins = _rows(conn, "SELECT product_id, company_id, gtin, pack_level, units FROM product_gtin "
                                "ORDER BY product_id, pack_level")
            assert [g for g in gtins if g[0] in (shared, copy)] == [
                (shared, c1, "15012340000017", "case", 6), (shared, c1, "05012340000010", "each", 1),
                (copy, c2, "15012340000017", "case", 6), (copy, c2, "05012340000010", "each", 1)]
            assert sorted(g[1] for g in gtins if g[2] == "05012340000027") == [c1, c2, c3]

            # Each company's rows name its own product; a quant's stock key follows its product id.
            assert _rows(conn, "SELECT site_id, product_id, stock_key FROM quant ORDER BY site_id, product_id") == [
                (s1, shared, f"{shared}|{l1}|||"), (s2, only_2, f"{only_2}|{l2}|||"), (s2, copy, f"{copy}|{l2}|||")]
            assert _rows(conn, "SELECT site_id, product_id FROM move ORDER BY site_id, product_id") == [
                (s1, shared), (s2, only_2), (s2, copy)]
            assert _rows(conn, "SELECT product_id FROM order_line") == [(copy,)]
            assert _rows(conn, "SELECT product_id FROM inbound_line") == [(shared,)]
            assert _rows(conn, "SELECT fixed_product_id FROM location WHERE id = :id", id=l1) == [(shared,)]
            # Each quant is still reached by the key the ledger computes.
            assert _rows(conn, "SELECT COUNT(*) FROM quant AS q JOIN move AS m ON m.to_quant_id = q.id "
                               "AND m.product_id = q.product_id") == [(3,)]

            profiles = conn.execute(sa.select(sa.table(
                "worker_profile", sa.column("user_id"), sa.column("site_id"), sa.column("zone_ids", sa.JSON()),
                sa.column("skills", sa.JSON()), sa.column("equipment", sa.JSON()),
                sa.column("last_location_id"))).order_by(sa.column("site_id"))).all()
            assert [tuple(p) for p in profiles] == [
                (worker, s1, [z1], ["pick"], ["forklift"], None), (worker, s2, [z2], ["pick"], ["forklift"], l2)]

        # The new constraints hold: one SKU per company, one GTIN per company.
        with engine.connect() as conn:
            for sql in ("INSERT INTO product (company_id, sku, description, uom, lot_tracked, serial_tracked, "
                        "expiry_tracked, abc_class, updated_at) VALUES (:c, 'SHARED', '', 'each', false, false, "
                        "false, 'C', :now)",
                        "INSERT INTO product_gtin (product_id, company_id, gtin, pack_level, units) "
                        "VALUES (:p, :c, '05012340000010', 'inner', 1)"):
                with pytest.raises(sa.exc.IntegrityError):
                    with conn.begin():
                        conn.execute(sa.text(sql), {"c": c1, "p": unused, "now": NOW})
    finally:
        engine.dispose()
