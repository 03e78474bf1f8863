"""backend.rawsql on PostgreSQL: statements sent ahead travel together, in order, and never go astray."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.db import make_command_engine, make_engine
from backend.rawsql import Raw

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["app", "commands"])
def engine(request: pytest.FixtureRequest, postgres_url: str):  # noqa: ANN201
    """The app's engine and the device commands' own (prepared statements, generic plans): both must behave."""
    engine = make_engine(postgres_url) if request.param == "app" else make_command_engine(postgres_url, pool_size=1)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bin (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO bin VALUES (1, 10), (2, 20)")
    yield engine
    engine.dispose()


def _quantities(engine) -> dict[int, int]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, qty FROM bin ORDER BY id").all())


def test_queued_statements_run_in_order_and_answer_together(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw(session)
        db.later("UPDATE bin SET qty = qty - :n WHERE id = :id", n=3, id=1)
        first = db.soon("SELECT qty FROM bin WHERE id = :id", id=1)
        db.later("UPDATE bin SET qty = qty - :n WHERE id = :id", n=4, id=1)
        second = db.soon("UPDATE bin SET qty = qty + 1 WHERE id = :id RETURNING qty", id=1)
        assert first.scalar() == 7  # the update before it, not the one after
        assert second.scalar() == 4
        db.ahead("SELECT qty FROM bin WHERE id = :id", id=2)
        db.later("UPDATE bin SET qty = 0 WHERE id = :id", id=2)
        # Answered from the read sent ahead, before the update queued after it.
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=2) == 20
        assert db.scalar("SELECT qty FROM bin WHERE id = :id", id=2) == 0  # asked again: read now
        session.commit()
    assert _quantities(engine) == {1: 4, 2: 0}


def test_an_orm_statement_sees_what_was_queued_before_it(engine):  # noqa: ANN001
    with Session(engine) as session:
        Raw(session).later("UPDATE bin SET qty = 99 WHERE id = :id", id=1)
        assert session.execute(text("SELECT qty FROM bin WHERE id = 1")).scalar() == 99
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}


def test_the_commit_sends_what_is_still_queued(engine):  # noqa: ANN001
    with Session(engine) as session:
        Raw(session).later("INSERT INTO bin VALUES (:id, :qty)", id=3, qty=30)
        session.commit()
    assert _quantities(engine) == {1: 10, 2: 20, 3: 30}


def test_a_rollback_forgets_the_queue_and_the_connection_starts_clean(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw(session)
        db.later("UPDATE bin SET qty = 0 WHERE id = :id", id=1)
        session.rollback()
    with Session(engine) as session:  # (the same pooled connection for the command engine: pool of one)
        Raw(session).later("UPDATE bin SET qty = qty + 1 WHERE id = :id", id=2)
        session.commit()
    with Session(engine) as session:
        Raw(session).later("UPDATE bin SET qty = 0 WHERE id = :id", id=2)
        # closed without commit or rollback: the pool's reset must drop it too
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        session.commit()
    assert _quantities(engine) == {1: 10, 2: 21}


def test_a_failing_queued_statement_fails_where_the_queue_is_sent_and_nothing_stays(engine):  # noqa: ANN001
    with Session(engine) as session:
        db = Raw(session)
        db.later("UPDATE bin SET qty = 5 WHERE id = :id", id=1)
        db.later("INSERT INTO bin VALUES (:id, :qty)", id=2, qty=1)  # the key exists
        answer = db.soon("SELECT qty FROM bin WHERE id = :id", id=1)
        with pytest.raises(IntegrityError):
            answer.one()
        with pytest.raises(RuntimeError, match="never answered"):
            answer.one()
        session.rollback()
        assert Raw(session).scalar("SELECT qty FROM bin WHERE id = :id", id=1) == 10
    with Session(engine) as session:
        Raw(session).later("INSERT INTO bin VALUES (:id, :qty)", id=1, qty=1)
        with pytest.raises(IntegrityError):
            session.commit()  # (sent with the COMMIT: the commit fails)
        session.rollback()
    assert _quantities(engine) == {1: 10, 2: 20}
