"""What a location is for, and the groups of kinds the warehouse's rules name, declared once.

A kind's value is what the database (`location.kind`, its CHECK constraint) and the JSON carry. The
groups are tuples in the order messages list them ("a pack or ship or dock location").
"""

from __future__ import annotations

from enum import StrEnum


class LocationKind(StrEnum):
    PICK_FACE = "pick_face"
    RESERVE = "reserve"
    DOCK = "dock"
    STAGING = "staging"
    PACK = "pack"
    SHIP = "ship"
    QUARANTINE = "quarantine"


LOCATION_KINDS: tuple[LocationKind, ...] = tuple(LocationKind)
LOCATION_KIND_NAMES: tuple[str, ...] = tuple(kind.value for kind in LocationKind)  # as the API's Literal takes them

# Hold stock: allocated from, put away to, routed through.
STORAGE_KINDS = (LocationKind.PICK_FACE, LocationKind.RESERVE)
DROP_KINDS = (LocationKind.PACK, LocationKind.STAGING)  # where a finished tour's totes are dropped
SHIP_DOORS = (LocationKind.SHIP, LocationKind.DOCK)  # where a load is built
PACK_BENCH = (LocationKind.PACK,)
DEPOT_KINDS = (LocationKind.PACK, LocationKind.SHIP)  # where a tour starts and ends (the routing depot)
STATIONS = (LocationKind.DOCK, LocationKind.PACK, LocationKind.SHIP)  # the demo's desks: receiving, packing, loading
