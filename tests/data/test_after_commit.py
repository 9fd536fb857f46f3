"""``Database.after_commit``: work queued inside a write runs once, after the outermost commit,
in order, and goes away with the savepoint or transaction that rolls back."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from tinybase.data import Database, DataError


@pytest.fixture
def notes_db(any_raw_db: Database) -> Database:
    """``any_raw_db`` with an empty table ``notes (id, title)``."""
    any_raw_db.q("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
    return any_raw_db


def test_callbacks_run_after_the_commit_in_order(notes_db: Database) -> None:
    seen: list[tuple[str, list[dict]]] = []

    def note(name: str) -> None:
        # Outside the transaction: a fresh read sees the committed row.
        seen.append((name, notes_db.q("SELECT title FROM notes")))

    with notes_db.write() as connection:
        connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (1, 'a')"))
        notes_db.after_commit(lambda: note("first"))
        notes_db.after_commit(lambda: note("second"))
        assert seen == []
    assert seen == [("first", [{"title": "a"}]), ("second", [{"title": "a"}])]


def test_a_rolled_back_transaction_drops_its_callbacks(notes_db: Database) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), notes_db.write():
        notes_db.after_commit(lambda: seen.append("never"))
        raise RuntimeError("abort")
    with notes_db.write():
        pass
    assert seen == []


def test_a_rolled_back_savepoint_drops_only_its_own_callbacks(notes_db: Database) -> None:
    seen: list[str] = []
    with notes_db.write():
        notes_db.after_commit(lambda: seen.append("outer before"))
        with pytest.raises(RuntimeError), notes_db.write():
            notes_db.after_commit(lambda: seen.append("inner, rolled back"))
            raise RuntimeError("abort the savepoint")
        with notes_db.write():
            notes_db.after_commit(lambda: seen.append("inner, kept"))
            with notes_db.write():
                notes_db.after_commit(lambda: seen.append("innermost, kept"))
        notes_db.after_commit(lambda: seen.append("outer after"))
        assert seen == []
    assert seen == ["outer before", "inner, kept", "innermost, kept", "outer after"]


def test_a_failing_callback_is_logged_and_the_others_run(
    notes_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def fail() -> None:
        raise ValueError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="tinybase.data.database"), notes_db.write():
        notes_db.after_commit(fail)
        notes_db.after_commit(lambda: seen.append("still runs"))
    assert seen == ["still runs"]
    assert [r.getMessage() for r in caplog.records] == [
        "an after-commit callback failed (the transaction is committed)"
    ]


def test_a_callback_may_write_in_a_transaction_of_its_own(notes_db: Database) -> None:
    def audit() -> None:
        with notes_db.write() as connection:
            connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (2, 'audit')"))

    with notes_db.write() as connection:
        connection.execute(sa.text("INSERT INTO notes (id, title) VALUES (1, 'a')"))
        notes_db.after_commit(audit)
    assert notes_db.q("SELECT title FROM notes ORDER BY id") == [{"title": "a"}, {"title": "audit"}]


def test_outside_a_write_it_is_an_error(notes_db: Database) -> None:
    with pytest.raises(DataError, match="needs a write transaction"):
        notes_db.after_commit(lambda: None)
    if not notes_db.is_memory:  # in memory, a read is a write: one connection serves both
        with notes_db.read(), pytest.raises(DataError):
            notes_db.after_commit(lambda: None)
