"""The pack bench and the dock door: what a tote holds for packing, an item checked at its scan, a door's load.

The changes themselves are device commands (`pack`, `close_carton`,
`report_pack_short`, `load`, `ship`: backend/commands/handlers/execution.py);
these reads show the packer and the loader where they are.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Strict
from backend.bounds import QuantityOrZero, ScanText, Text
from backend.execution import packing

router = APIRouter(tags=["packing"])



class CartonTypeOut(BaseModel):
    code: str
    name: str
    inner_mm: list[int] = Field(description="length, width, height")
    max_kg: float


class CartonOut(BaseModel):
    carton: str
    sscc: str | None
    carton_no: int | None
    carton_type: str | None
    status: str = Field(description="open, closed, loaded or shipped")
    weight_kg: float | None
    location: str | None


class PackLineOut(BaseModel):
    sku: str
    description: str
    gtin: str | None
    quantity: int = Field(description="units in the tote for this order: what is to be packed")
    ordered: int
    picked: int
    packed: int = Field(description="units of it already in the order's cartons")


class OrderInToteOut(BaseModel):
    order: str
    customer: str
    carrier: str
    service: str
    status: str
    units: int
    lines: list[PackLineOut]
    cartons: list[CartonOut]


class UnassignedOut(BaseModel):
    sku: str
    description: str
    quantity: int


class ToteForPackingOut(BaseModel):
    tote: str
    empty: bool
    orders: list[OrderInToteOut] = Field(description="one per order in the tote (a tote may hold several)")
    unassigned: list[UnassignedOut] = Field(description="units in the tote no pick accounts for: not packable")
    carton_types: list[CartonTypeOut]


@router.get("/totes/{code}/packing", response_model=ToteForPackingOut)
def tote_for_packing(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> ToteForPackingOut:
    """What a tote holds for packing, split into its orders by the done picks that went into it (`code`: the tote's
    code or its label as scanned). The carton sizes to choose from come with it."""
    return ToteForPackingOut(**packing.tote_for_packing(session, resolve_site(session, me, site), code))


class ItemCheckIn(Strict):
    site: Text | None = None
    scan: ScanText = Field(min_length=1, max_length=512, description="the item's barcode, exactly as scanned")
    quantity: int = Field(default=1, ge=1, le=100000)
    order: Text | None = Field(default=None, max_length=64,
                              description="the order being packed, if the tote has several")
    in_carton: dict[Text, QuantityOrZero] = Field(default_factory=dict, max_length=500,
                                      description="what has been scanned into this carton so far, by SKU")


class ItemCheckOut(BaseModel):
    ok: bool
    order: str
    sku: str
    description: str
    gtin: str | None
    lot: str | None
    quantity: int
    in_tote: int = Field(description="units of it the tote holds for the order")
    remaining: int = Field(description="left to scan after this one")


@router.post("/totes/{code}/packing/check", response_model=ItemCheckOut)
def check_item(code: Text, body: ItemCheckIn, me: CurrentUser, session: SessionDep) -> ItemCheckOut:
    """Does this item (× quantity) go into the carton being packed from the tote? Answered at the scan, changing
    nothing; a wrong or surplus item is a 4xx saying so ("Wrong item: you scanned SKU-B — tote T-1 holds SKU-A for
    SO-1"). The `pack` command checks again."""
    site = resolve_site(session, me, body.site)
    return ItemCheckOut(**packing.check_item(session, site, tote=code, scan=body.scan, quantity=body.quantity,
                                             order=body.order, in_carton=body.in_carton))


class LoadedCartonOut(BaseModel):
    carton: str
    sscc: str | None
    carton_no: int | None
    status: str
    location: str | None
    loaded: bool = Field(description="on this door's load")


class OrderOnLoadOut(BaseModel):
    order: str
    customer: str
    carrier: str
    status: str
    carton_count: int | None = Field(description="final once the order is packed, else null (more may follow)")
    cartons: list[LoadedCartonOut]
    loaded: int
    missing: list[LoadedCartonOut] = Field(description="cartons of the order not on this load yet")
    packing_done: bool
    complete: bool = Field(description="packed and every carton on this load: it can ship")


class DockLoadOut(BaseModel):
    dock: str
    orders: list[OrderOnLoadOut]


@router.get("/docks/{code}/load", response_model=DockLoadOut)
def dock_load(code: Text, me: CurrentUser, session: SessionDep, site: Text | None = None) -> DockLoadOut:
    """The load being built at a dock door (a location of kind ship or dock): every order with a carton on it,
    what of each is loaded and what is still missing."""
    return DockLoadOut(**packing.dock_load(session, resolve_site(session, me, site), code))
