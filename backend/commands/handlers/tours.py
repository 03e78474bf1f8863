"""bind_tote and drop_totes: the beginning and the end of a pick tour's cart."""

from __future__ import annotations

from pydantic import Field

from backend.bounds import Id, ScanText
from backend.commands.context import CommandContext
from backend.commands.registry import CommandPayload, CommandSet
from backend.errors import NotFound
from backend.execution import tours
from backend.models import Tour

commands = CommandSet()


class BindTote(CommandPayload):
    tour_id: Id
    tote_no: int = Field(ge=1, le=999, description="the slot on the cart")
    tote: ScanText = Field(min_length=1, max_length=40, description="the tote's label, as scanned")


class DropTotes(CommandPayload):
    tour_id: Id
    location: ScanText = Field(min_length=1, max_length=80, description="the pack station's label, as scanned")


def _tour(ctx: CommandContext, tour_id: int) -> Tour:
    tour = ctx.session.get(Tour, tour_id, with_for_update=True)
    if tour is None or not ctx.may_use_site(tour.site_id):
        raise NotFound(f"tour {tour_id} not found", code="unknown_tour")
    return tour


@commands.command("bind_tote", payload=BindTote)
def bind_tote(ctx: CommandContext, p: BindTote) -> dict:
    """Put a tote in a slot of the cart at the start of a tour."""
    return tours.bind_slot(ctx.session, _tour(ctx, p.tour_id), p.tote_no, p.tote, ctx.user_id)


@commands.command("drop_totes", payload=DropTotes)
def drop_totes(ctx: CommandContext, p: DropTotes) -> dict:
    """Leave the tour's totes at the pack station: they are ready for packing and the cart is free."""
    return tours.drop_totes(ctx.session, _tour(ctx, p.tour_id), p.location, ctx.user_id)
