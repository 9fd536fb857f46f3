"""The record engine: CRUD, bulk, conflicts, write-only columns, order, cursors, expand."""

from __future__ import annotations

import base64
import threading
import uuid

import pytest
import sqlalchemy as sa

from tests.records.helpers import ALL, insert_items
from tinybase.auth.principal import ANONYMOUS, SYSTEM
from tinybase.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)
from tinybase.records.config import ConflictResolution, Permission
from tinybase.records.query import ListQuery


def _count(db, table="items"):
    with db.read() as connection:
        return connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()


def test_create_fills_system_columns_and_converts_types(raw_db, schema, users, make_engine):
    engine = make_engine(acl_authenticated=ALL)
    (created,) = engine.create(
        users["alice"],
        {
            "title": "t",
            "score": "7",
            "rank": 1,
            "done": "true",
            "meta": {"k": [1]},
            "due": "2024-05-01T10:00:00+02:00",
        },
    )
    assert uuid.UUID(created).version == 7
    record = engine.read(users["alice"], created)
    assert record["score"] == 7 and record["done"] is True and record["meta"] == {"k": [1]}
    assert record["due"].isoformat() == "2024-05-01T08:00:00+00:00"
    assert record["created_at"] == record["updated_at"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"score": "x"}, "score"),
        ({"done": "maybe"}, "done"),
        ({"title": {"a": 1}}, "title"),
        ({"nope": 1}, "nope"),
        ({"created_at": "2020-01-01"}, "created_at"),
        ({"hidden": "x"}, "hidden"),
    ],
)
def test_bad_fields_are_422_naming_the_field(raw_db, make_engine, values, field):
    engine = make_engine(excluded_columns=("hidden",))
    with pytest.raises(ValidationError) as error:
        engine.create(SYSTEM, values)
    assert error.value.detail[0]["loc"] == ["body", field]
    assert _count(raw_db) == 0


def test_write_only_columns_are_written_but_never_returned(raw_db, schema, make_engine):
    engine = make_engine()
    (created,) = engine.create(SYSTEM, {"title": "t", "_secret": "s3"})
    assert "_secret" not in engine.read(SYSTEM, created)
    assert "_secret" not in engine.list(SYSTEM, ListQuery()).records[0]
    assert "_secret" not in engine.update(SYSTEM, created, {"_secret": "s4"})
    with raw_db.read() as connection:
        assert connection.execute(sa.select(schema.items.c._secret)).scalar_one() == "s4"
    for query in (ListQuery(order="_secret"), ListQuery.from_params([("_secret", "s4")])):
        with pytest.raises(BadRequestError, match="_secret"):
            engine.list(SYSTEM, query)


def test_update_is_partial_and_bumps_updated_at(raw_db, schema, make_engine):
    engine = make_engine()
    (created,) = engine.create(SYSTEM, {"title": "t", "score": 1, "grp": "g"})
    before = engine.read(SYSTEM, created)
    after = engine.update(SYSTEM, created, {"score": 2})
    assert (after["score"], after["grp"], after["title"]) == (2, "g", "t")
    assert after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]
    with pytest.raises(ValidationError):
        engine.update(SYSTEM, created, {"id": str(uuid.uuid4())})
    assert engine.update(SYSTEM, created, {})["score"] == 2


def test_delete_removes_and_then_404(raw_db, make_engine):
    engine = make_engine()
    (created,) = engine.create(SYSTEM, {"title": "t"})
    engine.delete(SYSTEM, created)
    assert _count(raw_db) == 0
    with pytest.raises(NotFoundError):
        engine.delete(SYSTEM, created)
    with pytest.raises(NotFoundError):
        engine.read(SYSTEM, created)


def test_ids_are_accepted_plain_or_as_url_safe_base64(make_engine):
    engine = make_engine()
    (created,) = engine.create(SYSTEM, {"title": "t"})
    encoded = base64.urlsafe_b64encode(uuid.UUID(created).bytes).decode().rstrip("=")
    assert engine.read(SYSTEM, encoded)["id"] == created
    with pytest.raises(NotFoundError):
        engine.read(SYSTEM, "' OR 1=1 --")


def test_integer_primary_keys(raw_db, make_engine):
    engine = make_engine("groups")
    ids = engine.create(SYSTEM, [{"member": "m", "grp": "a"}, {"member": "m", "grp": "b"}])
    assert all(isinstance(i, int) for i in ids) and ids[1] > ids[0]
    assert engine.read(SYSTEM, str(ids[0]))["grp"] == "a"
    with pytest.raises(NotFoundError):
        engine.read(SYSTEM, "abc")
    page = engine.list(SYSTEM, ListQuery(limit=1))
    assert page.records[0]["id"] == ids[1] and page.cursor == str(ids[1])
    assert engine.list(SYSTEM, ListQuery(cursor=page.cursor)).records[0]["id"] == ids[0]


def test_bulk_create_is_atomic(raw_db, make_engine):
    engine = make_engine()
    with pytest.raises(ValidationError):
        engine.create(SYSTEM, [{"title": "a"}, {"title": "b"}, {"score": "bad"}])
    with pytest.raises(ConflictError):
        engine.create(SYSTEM, [{"title": "a"}, {"title": "b"}, {"title": "a"}])
    assert _count(raw_db) == 0
    ids = engine.create(SYSTEM, [{"title": str(i)} for i in range(20)])
    assert len(set(ids)) == 20 and _count(raw_db) == 20
    with pytest.raises(PayloadTooLargeError):
        engine.create(SYSTEM, [{"title": str(i)} for i in range(1025)])


def test_bulk_create_is_atomic_when_a_rule_denies_one(raw_db, users, make_engine):
    alice = users["alice"]
    engine = make_engine(acl_authenticated=ALL, create_access_rule="_REQ_.owner_id = _USER_.id")
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, [{"title": "a", "owner_id": alice.user_id}, {"title": "b"}])
    assert _count(raw_db) == 0


def test_conflict_abort_is_409(make_engine):
    engine = make_engine()
    engine.create(SYSTEM, {"title": "same"})
    with pytest.raises(ConflictError):
        engine.create(SYSTEM, {"title": "same"})


def test_conflict_ignore_keeps_the_existing_row(raw_db, make_engine):
    engine = make_engine(conflict_resolution=ConflictResolution.IGNORE)
    (first,) = engine.create(SYSTEM, {"title": "same", "score": 1})
    engine.create(SYSTEM, {"id": first, "title": "other", "score": 2})
    assert engine.read(SYSTEM, first)["score"] == 1 and _count(raw_db) == 1


def test_conflict_replace_overwrites_by_primary_key(raw_db, make_engine):
    engine = make_engine(conflict_resolution=ConflictResolution.REPLACE)
    (first,) = engine.create(SYSTEM, {"title": "a", "score": 1})
    assert engine.create(SYSTEM, {"id": first, "title": "b", "score": 2}) == [first]
    record = engine.read(SYSTEM, first)
    assert (record["title"], record["score"]) == ("b", 2) and _count(raw_db) == 1


def test_replace_cannot_overwrite_a_row_the_caller_may_not_update(
    raw_db, schema, users, make_engine
):
    alice, bob = users["alice"], users["bob"]
    (bobs,) = insert_items(raw_db, schema, [{"title": "b", "owner_id": bob.user_id, "score": 1}])
    engine = make_engine(
        acl_authenticated=ALL,
        conflict_resolution=ConflictResolution.REPLACE,
        create_access_rule="_REQ_.owner_id = _USER_.id",
        update_access_rule="_ROW_.owner_id = _USER_.id",
    )
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"id": bobs, "title": "x", "owner_id": alice.user_id})
    assert engine.read(SYSTEM, bobs)["owner_id"] == bob.user_id


def test_order_by_several_columns_with_cursor_paging(raw_db, schema, make_engine):
    insert_items(
        raw_db,
        schema,
        [{"title": f"t{i}", "score": i % 3, "grp": None if i % 4 == 0 else "g"} for i in range(20)],
    )
    engine = make_engine()
    for order in ("-score,title", "score,-title", "grp,-score", "-grp,score", "title", "-id"):
        expected = engine.list(SYSTEM, ListQuery(order=order, limit=100)).records
        seen, cursor = [], None
        while True:
            page = engine.list(SYSTEM, ListQuery(order=order, limit=3, cursor=cursor))
            if not page.records:
                break
            seen.extend(page.records)
            cursor = page.cursor
        assert [r["id"] for r in seen] == [r["id"] for r in expected], order
    records = engine.list(SYSTEM, ListQuery(order="-score,title", limit=100)).records
    assert [(r["score"], r["title"]) for r in records] == sorted(
        ((r["score"], r["title"]) for r in records), key=lambda p: (-p[0], p[1])
    )


def test_cursor_paging_is_stable_under_concurrent_inserts(raw_db, schema, make_engine):
    engine = make_engine()
    originals = set(insert_items(raw_db, schema, [{"title": f"o{i}"} for i in range(30)]))
    seen, cursor = [], None
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            engine.create(SYSTEM, {"title": None})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        first = engine.list(SYSTEM, ListQuery(limit=5))
        newest = first.records[0]["id"]
        seen.extend(r["id"] for r in first.records)
        cursor = first.cursor
        while True:
            page = engine.list(SYSTEM, ListQuery(limit=5, cursor=cursor))
            if not page.records:
                break
            seen.extend(r["id"] for r in page.records)
            cursor = page.cursor
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen))
    assert originals <= set(seen)
    assert all(i <= newest for i in seen)


def test_offset_and_limit(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": f"t{i:02}"} for i in range(10)])
    engine = make_engine(listing_hard_limit=4)
    page = engine.list(SYSTEM, ListQuery(order="title", limit=50, offset=2))
    assert [r["title"] for r in page.records] == ["t02", "t03", "t04", "t05"]


@pytest.mark.parametrize(
    ("order", "cursor"),
    [
        ("title; DROP TABLE items", None),
        ("title,title", None),
        ("a,b,c,d,e,f", None),
        ("-", None),
        ("meta", None),
        ("hidden", None),
        (None, "'; DROP TABLE items; --"),
        ("title", "k1.!!!"),
        ("title", "k1." + base64.urlsafe_b64encode(b'["a"]').decode()),
        ("title", "k1." + base64.urlsafe_b64encode(b'[{"a":1},"x"]').decode()),
        ("score", "k1." + base64.urlsafe_b64encode(b'["1 OR 1=1","x"]').decode()),
        ("title", "plain-cursor"),
    ],
)
def test_injection_and_garbage_through_order_and_cursor_is_400(
    raw_db, schema, make_engine, order, cursor
):
    insert_items(raw_db, schema, [{"title": "a", "hidden": "h"}])
    engine = make_engine(excluded_columns=("hidden",))
    with pytest.raises(BadRequestError):
        engine.list(SYSTEM, ListQuery(order=order, cursor=cursor))
    assert _count(raw_db) == 1


def test_expand_follows_the_referenced_apis_read_rule(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    mine, theirs = insert_items(
        raw_db,
        schema,
        [
            {"title": "mine", "owner_id": alice.user_id},
            {"title": "theirs", "owner_id": bob.user_id},
        ],
    )
    make_engine(acl_authenticated=ALL, read_access_rule="_ROW_.owner_id = _USER_.id")
    notes = make_engine("notes", acl_authenticated=ALL, expand=("item_id",))
    notes.create(
        SYSTEM, [{"body": "1", "item_id": mine}, {"body": "2", "item_id": theirs}, {"body": "3"}]
    )
    records = notes.list(alice, ListQuery(order="body", expand=("item_id",))).records
    assert records[0]["item_id"]["id"] == mine
    assert records[0]["item_id"]["data"]["title"] == "mine"
    assert "_secret" not in records[0]["item_id"]["data"]
    assert records[1]["item_id"] is None and records[2]["item_id"] is None
    one = notes.read(alice, records[0]["id"], expand=["item_id"])
    assert one["item_id"]["data"]["title"] == "mine"
    with pytest.raises(BadRequestError):
        notes.list(alice, ListQuery(expand=("author",)))


def test_expand_without_an_api_for_the_target_is_null(raw_db, users, make_engine):
    notes = make_engine("notes", acl_authenticated=ALL, expand=("author",))
    notes.create(SYSTEM, {"body": "x", "author": users["alice"].user_id})
    assert notes.list(users["alice"], ListQuery(expand=("author",))).records[0]["author"] is None


def test_views_are_read_only(raw_db, schema, make_engine):
    engine = make_engine()
    engine.read_only = True
    with pytest.raises(PermissionDeniedError):
        engine.create(SYSTEM, {"title": "x"})
    assert _count(raw_db) == 0


def test_anonymous_world_create(raw_db, make_engine):
    engine = make_engine(acl_world=frozenset({Permission.CREATE}))
    (created,) = engine.create(ANONYMOUS, {"title": "anon"})
    with pytest.raises(PermissionDeniedError):
        engine.read(ANONYMOUS, created)
    assert _count(raw_db) == 1
