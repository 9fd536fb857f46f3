"""The registry: configured and admin-defined APIs, reflection, views, cross-process reloads."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.records.helpers import insert_items
from tinybase.auth.principal import ANONYMOUS, SYSTEM
from tinybase.db.models import Collection, RecordApi
from tinybase.errors import NotFoundError, PermissionDeniedError, ValidationError
from tinybase.records.config import Permission
from tinybase.records.query import ListQuery
from tinybase.records.registry import RecordApiRegistry
from tinybase.records.store import RecordApiStore


@pytest.fixture
def system_tables(raw_db, schema):
    with raw_db.write() as connection:
        RecordApi.__table__.create(connection)
        Collection.__table__.create(connection)


class _Now:
    value = 0.0

    def __call__(self) -> float:
        return self.value


def test_config_apis_are_reflected_and_read_implies_list(raw_db, schema, system_tables):
    insert_items(raw_db, schema, [{"title": "a"}])
    registry = RecordApiRegistry(
        raw_db, config_apis=[{"name": "pub", "table_name": "items", "acl_world": ["READ"]}]
    )
    engine = registry.get("pub")
    assert Permission.LIST in engine.api.acl_world
    assert [r["title"] for r in engine.list(ANONYMOUS, ListQuery()).records] == ["a"]
    assert registry.for_table("items") is engine
    with pytest.raises(NotFoundError):
        registry.get("nope")


def test_broken_config_api_is_skipped_not_fatal(raw_db, schema, system_tables):
    registry = RecordApiRegistry(
        raw_db,
        config_apis=[
            {"name": "gone", "table_name": "no_such_table"},
            {"name": "ok", "table_name": "items"},
        ],
    )
    assert set(registry.apis()) == {"ok"}


def test_views_are_read_only(raw_db, schema, system_tables):
    insert_items(raw_db, schema, [{"title": "a", "score": 9}, {"title": "b", "score": 1}])
    with raw_db.write() as connection:
        connection.exec_driver_sql(
            "CREATE VIEW high AS SELECT id, title, score FROM items WHERE score > 5"
        )
    registry = RecordApiRegistry(raw_db, config_apis=[{"name": "high", "table_name": "high"}])
    engine = registry.get("high")
    assert [r["title"] for r in engine.list(SYSTEM, ListQuery()).records] == ["a"]
    with pytest.raises(PermissionDeniedError):
        engine.create(SYSTEM, {"title": "x"})


def test_store_checks_rules_and_another_process_sees_changes(raw_db, schema, system_tables):
    clock = _Now()
    mine = RecordApiRegistry(raw_db, clock=clock)
    other = RecordApiRegistry(raw_db, clock=clock)
    store = RecordApiStore(raw_db, mine)
    assert other.apis() == {}
    with pytest.raises(ValidationError) as error:
        store.create({"name": "x", "table_name": "items", "read_access_rule": "_ROW_.nope = 1"})
    assert error.value.detail[0]["loc"] == ["body", "read_access_rule"]
    store.create({"name": "x", "table_name": "items", "acl_world": ["READ"]})
    assert "x" in mine.apis()
    assert other.apis() == {}  # cached until the next poll
    clock.value += 2.5
    assert "x" in other.apis()
    store.update("x", {"acl_world": []})
    clock.value += 2.5
    assert other.get("x").api.acl_world == frozenset()
    store.delete("x")
    clock.value += 2.5
    assert other.apis() == {}
    with raw_db.read() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count()).select_from(RecordApi.__table__)
            ).scalar_one()
            == 0
        )
