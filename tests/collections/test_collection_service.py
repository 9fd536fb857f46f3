"""CollectionService (the seed's Python API) and select(Record) over the _record view."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from sqlmodel import Session, select

from tinybase.collections.service import CollectionService
from tinybase.db.models import Collection, Record
from tinybase.errors import ConflictError, ValidationError


def test_collections_crud(session: Session) -> None:
    service = CollectionService(session)
    created = service.create_collection(
        "posts", "Posts", {"fields": [{"name": "title", "type": "string"}]}
    )
    assert isinstance(created, Collection) and isinstance(created.id, UUID)
    assert [c.name for c in service.list_collections()] == ["posts"]
    found = service.get_collection_by_name("posts")
    assert found is not None and found.id == created.id
    assert service.get_collection_by_name("nope") is None
    updated = service.update_collection(
        found, label="Articles", options={"access": {"read": "public"}}
    )
    assert updated.label == "Articles"
    assert updated.options == {"access": {"read": "public"}}
    service.delete_collection(updated)
    assert service.list_collections() == []


def test_records_crud_with_owner(session: Session, add_user: Callable[[], str]) -> None:
    service = CollectionService(session)
    posts = service.create_collection(
        "posts",
        "Posts",
        {"fields": [{"name": "title", "type": "string"}, {"name": "n", "type": "integer"}]},
    )
    owner = UUID(add_user())
    mine = service.create_record(posts, {"title": "a", "n": 1}, owner_id=owner)
    other = service.create_record(posts, {"title": "b", "n": 2})
    assert isinstance(mine, Record)
    assert mine.owner_id == owner and mine.collection_id == posts.id
    assert mine.data == {"title": "a", "n": 1}

    records, total = service.list_records(posts, owner_id=owner)
    assert total == 1 and [r.id for r in records] == [mine.id]
    records, total = service.list_records(posts, filters={"n": 2})
    assert [r.id for r in records] == [other.id]
    records, total = service.list_records(
        posts, filters={"n[gte]": 1}, sort_by="n", sort_order="asc"
    )
    assert total == 2 and [r.id for r in records] == [mine.id, other.id]
    records, total = service.list_records(posts, limit=1, offset=1, sort_by="n", sort_order="desc")
    assert total == 2 and [r.id for r in records] == [mine.id]

    changed = service.update_record(posts, mine, {"n": 5})
    assert changed.data == {"title": "a", "n": 5}
    replaced = service.update_record(posts, mine, {"title": "z"}, partial=False)
    assert replaced.data == {"title": "z", "n": None}

    service.delete_record(other)
    assert service.list_records(posts)[1] == 1


def test_select_record_reads_every_collection(session: Session) -> None:
    service = CollectionService(session)
    posts = service.create_collection(
        "posts",
        "Posts",
        {
            "fields": [
                {"name": "title", "type": "string"},
                {"name": "done", "type": "boolean"},
                {"name": "_secret", "type": "string"},
            ]
        },
    )
    prices = service.create_collection(
        "prices",
        "Prices",
        {
            "fields": [
                {"name": "price", "type": "number"},
                {"name": "at", "type": "datetime"},
                {"name": "tags", "type": "list[string]"},
            ]
        },
    )
    post = service.create_record(posts, {"title": "hi", "done": True, "_secret": "s"})
    price = service.create_record(
        prices, {"price": 2.5, "at": "2024-05-01T10:00:00+00:00", "tags": ["x"]}
    )

    rows = {r.id: r for r in session.exec(select(Record)).all()}
    assert set(rows) == {post.id, price.id}
    assert rows[post.id].collection_id == posts.id
    assert rows[post.id].data == {"title": "hi", "done": True}  # write-only field left out
    assert rows[price.id].data["price"] == 2.5
    assert rows[price.id].data["tags"] == ["x"]
    assert rows[price.id].data["at"].startswith("2024-05-01T10:00:00")
    assert rows[price.id].created_at == price.created_at

    found = session.exec(
        select(Record).where(Record.collection_id == prices.id, Record.id == str(price.id))
    ).first()
    assert found is not None and found.data["price"] == 2.5


def test_service_sees_its_own_writes_after_session_reads(session: Session) -> None:
    service = CollectionService(session)
    posts = service.create_collection(
        "posts", "Posts", {"fields": [{"name": "t", "type": "string"}]}
    )
    assert session.exec(select(Record)).all() == []  # the session now holds a read snapshot
    created = service.create_record(posts, {"t": "x"})
    assert [r.id for r in session.exec(select(Record)).all()] == [created.id]


def test_dropping_fields_through_the_service(session: Session) -> None:
    service = CollectionService(session)
    posts = service.create_collection(
        "posts",
        "Posts",
        {"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]},
    )
    with pytest.raises(ConflictError):
        service.update_collection(posts, schema={"fields": [{"name": "a", "type": "string"}]})
    changed = service.update_collection(
        posts, schema={"fields": [{"name": "a", "type": "string"}], "drop_fields": ["b"]}
    )
    assert changed.schema_ == {"fields": [{"name": "a", "type": "string"}]}


def test_view_handles_wide_schemas(session: Session) -> None:
    service = CollectionService(session)
    fields = [{"name": f"f{i}", "type": "integer"} for i in range(90)]
    wide = service.create_collection("wide", "Wide", {"fields": fields})
    data = {f"f{i}": i for i in range(90)}
    data["f89"] = None
    created = service.create_record(wide, data)
    row = session.exec(select(Record).where(Record.id == str(created.id))).one()
    assert row.data == data


def test_a_lone_surrogate_from_python_is_a_validation_error_naming_the_field(
    session: Session,
) -> None:
    service = CollectionService(session)
    posts = service.create_collection(
        "posts",
        "Posts",
        {"fields": [{"name": "title", "type": "string"}, {"name": "meta", "type": "json"}]},
    )
    for data, field in (({"title": "bad \ud800"}, "title"), ({"meta": {"k\udfff": 1}}, "meta")):
        with pytest.raises(ValidationError) as caught:
            service.create_record(posts, data)
        assert [error["loc"][-1] for error in caught.value.detail] == [field]
        assert "surrogate" in caught.value.detail[0]["msg"]
    assert service.list_records(posts) == ([], 0)
