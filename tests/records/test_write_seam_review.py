"""Review of the write seam (issue 9): the change stream's order, the executor at shutdown,
SQLAlchemy savepoints and PostgreSQL's concurrent upserts (both dialects where it matters)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.records.helpers import ALL
from tinybase.auth.principal import SYSTEM
from tinybase.data.database import Database
from tinybase.records.changes import ChangeStream, RecordChange
from tinybase.records.config import ConflictResolution, RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.executor import DatabaseExecutor


@pytest.fixture
def stream() -> ChangeStream:
    return ChangeStream()


def _engine(db: Database, schema, stream: ChangeStream, **options: Any) -> RecordEngine:
    config = RecordApiConfig(name="items", table_name="items", acl_authenticated=ALL, **options)
    return RecordEngine(db, config, schema.items, changes=stream)


def _in_thread(fn, timeout: float = 5.0) -> dict[str, Any]:
    """Run ``fn`` in a daemon thread; what it returned or raised, or ``hung``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        outcome["hung"] = True
    return outcome


def test_a_subscriber_that_writes_sees_its_change_after_the_rest_of_the_commit(
    raw_db, schema, stream
):
    """Commit order: a write made by a subscriber commits after the transaction it reacts
    to, so its change comes after every change of that transaction (it came in between)."""
    engine = _engine(raw_db, schema, stream)
    seen: list[str] = []

    def subscriber(change: RecordChange) -> None:
        seen.append(change.after["title"])
        if change.after["title"] == "a":
            engine.create(SYSTEM, {"title": "reaction to a"})

    stream.subscribe(subscriber)
    engine.create(SYSTEM, [{"title": "a"}, {"title": "b"}])
    assert seen == ["a", "b", "reaction to a"]


def test_a_subscriber_that_writes_through_the_writer_keeps_commit_order(raw_db, schema, stream):
    """The same through the executor: the subscriber runs in the writer thread after the
    group's commit and writes with ``write_blocking`` (no deadlock, and commit order)."""
    engine = _engine(raw_db, schema, stream)
    executor = DatabaseExecutor(raw_db)
    seen: list[str] = []

    def subscriber(change: RecordChange) -> None:
        seen.append(change.after["title"])
        if change.after["title"] == "a":
            executor.write_blocking(lambda: engine.create(SYSTEM, {"title": "reaction to a"}))

    stream.subscribe(subscriber)
    try:
        outcome = _in_thread(
            lambda: executor.write_blocking(
                lambda: engine.create(SYSTEM, [{"title": "a"}, {"title": "b"}])
            )
        )
    finally:
        executor.close()
    assert "hung" not in outcome and "error" not in outcome, outcome
    assert seen == ["a", "b", "reaction to a"]


@pytest.mark.parametrize("started", [True, False])
def test_write_blocking_after_close_fails_instead_of_hanging(raw_db, started):
    """A write queued after shutdown never runs: it must fail, not wait forever."""
    executor = DatabaseExecutor(raw_db)
    if started:
        assert executor.write_blocking(lambda: 1) == 1
    executor.close()
    outcome = _in_thread(lambda: executor.write_blocking(lambda: 2))
    assert "hung" not in outcome, "write_blocking after close() waits forever"
    assert isinstance(outcome.get("error"), RuntimeError)


def test_a_subscriber_writing_during_shutdown_does_not_deadlock_the_writer(raw_db, schema, stream):
    """close() while a group is being written: the group's subscribers still run in the
    writer thread; one that writes (write_blocking) must not queue behind the writer itself."""
    engine = _engine(raw_db, schema, stream)
    executor = DatabaseExecutor(raw_db)
    closing = threading.Event()
    closed = threading.Event()

    def subscriber(change: RecordChange) -> None:
        if change.after["title"] == "last":
            closing.set()
            closed.wait(5)
            executor.write_blocking(lambda: engine.create(SYSTEM, {"title": "reaction"}))

    stream.subscribe(subscriber)
    result: dict[str, Any] = {}
    writer = threading.Thread(
        target=lambda: result.update(
            value=executor.write_blocking(lambda: engine.create(SYSTEM, {"title": "last"}))
        ),
        daemon=True,
    )
    writer.start()
    assert closing.wait(5)
    executor.close()
    closed.set()
    writer.join(5)
    assert not writer.is_alive(), "the writer thread waits for itself"
    titles = {row["title"] for row in raw_db.q("SELECT title FROM items")}
    assert titles == {"last", "reaction"}


def test_a_callback_inside_a_rolled_back_begin_nested_is_dropped(raw_db):
    ran: list[str] = []
    with raw_db.write() as connection:
        raw_db.after_commit(lambda: ran.append("before"))
        nested = connection.begin_nested()
        with raw_db.write():
            raw_db.after_commit(lambda: ran.append("rolled back"))
        nested.rollback()
        kept = connection.begin_nested()
        raw_db.after_commit(lambda: ran.append("released"))
        kept.commit()
        assert ran == []
    assert ran == ["before", "released"]


def test_a_callback_after_a_rolled_back_begin_nested_runs(raw_db):
    """Only what the rolled back savepoint registered goes; a savepoint of a later
    transaction on the same connection starts afresh."""
    ran: list[int] = []
    with raw_db.write() as connection:
        nested = connection.begin_nested()
        nested.rollback()
        raw_db.after_commit(lambda: ran.append(1))
    with raw_db.write() as connection, connection.begin_nested():
        raw_db.after_commit(lambda: ran.append(2))
    assert ran == [1, 2]


@pytest.mark.parametrize("first", [ConflictResolution.REPLACE, ConflictResolution.ABORT])
def test_concurrent_replaces_of_one_new_id_are_a_create_then_an_update(
    raw_db, schema, stream, db_url, first
):
    """On PostgreSQL the second REPLACE waits (advisory lock on the row's key) until the
    first writer, a REPLACE or a plain create with that id, has committed: its read of the
    row before then sees the row, and its change is an update of v1."""
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite")
    engine = _engine(raw_db, schema, stream, conflict_resolution=ConflictResolution.REPLACE)
    writer = _engine(raw_db, schema, stream, conflict_resolution=first)
    seen: list[RecordChange] = []
    stream.subscribe(seen.append)
    key = "0190a000-0000-7000-8000-000000000001"
    second: dict[str, Any] = {}
    with raw_db.write():
        writer.create(SYSTEM, {"id": key, "title": "v1"})
        other = threading.Thread(
            target=lambda: second.update(value=engine.create(SYSTEM, {"id": key, "title": "v2"}))
        )
        other.start()
        time.sleep(0.5)  # the other upsert waits for this transaction's row
    other.join(10)
    assert second == {"value": [key]}
    assert [(c.operation, c.before and c.before["title"]) for c in seen] == [
        ("create", None),
        ("update", "v1"),
    ]
    assert seen[1].after["title"] == "v2"
    assert [row["title"] for row in raw_db.q("SELECT title FROM items")] == ["v2"]


def test_an_outer_begin_nested_rolled_back_drops_its_inner_savepoints_callbacks(raw_db):
    ran: list[str] = []
    with raw_db.write() as connection:
        outer = connection.begin_nested()
        inner = connection.begin_nested()  # no callback between the two: the same position
        inner.commit()
        raw_db.after_commit(lambda: ran.append("in outer, after inner"))
        outer.rollback()
        raw_db.after_commit(lambda: ran.append("after outer"))
    assert ran == ["after outer"]
