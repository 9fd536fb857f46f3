"""Collections as real tables: create, schema changes that keep data, delete, the view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tinybase.auth.principal import SYSTEM, Principal
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import Database
from tinybase.errors import ConflictError, PermissionDeniedError, ValidationError

ALL_TYPES = [
    {"name": "title", "type": "string", "required": True},
    {"name": "body", "type": "text"},
    {"name": "count", "type": "integer", "default": 2},
    {"name": "price", "type": "number"},
    {"name": "done", "type": "boolean"},
    {"name": "at", "type": "datetime"},
    {"name": "day", "type": "date"},
    {"name": "email", "type": "email"},
    {"name": "site", "type": "url"},
    {"name": "meta", "type": "json"},
    {"name": "status", "type": "select", "values": ["open", "closed"]},
    {"name": "tags", "type": "list[string]"},
    {"name": "scores", "type": "list[integer]"},
    {"name": "weights", "type": "list[number]"},
    {"name": "flags", "type": "list[boolean]"},
]


def _rows(db: Database, sql: str) -> list[dict[str, Any]]:
    with db.read() as connection:
        return [dict(row) for row in connection.execute(sa.text(sql)).mappings()]


def test_every_field_type_round_trips(
    catalog: CollectionCatalog, records: CollectionRecords
) -> None:
    catalog.create("things", "Things", {"fields": ALL_TYPES})
    data = {
        "title": "hello",
        "body": "long text",
        "price": 9.5,
        "done": True,
        "at": "2024-05-01T10:00:00.123456+02:00",
        "day": "2024-05-01",
        "email": "a@example.com",
        "site": "https://example.com",
        "meta": {"nested": [1, "two", None, {"x": False}]},
        "status": "open",
        "tags": ["a", "b"],
        "scores": [1, 2],
        "weights": [0.5],
        "flags": [True, False],
    }
    created = records.create(SYSTEM, "things", data)
    read = records.read(SYSTEM, "things", created["id"])
    assert read == created
    assert read["data"] == {
        **data,
        "count": 2,
        "price": 9.5,
        "at": datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC),
        "day": date(2024, 5, 1),
    }
    assert read["owner_id"] is None
    assert read["created_at"].tzinfo is not None


def test_bad_name_and_reserved_name_are_422(catalog: CollectionCatalog) -> None:
    for name in ("Bad", "select", "_user"):
        with pytest.raises(ValidationError) as caught:
            catalog.create(name, "x", {"fields": []})
        assert caught.value.detail[0]["loc"] == ["body", "name"]
        assert repr(name) in caught.value.detail[0]["msg"]


def test_existing_name_is_409(catalog: CollectionCatalog) -> None:
    catalog.create("posts", "Posts", {"fields": []})
    with pytest.raises(ConflictError):
        catalog.create("posts", "Posts", {"fields": []})


def test_unique_index_and_composite_index_exist(
    catalog: CollectionCatalog, migrated_db: Database
) -> None:
    catalog.create(
        "posts",
        "Posts",
        {
            "fields": [
                {"name": "slug", "type": "string", "unique": True},
                {"name": "rank", "type": "integer", "index": True},
            ]
        },
    )
    with migrated_db.read() as connection:
        inspector = sa.inspect(connection)
        indexes = {tuple(i["column_names"]): i for i in inspector.get_indexes("posts")}
        uniques = [tuple(u["column_names"]) for u in inspector.get_unique_constraints("posts")]
    assert ("slug",) in uniques
    assert ("rank",) in indexes
    assert ("owner_id", "rank", "id") in indexes
    assert ("owner_id", "slug", "id") in indexes
    assert ("owner_id", "id") in indexes
    assert ("owner_id", "created_at", "id") in indexes


def test_unique_is_enforced(catalog: CollectionCatalog, records: CollectionRecords) -> None:
    catalog.create(
        "posts", "Posts", {"fields": [{"name": "slug", "type": "string", "unique": True}]}
    )
    records.create(SYSTEM, "posts", {"slug": "a"})
    with pytest.raises(ConflictError):
        records.create(SYSTEM, "posts", {"slug": "a"})


def test_relation_is_a_foreign_key(
    catalog: CollectionCatalog, records: CollectionRecords, migrated_db: Database
) -> None:
    catalog.create("authors", "Authors", {"fields": [{"name": "name", "type": "string"}]})
    catalog.create(
        "books",
        "Books",
        {"fields": [{"name": "author", "type": "relation", "collection": "authors"}]},
    )
    author = records.create(SYSTEM, "authors", {"name": "Ann"})
    book = records.create(SYSTEM, "books", {"author": author["id"]})
    assert book["data"]["author"] == author["id"]
    missing = "0190a8f2-0000-7000-8000-000000000001"
    with pytest.raises(ValidationError) as caught:
        records.create(SYSTEM, "books", {"author": missing})
    assert caught.value.detail[0]["loc"] == ["body", "data", "author"]
    # The database itself refuses it too (raw SQL bypasses validation, not the foreign key).
    with pytest.raises(sa.exc.IntegrityError), migrated_db.write() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO books (id, author, created_at, updated_at) VALUES ('x', :a, :t, :t)"
            ),
            {"a": missing, "t": datetime.now(UTC)},
        )
    with pytest.raises(ConflictError):
        catalog.delete(catalog.require("authors"))


def test_adding_a_field_keeps_data(catalog: CollectionCatalog, records: CollectionRecords) -> None:
    posts = catalog.create("posts", "Posts", {"fields": [{"name": "title", "type": "string"}]})
    created = records.create(SYSTEM, "posts", {"title": "keep me"})
    catalog.update(
        posts,
        schema={
            "fields": [
                {"name": "title", "type": "string"},
                {"name": "views", "type": "integer", "required": True, "default": 0},
            ]
        },
    )
    read = records.read(SYSTEM, "posts", created["id"])
    assert read["data"] == {"title": "keep me", "views": 0}


def test_type_change_converts(catalog: CollectionCatalog, records: CollectionRecords) -> None:
    posts = catalog.create("posts", "Posts", {"fields": [{"name": "n", "type": "string"}]})
    created = records.create(SYSTEM, "posts", {"n": "42"})
    catalog.update(posts, schema={"fields": [{"name": "n", "type": "integer"}]})
    assert records.read(SYSTEM, "posts", created["id"])["data"] == {"n": 42}


def test_failed_type_change_is_422_and_keeps_data(
    catalog: CollectionCatalog, records: CollectionRecords, migrated_db: Database
) -> None:
    posts = catalog.create("posts", "Posts", {"fields": [{"name": "n", "type": "string"}]})
    created = records.create(SYSTEM, "posts", {"n": "not a number"})
    with pytest.raises(ValidationError) as caught:
        catalog.update(posts, schema={"fields": [{"name": "n", "type": "integer"}]})
    assert caught.value.detail[0]["loc"] == ["body", "schema", "fields", 0, "n"]
    assert records.read(SYSTEM, "posts", created["id"])["data"] == {"n": "not a number"}
    assert catalog.require("posts").schema_ == {"fields": [{"name": "n", "type": "string"}]}
    assert _rows(migrated_db, "SELECT count(*) AS n FROM _record")[0]["n"] == 1


def test_removing_a_field_needs_drop_fields(
    catalog: CollectionCatalog, records: CollectionRecords, migrated_db: Database
) -> None:
    fields = [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]
    posts = catalog.create("posts", "Posts", {"fields": fields})
    created = records.create(SYSTEM, "posts", {"a": "x", "b": "y"})
    with pytest.raises(ConflictError) as caught:
        catalog.update(posts, schema={"fields": fields[:1]})
    assert "'b'" in caught.value.detail
    assert _rows(migrated_db, "SELECT b FROM posts") == [{"b": "y"}]
    catalog.update(posts, schema={"fields": fields[:1], "drop_fields": ["b"]})
    assert records.read(SYSTEM, "posts", created["id"])["data"] == {"a": "x"}
    with migrated_db.read() as connection:
        assert "b" not in {c["name"] for c in sa.inspect(connection).get_columns("posts")}


def test_required_field_without_default_on_filled_table_is_422(
    catalog: CollectionCatalog, records: CollectionRecords
) -> None:
    posts = catalog.create("posts", "Posts", {"fields": [{"name": "a", "type": "string"}]})
    records.create(SYSTEM, "posts", {"a": "x"})
    with pytest.raises(ValidationError) as caught:
        catalog.update(
            posts,
            schema={
                "fields": [
                    {"name": "a", "type": "string"},
                    {"name": "b", "type": "string", "required": True},
                ]
            },
        )
    assert caught.value.detail[0]["loc"][-1] == "b"


def test_index_follows_the_schema(catalog: CollectionCatalog, migrated_db: Database) -> None:
    posts = catalog.create(
        "posts", "Posts", {"fields": [{"name": "a", "type": "string", "index": True}]}
    )
    catalog.update(posts, schema={"fields": [{"name": "a", "type": "string", "unique": True}]})
    with migrated_db.read() as connection:
        inspector = sa.inspect(connection)
        plain = [i["column_names"] for i in inspector.get_indexes("posts") if not i.get("unique")]
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("posts")]
    assert ["a"] not in plain
    assert ["a"] in uniques


def test_delete_drops_the_table_and_view_rows(
    catalog: CollectionCatalog, records: CollectionRecords, migrated_db: Database
) -> None:
    posts = catalog.create("posts", "Posts", {"fields": [{"name": "a", "type": "string"}]})
    records.create(SYSTEM, "posts", {"a": "x"})
    catalog.delete(posts)
    assert "posts" not in migrated_db.table_names()
    assert _rows(migrated_db, "SELECT * FROM _record") == []
    assert catalog.get("posts") is None


def test_bad_sql_rule_is_refused_with_the_database_message(catalog: CollectionCatalog) -> None:
    with pytest.raises(ValidationError) as caught:
        catalog.create("posts", "Posts", {"fields": []}, {"access": {"read": "_ROW_.nope = 1"}})
    assert "nope" in str(caught.value.detail)
    assert catalog.get("posts") is None


@pytest.mark.parametrize("preset", ["owner", "auth"])
def test_presets_refuse_handing_rows_to_another_owner(
    catalog: CollectionCatalog,
    records: CollectionRecords,
    migrated_db: Database,
    add_user: Callable[[], str],
    preset: str,
) -> None:
    """Through the engine (what the TrailBase family uses) owner_id is a writable column."""
    access = {op: preset for op in ("list", "read", "create", "update", "delete")}
    posts = catalog.create(
        "posts", "Posts", {"fields": [{"name": "t", "type": "string"}]}, {"access": access}
    )
    engine = records.engine(posts)
    attacker, victim = Principal(user_id=add_user()), add_user()
    with pytest.raises(PermissionDeniedError):
        engine.create(attacker, {"t": "planted", "owner_id": victim})
    (own,) = engine.create(attacker, {"t": "mine"})
    assert engine.read(attacker, own)["owner_id"] == attacker.user_id
    with pytest.raises(PermissionDeniedError):
        engine.update(attacker, own, {"owner_id": victim})
    assert [r["owner_id"] for r in _rows(migrated_db, "SELECT owner_id FROM posts")] == [
        attacker.user_id
    ]
