"""Master data: idempotent bulk upserts of zones, locations and products."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, String, delete, func, insert, literal, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, select

from backend import audit
from backend.db import is_postgres
from backend.errors import Conflict, Invalid
from backend.gs1 import is_valid_gtin, location_check_digits, normalise_gtin
from backend.models import Location, Product, ProductGtin, Site, Zone

CHUNK = 900  # stays under SQLite's bound-parameter limit on every version


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(session: Session, column: Any, values: Sequence[Any]) -> list[Any]:
    """`column IN values`, as one condition per query to run.

    PostgreSQL gets one array parameter, unnested: a reused statement is planned
    generically, and a generic plan tests every row against a long IN list item
    by item (seconds per chunk at 10,000 rows). SQLite gets chunks under its
    bound-parameter limit.
    """
    values = list(values)
    if not values:
        return []
    if is_postgres(session):
        item_type = Integer if isinstance(values[0], int) else String
        return [column.in_(select(func.unnest(literal(values, ARRAY(item_type)))))]
    return [column.in_(part) for part in chunks(values)]


def _refuse_duplicates(rows: Sequence[dict], key: str, what: str) -> None:
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        value = row[key]
        if value in seen:
            raise Invalid(
                f"{what} {value!r} appears twice in the request (rows {seen[value]} and {index})",
                code="duplicate_in_request",
                details={"field": key, "rows": [seen[value], index], "value": value},
            )
        seen[value] = index


def upsert_zones(session: Session, site: Site, rows: list[dict], user_id: int | None) -> dict:
    _refuse_duplicates(rows, "code", "zone")
    existing = {z.code: z for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
    created = updated = 0
    for row in rows:
        zone = existing.get(row["code"])
        if zone is None:
            session.add(Zone(site_id=site.id, **row))
            created += 1
        else:
            for k, v in row.items():
                setattr(zone, k, v)
            updated += 1
    session.flush()
    audit.record(session, user_id=user_id, site_id=site.id, action="zones.upsert", entity="site",
                 entity_id=site.id, after={"created": created, "updated": updated})
    return {"created": created, "updated": updated, "count": len(rows)}


def upsert_locations(session: Session, site: Site, rows: list[dict], user_id: int | None) -> dict:
    _refuse_duplicates(rows, "code", "location")
    zones = {z.code: z.id for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
    skus = sorted({r["fixed_sku"] for r in rows if r.get("fixed_sku")})
    products = product_ids_by_sku(session, skus)
    values: list[dict] = []
    for index, row in enumerate(rows):
        zone_code = row.pop("zone", None)
        fixed_sku = row.pop("fixed_sku", None)
        if zone_code is not None and zone_code not in zones:
            raise Invalid(f"row {index}: unknown zone {zone_code!r}", code="unknown_zone",
                          details={"row": index, "field": "zone", "value": zone_code})
        if fixed_sku is not None and fixed_sku not in products:
            raise Invalid(f"row {index}: unknown SKU {fixed_sku!r}", code="unknown_sku",
                          details={"row": index, "field": "fixed_sku", "value": fixed_sku})
        rmin, rmax = row.get("replenish_min"), row.get("replenish_max")
        if rmin is not None and rmax is not None and rmin > rmax:
            raise Invalid(f"row {index}: replenish_min is above replenish_max", code="invalid_min_max",
                          details={"row": index, "field": "replenish_min"})
        row["zone_id"] = zones.get(zone_code) if zone_code else None
        row["fixed_product_id"] = products.get(fixed_sku) if fixed_sku else None
        row["check_digits"] = location_check_digits(row["code"], site.code)
        row["site_id"] = site.id
        values.append(row)

    existing: dict[str, int] = {}
    for code_in_request in among(session, Location.code, [v["code"] for v in values]):
        for code, loc_id in session.exec(
            select(Location.code, Location.id).where(Location.site_id == site.id, code_in_request)
        ).all():
            existing[code] = loc_id
    new_rows = [v for v in values if v["code"] not in existing]
    changed = [{**v, "id": existing[v["code"]]} for v in values if v["code"] in existing]
    if new_rows:
        session.execute(insert(Location), new_rows)
    if changed:
        session.execute(update(Location), changed)
    audit.record(session, user_id=user_id, site_id=site.id, action="locations.upsert", entity="site",
                 entity_id=site.id, after={"created": len(new_rows), "updated": len(changed)})
    return {"created": len(new_rows), "updated": len(changed), "count": len(values)}


def product_ids_by_sku(session: Session, skus: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for sku_in_list in among(session, Product.sku, skus):
        for sku, pid in session.exec(select(Product.sku, Product.id).where(sku_in_list)).all():
            found[sku] = pid
    return found


GTIN_LEVELS = ("each", "inner", "case", "pallet")


def upsert_products(session: Session, rows: list[dict], user_id: int | None) -> dict:
    _refuse_duplicates(rows, "sku", "SKU")
    gtin_rows: list[tuple[str, str, str, int]] = []  # sku, level, gtin14, units
    seen_gtins: dict[str, int] = {}
    for index, row in enumerate(rows):
        gtins = row.pop("gtins", None) or {}
        for level in GTIN_LEVELS:
            raw = gtins.get(level)
            if not raw:
                continue
            if not is_valid_gtin(raw):
                raise Invalid(f"row {index}: {level} GTIN {raw!r} is not a valid GTIN", code="invalid_gtin",
                              details={"row": index, "field": f"gtins.{level}", "value": raw})
            gtin14 = normalise_gtin(raw)
            if gtin14 in seen_gtins:
                raise Invalid(f"row {index}: GTIN {raw!r} also given in row {seen_gtins[gtin14]}",
                              code="duplicate_in_request", details={"row": index, "field": f"gtins.{level}"})
            seen_gtins[gtin14] = index
            units = 1 if level == "each" else row.get(f"units_per_{level}") or 1
            gtin_rows.append((row["sku"], level, gtin14, units))

    existing = product_ids_by_sku(session, [r["sku"] for r in rows])
    new_rows = [r for r in rows if r["sku"] not in existing]
    changed = [{**r, "id": existing[r["sku"]]} for r in rows if r["sku"] in existing]
    if new_rows:
        session.execute(insert(Product), new_rows)
    if changed:
        session.execute(update(Product), changed)
    ids = product_ids_by_sku(session, [r["sku"] for r in rows])

    # GTINs: the request is the truth for the products it names.
    owners: dict[str, int] = {}
    for gtin_in_request in among(session, ProductGtin.gtin, list(seen_gtins)):
        for gtin, pid in session.exec(
            select(ProductGtin.gtin, ProductGtin.product_id).where(gtin_in_request)
        ).all():
            owners[gtin] = pid
    for sku, level, gtin14, _units in gtin_rows:
        owner = owners.get(gtin14)
        if owner is not None and owner != ids[sku]:
            raise Conflict(f"GTIN {gtin14} already belongs to another product", code="gtin_in_use",
                           details={"sku": sku, "field": f"gtins.{level}", "value": gtin14})
    product_ids = list(ids.values())
    for product_in_request in among(session, ProductGtin.product_id, product_ids):
        session.execute(delete(ProductGtin).where(product_in_request))
    if gtin_rows:
        session.execute(
            insert(ProductGtin),
            [{"product_id": ids[sku], "pack_level": level, "gtin": g, "units": u} for sku, level, g, u in gtin_rows],
        )
    audit.record(session, user_id=user_id, site_id=None, action="products.upsert", entity="product",
                 entity_id="bulk", after={"created": len(new_rows), "updated": len(changed)})
    return {"created": len(new_rows), "updated": len(changed), "count": len(rows)}


def gtins_of(session: Session, product_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    result: dict[int, dict[str, str]] = {pid: {} for pid in product_ids}
    for product_in_list in among(session, ProductGtin.product_id, product_ids):
        for row in session.exec(select(ProductGtin).where(product_in_list)).all():
            result[row.product_id][row.pack_level] = row.gtin
    return result
