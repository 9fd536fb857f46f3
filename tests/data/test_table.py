"""Table beyond the spec: types, extras, xtra everywhere, bad input, transactions."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from tinybase.data import (
    UNSET,
    Database,
    DataError,
    InvalidDataError,
    NotFoundError,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Item:
    id: int
    name: str
    price: float
    active: bool
    blob: bytes
    seen_at: dt.datetime
    day: dt.date
    meta: dict
    tags: list
    color: Color
    note: str | None


def item_values() -> dict:
    return dict(
        name="lamp",
        price=9.5,
        active=True,
        blob=b"\x00\xff",
        seen_at=dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        day=dt.date(2024, 5, 1),
        meta={"a": [1, 2], "b": None},
        tags=["x", "y"],
        color=Color.BLUE,
        note=None,
    )


def test_types_round_trip(raw_db: Database) -> None:
    items = raw_db.create(Item)
    stored = items.insert(**item_values())
    expected = Item(id=1, **item_values())
    expected.seen_at = dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.UTC)  # stored as UTC
    assert stored == expected
    assert items[1] == expected
    assert type(items[1].active) is bool
    assert items[1].color is Color.BLUE
    assert items(where="color = ?", where_args=[Color.BLUE]) == [expected]
    assert items(where="seen_at = ?", where_args=[expected.seen_at]) == [expected]
    assert items.update(id=1, active=False, tags=[]).tags == []
    assert items[1].active is False


def test_a_row_class_without_the_default_id_is_rejected(raw_db: Database) -> None:
    class NoId:
        name: str

    with pytest.raises(InvalidDataError, match="id"):
        raw_db.create(NoId)
    assert "no_id" not in raw_db.t


def test_create_again_is_a_no_op_and_transform_never_drops_columns(raw_db: Database) -> None:
    class Pet:
        id: int
        name: str
        age: int

    pets = raw_db.create(Pet)
    pets.insert(name="Rex", age=3)

    class Pet:  # type: ignore[no-redef]
        id: int
        name: str
        owner: str

    assert raw_db.create(Pet).columns == ["id", "name", "age"]
    pets = raw_db.create(Pet, transform=True)
    assert pets.columns == ["id", "name", "age", "owner"]
    row = pets[1]
    assert (row.name, row.age, row.owner) == ("Rex", 3, None)  # age kept, as an attribute


def test_transform_converts_a_changed_type(raw_db: Database) -> None:
    class Score:
        id: int
        points: str

    scores = raw_db.create(Score)
    scores.insert(points="12")

    class Score:  # type: ignore[no-redef]
        id: int
        points: int

    assert raw_db.create(Score, transform=True)[1].points == 12


def test_insert_all_upsert_count_get_selectone(raw_db: Database) -> None:
    class Book:
        id: int
        title: str
        year: int

    books = raw_db.create(Book)
    assert books.insert_all([{"title": "A", "year": 1}, Book(title="B", year=2)]) is books
    assert books.count == 2
    assert books.upsert(id=1, year=10) == Book(id=1, title="A", year=10)
    assert books.upsert(id=7, title="C") == Book(id=7, title="C", year=None)
    assert books.upsert(title="D", year=4).id == 8
    assert books.count_where("year > ?", [3]) == 2
    assert books.get(99, default=None) is None
    with pytest.raises(NotFoundError):
        books.get(99)
    assert books.selectone("title = ?", ["B"]).year == 2
    with pytest.raises(NotFoundError):
        books.selectone("title = ?", ["Z"])
    with pytest.raises(InvalidDataError):
        books.selectone()
    assert books.pks == ["id"]
    assert list(books.c) == ["id", "title", "year"]
    assert books.c.title == '"title"'
    assert books(books.c.title + " = ?", ["A"])[0].id == 1


def test_select_with_pk_and_order(raw_db: Database) -> None:
    class Book:
        id: int
        title: str
        year: int

    books = raw_db.create(Book)
    books.insert_all([{"title": t, "year": y} for t, y in [("B", 2), ("A", 1), ("C", 2)]])
    assert [b.title for b in books(order_by="year desc, title")] == ["B", "C", "A"]
    assert [b.title for b in books(order_by=["-year", "-title"])] == ["C", "B", "A"]
    pairs = books(select="title", with_pk=True, order_by="title")
    assert [(pk, b.title, b.year) for pk, b in pairs] == [
        (2, "A", UNSET),
        (1, "B", UNSET),
        (3, "C", UNSET),
    ]
    with pytest.raises(InvalidDataError):
        books(order_by="year; DROP TABLE book")
    with pytest.raises(InvalidDataError):
        books(select="nope")


def test_xtra_applies_to_every_method(raw_db: Database) -> None:
    @dataclass
    class Doc:
        id: int
        owner: str | None
        body: str

    docs = raw_db.create(Doc)
    docs.insert_all(
        [
            {"owner": "ann", "body": "a1"},
            {"owner": "bob", "body": "b1"},
            {"owner": None, "body": "n1"},
        ]
    )
    mine = raw_db.t.doc
    mine.xtra(owner="ann")
    assert mine.count == 1
    assert mine.count_where("body LIKE ?", ["%1"]) == 1
    assert mine.delete_where("body = ?", ["b1"]) == 0
    with pytest.raises(NotFoundError):
        mine.upsert(id=2, body="stolen")
    assert docs[2].body == "b1"
    assert mine.upsert(id=9, body="new", owner="bob").owner == "ann"
    assert mine.insert(body="forced", owner="bob").owner == "ann"
    with pytest.raises(DataError):
        mine.xtra(owner="bob")
    with pytest.raises(DataError):
        mine.drop()
    orphans = raw_db.t.doc
    orphans.xtra(owner=None)  # None means IS NULL
    assert [d.body for d in orphans()] == ["n1"]
    assert orphans.delete_where() == 1
    assert docs.count == 4


def test_injection_through_where_args_and_xtra_is_inert(raw_db: Database) -> None:
    class Acct:
        id: int
        name: str

    accounts = raw_db.create(Acct)
    accounts.insert(name="alma")
    evil = "x' OR '1'='1"
    assert accounts("name = ?", [evil]) == []
    assert accounts("name = ?", ["'; DROP TABLE acct; --"]) == []
    scoped = raw_db.t.acct
    scoped.xtra(name=evil)
    assert scoped() == []
    assert scoped.count == 0
    with pytest.raises(NotFoundError):
        scoped.delete(1)
    with pytest.raises(InvalidDataError):
        raw_db.t.acct.xtra(**{"name = name OR 1": 1})
    assert [a.name for a in accounts()] == ["alma"]


def test_bad_input_raises_clearly_and_changes_nothing(raw_db: Database) -> None:
    class Acct:
        id: int
        name: str
        age: int

    accounts = raw_db.create(Acct)
    accounts.insert(name="alma", age=30)
    with pytest.raises(InvalidDataError, match="no column 'nope'"):
        accounts.insert(name="x", nope=1)
    with pytest.raises(InvalidDataError, match=r"acct\.age"):
        accounts.insert(name="x", age="thirty")
    with pytest.raises(InvalidDataError):
        accounts.update(id=1, age="old")
    with pytest.raises(InvalidDataError):
        accounts.update(name="no key")
    with pytest.raises(InvalidDataError):
        accounts["1"]
    with pytest.raises(InvalidDataError):
        accounts("age > ?", [1, 2])
    with pytest.raises(sa.exc.IntegrityError):
        accounts.insert(id=1, name="dup")
    with pytest.raises(sa.exc.DBAPIError):
        accounts("no_such_column = 1")
    assert [(a.id, a.name, a.age) for a in accounts()] == [(1, "alma", 30)]


def test_transaction_groups_table_calls(raw_db: Database) -> None:
    class Acct:
        id: int
        name: str

    accounts = raw_db.create(Acct)
    with pytest.raises(RuntimeError), raw_db.transaction():
        accounts.insert(name="a")
        accounts.insert(name="b")
        assert accounts.count == 2
        raise RuntimeError
    assert accounts.count == 0
    with raw_db.transaction():
        first = accounts.insert(name="a")
        with pytest.raises(sa.exc.IntegrityError):
            accounts.insert(id=first.id, name="dup")  # a failed call keeps the transaction usable
        accounts.insert(name="b")
    assert [a.name for a in accounts()] == ["a", "b"]


def test_drop(raw_db: Database) -> None:
    class Tmp:
        id: int

    raw_db.create(Tmp).drop()
    assert "tmp" not in raw_db.t


def test_defaults_and_factories_survive_flexiclass(raw_db: Database) -> None:
    @dataclass
    class Conf:
        id: int
        level: int = 3
        tags: list = field(default_factory=list)

    confs = raw_db.create(Conf)
    assert Conf() == Conf(id=UNSET, level=3, tags=[])
    assert confs.insert(Conf()) == Conf(id=1, level=3, tags=[])
