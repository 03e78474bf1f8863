"""tenancy: products (and their GTINs) belong to a company; worker profiles are per (user, site)

Every existing product goes to the company of the sites that use it (stock, moves, receipts, tasks, fixed
pick faces, order and ASN lines). A product used by sites of several companies is copied once per further
company, GTINs included, and that company's rows are repointed at its copy (a quant's stock key, which
starts with the product id, too). A product no site uses yet goes to every company (it was visible to all
of them); if there is no company at all, one is made for them. A worker's profile is copied to each site
they work at, keeping the zones of that site and the last position if it is there.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

PRODUCT_COLUMNS = ["id", "sku", "description", "uom", "category", "lot_tracked", "serial_tracked", "expiry_tracked",
                   "units_per_inner", "units_per_case", "units_per_pallet", "length_mm", "width_mm", "height_mm",
                   "weight_g", "abc_class", "updated_at"]
GTIN_COLUMNS = ["id", "product_id", "gtin", "pack_level", "units"]

# Where each company's rows name a product: (table, column, how the row's site is found).
PRODUCT_USES = [
    ("quant", "product_id", "site_id"),
    ("move", "product_id", "site_id"),
    ("receipt", "product_id", "site_id"),
    ("task", "product_id", "site_id"),
    ("location", "fixed_product_id", "site_id"),
    ("order_line", "product_id", "(SELECT site_id FROM outbound_order WHERE outbound_order.id = order_line.order_id)"),
    ("inbound_line", "product_id",
     "(SELECT site_id FROM inbound_shipment WHERE inbound_shipment.id = inbound_line.shipment_id)"),
]


def _product_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("uom", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("lot_tracked", sa.Boolean(), nullable=False),
        sa.Column("serial_tracked", sa.Boolean(), nullable=False),
        sa.Column("expiry_tracked", sa.Boolean(), nullable=False),
        sa.Column("units_per_inner", sa.Integer(), nullable=True),
        sa.Column("units_per_case", sa.Integer(), nullable=True),
        sa.Column("units_per_pallet", sa.Integer(), nullable=True),
        sa.Column("length_mm", sa.Float(), nullable=True),
        sa.Column("width_mm", sa.Float(), nullable=True),
        sa.Column("height_mm", sa.Float(), nullable=True),
        sa.Column("weight_g", sa.Float(), nullable=True),
        sa.Column("abc_class", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "sku", name="uq_product_company_sku"),
    )


def _gtin_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("pack_level", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "pack_level"),
        sa.UniqueConstraint("company_id", "gtin", name="uq_product_gtin_company_gtin"),
    )


def _owners(conn) -> dict[int, list[int]]:  # noqa: ANN001
    """Each product's companies, first (lowest id) first: those of the sites using it, else every company."""
    uses: dict[int, set[int]] = defaultdict(set)
    for table, column, site in PRODUCT_USES:
        for product_id, company_id in conn.exec_driver_sql(
            f"SELECT DISTINCT {table}.{column}, site.company_id FROM {table} JOIN site ON site.id = {site} "
            f"WHERE {table}.{column} IS NOT NULL"
        ):
            uses[product_id].add(company_id)
    products = [row[0] for row in conn.exec_driver_sql("SELECT id FROM product ORDER BY id")]
    companies = [row[0] for row in conn.exec_driver_sql("SELECT id FROM company ORDER BY id")]
    if products and not companies:
        conn.execute(sa.text("INSERT INTO company (code, name, created_at) VALUES (:code, :name, :now)"),
                     {"code": "PRODUCTS", "name": "Products from before companies owned them",
                      "now": datetime.now(timezone.utc)})
        companies = [row[0] for row in conn.exec_driver_sql("SELECT id FROM company ORDER BY id")]
    return {pid: sorted(uses[pid]) if uses.get(pid) else list(companies) for pid in products}


def _rebuild_sqlite(conn, table: str, make, columns: list[str], extra: dict[str, str]) -> None:  # noqa: ANN001
    """SQLite can't drop a UNIQUE constraint: rebuild the table under its name, rows and ids kept.

    Other tables' foreign keys name it; the old one is dropped with those checks deferred, and the rows go
    into the new one after it has the name, so every child row finds its parent again before the COMMIT.
    """
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TABLE {table}_before_0012 AS SELECT * FROM {table}")
    make(f"{table}_0012")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_0012 RENAME TO {table}")
    targets = ", ".join([*columns, *extra])
    sources = ", ".join([*(f"old.{c}" for c in columns), *extra.values()])
    op.execute(f"INSERT INTO {table} ({targets}) SELECT {sources} FROM {table}_before_0012 AS old")
    op.execute(f"DROP TABLE {table}_before_0012")


def _products_to_companies(conn, owners: dict[int, list[int]]) -> None:  # noqa: ANN001
    sqlite = conn.dialect.name == "sqlite"
    op.create_table("product_owner_0012", sa.Column("product_id", sa.Integer(), primary_key=True),
                    sa.Column("company_id", sa.Integer(), nullable=False))
    if owners:
        conn.execute(sa.text("INSERT INTO product_owner_0012 (product_id, company_id) VALUES (:p, :c)"),
                     [{"p": pid, "c": companies[0]} for pid, companies in owners.items()])
    owner = "(SELECT company_id FROM product_owner_0012 AS o WHERE o.product_id = old.{id})"
    if sqlite:
        _rebuild_sqlite(conn, "product", _product_table, PRODUCT_COLUMNS, {"company_id": owner.format(id="id")})
        _rebuild_sqlite(conn, "product_gtin", _gtin_table, GTIN_COLUMNS,
                        {"company_id": owner.format(id="product_id")})
    else:
        op.drop_constraint("product_sku_key", "product", type_="unique")
        op.drop_constraint("product_gtin_gtin_key", "product_gtin", type_="unique")
        op.add_column("product", sa.Column("company_id", sa.Integer(), nullable=True))
        op.add_column("product_gtin", sa.Column("company_id", sa.Integer(), nullable=True))
        op.execute("UPDATE product AS old SET company_id = " + owner.format(id="id"))
        op.execute("UPDATE product_gtin AS old SET company_id = " + owner.format(id="product_id"))
        for table in ("product", "product_gtin"):
            op.alter_column(table, "company_id", nullable=False)
            op.create_foreign_key(f"{table}_company_id_fkey", table, "company", ["company_id"], ["id"])
        op.create_unique_constraint("uq_product_company_sku", "product", ["company_id", "sku"])
        op.create_unique_constraint("uq_product_gtin_company_gtin", "product_gtin", ["company_id", "gtin"])
    op.drop_table("product_owner_0012")
    op.create_index("ix_product_company_id", "product", ["company_id"], unique=False)
    if sqlite:
        op.create_index("ix_product_gtin_product_id", "product_gtin", ["product_id"], unique=False)

    copied = ", ".join(c for c in PRODUCT_COLUMNS if c != "id")
    for old_id, companies in owners.items():
        for company_id in companies[1:]:
            conn.execute(sa.text(f"INSERT INTO product (company_id, {copied}) SELECT :c, {copied} FROM product "
                                 "WHERE id = :old"), {"c": company_id, "old": old_id})
            new_id = conn.execute(sa.text("SELECT id FROM product WHERE company_id = :c AND sku = "
                                          "(SELECT sku FROM product WHERE id = :old)"),
                                  {"c": company_id, "old": old_id}).scalar_one()
            conn.execute(sa.text("INSERT INTO product_gtin (product_id, company_id, gtin, pack_level, units) "
                                 "SELECT :new, :c, gtin, pack_level, units FROM product_gtin WHERE product_id = :old "
                                 "ORDER BY id"), {"new": new_id, "c": company_id, "old": old_id})
            params = {"new": new_id, "old": old_id, "c": company_id}
            for table, column, site in PRODUCT_USES:
                keyed = ", stock_key = :prefix || substr(stock_key, :cut)" if table == "quant" else ""
                conn.execute(sa.text(
                    f"UPDATE {table} SET {column} = :new{keyed} WHERE {column} = :old "
                    f"AND {site} IN (SELECT id FROM site WHERE company_id = :c)"),
                    {**params, "prefix": f"{new_id}|", "cut": len(f"{old_id}|") + 1})


def _worker_profiles_per_site(conn) -> None:  # noqa: ANN001
    profile = sa.table("worker_profile", sa.column("user_id", sa.Integer()), sa.column("zone_ids", sa.JSON()),
                       sa.column("skills", sa.JSON()), sa.column("equipment", sa.JSON()),
                       sa.column("last_location_id", sa.Integer()),
                       sa.column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()))
    rows = conn.execute(sa.select(profile)).mappings().all()
    all_sites = [row[0] for row in conn.exec_driver_sql("SELECT id FROM site ORDER BY id")]
    everywhere = {row[0] for row in conn.exec_driver_sql(
        "SELECT id FROM app_user WHERE all_sites = " + ("1" if conn.dialect.name == "sqlite" else "true"))}
    sites_of: dict[int, list[int]] = defaultdict(list)
    for user_id, site_id in conn.exec_driver_sql("SELECT user_id, site_id FROM user_site ORDER BY site_id"):
        sites_of[user_id].append(site_id)
    zone_site = dict(conn.exec_driver_sql("SELECT id, site_id FROM zone").fetchall())
    location_site = dict(conn.exec_driver_sql("SELECT id, site_id FROM location").fetchall())

    op.create_table(
        "worker_profile_0012",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("zone_ids", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("equipment", sa.JSON(), nullable=False),
        sa.Column("last_location_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["last_location_id"], ["location.id"]),
        sa.PrimaryKeyConstraint("user_id", "site_id", name="pk_worker_profile_user_site"),
    )
    new = sa.table("worker_profile_0012", *(sa.column(c.name, c.type) for c in profile.columns),
                   sa.column("site_id", sa.Integer()))
    copies = []
    for row in rows:
        sites = set(all_sites if row["user_id"] in everywhere else sites_of.get(row["user_id"], []))
        if row["last_location_id"] in location_site:
            sites.add(location_site[row["last_location_id"]])  # where they were last, even if not listed there
        for site_id in sorted(sites):
            copies.append({
                "user_id": row["user_id"], "site_id": site_id,
                "zone_ids": [z for z in row["zone_ids"] or [] if zone_site.get(z) == site_id],
                "skills": list(row["skills"] or []), "equipment": list(row["equipment"] or []),
                "last_location_id": row["last_location_id"]
                if location_site.get(row["last_location_id"]) == site_id else None,
                "updated_at": row["updated_at"],
            })
    if copies:
        conn.execute(sa.insert(new), copies)
    op.drop_table("worker_profile")
    op.rename_table("worker_profile_0012", "worker_profile")


def upgrade() -> None:
    conn = op.get_bind()
    _products_to_companies(conn, _owners(conn))
    _worker_profiles_per_site(conn)


def downgrade() -> None:
    # A product copied per company can't be merged back into one without choosing whose data wins.
    raise NotImplementedError("0012 (products per company, worker profiles per site) cannot be downgraded")
