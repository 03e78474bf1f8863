"""A confirm that waited for a pick's lock reads the pick as the lock holder left it, tote slot included."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlmodel import select

from backend.execution import picking
from backend.models import OrderLine, Task
from tests.api.test_execution_flow import _released_wave
from tests.api.test_outbound_flow import _outbound_site
from tests.conftest import Api

pytestmark = pytest.mark.postgres


def test_a_pick_moved_to_a_new_tote_slot_while_its_confirm_waited_is_read_with_that_slot(pg_api: Api) -> None:
    _outbound_site(pg_api)
    wave = _released_wave(pg_api, totes=4)
    sessions = pg_api.runtime.sessions
    with sessions() as session:
        task = session.exec(select(Task).where(Task.wave_id == wave["id"], Task.kind == "pick",
                                               Task.tour_id.is_not(None))).first()
        order_id = session.get(OrderLine, task.order_line_id).order_id
    new_slot = 99

    loaded: list[picking.PickRow | None] = []
    failures: list[BaseException] = []

    def confirm_reads() -> None:
        try:
            with sessions() as session:
                loaded.append(picking.load_pick(session, task.id))
                session.rollback()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    # A supervisor's reassignment, in flight: the pick moves to a new slot of its tour (task row locked).
    with pg_api.runtime.engine.connect() as other:
        other.execute(text("UPDATE task SET tote_no = :slot, version = version + 1 WHERE id = :id"),
                      {"slot": new_slot, "id": task.id})
        other.execute(text("INSERT INTO tour_tote (tour_id, tote_no, order_id) VALUES (:tour, :slot, :order)"),
                      {"tour": task.tour_id, "slot": new_slot, "order": order_id})
        reader = threading.Thread(target=confirm_reads)
        reader.start()
        with pg_api.runtime.engine.connect() as watch:  # until the confirm's read waits for the task's lock
            while reader.is_alive() and not watch.execute(text(
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
                    "AND pid <> pg_backend_pid()")).first():
                watch.rollback()
        other.commit()
    reader.join(30)
    assert not failures and len(loaded) == 1 and loaded[0] is not None
    row = loaded[0]
    assert row.tote_no == new_slot
    assert row.slot_rows == 1  # the slot the lock holder made, not "no tote slot"
    assert row.slot_totes == frozenset()
