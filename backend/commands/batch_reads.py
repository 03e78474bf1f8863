"""A batch of commands shares one transaction, and its reads are sent ahead for all of them before the first
runs (backend.sql.Raw.prefetch): what an earlier command of the batch changed, a later one reads again.

Each command notes what it changed (`note_changed`); a later one checks what it read ahead
(`changed_since_read`) and reads again if one of its rows may have changed meanwhile. Keys are tuples
like ("task", 7), ("tote", 12), ("worker", 3).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

_CHANGED = "wes_batch_changed"  # on session.info: what this transaction's earlier commands changed
IN_BATCH = "wes_in_batch"  # on session.info: several commands share this transaction (a batch)
ANYTHING = ("anything",)  # what a command that does not say what it changed is noted as


def track_changes(session: Session) -> None:
    """A batch of commands begins in this transaction."""
    session.info[IN_BATCH] = True
    session.info[_CHANGED] = set()


def in_batch(session: Session) -> bool:
    return bool(session.info.get(IN_BATCH))


def note_changed(session: Session, keys: Iterable[tuple]) -> None:
    """Rows this command changed (nothing to do outside a batch)."""
    changed = session.info.get(_CHANGED)
    if changed is not None:
        changed.update(keys)


def changed_since_read(session: Session, keys: Iterable[tuple]) -> bool:
    """Whether an earlier command of this batch changed any of these (or said nothing of what it changed)."""
    changed = session.info.get(_CHANGED)
    return bool(changed) and (ANYTHING in changed or not changed.isdisjoint(keys))
