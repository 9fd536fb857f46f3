"""Both HTTP families validate a collection's fields identically (create, update, bulk, tx).

A value the collections API refuses must be refused by ``/api/records/v1/{collection}`` too
(422 naming the field, nothing stored); a value it accepts is stored the same way.
"""

from __future__ import annotations

import pytest

from tests.api.helpers import CORE, V1, make_collection, table_rows

FIELDS = [
    {"name": "s", "type": "string", "max_length": 5, "pattern": "^[a-z]+$"},
    {"name": "tx", "type": "text", "min_length": 2},
    {"name": "mail", "type": "email"},
    {"name": "site", "type": "url"},
    {"name": "n", "type": "integer", "min": 0, "max": 10},
    {"name": "x", "type": "number", "max": 1.5},
    {"name": "flag", "type": "boolean"},
    {"name": "when", "type": "datetime"},
    {"name": "day", "type": "date"},
    {"name": "meta", "type": "json"},
    {"name": "kind", "type": "select", "values": ["a", "b"]},
    {"name": "ref", "type": "relation", "collection": "docs"},
    {"name": "ls", "type": "list[string]", "pattern": "^[a-z]+$"},
    {"name": "li", "type": "list[integer]", "max_length": 2},
    {"name": "ln", "type": "list[number]"},
    {"name": "lb", "type": "list[boolean]"},
]
ACCESS = {"list": "auth", "read": "auth", "create": "auth", "update": "auth"}

BAD = [
    ("s", "UPPER"),
    ("s", "toolong"),
    ("tx", "a"),
    ("mail", "not-an-email"),
    ("site", "javascript:alert(1)"),
    ("site", "ftp://example.com/x"),
    ("n", 11),
    ("n", "3"),
    ("x", 2.0),
    ("flag", "yes"),
    ("when", "yesterday"),
    ("day", "2020-02-30"),
    ("kind", "zzz"),
    ("ref", "not-an-id"),
    ("ls", ["ok", "NO"]),
    ("li", "notalist"),
    ("li", [1, 2, 3]),
    ("li", ["x"]),
    ("ln", [1, "2"]),
    ("lb", [True, None]),
]

GOOD = {
    "s": "abc",
    "tx": "hello",
    "mail": "a@example.com",
    "site": "https://example.com/x",
    "n": 3,
    "x": 1.25,
    "flag": True,
    "when": "2024-05-01T12:00:00+02:00",
    "day": "2024-05-01",
    "meta": {"a": [1, 2]},
    "kind": "a",
    "ls": ["a", "b"],
    "li": [1, 2],
    "ln": [1.5],
    "lb": [False],
}


@pytest.fixture
def world(client, admin, make_user):
    make_collection(client, admin, "docs", FIELDS, ACCESS)
    alice = make_user()
    (own,) = client.post(f"{V1}/docs", json={"s": "abc"}, headers=alice.headers).json()["ids"]
    return {"alice": alice, "own": own}


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}-{v!r}" for f, v in BAD])
def test_both_families_refuse_the_same_bad_values(client, world, field, value):
    alice, own = world["alice"], world["own"]
    before = table_rows(client, "docs")
    attempts = [
        ("POST", f"{CORE}/docs/records", {"data": {field: value}}),
        ("PATCH", f"{CORE}/docs/records/{own}", {"data": {field: value}}),
        ("POST", f"{V1}/docs", {field: value}),
        ("POST", f"{V1}/docs", [{"s": "ok"}, {field: value}]),
        ("PATCH", f"{V1}/docs/{own}", {field: value}),
        (
            "POST",
            "/api/transaction/v1/execute",
            {"operations": [{"Create": {"api_name": "docs", "value": {field: value}}}]},
        ),
        (
            "POST",
            "/api/transaction/v1/execute",
            {
                "operations": [
                    {"Update": {"api_name": "docs", "record_id": own, "value": {field: value}}}
                ]
            },
        ),
    ]
    for method, url, body in attempts:
        response = client.request(method, url, json=body, headers=alice.headers)
        assert response.status_code == 422, (method, url, response.text)
        assert field in str(response.json()["detail"]), (url, response.text)
    assert table_rows(client, "docs") == before


def test_both_families_store_good_values_alike(client, world):
    alice = world["alice"]
    core = client.post(f"{CORE}/docs/records", json={"data": GOOD}, headers=alice.headers)
    assert core.status_code == 201, core.text
    (v1_id,) = client.post(f"{V1}/docs", json=GOOD, headers=alice.headers).json()["ids"]
    via_core = client.get(f"{CORE}/docs/records/{core.json()['id']}", headers=alice.headers)
    via_v1 = client.get(f"{CORE}/docs/records/{v1_id}", headers=alice.headers)
    assert via_core.json()["data"] == via_v1.json()["data"]
    assert via_v1.json()["data"]["when"].startswith("2024-05-01T10:00:00")
    linked = client.post(f"{V1}/docs", json={"ref": v1_id}, headers=alice.headers)
    assert linked.status_code == 200, linked.text
