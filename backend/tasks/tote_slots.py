"""Tote slots follow the cart: which tote a pick goes into when it changes hands mid-tour.

A pick tour is walked with one cart. Its tote slots (``tour_tote``: slot
number → order) get a tote bound at their first pick, and that tote is on
the cart of whoever picked into it. When picks of a tour change hands (a
supervisor's assignment, a reassignment, a claim of picks handed back):

* nobody else holds open picks of the tour: the new holder takes over the
  cart, totes and all. The slots keep their totes, and every view of the
  pick names the tote to pick into (``tote``) beside the slot (``tote_no``);
* another worker still holds open picks of the tour (the cart stays with
  them): a pick whose slot already has a tote, or shares its slot with
  their picks, moves to a new slot of the same tour for the same order, and
  the new holder binds a tote of their own to it at its first pick. Packing
  follows: the order is simply in one more tote.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session

from backend import audit
from backend.models import Task, Tour, TourTote
from backend.sql import Raw
from backend.tasks.states import HELD_STATES


# Whether someone else holds open picks of the tour (the common answer, no, is one index lookup).
_OTHERS_HOLD = ("SELECT id FROM task WHERE tour_id = :tour_id AND kind = 'pick' AND state IN ('assigned', 'in_progress') "
                "AND assigned_to IS NOT NULL AND assigned_to <> :holder LIMIT 1")
_TOUR_PICKS = "SELECT id, tote_no, state, assigned_to, site_id FROM task WHERE tour_id = :tour_id AND kind = 'pick'"
_TOUR_SLOTS = "SELECT tote_no, order_id, container_id FROM tour_tote WHERE tour_id = :tour_id ORDER BY tote_no, order_id"


def ahead_of_claim(session: Session, tour_id: int, holder: int) -> None:
    """Send ahead (with the claim's own statements) the read `keep_totes_with_their_cart` starts with."""
    Raw.of(session).prefetch(_OTHERS_HOLD, tour_id=tour_id, holder=holder)


def forget_claim(session: Session, tour_id: int, holder: int) -> None:
    """The claim of this tour did not happen: drop what `ahead_of_claim` sent."""
    Raw.of(session).forget_prefetch(_OTHERS_HOLD, tour_id=tour_id, holder=holder)


def keep_totes_with_their_cart(session: Session, tour_id: int | None, task_ids: Sequence[int], holder: int, *,
                               actor_id: int | None) -> dict[int, int]:
    """Apply the rule to picks of one tour about to be (or just) given to `holder`: {task id: its new tote slot}."""
    db = Raw.of(session)
    if tour_id is None or db.one(_OTHERS_HOLD, tour_id=tour_id, holder=holder) is None:
        return {}
    wanted = set(task_ids)
    picks = db.all(_TOUR_PICKS, tour_id=tour_id)
    members = [(task_id, tote_no) for task_id, tote_no, _, _, _ in picks if task_id in wanted and tote_no is not None]
    # The cart is with whoever else holds this tour's open picks.
    others = {tote_no for task_id, tote_no, state, assigned_to, _ in picks
              if task_id not in wanted and state in HELD_STATES and assigned_to is not None and assigned_to != holder}
    slots = {tote_no for _, tote_no in members}
    tour_slots = db.all(_TOUR_SLOTS, tour_id=tour_id)
    with_tote = {tote_no for tote_no, _, container_id in tour_slots if tote_no in slots and container_id is not None}
    on_their_cart = sorted(with_tote | (slots & others))
    if not others or not on_their_cart:
        return {}
    last = max((tote_no for tote_no, _, _ in tour_slots), default=0)
    renumbered: dict[int, int] = {}
    for slot in on_their_cart:
        last += 1
        renumbered[slot] = last
        session.add_all([TourTote(tour_id=tour_id, tote_no=last, order_id=order_id)
                         for tote_no, order_id, _ in tour_slots if tote_no == slot])
    moved: dict[int, int] = {}
    for slot, new_slot in renumbered.items():
        slot_ids = [task_id for task_id, tote_no in members if tote_no == slot]
        session.execute(update(Task).where(Task.id.in_(slot_ids)).values(tote_no=new_slot))
        moved.update(dict.fromkeys(slot_ids, new_slot))
    session.execute(update(Tour).where(Tour.id == tour_id).values(totes=Tour.totes + len(renumbered)))
    audit.record(session, user_id=actor_id, site_id=picks[0][4], action="tour.new_tote_slots",
                 entity="tour", entity_id=tour_id,
                 after={"holder": holder, "slots": {str(old): new for old, new in renumbered.items()},
                        "tasks": sorted(moved)})
    session.flush()  # (the new slots are read by plain SQL next: task views, a confirm's tote check)
    return moved
