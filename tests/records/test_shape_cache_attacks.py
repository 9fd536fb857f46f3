"""Shape-compiled lists and writes from the attacker's side.

A list is compiled once per shape and a write once per set of columns, then shared by every
request of that shape. These tests send requests that differ only in meaning (a column named
like a group keyword, ``like`` vs ``eq``, nesting, directions, NULLs in a cursor) through one
engine, interleaved, and check each answer against the data; they check that no client value
reaches the SQL text, that hidden columns stay refused once a shape is warm, and that writes on
the driver connection keep rules, 409s and transaction boundaries.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.records.helpers import ALL, filter_query, insert_items, list_titles
from tinybase.auth.principal import ANONYMOUS, SYSTEM
from tinybase.data.database import Database
from tinybase.db.types import UTCDateTime
from tinybase.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from tinybase.records.compiled import CompiledQuery
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.query import ListQuery

OWNER = "_ROW_.owner_id = _USER_.id"


def _odd_table(db: Database) -> sa.Table:
    """Columns named like filter group keywords, and names with quotes and non-ASCII."""
    metadata = sa.MetaData()
    table = sa.Table(
        "odd",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("and", sa.String(20), nullable=True),
        sa.Column("or", sa.String(20), nullable=True),
        sa.Column("title", sa.String(20), nullable=True),
        sa.Column('wé"ird', sa.String(20), nullable=True),
        sa.Column("it's", sa.String(20), nullable=True),
    )
    with db.write() as connection:
        metadata.create_all(connection)
    return table


# -- lists: requests that share a shape key must mean the same thing ------------------------


def test_columns_named_and_or_are_comparisons_not_groups(raw_db, schema):
    table = _odd_table(raw_db)
    engine = RecordEngine(raw_db, RecordApiConfig(name="odd", table_name="odd"), table)
    engine.create(
        SYSTEM, [{"and": "x", "or": "y", "title": "a"}, {"and": "y", "or": "x", "title": "b"}]
    )
    cases = [
        ((("and", "x"),), ["a"]),
        ((("or", "x"),), ["b"]),
        ((("filter[and]", "y"),), ["b"]),
        ((("filter[$or][0][and]", "x"), ("filter[$or][1][or]", "x")), ["a", "b"]),
        ((("filter[$and][0][or]", "y"), ("filter[$and][1][and]", "y")), []),
        ((("filter[$or][0][or]", "y"), ("filter[$or][1][and]", "x")), ["a"]),
    ]
    for _ in range(2):
        for pairs, titles in cases:
            assert list_titles(engine, filter_query(*pairs, order="title")) == titles, pairs


def test_like_and_equality_with_one_value_never_share_afilter_query(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": "a%"}, {"title": "abc"}, {"title": "xa"}])
    engine = make_engine()
    for _ in range(2):
        assert list_titles(engine, filter_query(("title", "a%"), order="title")) == ["a%"]
        assert list_titles(engine, filter_query(("title[like]", "a%"), order="title")) == [
            "a%",
            "abc",
        ]
        assert list_titles(engine, filter_query(("title[ne]", "a%"), order="title")) == [
            "abc",
            "xa",
        ]
        assert list_titles(engine, filter_query(("title[is]", "!null"), order="title")) == [
            "a%",
            "abc",
            "xa",
        ]
        assert list_titles(engine, filter_query(("title[is]", "null"), order="title")) == []


def test_nested_groups_with_the_same_leaves_are_different_shapes(raw_db, schema, make_engine):
    rows = [{"title": f"{g}{s}", "grp": g, "score": s} for g in ("a", "b") for s in (1, 2)]
    rows.append({"title": "c3", "grp": "c", "score": 3})
    insert_items(raw_db, schema, rows)
    engine = make_engine()
    # grp=a AND (score=1 OR score=3)
    first = filter_query(
        ("filter[$and][0][grp]", "a"),
        ("filter[$and][1][$or][0][score]", "1"),
        ("filter[$and][1][$or][1][score]", "3"),
        order="title",
    )
    # (grp=a AND score=1) OR score=3: the same leaves in the same order, grouped otherwise
    second = filter_query(
        ("filter[$or][0][$and][0][grp]", "a"),
        ("filter[$or][0][$and][1][score]", "1"),
        ("filter[$or][1][score]", "3"),
        order="title",
    )
    # grp=a OR score=1 OR score=3
    flat = filter_query(
        ("filter[$or][0][grp]", "a"),
        ("filter[$or][1][score]", "1"),
        ("filter[$or][2][score]", "3"),
        order="title",
    )
    for _ in range(2):
        assert list_titles(engine, first) == ["a1"]
        assert list_titles(engine, second) == ["a1", "c3"]
        assert list_titles(engine, flat) == ["a1", "a2", "b1", "c3"]


def test_directions_of_one_sort_are_different_shapes(raw_db, schema, make_engine):
    insert_items(
        raw_db, schema, [{"title": t, "score": s} for t, s in (("a", 1), ("b", 1), ("c", 2))]
    )
    engine = make_engine()
    expected = {
        "score,title": ["a", "b", "c"],
        "-score,title": ["c", "a", "b"],
        "score,-title": ["b", "a", "c"],
        "-score,-title": ["c", "b", "a"],
    }
    for _ in range(2):
        for order, titles in expected.items():
            assert list_titles(engine, ListQuery(order=order)) == titles, order
    # With cursors: each page continues in its own direction.
    for order, titles in expected.items():
        first = engine.list(SYSTEM, ListQuery(order=order, limit=1))
        rest = engine.list(SYSTEM, ListQuery(order=order, limit=5, cursor=first.cursor))
        assert [r["title"] for r in first.records + rest.records] == titles, order


@pytest.mark.parametrize("order", ["score,title", "-score,title", "score,-title", "-score,-title"])
def test_cursors_with_nulls_in_different_positions_page_through_everything(
    raw_db, schema, make_engine, order
):
    rows = [{"title": f"t{i}", "score": None if i % 3 == 0 else i % 2} for i in range(9)]
    rows.append({"title": None, "score": None})
    rows.append({"title": None, "score": 1})
    insert_items(raw_db, schema, rows)
    engine = make_engine()
    everything = engine.list(SYSTEM, ListQuery(order=order, limit=100)).records
    assert len(everything) == 11
    # Two walks, one item per page, interleaved: every cursor (NULL or not in each key)
    # continues from its own position.
    walks: list[list[dict[str, Any]]] = [[], []]
    cursors: list[str | None] = [None, None]
    for _ in range(len(everything)):
        for walk in (0, 1):
            page = engine.list(SYSTEM, ListQuery(order=order, limit=1, cursor=cursors[walk]))
            walks[walk] += page.records
            cursors[walk] = page.cursor
    assert walks[0] == everything
    assert walks[1] == everything
    last = engine.list(SYSTEM, ListQuery(order=order, limit=1, cursor=cursors[0]))
    assert last.records == []


def test_count_totals_are_per_user_and_per_value(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    insert_items(raw_db, schema, [{"title": f"a{i}", "owner_id": alice.user_id} for i in range(3)])
    insert_items(raw_db, schema, [{"title": "b0", "owner_id": bob.user_id}])
    engine = make_engine(acl_authenticated=ALL, list_access_rule=OWNER, create_access_rule=None)
    for _ in range(2):
        assert engine.list(alice, ListQuery(count=True)).total_count == 3
        assert engine.list(bob, ListQuery(count=True)).total_count == 1
        assert engine.list(alice, filter_query(("title", "a1"), count=True)).total_count == 1
        assert engine.list(alice, filter_query(("title", "b0"), count=True)).total_count == 0
        assert engine.list(bob, filter_query(("title", "b0"), count=True)).total_count == 1
    # A write through the engine (driver connection) is seen by the next count.
    engine.create(bob, {"title": "b1", "owner_id": bob.user_id})
    assert engine.list(bob, ListQuery(count=True)).total_count == 2
    assert engine.list(alice, ListQuery(count=True)).total_count == 3
    (b0,) = engine.list(bob, filter_query(("title", "b0"))).records
    engine.delete(bob, b0["id"])
    assert engine.list(bob, ListQuery(count=True)).total_count == 1


def test_regex_filters_bind_their_own_pattern_on_a_shared_shape(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": t} for t in ("apple", "banana", "cherry")])
    engine = make_engine()
    for pattern, titles in (
        ("^a", ["apple"]),
        ("an", ["banana"]),
        ("y$", ["cherry"]),
        ("^a", ["apple"]),
    ):
        page = engine.list(SYSTEM, filter_query(("title[re]", pattern), order="title", count=True))
        assert [r["title"] for r in page.records] == titles, pattern
        assert page.total_count == len(titles)


@pytest.mark.parametrize(
    "pairs",
    [
        (("_secret", "x"),),
        (("hidden", "x"),),
        (("filter[$or][0][title]", "x"), ("filter[$or][1][_secret][$is]", "NULL")),
        (("filter[$and][0][title]", "x"), ("filter[$and][1][$or][0][hidden][$like]", "%")),
    ],
)
def test_hidden_and_excluded_columns_are_refused_after_a_shape_is_warm(
    raw_db, schema, make_engine, pairs
):
    insert_items(raw_db, schema, [{"title": "x", "_secret": "s", "hidden": "h"}])
    engine = make_engine(excluded_columns=["hidden"])
    # Warm shapes of the same layout on readable columns first.
    assert list_titles(engine, filter_query(("title", "x"))) == ["x"]
    assert list_titles(
        engine, filter_query(("filter[$or][0][title]", "x"), ("filter[$or][1][grp][$is]", "NULL"))
    ) == ["x"]
    with pytest.raises(BadRequestError):
        engine.list(SYSTEM, filter_query(*pairs))
    for order in ("_secret", "-_secret,title", "hidden", "title,-hidden"):
        with pytest.raises(BadRequestError):
            engine.list(SYSTEM, ListQuery(order=order))
    page = engine.list(SYSTEM, ListQuery(order="title", limit=1))
    assert set(page.records[0]) == set(engine.readable)
    assert "hidden" not in page.records[0] and "_secret" not in page.records[0]


def test_no_client_value_reaches_the_sql_text(raw_db, schema, users, make_engine, monkeypatch):
    statements: list[str] = []
    run = CompiledQuery.run

    def spy(self, connection, args):
        statements.append(self.sql)
        return run(self, connection, args)

    monkeypatch.setattr(CompiledQuery, "run", spy)
    sa.event.listen(
        raw_db.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    alice = users["alice"]
    engine = make_engine(
        acl_authenticated=ALL,
        list_access_rule=OWNER,
        update_access_rule=f"{OWNER} AND 'zq_field' NOT IN _REQ_FIELDS_",
    )
    marker = "zqmark"
    (item,) = engine.create(
        alice, {"title": f"{marker}1", "owner_id": alice.user_id, "score": 4242}
    )
    engine.update(alice, item, {"title": f"{marker}2", "grp": f"{marker}g"})
    engine.list(
        alice, filter_query(("title", f"{marker}2"), ("grp[like]", f"{marker}%"), count=True)
    )
    engine.list(alice, filter_query(("title[re]", f"^{marker}"), ("score[gt]", "4241"), count=True))
    page = engine.list(alice, ListQuery(order="score,title", limit=7, offset=3))
    first = engine.list(alice, ListQuery(order="score,title", limit=1))
    engine.list(alice, ListQuery(order="score,title", limit=1, cursor=first.cursor))
    assert page.records == []
    engine.delete(alice, item)
    assert statements
    text = "\n".join(statements)
    for value in (marker, "4242", "4241", alice.user_id, " 7", " 3"):
        assert value not in text, value


# -- writes on the driver connection ---------------------------------------------------------


def test_rule_denied_writes_write_nothing(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    (victim,) = insert_items(raw_db, schema, [{"title": "bob's", "owner_id": bob.user_id}])
    engine = make_engine(
        acl_authenticated=ALL,
        read_access_rule=OWNER,
        update_access_rule=OWNER,
        delete_access_rule=OWNER,
        create_access_rule="_REQ_.owner_id = _USER_.id",
    )
    before = _rows(raw_db, schema)
    # Warm each write shape with an allowed request first, then the same shape denied.
    (own,) = engine.create(alice, {"title": "alice's", "owner_id": alice.user_id})
    engine.update(alice, own, {"score": 1})
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "planted", "owner_id": bob.user_id})
    with pytest.raises(PermissionDeniedError):
        engine.create(
            alice,
            [{"title": "ok", "owner_id": alice.user_id}, {"title": "no", "owner_id": bob.user_id}],
        )
    with pytest.raises(NotFoundError):
        engine.update(alice, victim, {"score": 1})
    with pytest.raises(NotFoundError):
        engine.delete(alice, victim)
    engine.delete(alice, own)
    assert _rows(raw_db, schema) == before


def test_unique_violation_is_a_conflict_and_writes_nothing(raw_db, schema, make_engine):
    engine = make_engine()
    (first,) = engine.create(SYSTEM, {"title": "taken"})
    (second,) = engine.create(SYSTEM, {"title": "free"})
    before = _rows(raw_db, schema)
    with pytest.raises(ConflictError):
        engine.create(SYSTEM, {"title": "taken"})
    with pytest.raises(ConflictError):
        engine.create(SYSTEM, [{"title": "new"}, {"title": "taken"}])
    with pytest.raises(ConflictError):
        engine.update(SYSTEM, second, {"title": "taken"})
    assert _rows(raw_db, schema) == before
    # The engine (and its compiled statements) still work afterwards, on both dialects.
    engine.update(SYSTEM, second, {"title": "freed"})
    engine.delete(SYSTEM, first)
    assert [r["title"] for r in _rows(raw_db, schema)] == ["freed"]


def test_a_failing_write_job_leaves_the_other_jobs_of_its_batch_committed(
    raw_db, schema, make_engine
):
    engine = make_engine()
    engine.create(SYSTEM, {"title": "taken"})
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
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [1, 5, 9]
    assert all(isinstance(results[i], ConflictError) for i in failed)
    titles = sorted(r["title"] for r in _rows(raw_db, schema))
    assert titles == sorted(["taken"] + [f"t{i}" for i in range(12) if i % 4 != 1])


def _rows(db: Database, schema) -> list[dict[str, Any]]:
    with db.read() as connection:
        result = connection.execute(sa.select(schema.items).order_by(schema.items.c.id))
        return [dict(row._mapping) for row in result]


# -- _REQ_FIELDS_ as one JSON parameter --------------------------------------------------------


def test_req_fields_matches_unicode_and_quoted_field_names(raw_db, schema):
    table = _odd_table(raw_db)
    rule = "'wé\"ird' NOT IN _REQ_FIELDS_ AND NOT ('it''s' IN _REQ_FIELDS_)"
    config = RecordApiConfig(
        name="odd",
        table_name="odd",
        acl_world=ALL,
        create_access_rule=rule,
        update_access_rule=rule,
    )
    engine = RecordEngine(raw_db, config, table)
    (record,) = engine.create(ANONYMOUS, {"title": "t"})
    anyone = ANONYMOUS
    with pytest.raises(PermissionDeniedError):
        engine.create(anyone, {"title": "u", 'wé"ird': "x"})
    with pytest.raises(PermissionDeniedError):
        engine.create(anyone, {"it's": "x"})
    with pytest.raises(PermissionDeniedError):
        engine.update(anyone, record, {'wé"ird': "x"})
    with pytest.raises(PermissionDeniedError):
        engine.update(anyone, record, {"title": "v", "it's": "x"})
    # An empty request: no field is in it (the old expanding form sent [""]).
    assert engine.update(anyone, record, {})["title"] == "t"
    assert engine.update(anyone, record, {"and": "ok"})["and"] == "ok"
    with raw_db.read() as connection:
        rows = connection.execute(sa.select(table)).mappings().all()
    assert [(r["title"], r['wé"ird'], r["it's"], r["and"]) for r in rows] == [
        ("t", None, None, "ok")
    ]


def test_req_fields_in_is_false_for_an_empty_request(raw_db, schema):
    table = _odd_table(raw_db)
    config = RecordApiConfig(
        name="odd",
        table_name="odd",
        acl_world=ALL,
        update_access_rule="'' IN _REQ_FIELDS_ OR 'title' IN _REQ_FIELDS_",
    )
    engine = RecordEngine(raw_db, config, table)
    (record,) = engine.create(SYSTEM, {"title": "t"})
    anyone = ANONYMOUS
    with pytest.raises(PermissionDeniedError):
        engine.update(anyone, record, {})
    with pytest.raises(PermissionDeniedError):
        engine.update(anyone, record, {"or": "x"})
    assert engine.update(anyone, record, {"title": "u"})["title"] == "u"


# -- UTCDateTime's SQLite fast path ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-29 23:59:59.123456",
        "2024-02-29 23:59:59",
        "2024-02-29 23:59:59.5",
        "2024-02-29T23:59:59",
        "2024-02-29",
    ],
)
def test_fast_timestamp_parsing_equals_the_general_path(text):
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    fast = UTCDateTime()._cached_result_processor(dialect, None)
    general = sqlite.DATETIME().result_processor(dialect, None)  # SQLAlchemy's text parser
    assert fast(None) is None
    value = fast(text)
    assert value == general(text).replace(tzinfo=UTC)
    assert value.utcoffset().total_seconds() == 0


def test_timestamps_read_back_as_utc_from_sqlite_text(raw_db, schema, make_engine):
    engine = make_engine()
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    (item,) = engine.create(SYSTEM, {"title": "t", "due": moment.isoformat()})
    record = engine.read(SYSTEM, item)
    assert record["due"] == moment
    assert record["due"].utcoffset().total_seconds() == 0
    assert record["created_at"].tzinfo is not None


def test_a_date_only_timestamp_written_by_another_tool_reads_back_aware(
    raw_db, schema, make_engine
):
    # Another tool (a CSV import, SQLite's date()) may store a bare date in a timestamp
    # column; TinyBase promises timezone-aware UTC datetimes whatever the stored text.
    (item,) = insert_items(raw_db, schema, [{"title": "t"}])
    with raw_db.write() as connection:
        connection.execute(
            sa.text("UPDATE items SET due = '2024-02-29' WHERE id = :id"), {"id": item}
        )
    engine = make_engine()
    due = engine.read(SYSTEM, item)["due"]
    assert due == datetime(2024, 2, 29, tzinfo=UTC)
    assert due.utcoffset() is not None and due.utcoffset().total_seconds() == 0
    (listed,) = engine.list(SYSTEM, ListQuery()).records
    assert listed["due"].tzinfo is not None


def test_rules_with_placeholder_like_literals_run_on_the_driver_connection(
    raw_db, schema, users, make_engine
):
    # The rule's SQL text reaches the driver as is: '%', '?' and ':x' inside its string
    # literals must stay literals under both drivers' parameter styles.
    alice = users["alice"]
    rule = "_ROW_.title LIKE 'ok%' AND _ROW_.title <> 'what?' AND _ROW_.title <> 'a:b %s'"
    create = "_REQ_.title LIKE 'ok%' AND _REQ_.title <> 'what?'"
    engine = make_engine(
        acl_authenticated=ALL,
        list_access_rule=rule,
        read_access_rule=rule,
        update_access_rule=rule,
        delete_access_rule=rule,
        create_access_rule=create,
    )
    (ok,) = engine.create(alice, {"title": "ok1"})
    with pytest.raises(PermissionDeniedError):
        engine.create(alice, {"title": "what?"})
    (hidden,) = insert_items(raw_db, schema, [{"title": "a:b %s"}])
    assert list_titles(engine, ListQuery(order="title"), alice) == ["ok1"]
    assert engine.read(alice, ok)["title"] == "ok1"
    with pytest.raises(NotFoundError):
        engine.read(alice, hidden)
    assert engine.update(alice, ok, {"title": "ok2"})["title"] == "ok2"
    with pytest.raises(NotFoundError):
        engine.update(alice, hidden, {"score": 1})
    engine.delete(alice, ok)
    assert [r["title"] for r in _rows(raw_db, schema)] == ["a:b %s"]
