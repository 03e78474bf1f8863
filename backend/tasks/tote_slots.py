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

from sqlalchemy import func, update
from sqlmodel import Session, select

from backend import audit
from backend.models import Task, Tour, TourTote
from backend.rawsql import Raw
from backend.tasks.states import HELD_STATES


# Whether someone else holds open picks of the tour (the common answer, no, is one index lookup).
_OTHERS_HOLD = ("SELECT id FROM task WHERE tour_id = :tour_id AND kind = 'pick' AND state IN ('assigned', 'in_progress') "
                "AND assigned_to IS NOT NULL AND assigned_to <> :holder LIMIT 1")


def keep_totes_with_their_cart(session: Session, tour_id: int | None, task_ids: Sequence[int], holder: int, *,
                               actor_id: int | None) -> dict[int, int]:
    """Apply the rule to picks of one tour about to be (or just) given to `holder`: {task id: its new tote slot}."""
    if tour_id is None or Raw(session).one(_OTHERS_HOLD, tour_id=tour_id, holder=holder) is None:
        return {}
    members = session.exec(select(Task.id, Task.tote_no).where(
        Task.id.in_(list(task_ids)), Task.kind == "pick", Task.tour_id == tour_id, Task.tote_no.is_not(None))).all()
    ids = [task_id for task_id, _ in members]
    # The cart is with whoever else holds this tour's open picks.
    others = set(session.exec(select(Task.tote_no).where(
        Task.tour_id == tour_id, Task.kind == "pick", Task.state.in_(HELD_STATES), Task.id.not_in(ids),
        Task.assigned_to.is_not(None), Task.assigned_to != holder)).all())
    slots = {tote_no for _, tote_no in members}
    with_tote = set(session.exec(select(TourTote.tote_no).where(
        TourTote.tour_id == tour_id, TourTote.tote_no.in_(slots), TourTote.container_id.is_not(None))).all())
    on_their_cart = sorted(with_tote | (slots & others))
    if not others or not on_their_cart:
        return {}
    last = session.exec(select(func.max(TourTote.tote_no)).where(TourTote.tour_id == tour_id)).one() or 0
    renumbered: dict[int, int] = {}
    for slot in on_their_cart:
        last += 1
        renumbered[slot] = last
        for order_id in session.exec(select(TourTote.order_id).where(
                TourTote.tour_id == tour_id, TourTote.tote_no == slot).order_by(TourTote.order_id)).all():
            session.add(TourTote(tour_id=tour_id, tote_no=last, order_id=order_id))
    moved: dict[int, int] = {}
    for slot, new_slot in renumbered.items():
        slot_ids = [task_id for task_id, tote_no in members if tote_no == slot]
        session.execute(update(Task).where(Task.id.in_(slot_ids)).values(tote_no=new_slot))
        moved.update(dict.fromkeys(slot_ids, new_slot))
    session.execute(update(Tour).where(Tour.id == tour_id).values(totes=Tour.totes + len(renumbered)))
    audit.record(session, user_id=actor_id, site_id=session.get(Tour, tour_id).site_id, action="tour.new_tote_slots",
                 entity="tour", entity_id=tour_id,
                 after={"holder": holder, "slots": {str(old): new for old, new in renumbered.items()},
                        "tasks": sorted(moved)})
    session.flush()  # (the new slots are read by plain SQL next: task views, a confirm's tote check)
    return moved
