"""Plain record routes and shape-compiled writes, from the attacker's side, over HTTP.

The record routes are ``PlainRoute``s added to the app itself (no dependency solving), and
writes run statements compiled once per set of columns. These tests check that every record
route of both families and of the undocumented ``/api/v1/records`` aliases still
authenticates, hides other users' rows, answers through the one error handler and CORS, and
that a write shape warmed by an allowed request refuses the same shape with a forbidden value
(owner takeover), single, bulk or in a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import CORE, FAST_TEST_CONFIG, V1, bad_tokens, make_collection, table_rows
from tinybase.api.app import create_app
from tinybase.records.engine import MAX_BULK
from tinybase.settings import load_config

ALIAS = "/api/v1/records"
TRANSACTION = "/api/transaction/v1/execute"
OWNER_ALL = {"list": "owner", "read": "owner", "create": "owner", "update": "owner"}
OWNER_ALL |= {"delete": "owner"}


@pytest.fixture
def docs(client, admin, make_user):
    """``docs`` where everybody sees and changes only their own rows; one row each."""
    make_collection(client, admin, "docs", [{"name": "title", "type": "string"}], OWNER_ALL)
    alice, bob = make_user(), make_user()
    ids = {}
    for user in (alice, bob):
        response = client.post(f"{V1}/docs", json={"title": user.email}, headers=user.headers)
        assert response.status_code == 200, response.text
        (ids[user.id],) = response.json()["ids"]
    return {"alice": alice, "bob": bob, "own": ids[alice.id], "victim": ids[bob.id]}


def _routes(victim: str) -> list[tuple[str, str, object]]:
    routes = []
    for prefix in (V1, ALIAS):
        routes += [
            ("GET", f"{prefix}/docs", None),
            ("GET", f"{prefix}/docs/{victim}", None),
            ("GET", f"{prefix}/docs/schema", None),
            ("POST", f"{prefix}/docs", {"title": "x"}),
            ("POST", f"{prefix}/docs", [{"title": "x"}, {"title": "y"}]),
            ("PATCH", f"{prefix}/docs/{victim}", {"title": "pwned"}),
            ("DELETE", f"{prefix}/docs/{victim}", None),
        ]
    routes += [
        ("GET", f"{CORE}/docs/records", None),
        ("GET", f"{CORE}/docs/records/{victim}", None),
        ("POST", f"{CORE}/docs/records", {"data": {"title": "x"}}),
        ("PATCH", f"{CORE}/docs/records/{victim}", {"data": {"title": "pwned"}}),
        ("DELETE", f"{CORE}/docs/records/{victim}", None),
        (
            "POST",
            TRANSACTION,
            {"operations": [{"Delete": {"api_name": "docs", "record_id": victim}}]},
        ),
    ]
    return routes


def test_every_record_route_refuses_missing_andbad_tokens(client, docs):
    before = table_rows(client, "docs")
    bad = bad_tokens(client, docs["bob"])
    for method, path, body in _routes(docs["victim"]):
        response = client.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert set(response.json()) == {"detail"}
        for name, token in bad.items():
            headers = {"Authorization": f"Bearer {token}"}
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, name, response.text)
            assert docs["bob"].email not in response.text
    assert table_rows(client, "docs") == before


def test_another_users_record_is_404_on_every_family_and_alias(client, docs):
    alice, victim = docs["alice"], docs["victim"]
    before = table_rows(client, "docs")
    for method, path, body in _routes(victim):
        if path.endswith(f"/{victim}"):
            response = client.request(method, path, json=body, headers=alice.headers)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"detail": "Not found"} or set(response.json()) == {"detail"}
            assert docs["bob"].email not in response.text
    for prefix in (V1, ALIAS):
        listed = client.get(f"{prefix}/docs?count=true", headers=alice.headers).json()
        assert [r["title"] for r in listed["records"]] == [alice.email]
        assert listed["total_count"] == 1
    core = client.get(f"{CORE}/docs/records", headers=alice.headers)
    assert docs["bob"].email not in core.text
    assert table_rows(client, "docs") == before


def test_aliases_answer_exactly_as_the_documented_prefix(client, docs):
    alice = docs["alice"]
    requests = [
        ("GET", "/docs?order=-title&count=true", None),
        ("GET", "/docs?filter[title][$like]=user%25", None),
        ("GET", f"/docs/{docs['own']}", None),
        ("GET", f"/docs/{docs['victim']}", None),
        ("GET", "/docs/schema", None),
        ("GET", "/nope", None),
        ("GET", "/docs?filter[_secret]=x", None),
        ("GET", "/docs?order=owner_id;drop", None),
        ("POST", "/docs", {"title": 5}),
        ("POST", "/docs", {"nope": 1}),
        ("PATCH", f"/docs/{docs['victim']}", {"title": "x"}),
    ]
    for method, path, body in requests:
        primary = client.request(method, V1 + path, json=body, headers=alice.headers)
        alias = client.request(method, ALIAS + path, json=body, headers=alice.headers)
        assert (alias.status_code, alias.json()) == (primary.status_code, primary.json()), path
        assert alias.headers.get("x-request-id")


def test_malformed_bodies_go_through_the_one_error_handler(client, docs):
    alice = docs["alice"]
    headers = alice.headers | {"Content-Type": "application/json"}
    for path in (f"{V1}/docs", f"{ALIAS}/docs", f"{V1}/docs/{docs['own']}"):
        method = "PATCH" if docs["own"] in path else "POST"
        response = client.request(method, path, content=b"{not json", headers=headers)
        assert response.status_code == 400, response.text
        assert response.json() == {"detail": "the body is not valid JSON"}
    core = client.post(f"{CORE}/docs/records", content=b"{not json", headers=headers)
    assert core.status_code == 422, core.text
    assert set(core.json()) == {"detail"}
    assert core.headers["content-type"].startswith("application/json")


def test_bulk_creates_past_the_limit_are_413_and_write_nothing(client, docs):
    alice = docs["alice"]
    before = table_rows(client, "docs")
    body = [{"title": f"t{i}"} for i in range(MAX_BULK + 1)]
    for prefix in (V1, ALIAS):
        response = client.post(f"{prefix}/docs", json=body, headers=alice.headers)
        assert response.status_code == 413, response.text
        assert set(response.json()) == {"detail"}
    operations = [{"Create": {"api_name": "docs", "value": {"title": "x"}}}] * 129
    response = client.post(TRANSACTION, json={"operations": operations}, headers=alice.headers)
    assert response.status_code == 413, response.text
    assert table_rows(client, "docs") == before


@pytest.fixture
def cors_client(db_url: str) -> Iterator[TestClient]:
    config = load_config(
        db_url=db_url, cors_allow_origins=["https://app.example"], **FAST_TEST_CONFIG
    )
    with TestClient(create_app(config)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", [f"{V1}/docs", f"{ALIAS}/docs", f"{CORE}/docs/records"])
def test_cors_applies_to_record_routes_including_errors(cors_client, path):
    preflight = cors_client.options(
        path,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    denied = cors_client.get(path, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers
    error = cors_client.get(path, headers={"Origin": "https://app.example"})
    assert error.status_code == 404, error.text
    assert set(error.json()) == {"detail"}
    assert error.headers["access-control-allow-origin"] == "https://app.example"


# -- owner_id on shape-compiled updates ------------------------------------------------------


@pytest.mark.parametrize("update", ["auth", "owner"])
def test_a_warm_update_shape_still_refuses_an_owner_takeover(client, admin, make_user, update):
    access = {"list": "auth", "read": "auth", "create": "auth", "update": update}
    make_collection(client, admin, "docs", [{"name": "title", "type": "string"}], access)
    alice, bob = make_user(), make_user()
    (own,) = client.post(f"{V1}/docs", json={"title": "a"}, headers=alice.headers).json()["ids"]
    (victim,) = client.post(f"{V1}/docs", json={"title": "b"}, headers=bob.headers).json()["ids"]
    # Warm the compiled UPDATE of columns (owner_id, title) with an allowed echo ...
    echo = client.patch(
        f"{V1}/docs/{own}", json={"owner_id": alice.id, "title": "a2"}, headers=alice.headers
    )
    assert echo.status_code == 200, echo.text
    before = table_rows(client, "docs")
    # ... then the same shape, giving one's own row away or taking bob's.
    attacks = [
        (alice, "PATCH", f"{V1}/docs/{own}", {"owner_id": bob.id, "title": "a3"}, 403),
        (alice, "PATCH", f"{ALIAS}/docs/{own}", {"owner_id": None, "title": "a3"}, 403),
        (alice, "PATCH", f"{V1}/docs/{victim}", {"owner_id": alice.id, "title": "b3"}, 403),
        (alice, "PATCH", f"{ALIAS}/docs/{victim}", {"owner_id": alice.id}, 403),
        # owner_id is no field of a collection's data: an unknown field.
        (alice, "PATCH", f"{CORE}/docs/records/{own}", {"data": {"owner_id": bob.id}}, 422),
        (alice, "PATCH", f"{CORE}/docs/records/{victim}", {"data": {"owner_id": alice.id}}, 422),
    ]
    for user, method, url, body, status in attacks:
        response = client.request(method, url, json=body, headers=user.headers)
        assert response.status_code == status, (url, body, response.text)
        assert table_rows(client, "docs") == before, (url, body)
    assert {r["id"]: r["owner_id"] for r in before} == {own: alice.id, victim: bob.id}


def test_a_transaction_cannot_hand_a_row_over_and_rolls_back_entirely(client, admin, make_user):
    access = {"list": "auth", "read": "auth", "create": "auth", "update": "auth"}
    make_collection(client, admin, "docs", [{"name": "title", "type": "string"}], access)
    alice, bob = make_user(), make_user()
    (own,) = client.post(f"{V1}/docs", json={"title": "a"}, headers=alice.headers).json()["ids"]
    (victim,) = client.post(f"{V1}/docs", json={"title": "b"}, headers=bob.headers).json()["ids"]
    before = table_rows(client, "docs")
    bodies = [
        [
            {"Update": {"api_name": "docs", "record_id": own, "value": {"title": "ok"}}},
            {"Update": {"api_name": "docs", "record_id": own, "value": {"owner_id": bob.id}}},
        ],
        [
            {"Create": {"api_name": "docs", "value": {"title": "new"}}},
            {"Update": {"api_name": "docs", "record_id": victim, "value": {"owner_id": alice.id}}},
        ],
        [
            {"Create": {"api_name": "docs", "value": {"title": "n1"}}},
            {"Create": {"api_name": "docs", "value": {"title": "n2", "owner_id": bob.id}}},
        ],
    ]
    for operations in bodies:
        response = client.post(TRANSACTION, json={"operations": operations}, headers=alice.headers)
        assert response.status_code == 403, response.text
        assert table_rows(client, "docs") == before
    bulk = client.post(
        f"{V1}/docs",
        json=[{"title": "x"}, {"title": "y", "owner_id": bob.id}],
        headers=alice.headers,
    )
    assert bulk.status_code == 403, bulk.text
    assert table_rows(client, "docs") == before
    # The same operations without the foreign owner go through.
    fine = client.post(
        TRANSACTION,
        json={
            "operations": [
                {"Update": {"api_name": "docs", "record_id": own, "value": {"title": "ok"}}}
            ]
        },
        headers=alice.headers,
    )
    assert fine.status_code == 200, fine.text
    assert [(r["title"], r["owner_id"]) for r in table_rows(client, "docs") if r["id"] == own] == [
        ("ok", alice.id)
    ]


def test_a_unique_conflict_is_409_on_both_families_and_writes_nothing(client, admin, make_user):
    fields = [{"name": "slug", "type": "string", "unique": True}]
    access = {"list": "auth", "read": "auth", "create": "auth", "update": "auth"}
    make_collection(client, admin, "slugs", fields, access)
    alice = make_user()
    first = client.post(f"{V1}/slugs", json={"slug": "a"}, headers=alice.headers)
    (other,) = client.post(f"{V1}/slugs", json={"slug": "b"}, headers=alice.headers).json()["ids"]
    assert first.status_code == 200, first.text
    before = table_rows(client, "slugs")
    attempts = [
        ("POST", f"{V1}/slugs", {"slug": "a"}),
        ("POST", f"{ALIAS}/slugs", [{"slug": "c"}, {"slug": "a"}]),
        ("POST", f"{CORE}/slugs/records", {"data": {"slug": "a"}}),
        ("PATCH", f"{V1}/slugs/{other}", {"slug": "a"}),
        ("PATCH", f"{CORE}/slugs/records/{other}", {"data": {"slug": "a"}}),
    ]
    for method, url, body in attempts:
        response = client.request(method, url, json=body, headers=alice.headers)
        assert response.status_code == 409, (url, response.text)
        assert set(response.json()) == {"detail"}
        assert table_rows(client, "slugs") == before
    # The next writes on the same (compiled) statements still work.
    ok = client.patch(f"{V1}/slugs/{other}", json={"slug": "d"}, headers=alice.headers)
    assert ok.status_code == 200, ok.text
    assert sorted(r["slug"] for r in table_rows(client, "slugs")) == ["a", "d"]


def test_limit_and_offset_are_bound_and_range_checked(client, docs):
    alice = docs["alice"]
    for prefix in (V1, ALIAS):
        for query in ("limit=-1", "limit=0", "offset=-1", "limit=1e3", "limit=1;--"):
            response = client.get(f"{prefix}/docs?{query}", headers=alice.headers)
            assert response.status_code == 400, (query, response.text)
            assert set(response.json()) == {"detail"}
        page = client.get(f"{prefix}/docs?limit=1&offset=1", headers=alice.headers)
        assert page.status_code == 200, page.text
        assert page.json()["records"] == []
    for query in ("limit=-1", "limit=0", "offset=-1"):
        response = client.get(f"{CORE}/docs/records?{query}", headers=alice.headers)
        assert response.status_code == 422, (query, response.text)


def test_openapi_documents_the_record_routes_but_not_the_aliases(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert f"{V1}/{{api}}/{{record_id}}" in paths
    assert f"{CORE}/{{name}}/records/{{record_id}}" in paths
    assert not [path for path in paths if path.startswith(ALIAS)]
    read = paths[f"{V1}/{{api}}/{{record_id}}"]["get"]
    assert read["security"] == [{"HTTPBearer": []}, {}]  # a token is optional
