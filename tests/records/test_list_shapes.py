"""Lists are compiled once per shape: requests of one shape share SQL, never their values.

One engine serves every request of an API, so these tests send many lists through the same
engine, interleaved, and check each answer against the data: a value, a rule parameter or a
cursor position left over from an earlier request would show as a wrong page.
"""

from __future__ import annotations

import pytest

from tests.records.helpers import ALL, filter_query, insert_items, list_titles
from tinybase.auth.principal import SYSTEM
from tinybase.errors import BadRequestError
from tinybase.records.query import ListQuery

OWNER = "_ROW_.owner_id = _USER_.id"


def test_one_shape_with_different_values_answers_each_request(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": f"t{i}", "score": i} for i in range(10)])
    engine = make_engine()
    for low in (7, 2, 9, 0, 7):
        query = filter_query(("score[gt]", str(low)), order="score", count=True)
        page = engine.list(SYSTEM, query)
        assert [r["score"] for r in page.records] == list(range(low + 1, 10))
        assert page.total_count == 9 - low
    assert len(engine.queries) == 2  # the page and its count, compiled once each


def test_operators_and_null_tests_on_one_column_are_different_shapes(raw_db, schema, make_engine):
    insert_items(
        raw_db, schema, [{"title": "a", "score": 1}, {"title": "b", "score": 5}, {"title": "c"}]
    )
    engine = make_engine()
    expected = {
        ("score[gt]", "1"): ["b"],
        ("score[lt]", "5"): ["a"],
        ("score[ne]", "1"): ["b"],
        ("score[is]", "NULL"): ["c"],
        ("score[is]", "!NULL"): ["a", "b"],
        ("title[like]", "%b%"): ["b"],
        ("title", "a"): ["a"],
    }
    for _ in range(2):
        for pair, titles in expected.items():
            assert list_titles(engine, filter_query(pair, order="title")) == titles, pair


def test_groups_of_one_shape_bind_their_own_values(raw_db, schema, make_engine):
    insert_items(
        raw_db, schema, [{"title": f"t{i}", "score": i, "grp": f"g{i % 3}"} for i in range(9)]
    )
    engine = make_engine()
    for grp, score in (("g0", "6"), ("g1", "0"), ("g2", "8")):
        query = filter_query(
            ("filter[$or][0][grp]", grp), ("filter[$or][1][score]", score), order="title"
        )
        titles = list_titles(engine, query)
        assert titles == sorted(
            {f"t{i}" for i in range(9) if f"g{i % 3}" == grp or i == int(score)}
        )


def test_a_shared_query_keeps_each_callers_rule_values(raw_db, schema, users, make_engine):
    alice, bob = users["alice"], users["bob"]
    rows = [{"title": f"a{i}", "owner_id": alice.user_id, "score": i} for i in range(3)]
    rows += [{"title": f"b{i}", "owner_id": bob.user_id, "score": i} for i in range(3)]
    insert_items(raw_db, schema, rows)
    engine = make_engine(acl_authenticated=ALL, read_access_rule=OWNER)
    for principal, prefix in ((alice, "a"), (bob, "b"), (alice, "a")):
        query = filter_query(("score[gte]", "1"), order="title", count=True)
        page = engine.list(principal, query)
        assert [r["title"] for r in page.records] == [f"{prefix}1", f"{prefix}2"]
        assert page.total_count == 2


def test_cursors_of_one_sort_continue_from_their_own_position(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": f"t{i:02}", "score": i % 4} for i in range(12)])
    engine = make_engine()
    first = engine.list(SYSTEM, ListQuery(order="score,title", limit=3))
    second = engine.list(SYSTEM, ListQuery(order="score,title", limit=3, cursor=first.cursor))
    third = engine.list(SYSTEM, ListQuery(order="score,title", limit=3, cursor=second.cursor))
    again = engine.list(SYSTEM, ListQuery(order="score,title", limit=3, cursor=first.cursor))
    assert [r["title"] for r in first.records] == ["t00", "t04", "t08"]
    assert [r["title"] for r in second.records] == ["t01", "t05", "t09"]
    assert [r["title"] for r in third.records] == ["t02", "t06", "t10"]
    assert again.records == second.records


def test_a_bad_value_in_a_known_shape_is_still_refused(raw_db, schema, make_engine):
    insert_items(raw_db, schema, [{"title": "a", "score": 1}])
    engine = make_engine()
    assert list_titles(engine, filter_query(("score[gt]", "0"))) == ["a"]
    with pytest.raises(BadRequestError, match="score"):
        engine.list(SYSTEM, filter_query(("score[gt]", "zero")))
    with pytest.raises(BadRequestError, match="unknown column"):
        engine.list(SYSTEM, filter_query(("_secret[gt]", "0")))


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (5, -1)])
def test_a_list_query_built_in_python_refuses_negative_paging(limit, offset):
    with pytest.raises(BadRequestError):
        ListQuery(limit=limit, offset=offset)
