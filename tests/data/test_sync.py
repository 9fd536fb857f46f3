"""sync_table: create, add, keep, drop, convert, constrain and index, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tinybase.data import Database, SchemaChangeError, sync_table
from tinybase.data.sync_diff import diff_table

TableFactory = Callable[..., sa.Table]


def make_table(name: str, *items: sa.SchemaItem, metadata: sa.MetaData | None = None) -> sa.Table:
    return sa.Table(name, metadata or sa.MetaData(), *items)


def rows(db: Database, sql: str) -> list[tuple]:
    with db.read() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def columns(db: Database, table: str) -> list[str]:
    with db.read() as connection:
        return [column["name"] for column in sa.inspect(connection).get_columns(table)]


def sync(db: Database, desired: sa.Table, **kwargs: object) -> None:
    with db.write() as connection:
        sync_table(connection, desired, **kwargs)


def is_clean(db: Database, desired: sa.Table) -> bool:
    """Nothing left to change: a second sync would be a no-op."""
    with db.read() as connection:
        current = sa.Table(desired.name, sa.MetaData(), autoload_with=connection)
        diff = diff_table(connection, current, desired)
    return not (diff.added or diff.changed or diff.constraints_to_add or diff.constraints_to_drop)


def note_table(*extra: sa.SchemaItem) -> sa.Table:
    return make_table(
        "note",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text),
        *extra,
    )


def test_creates_missing_table_with_indexes(raw_db: Database) -> None:
    desired = note_table(sa.Index("ix_note_title", "title"))
    sync(raw_db, desired)
    assert columns(raw_db, "note") == ["id", "title"]
    with raw_db.read() as connection:
        indexes = sa.inspect(connection).get_indexes("note")
    assert [(i["name"], i["column_names"]) for i in indexes] == [("ix_note_title", ["title"])]
    assert is_clean(raw_db, desired)


def test_adds_columns_in_order_and_keeps_the_others(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("legacy", sa.Text)))
    raw_db.q("INSERT INTO note (title, legacy) VALUES ('a', 'keep me')")
    desired = note_table(sa.Column("body", sa.Text), sa.Column("stars", sa.Integer))
    sync(raw_db, desired)
    assert columns(raw_db, "note") == ["id", "title", "legacy", "body", "stars"]
    assert rows(raw_db, "SELECT title, legacy, body, stars FROM note") == [
        ("a", "keep me", None, None)
    ]
    assert is_clean(raw_db, desired)


def test_drops_exactly_the_named_columns(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("a", sa.Text), sa.Column("b", sa.Text)))
    raw_db.q("INSERT INTO note (title, a, b) VALUES ('t', 'x', 'y')")
    sync(raw_db, note_table(), drop_columns=["a"])
    assert columns(raw_db, "note") == ["id", "title", "b"]
    assert rows(raw_db, "SELECT id, title, b FROM note") == [(1, "t", "y")]


def test_converts_text_to_integer_when_every_value_converts(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("stars", sa.Text)))
    raw_db.q("INSERT INTO note (title, stars) VALUES ('a', '12'), ('b', NULL)")
    desired = note_table(sa.Column("stars", sa.Integer))
    sync(raw_db, desired)
    assert rows(raw_db, "SELECT title, stars FROM note ORDER BY id") == [("a", 12), ("b", None)]
    assert is_clean(raw_db, desired)


def test_lossy_conversion_raises_and_changes_nothing(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("stars", sa.Text)))
    raw_db.q("INSERT INTO note (title, stars) VALUES ('a', '12'), ('b', 'abc')")
    with pytest.raises(SchemaChangeError) as caught:
        sync(raw_db, note_table(sa.Column("stars", sa.Integer), sa.Column("new", sa.Text)))
    assert (caught.value.table, caught.value.column) == ("note", "stars")
    assert "stars" in str(caught.value)
    assert columns(raw_db, "note") == ["id", "title", "stars"]
    assert rows(raw_db, "SELECT title, stars FROM note ORDER BY id") == [("a", "12"), ("b", "abc")]


def test_lossy_conversion_inside_a_caller_transaction_leaves_it_usable(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("stars", sa.Text)))
    with raw_db.write() as connection:
        connection.exec_driver_sql("INSERT INTO note (title, stars) VALUES ('a', 'abc')")
        with pytest.raises(SchemaChangeError):
            sync_table(connection, note_table(sa.Column("stars", sa.Integer)))
        connection.exec_driver_sql("INSERT INTO note (title, stars) VALUES ('b', 'x')")
    assert rows(raw_db, "SELECT title, stars FROM note ORDER BY id") == [("a", "abc"), ("b", "x")]


def test_nulls_into_not_null_raise(raw_db: Database) -> None:
    sync(raw_db, note_table())
    raw_db.q("INSERT INTO note (title) VALUES (NULL)")
    with pytest.raises(SchemaChangeError) as caught:
        sync(
            raw_db,
            make_table(
                "note",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("title", sa.Text, nullable=False),
            ),
        )
    assert caught.value.column == "title"
    assert rows(raw_db, "SELECT id, title FROM note") == [(1, None)]


def test_not_null_and_default_applied_when_data_allows(raw_db: Database) -> None:
    sync(raw_db, note_table())
    raw_db.q("INSERT INTO note (title) VALUES ('a')")
    desired = make_table(
        "note",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False, server_default="untitled"),
    )
    sync(raw_db, desired)
    raw_db.q("INSERT INTO note (id) VALUES (2)")
    assert rows(raw_db, "SELECT id, title FROM note ORDER BY id") == [(1, "a"), (2, "untitled")]
    with pytest.raises(sa.exc.IntegrityError):
        raw_db.q("INSERT INTO note (id, title) VALUES (3, NULL)")
    assert is_clean(raw_db, desired)


def test_adding_a_required_column_to_a_table_with_rows_raises(raw_db: Database) -> None:
    sync(raw_db, note_table())
    raw_db.q("INSERT INTO note (title) VALUES ('a')")
    with pytest.raises(SchemaChangeError) as caught:
        sync(raw_db, note_table(sa.Column("owner", sa.Text, nullable=False)))
    assert caught.value.column == "owner"
    assert columns(raw_db, "note") == ["id", "title"]


def test_check_constraint_added_only_when_rows_satisfy_it(raw_db: Database) -> None:
    sync(raw_db, note_table(sa.Column("stars", sa.Integer)))
    raw_db.q("INSERT INTO note (title, stars) VALUES ('a', 3), ('b', 9)")
    check = sa.CheckConstraint("stars <= 5", name="ck_note_stars")
    with pytest.raises(SchemaChangeError):
        sync(raw_db, note_table(sa.Column("stars", sa.Integer), check))
    assert rows(raw_db, "SELECT title, stars FROM note ORDER BY id") == [("a", 3), ("b", 9)]
    raw_db.q("UPDATE note SET stars = 5 WHERE title = 'b'")
    desired = note_table(
        sa.Column("stars", sa.Integer), sa.CheckConstraint("stars <= 5", name="ck_note_stars")
    )
    sync(raw_db, desired)
    with pytest.raises(sa.exc.IntegrityError):
        raw_db.q("INSERT INTO note (title, stars) VALUES ('c', 6)")
    assert rows(raw_db, "SELECT count(*) FROM note") == [(2,)]
    assert is_clean(raw_db, desired)


def collection_tables(*, unique_email: bool = True, extra: tuple = ()) -> tuple[sa.Table, sa.Table]:
    """Like a TinyBase collection: text UUID key, unique column, index, foreign key."""
    metadata = sa.MetaData()
    author = sa.Table(
        "author",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=unique_email),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()
        ),
    )
    post = sa.Table(
        "post",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("author_id", sa.String(36), sa.ForeignKey("author.id", ondelete="CASCADE")),
        sa.Column("title", sa.Text, nullable=False),
        sa.Index("ix_post_title", "title"),
        *extra,
    )
    return author, post


def test_collection_like_tables_change_without_losing_rows(raw_db: Database) -> None:
    author, post = collection_tables(unique_email=False)
    sync(raw_db, author)
    sync(raw_db, post)
    alma, post_id = str(uuid.uuid4()), str(uuid.uuid4())
    raw_db.q("INSERT INTO author (id, email) VALUES (?, ?)", [alma, "alma@example.com"])
    raw_db.q("INSERT INTO post (id, author_id, title) VALUES (?, ?, 'hello')", [post_id, alma])
    assert is_clean(raw_db, author) and is_clean(raw_db, post)

    # Make email unique (a rebuild on SQLite) and add a column: the child post survives,
    # although it references author with ON DELETE CASCADE.
    author, post = collection_tables(
        extra=(sa.Column("views", sa.Integer, nullable=False, server_default="0"),)
    )
    sync(raw_db, author)
    sync(raw_db, post)
    assert is_clean(raw_db, author) and is_clean(raw_db, post)
    assert rows(raw_db, "SELECT id, author_id, title, views FROM post") == [
        (post_id, alma, "hello", 0)
    ]
    with pytest.raises(sa.exc.IntegrityError):
        raw_db.q("INSERT INTO author (id, email) VALUES ('x', 'alma@example.com')")
    with pytest.raises(sa.exc.IntegrityError):
        raw_db.q("INSERT INTO post (id, author_id, title) VALUES ('p2', 'nobody', 't')")
    raw_db.q("DELETE FROM author WHERE id = ?", [alma])
    assert rows(raw_db, "SELECT count(*) FROM post") == [(0,)]


def test_unique_on_duplicates_raises_and_changes_nothing(raw_db: Database) -> None:
    author, _ = collection_tables(unique_email=False)
    sync(raw_db, author)
    raw_db.q("INSERT INTO author (id, email) VALUES ('a', 'same'), ('b', 'same')")
    author, _ = collection_tables(unique_email=True)
    with pytest.raises(SchemaChangeError) as caught:
        sync(raw_db, author)
    assert (caught.value.table, caught.value.column) == ("author", "email")
    assert rows(raw_db, "SELECT id, email FROM author ORDER BY id") == [
        ("a", "same"),
        ("b", "same"),
    ]


def test_rebuilding_a_parent_keeps_children_and_their_foreign_keys(raw_db: Database) -> None:
    author, post = collection_tables()
    sync(raw_db, author)
    sync(raw_db, post)
    raw_db.q("INSERT INTO author (id, email) VALUES ('a', 'a@x')")
    raw_db.q("INSERT INTO post (id, author_id, title) VALUES ('p', 'a', 't')")
    # Change a column type of the parent: a rebuild of author on SQLite.
    metadata = sa.MetaData()
    changed = sa.Table(
        "author",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()
        ),
    )
    sync(raw_db, changed)
    assert rows(raw_db, "SELECT id, author_id FROM post") == [("p", "a")]
    with pytest.raises(sa.exc.IntegrityError):
        raw_db.q("INSERT INTO post (id, author_id, title) VALUES ('q', 'nobody', 't')")


def test_indexes_follow_the_desired_table(raw_db: Database) -> None:
    _, post_table = collection_tables()
    author, _ = collection_tables()
    sync(raw_db, author)
    sync(raw_db, post_table)
    author, post = collection_tables(extra=(sa.Index("ix_post_author", "author_id", "title"),))
    post.indexes.discard(next(i for i in post.indexes if i.name == "ix_post_title"))
    sync(raw_db, post)
    with raw_db.read() as connection:
        indexes = sa.inspect(connection).get_indexes("post")
    assert [(i["name"], i["column_names"]) for i in indexes] == [
        ("ix_post_author", ["author_id", "title"])
    ]
    assert is_clean(raw_db, post)


def test_changing_a_type_on_sqlite_does_not_cast_dates_to_numbers(sqlite_url: str) -> None:
    db = Database(sa.create_engine(sqlite_url))
    sync(db, note_table(sa.Column("when", sa.Text)))
    db.q("INSERT INTO note (title, \"when\") VALUES ('a', '2024-05-01 10:00:00+00:00')")
    sync(db, note_table(sa.Column("when", sa.DateTime(timezone=True))))
    assert rows(db, 'SELECT "when" FROM note') == [("2024-05-01 10:00:00+00:00",)]
