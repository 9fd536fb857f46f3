"""The change stream at the engine: one change per written row, after the commit, none after a
rollback, with the whole row before and after (both dialects)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from tests.records.helpers import ALL, MakeEngine
from tinybase.auth.principal import SYSTEM
from tinybase.data.database import Database
from tinybase.errors import ConflictError, PermissionDeniedError
from tinybase.records.changes import ChangeStream, RecordChange
from tinybase.records.config import ConflictResolution, RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.executor import DatabaseExecutor


class Recorder:
    """A subscriber that checks each change is committed when it arrives."""

    def __init__(self, db: Database, stream: ChangeStream) -> None:
        self.db = db
        self.changes: list[RecordChange] = []
        stream.subscribe(self)

    def __call__(self, change: RecordChange) -> None:
        assert not self.db.in_transaction
        with self.db.engine.connect() as connection:  # a connection of its own: committed rows
            found = connection.execute(
                sa.text(f"SELECT id FROM {change.table} WHERE id = :id"), {"id": change.record_id}
            ).first()
        assert (found is not None) == (change.operation != "delete")
        self.changes.append(change)

    def summary(self) -> list[tuple[str, Any]]:
        return [(change.operation, change.record_id) for change in self.changes]


@pytest.fixture
def stream() -> ChangeStream:
    return ChangeStream()


@pytest.fixture
def engine(raw_db: Database, schema, stream: ChangeStream) -> RecordEngine:
    config = RecordApiConfig(name="items", table_name="items", acl_authenticated=ALL)
    return RecordEngine(raw_db, config, schema.items, changes=stream)


def test_create_update_delete_each_announce_one_change_with_the_rows(raw_db, engine, stream):
    recorder = Recorder(raw_db, stream)
    (key,) = engine.create(SYSTEM, {"title": "a", "score": 1, "_secret": "s"})
    engine.update(SYSTEM, key, {"score": 2})
    engine.update(SYSTEM, key, {})  # writes nothing: no change
    engine.delete(SYSTEM, key)
    assert recorder.summary() == [("create", key), ("update", key), ("delete", key)]
    create, update, delete = recorder.changes
    assert create.before is None and create.after["score"] == 1
    assert create.after["_secret"] == "s"  # the whole row, write-only columns too
    assert (update.before["score"], update.after["score"]) == (1, 2)
    assert update.after["updated_at"] >= update.before["updated_at"]
    assert delete.before["score"] == 2 and delete.after is None
    assert {change.table for change in recorder.changes} == {"items"}
    assert all(change.principal is SYSTEM for change in recorder.changes)


def test_a_bulk_create_announces_each_row_in_order(raw_db, engine, stream):
    recorder = Recorder(raw_db, stream)
    keys = engine.create(SYSTEM, [{"title": f"t{i}"} for i in range(5)])
    assert recorder.summary() == [("create", key) for key in keys]
    assert [change.after["title"] for change in recorder.changes] == [f"t{i}" for i in range(5)]


def test_a_failed_write_announces_nothing(raw_db, engine, stream):
    recorder = Recorder(raw_db, stream)
    engine.create(SYSTEM, {"title": "taken"})
    with pytest.raises(ConflictError):
        engine.create(SYSTEM, [{"title": "fresh"}, {"title": "taken"}])  # one transaction
    assert [change.after["title"] for change in recorder.changes] == ["taken"]


def test_an_outer_rollback_drops_the_changes_of_every_write_inside(raw_db, engine, stream):
    recorder = Recorder(raw_db, stream)
    with pytest.raises(RuntimeError), raw_db.write():
        engine.create(SYSTEM, {"title": "gone"})
        raise RuntimeError("abort")
    assert recorder.changes == []


def test_a_denied_write_announces_nothing(raw_db, make_engine: MakeEngine, users, stream):
    config = RecordApiConfig(
        name="items", table_name="items", acl_authenticated=ALL, create_access_rule="1 = 0"
    )
    engine = RecordEngine(raw_db, config, make_engine().table, changes=stream)
    recorder = Recorder(raw_db, stream)
    with pytest.raises(PermissionDeniedError):
        engine.create(users["alice"], {"title": "x"})
    assert recorder.changes == []


def test_replace_of_an_existing_row_is_an_update_and_ignore_is_nothing(raw_db, schema, stream):
    def engine_with(conflict: ConflictResolution) -> RecordEngine:
        config = RecordApiConfig(
            name="items", table_name="items", acl_authenticated=ALL, conflict_resolution=conflict
        )
        return RecordEngine(raw_db, config, schema.items, changes=stream)

    replacing, ignoring = (
        engine_with(ConflictResolution.REPLACE),
        engine_with(ConflictResolution.IGNORE),
    )
    (key,) = replacing.create(SYSTEM, {"title": "v1"})
    recorder = Recorder(raw_db, stream)
    replacing.create(SYSTEM, {"id": key, "title": "v2"})
    ignoring.create(SYSTEM, {"id": key, "title": "v3"})
    assert recorder.summary() == [("update", key)]
    assert (recorder.changes[0].before["title"], recorder.changes[0].after["title"]) == (
        "v1",
        "v2",
    )


def test_the_stream_is_active_only_while_someone_listens(raw_db, engine, stream):
    assert not stream.active
    unsubscribe = stream.subscribe(lambda change: None)
    assert stream.active
    unsubscribe()
    assert not stream.active
    (key,) = engine.create(SYSTEM, {"title": "before anyone listened"})
    recorder = Recorder(raw_db, stream)
    engine.update(SYSTEM, key, {"score": 3})
    assert recorder.summary() == [("update", key)]


def test_a_group_commit_announces_the_jobs_that_committed_only(raw_db, engine, stream):
    engine.create(SYSTEM, {"title": "taken"})
    recorder = Recorder(raw_db, stream)
    executor = DatabaseExecutor(raw_db)

    async def main() -> list[Any]:
        jobs = []
        for i in range(12):
            title = "taken" if i % 4 == 1 else f"t{i}"
            jobs.append(executor.write(lambda title=title: engine.create(SYSTEM, {"title": title})))
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        executor.close()
    created = [result[0] for result in results if not isinstance(result, BaseException)]
    assert len(created) == 9
    assert sorted(recorder.summary()) == sorted(("create", key) for key in created)
