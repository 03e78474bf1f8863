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
from backend.models import Location, Product, ProductGtin, Site, Zone, utcnow

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


def update_given_columns(session: Session, table: Any, rows: Sequence[dict]) -> None:
    """UPDATE rows by their `id`, each setting only the columns it holds (a column left out is not touched).

    Rows that set the same columns go in one executemany."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for same_columns in by_columns.values():
        session.execute(update(table), same_columns)


def upsert_zones(session: Session, site: Site, rows: list[dict], user_id: int | None) -> dict:
    """Create or change the site's zones by code; a field a row leaves out keeps its stored value."""
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


def _column_defaults(table: Any, columns: Iterable[str]) -> dict[str, Any]:
    """What a new row of `table` holds in these columns when its request is silent: the table's defaults."""
    return {name: table.model_fields[name].get_default(call_default_factory=True) for name in columns}


# The location columns an upsert may set besides code and kind.
LOCATION_COLUMNS = ("zone_id", "capacity", "aisle", "bay", "level", "x", "y", "fixed_product_id", "mixed_products",
                    "replenish_min", "replenish_max", "active")


def _to_id(row: dict, index: int, field: str, target: str, ids: dict, noun: str, code: str) -> None:
    """The row's `field` (a code, or None to clear it), if given, replaced by `target`: the id it names."""
    if field not in row:
        return
    value = row.pop(field)
    if value is not None and value not in ids:
        raise Invalid(f"row {index}: unknown {noun} {value!r}", code=code,
                      details={"row": index, "field": field, "value": value})
    row[target] = ids[value] if value is not None else None


def upsert_locations(session: Session, site: Site, rows: list[dict], user_id: int | None) -> dict:
    """Create or change the site's locations by code.

    A row holds only the fields the caller gave: on a new location the others take the table's defaults, on
    an existing one they keep their stored values. `zone` and `fixed_sku` given as None clear them;
    `fixed_sku` names one of the site's company's products.
    """
    _refuse_duplicates(rows, "code", "location")
    zones = {z.code: z.id for z in session.exec(select(Zone).where(Zone.site_id == site.id)).all()}
    skus = sorted({r["fixed_sku"] for r in rows if r.get("fixed_sku")})
    products = product_ids_by_sku(session, site.company_id, skus)
    stored: dict[str, tuple[int, int | None, int | None]] = {}
    for code_in_request in among(session, Location.code, [r["code"] for r in rows]):
        for code, loc_id, rmin, rmax in session.exec(
            select(Location.code, Location.id, Location.replenish_min, Location.replenish_max)
            .where(Location.site_id == site.id, code_in_request)
        ).all():
            stored[code] = (loc_id, rmin, rmax)
    new_rows: list[dict] = []
    changed: list[dict] = []
    for index, given in enumerate(rows):
        known = stored.get(given["code"])
        row = dict(given) if known else {**_column_defaults(Location, LOCATION_COLUMNS), **given}
        _to_id(row, index, "zone", "zone_id", zones, "zone", "unknown_zone")
        _to_id(row, index, "fixed_sku", "fixed_product_id", products, "SKU", "unknown_sku")
        rmin = row.get("replenish_min", known[1] if known else None)
        rmax = row.get("replenish_max", known[2] if known else None)
        if rmin is not None and rmax is not None and rmin > rmax:
            raise Invalid(f"row {index}: replenish_min is above replenish_max", code="invalid_min_max",
                          details={"row": index, "field": "replenish_min"})
        if known:
            changed.append({**row, "id": known[0]})
        else:
            row["check_digits"] = location_check_digits(row["code"], site.code)
            row["site_id"] = site.id
            new_rows.append(row)
    if new_rows:
        session.execute(insert(Location), new_rows)
    update_given_columns(session, Location, changed)
    audit.record(session, user_id=user_id, site_id=site.id, action="locations.upsert", entity="site",
                 entity_id=site.id, after={"created": len(new_rows), "updated": len(changed)})
    return {"created": len(new_rows), "updated": len(changed), "count": len(rows)}


def product_ids_by_sku(session: Session, company_id: int, skus: Sequence[str]) -> dict[str, int]:
    """The ids of the company's products with these SKUs (another company's SKUs are not there)."""
    found: dict[str, int] = {}
    for sku_in_list in among(session, Product.sku, skus):
        for sku, pid in session.exec(
            select(Product.sku, Product.id).where(Product.company_id == company_id, sku_in_list)
        ).all():
            found[sku] = pid
    return found


def product_at_site(session: Session, site_id: int, sku: str) -> Product | None:
    """The product with this SKU that the site uses: its company's (one query; another company's is None)."""
    return session.exec(select(Product).join(Site, Site.company_id == Product.company_id)
                        .where(Site.id == site_id, Product.sku == sku)).first()


GTIN_LEVELS = ("each", "inner", "case", "pallet")
# A product row's columns an upsert may set (the rest are the table's own).
PRODUCT_FIELDS = ("description", "uom", "category", "lot_tracked", "serial_tracked", "expiry_tracked",
                  "units_per_inner", "units_per_case", "units_per_pallet", "length_mm", "width_mm", "height_mm",
                  "weight_g", "abc_class")


def _checked_gtin(index: int, level: str, raw: str) -> str:
    if not is_valid_gtin(raw):
        raise Invalid(f"row {index}: {level} GTIN {raw!r} is not a valid GTIN", code="invalid_gtin",
                      details={"row": index, "field": f"gtins.{level}", "value": raw})
    return normalise_gtin(raw)


def upsert_products(session: Session, company_id: int, rows: list[dict], user_id: int | None) -> dict:
    """Create or change the company's products by SKU, partially.

    Each row holds `sku` and only the fields the caller gave: a field left out keeps its stored value
    (a new product takes the table's default). `gtins`, when given, is a patch by pack level: a level
    with a GTIN sets it, a level given as None removes it, a level left out keeps its GTIN. GTINs are
    unique within the company (422 within the request, 409 against another of its products); another
    company's products are never read or written.
    """
    _refuse_duplicates(rows, "sku", "SKU")
    patches: dict[str, dict[str, str | None]] = {}
    for index, row in enumerate(rows):
        patch = row.pop("gtins", None) or {}
        patches[row["sku"]] = {level: None if raw is None else _checked_gtin(index, level, raw)
                               for level, raw in patch.items()}

    skus = [r["sku"] for r in rows]
    existing = product_ids_by_sku(session, company_id, skus)
    now = utcnow()
    new_rows = [{**_column_defaults(Product, PRODUCT_FIELDS), **r, "company_id": company_id, "updated_at": now}
                for r in rows if r["sku"] not in existing]
    changed = [{**r, "id": existing[r["sku"]], "updated_at": now} for r in rows if r["sku"] in existing]
    if new_rows:
        session.execute(insert(Product), new_rows)
    update_given_columns(session, Product, changed)
    ids = product_ids_by_sku(session, company_id, skus)

    # The GTINs each named product ends with: stored, patched by the request.
    final: dict[int, dict[str, str]] = gtins_of(session, list(ids.values()))
    for sku, patch in patches.items():
        for level, gtin14 in patch.items():
            if gtin14 is None:
                final[ids[sku]].pop(level, None)
            else:
                final[ids[sku]][level] = gtin14
    sku_of = {pid: sku for sku, pid in ids.items()}
    holder: dict[str, tuple[int, str]] = {}
    for index, sku in enumerate(skus):  # in request order: the later of two rows is the one named
        levels = final[ids[sku]]
        for level in GTIN_LEVELS:
            gtin14 = levels.get(level)
            if gtin14 is None:
                continue
            if gtin14 in holder:
                other_pid, other_level = holder[gtin14]
                raise Invalid(f"row {index}: GTIN {gtin14} would be both {sku_of[other_pid]} {other_level} and "
                              f"{sku} {level}", code="duplicate_in_request",
                              details={"row": index, "field": f"gtins.{level}"})
            holder[gtin14] = (ids[sku], level)
    for gtin_in_request in among(session, ProductGtin.gtin, list(holder)):
        for gtin, pid in session.exec(select(ProductGtin.gtin, ProductGtin.product_id).where(
                ProductGtin.company_id == company_id, gtin_in_request)).all():
            if pid not in final:
                owner = session.get(Product, pid)
                raise Conflict(f"GTIN {gtin} already belongs to {owner.sku if owner else 'another product'}",
                               code="gtin_in_use", details={"sku": sku_of[holder[gtin][0]],
                                                            "field": f"gtins.{holder[gtin][1]}", "value": gtin})

    units: dict[int, tuple[int | None, ...]] = {}
    for product_in_list in among(session, Product.id, list(final)):
        for pid, *per in session.exec(select(Product.id, Product.units_per_inner, Product.units_per_case,
                                             Product.units_per_pallet).where(product_in_list)).all():
            units[pid] = tuple(per)
    for product_in_request in among(session, ProductGtin.product_id, list(final)):
        session.execute(delete(ProductGtin).where(product_in_request))
    gtin_rows = []
    for pid, levels in final.items():
        per_level = dict(zip(("inner", "case", "pallet"), units[pid], strict=True))
        for level, gtin14 in levels.items():
            gtin_rows.append({"product_id": pid, "company_id": company_id, "pack_level": level, "gtin": gtin14,
                              "units": 1 if level == "each" else per_level.get(level) or 1})
    if gtin_rows:
        session.execute(insert(ProductGtin), gtin_rows)
    audit.record(session, user_id=user_id, site_id=None, action="products.upsert", entity="product",
                 entity_id="bulk", after={"company_id": company_id, "created": len(new_rows),
                                          "updated": len(changed)})
    return {"created": len(new_rows), "updated": len(changed), "count": len(rows)}


def gtins_of(session: Session, product_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    result: dict[int, dict[str, str]] = {pid: {} for pid in product_ids}
    for product_in_list in among(session, ProductGtin.product_id, product_ids):
        for row in session.exec(select(ProductGtin).where(product_in_list)).all():
            result[row.product_id][row.pack_level] = row.gtin
    return result
