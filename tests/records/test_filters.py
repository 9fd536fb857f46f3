"""The filter language: parsing both syntaxes, every operator, typing and refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.records.helpers import MakeEngine, insert_items, list_titles
from tinybase.auth.principal import SYSTEM
from tinybase.errors import BadRequestError
from tinybase.records.filters import Comparison, Composite, parse_filters
from tinybase.records.query import ListQuery


def test_parse_trailbase_and_short_syntax_into_one_and():
    tree = parse_filters(
        [
            ("filter[score][$gt]", "5"),
            ("title[like]", "a%"),
            ("done", "true"),
            ("limit", "5"),
            ("order", "-score"),
        ]
    )
    assert tree == Composite(
        "and",
        (
            Comparison("title", "like", "a%"),
            Comparison("done", "eq", "true"),
            Comparison("score", "gt", "5"),
        ),
    )


def test_parse_nested_and_or_in_index_order():
    tree = parse_filters(
        [
            ("filter[$or][1][score][$lt]", "3"),
            ("filter[$or][0][$and][0][title]", "x"),
            ("filter[$or][0][$and][1][grp][$ne]", "g"),
        ]
    )
    assert tree == Composite(
        "or",
        (
            Composite("and", (Comparison("title", "eq", "x"), Comparison("grp", "ne", "g"))),
            Comparison("score", "lt", "3"),
        ),
    )


@pytest.mark.parametrize(
    "params",
    [
        [("filter[score][$between]", "1")],
        [("score[nope]", "1")],
        [("filter", "x")],
        [("filter[$and][x][score]", "1")],
        [("filter[$and]", "1")],
        [("a[b][c]", "1")],
        [("score]", "1")],
        [("filter[score]", "1"), ("filter[score][$gt]", "1")],
        [(f"filter[$and][{i}][score]", "1") for i in range(65)],
        [("filter" + "[$and][0]" * 12 + "[score]", "1")],
    ],
)
def test_malformed_filters_are_400(params):
    with pytest.raises(BadRequestError):
        parse_filters(params)


@pytest.fixture
def populated(raw_db, schema, make_engine: MakeEngine):
    insert_items(
        raw_db,
        schema,
        [
            {
                "title": "apple",
                "score": 10,
                "rank": 1.5,
                "done": True,
                "grp": "a",
                "due": datetime(2024, 1, 1, tzinfo=UTC),
            },
            {
                "title": "banana",
                "score": 20,
                "rank": 2.5,
                "done": False,
                "grp": "b",
                "due": datetime(2024, 6, 1, tzinfo=UTC),
            },
            {"title": "cherry", "score": 30, "rank": None, "done": True, "grp": None},
            {"title": "date", "score": None, "rank": 4.0, "done": None, "grp": "a"},
        ],
    )
    return make_engine("items")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("filter[score][$eq]", "20")], ["banana"]),
        ([("score", "20")], ["banana"]),
        ([("filter[score]", "20")], ["banana"]),
        ([("filter[score][$ne]", "20")], ["apple", "cherry"]),
        ([("score[not]", "20")], ["apple", "cherry"]),
        ([("score[gt]", "10")], ["banana", "cherry"]),
        ([("score[gte]", "20")], ["banana", "cherry"]),
        ([("score[lt]", "20")], ["apple"]),
        ([("score[lte]", "20")], ["apple", "banana"]),
        ([("rank[gt]", "2")], ["banana", "date"]),
        ([("done", "TRUE")], ["apple", "cherry"]),
        ([("done[eq]", "false")], ["banana"]),
        ([("title[like]", "%an%")], ["banana"]),
        ([("filter[title][$re]", "^(a|c)")], ["apple", "cherry"]),
        ([("title[re]", "e$")], ["apple", "date"]),
        ([("filter[grp][$is]", "NULL")], ["cherry"]),
        ([("filter[grp][$is]", "!NULL")], ["apple", "banana", "date"]),
        ([("due[gte]", "2024-03-01T00:00:00Z")], ["banana"]),
        ([("due[lt]", "2024-03-01")], ["apple"]),
        (
            [("filter[$or][0][score][$gte]", "30"), ("filter[$or][1][title]", "apple")],
            ["apple", "cherry"],
        ),
        (
            [
                ("filter[$and][0][grp]", "a"),
                ("filter[$and][1][$or][0][score][$lt]", "15"),
                ("filter[$and][1][$or][1][score][$is]", "NULL"),
            ],
            ["apple", "date"],
        ),
        ([("grp", "a"), ("score[gt]", "5")], ["apple"]),
    ],
)
def test_every_operator_filters_in_sql(populated, params, expected):
    assert list_titles(populated, ListQuery.from_params([*params, ("order", "title")])) == expected


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ([("score", "abc")], "score"),
        ([("score[gt]", "1.5")], "score"),
        ([("done", "maybe")], "done"),
        ([("rank", "nan")], "rank"),
        ([("due[gt]", "yesterday")], "due"),
        ([("nope", "1")], "nope"),
        ([("_secret", "x")], "_secret"),
        ([("filter[_secret][$is]", "NULL")], "_secret"),
        ([("score[like]", "1%")], "score"),
        ([("title[re]", "(")], "title"),
        ([("meta", "{}")], "meta"),
        ([("grp[is]", "nothing")], "grp"),
    ],
)
def test_bad_columns_and_values_are_400_naming_the_column(populated, params, named):
    with pytest.raises(BadRequestError) as error:
        populated.list(SYSTEM, ListQuery.from_params(params))
    assert named in str(error.value.detail)


def test_excluded_column_cannot_be_filtered(raw_db, schema, make_engine: MakeEngine):
    insert_items(raw_db, schema, [{"title": "a", "hidden": "h"}])
    engine = make_engine("items", excluded_columns=("hidden",))
    with pytest.raises(BadRequestError, match="hidden"):
        engine.list(SYSTEM, ListQuery.from_params([("hidden", "h")]))
    assert "hidden" not in engine.list(SYSTEM, ListQuery()).records[0]


@pytest.mark.parametrize(
    "value",
    [
        "x' OR '1'='1",
        'x" OR 1=1 --',
        "'; DROP TABLE items; --",
        "%' OR 1=1 --",
    ],
)
def test_injection_through_values_is_just_a_value(populated, raw_db, value):
    assert (
        list_titles(populated, ListQuery.from_params([("title", value), ("order", "title")])) == []
    )
    assert (
        list_titles(populated, ListQuery.from_params([("title[like]", value), ("order", "title")]))
        == []
    )
    with raw_db.read() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM items").scalar_one() == 4


@pytest.mark.parametrize(
    "key",
    [
        "title) OR (1=1",
        "filter[title OR 1=1]",
        "filter[1=1 --][$eq]",
        'filter["title"]',
        "items.title",
        "_row_.title",
    ],
)
def test_injection_through_column_names_is_400(populated, key):
    with pytest.raises(BadRequestError):
        populated.list(SYSTEM, ListQuery.from_params([(key, "x")]))
