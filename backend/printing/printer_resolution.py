"""Which printer gets a label.

Resolution order, first match wins (a disabled printer is out of service and
is passed over, so the next rule applies):

1. an explicit printer (by code) — disabled is an error, never a detour;
2. a route for the station and this label type;
3. a route for the station (any label type), else a printer whose own
   `station` is this station (lowest code first);
4. a route for the zone and this label type;
5. a route for the zone (any label type), else a printer whose own `zone`
   is this zone;
6. the site's route for this label type;
7. the site's route for any label type.

The zone is the one given, or — when only a station is given and the
station is a location code (a pack bench, a dock door) — that location's
zone. Routes live in `print_route`: scope `station` (key: station code),
`zone` (key: zone id) or `site` (key ''), label type '' for any.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, select

from backend.errors import Conflict, Invalid, NotFound
from backend.models import Location, Printer, PrintRoute


@dataclass(frozen=True, slots=True)
class Resolution:
    printer: Printer
    # Which step chose it: explicit, station+label_type, station, station_printer, zone+label_type, zone,
    # zone_printer, site+label_type, site.
    rule: str


def resolve_printer(
    session: Session,
    site_id: int,
    label_type: str,
    *,
    printer_code: str | None = None,
    station: str | None = None,
    zone_id: int | None = None,
) -> Resolution:
    """The printer for a label, by the order in the module docstring; NotFound/Conflict/Invalid otherwise."""
    if printer_code:
        printer = session.exec(
            select(Printer).where(Printer.site_id == site_id, Printer.code == printer_code)
        ).first()
        if printer is None:
            raise NotFound(f"printer {printer_code!r} not found", code="unknown_printer",
                           details={"field": "printer"})
        if not printer.enabled:
            raise Conflict(f"printer {printer_code!r} is disabled", code="printer_disabled",
                           details={"field": "printer"})
        return Resolution(printer, "explicit")

    station = station or None
    # Each step costs a query only when the steps before it found nothing (a station route is one query).
    for rule, printer in _candidates(session, site_id, label_type, station, zone_id):
        if printer is not None and printer.enabled:
            return Resolution(printer, rule)
    where = [f"station {station!r}"] if station else []
    if zone_id is not None:
        where.append(f"zone id {zone_id}")
    raise Invalid(
        f"no enabled printer for {label_type} labels{' at ' + ', '.join(where) if where else ''}: "
        "name a printer or add a route",
        code="no_printer_route", details={"field": "printer"},
    )


def _station_zone(session: Session, site_id: int, station: str) -> int | None:
    return session.exec(
        select(Location.zone_id).where(Location.site_id == site_id, Location.code == station)
    ).first()


def _routes(session: Session, site_id: int, scope: str, key: str, label_type: str) -> dict[str, Printer]:
    """The enabled printers of the routes for one place: {label_type or '': printer}."""
    rows = session.exec(
        select(PrintRoute.label_type, Printer).join(Printer, Printer.id == PrintRoute.printer_id).where(
            PrintRoute.site_id == site_id, PrintRoute.scope == scope, PrintRoute.scope_key == key,
            PrintRoute.label_type.in_((label_type, "")), Printer.enabled,
        )
    ).all()
    return dict(rows)


def _candidates(session: Session, site_id: int, label_type: str, station: str | None,
                zone_id: int | None) -> Iterator[tuple[str, Printer | None]]:
    """(rule, printer) in resolution order, each looked up only when asked for."""
    if station:
        routes = _routes(session, site_id, "station", station, label_type)
        yield "station+label_type", routes.get(label_type)
        yield "station", routes.get("")
        yield "station_printer", session.exec(
            select(Printer).where(Printer.site_id == site_id, Printer.station == station, Printer.enabled)
            .order_by(Printer.code)
        ).first()
        if zone_id is None:
            zone_id = _station_zone(session, site_id, station)
    if zone_id is not None:
        routes = _routes(session, site_id, "zone", str(zone_id), label_type)
        yield "zone+label_type", routes.get(label_type)
        yield "zone", routes.get("")
        yield "zone_printer", session.exec(
            select(Printer).where(Printer.site_id == site_id, Printer.zone_id == zone_id, Printer.enabled)
            .order_by(Printer.code)
        ).first()
    routes = _routes(session, site_id, "site", "", label_type)
    yield "site+label_type", routes.get(label_type)
    yield "site", routes.get("")
