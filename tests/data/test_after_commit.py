"""``Database.after_commit``: work queued inside a write runs once, after the outermost commit,
in order, and goes away with the savepoint or transaction that rolls back."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from tinybase.data import Database, DataError


@pytest.fixture
def db(any_db: Database) -> Database:
    any_db.q("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
    return any_db


def test_callbacks_run_after_the_commit_in_order(db: Database) -> None:
    seen: list[tuple[str, list[dict]]] = []

    def note(name: str) -> None:
        # Outside the transaction: a fresh read sees the committed row.
        seen.append((name, db.q("SELECT title FROM notes")))

    with db.write() as connection:
        connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (1, 'a')"))
        db.after_commit(lambda: note("first"))
        db.after_commit(lambda: note("second"))
        assert seen == []
    assert seen == [("first", [{"title": "a"}]), ("second", [{"title": "a"}])]


def test_a_rolled_back_transaction_drops_its_callbacks(db: Database) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), db.write():
        db.after_commit(lambda: seen.append("never"))
        raise RuntimeError("abort")
    with db.write():
        pass
    assert seen == []


def test_a_rolled_back_savepoint_drops_only_its_own_callbacks(db: Database) -> None:
    seen: list[str] = []
    with db.write():
        db.after_commit(lambda: seen.append("outer before"))
        with pytest.raises(RuntimeError), db.write():
            db.after_commit(lambda: seen.append("inner, rolled back"))
            raise RuntimeError("abort the savepoint")
        with db.write():
            db.after_commit(lambda: seen.append("inner, kept"))
            with db.write():
                db.after_commit(lambda: seen.append("innermost, kept"))
        db.after_commit(lambda: seen.append("outer after"))
        assert seen == []
    assert seen == ["outer before", "inner, kept", "innermost, kept", "outer after"]


def test_a_failing_callback_is_logged_and_the_others_run(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def fail() -> None:
        raise ValueError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="tinybase.data.database"), db.write():
        db.after_commit(fail)
        db.after_commit(lambda: seen.append("still runs"))
    assert seen == ["still runs"]
    assert [r.getMessage() for r in caplog.records] == [
        "an after-commit callback failed (the transaction is committed)"
    ]


def test_a_callback_may_write_in_a_transaction_of_its_own(db: Database) -> None:
    def audit() -> None:
        with db.write() as connection:
            connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (2, 'audit')"))

    with db.write() as connection:
        connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (1, 'a')"))
        db.after_commit(audit)
    assert db.q("SELECT title FROM notes ORDER BY id") == [{"title": "a"}, {"title": "audit"}]


def test_outside_a_write_it_is_an_error(db: Database) -> None:
    with pytest.raises(DataError, match="needs a write transaction"):
        db.after_commit(lambda: None)
    if not db.is_memory:  # in memory, a read is a write: one connection serves both
        with db.read(), pytest.raises(DataError):
            db.after_commit(lambda: None)
