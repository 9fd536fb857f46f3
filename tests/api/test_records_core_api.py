"""/api/collections/{name}/records over HTTP: CRUD, lists, validation, and access rules from
the attacker's side (actor x rule x verb, with the table checked afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    FAST_TEST_CONFIG,
    TestUser,
    add_record,
    make_collection,
    rows_by_id,
)
from tinybase.api.app import create_app
from tinybase.settings import load_config

FIELDS = [
    {"name": "title", "type": "string", "required": True, "max_length": 50},
    {"name": "price", "type": "number", "min": 0},
    {"name": "status", "type": "select", "values": ["open", "closed"], "default": "open"},
    {"name": "tags", "type": "list[string]"},
]
OWNER = {op: "owner" for op in ("list", "read", "create", "update", "delete")}


# -- CRUD -----------------------------------------------------------------------------------


def test_crud_round_trip(client: TestClient, admin: TestUser) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    created = add_record(client, admin, "items", {"title": "pen", "price": 1.5, "tags": ["a"]})
    assert set(created) == {"id", "collection_id", "owner_id", "data", "created_at", "updated_at"}
    assert created["owner_id"] == admin.id
    assert created["data"] == {"title": "pen", "price": 1.5, "status": "open", "tags": ["a"]}
    url = f"/api/collections/items/records/{created['id']}"
    assert client.get(url, headers=admin.headers).json() == created

    patched = client.patch(url, json={"data": {"price": 2}}, headers=admin.headers)
    assert patched.status_code == 200
    assert patched.json()["data"] == {"title": "pen", "price": 2.0, "status": "open", "tags": ["a"]}
    assert patched.json()["updated_at"] >= created["updated_at"]
    assert rows_by_id(client, "items")[created["id"]]["price"] == 2.0

    assert client.delete(url, headers=admin.headers).status_code == 204
    assert client.get(url, headers=admin.headers).status_code == 404
    assert rows_by_id(client, "items") == {}


def test_missing_collection_is_404(client: TestClient, admin: TestUser) -> None:
    response = client.post(
        "/api/collections/nope/records", json={"data": {}}, headers=admin.headers
    )
    assert response.status_code == 404
    assert client.get("/api/collections/nope/records", headers=admin.headers).status_code == 404


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"price": 1}, "title"),
        ({"title": "x", "price": -1}, "price"),
        ({"title": "x", "price": "cheap"}, "price"),
        ({"title": "x", "status": "lost"}, "status"),
        ({"title": "x", "tags": [1]}, "tags"),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": "x", "owner_id": "0190a8f2-0000-7000-8000-000000000001"}, "owner_id"),
        ({"title": "x", "id": "0190a8f2-0000-7000-8000-000000000001"}, "id"),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, admin: TestUser, data: dict, field: str
) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    response = client.post(
        "/api/collections/items/records", json={"data": data}, headers=admin.headers
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "data", field]]
    assert rows_by_id(client, "items") == {}


def test_patch_validates_against_the_schema(client: TestClient, admin: TestUser) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    created = add_record(client, admin, "items", {"title": "pen"})
    url = f"/api/collections/items/records/{created['id']}"
    response = client.patch(url, json={"data": {"title": None, "bogus": 1}}, headers=admin.headers)
    assert response.status_code == 422
    assert {e["loc"][-1] for e in response.json()["detail"]} == {"title", "bogus"}
    assert rows_by_id(client, "items")[created["id"]]["title"] == "pen"


# -- lists ---------------------------------------------------------------------------------


def test_list_paging_sorting_and_filters(client: TestClient, admin: TestUser) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    ids = [
        add_record(
            client,
            admin,
            "items",
            {"title": f"t{i}", "price": i, "status": "open" if i % 2 else "closed"},
        )["id"]
        for i in range(5)
    ]
    h = admin.headers
    page = client.get("/api/collections/items/records", headers=h).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 100, 0)
    assert [r["id"] for r in page["records"]] == ids[::-1]  # newest first

    page = client.get(
        "/api/collections/items/records?sort_by=price&sort_order=asc&limit=2&offset=1", headers=h
    ).json()
    assert [r["data"]["price"] for r in page["records"]] == [1.0, 2.0]
    assert page["total"] == 5

    page = client.get("/api/collections/items/records?status=open", headers=h).json()
    assert sorted(r["data"]["price"] for r in page["records"]) == [1.0, 3.0] and page["total"] == 2

    page = client.get("/api/collections/items/records?price[gte]=3", headers=h).json()
    assert page["total"] == 2
    page = client.get("/api/collections/items/records?filter[title][$like]=t1%25", headers=h).json()
    assert [r["data"]["title"] for r in page["records"]] == ["t1"]

    first = client.get("/api/collections/items/records?limit=2", headers=h).json()
    second = client.get(
        f"/api/collections/items/records?limit=2&cursor={first['cursor']}", headers=h
    ).json()
    assert [r["id"] for r in first["records"] + second["records"]] == ids[::-1][:4]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=1025", 422),
        ("limit=0", 422),
        ("offset=-1", 422),
        ("sort_order=up", 422),
        ("sort_by=nope", 400),
        ("nope=1", 400),
    ],
)
def test_bad_list_parameters(client: TestClient, admin: TestUser, query: str, status: int) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    assert (
        client.get(f"/api/collections/items/records?{query}", headers=admin.headers).status_code
        == status
    )


# -- access rules from the attacker's side -------------------------------------------------


def test_owner_rules_isolate_users(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(client, admin, "items", FIELDS, OWNER)
    alice, bob = make_user(), make_user()
    a1 = add_record(client, alice, "items", {"title": "alice 1", "price": 1})
    add_record(client, alice, "items", {"title": "alice 2"})
    b1 = add_record(client, bob, "items", {"title": "bob 1"})
    assert a1["owner_id"] == alice.id and b1["owner_id"] == bob.id
    url = f"/api/collections/items/records/{a1['id']}"
    before = rows_by_id(client, "items")

    listed = client.get("/api/collections/items/records", headers=bob.headers).json()
    assert [r["id"] for r in listed["records"]] == [b1["id"]] and listed["total"] == 1
    # A filter cannot widen the rule.
    widened = client.get(
        f"/api/collections/items/records?owner_id={alice.id}", headers=bob.headers
    ).json()
    assert widened["records"] == [] and widened["total"] == 0
    assert client.get(url, headers=bob.headers).status_code == 404
    assert client.patch(url, json={"data": {"price": 0}}, headers=bob.headers).status_code == 404
    assert client.delete(url, headers=bob.headers).status_code == 404
    assert rows_by_id(client, "items") == before

    assert client.get(url, headers=alice.headers).status_code == 200
    mine = client.get("/api/collections/items/records", headers=alice.headers).json()
    assert mine["total"] == 2
    assert client.get("/api/collections/items/records", headers=admin.headers).json()["total"] == 3


def test_anonymous_is_refused_under_owner_and_closed_rules(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(client, admin, "owned", FIELDS, OWNER)
    make_collection(client, admin, "closed", FIELDS, {})
    user = make_user()
    record = add_record(client, user, "owned", {"title": "x"})
    # Signing in would help under "owner" (401); under the closed default only an admin may (403).
    for name, status in (("owned", 401), ("closed", 403)):
        base = f"/api/collections/{name}/records"
        assert client.get(base).status_code == status
        assert client.post(base, json={"data": {"title": "y"}}).status_code == status
        assert client.get(f"{base}/{record['id']}").status_code == status
        assert client.delete(f"{base}/{record['id']}").status_code == status
    assert len(rows_by_id(client, "owned")) == 1 and rows_by_id(client, "closed") == {}


def test_closed_default_refuses_signed_in_users(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(client, admin, "items", FIELDS, {})
    record = add_record(client, admin, "items", {"title": "x"})
    user = make_user()
    base = "/api/collections/items/records"
    assert client.get(base, headers=user.headers).status_code == 403
    assert client.post(base, json={"data": {"title": "y"}}, headers=user.headers).status_code == 403
    assert client.get(f"{base}/{record['id']}", headers=user.headers).status_code == 403
    assert (
        client.patch(
            f"{base}/{record['id']}", json={"data": {"title": "z"}}, headers=user.headers
        ).status_code
        == 403
    )
    assert client.delete(f"{base}/{record['id']}", headers=user.headers).status_code == 403
    assert [r["title"] for r in rows_by_id(client, "items").values()] == ["x"]


def test_public_read_auth_create(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(
        client, admin, "items", FIELDS, {"list": "public", "read": "public", "create": "auth"}
    )
    user = make_user()
    created = add_record(client, user, "items", {"title": "hello"})
    assert client.get("/api/collections/items/records").json()["total"] == 1
    assert client.get(f"/api/collections/items/records/{created['id']}").status_code == 200
    assert (
        client.post("/api/collections/items/records", json={"data": {"title": "anon"}}).status_code
        == 401
    )
    assert (
        client.patch(
            f"/api/collections/items/records/{created['id']}",
            json={"data": {"title": "z"}},
            headers=user.headers,
        ).status_code
        == 403
    )


def test_sql_rule_filters_the_list(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(
        client,
        admin,
        "items",
        FIELDS,
        {"list": "_ROW_.status = 'open'", "read": "_ROW_.status = 'open'"},
    )
    add_record(client, admin, "items", {"title": "a", "status": "open"})
    hidden = add_record(client, admin, "items", {"title": "b", "status": "closed"})
    user = make_user()
    listed = client.get("/api/collections/items/records", headers=user.headers).json()
    assert [r["data"]["title"] for r in listed["records"]] == ["a"]
    assert client.get(f"/api/collections/items/records/{hidden['id']}").status_code == 404


@pytest.mark.parametrize("kind", ["forged", "refresh", "garbage", "expired"])
def test_bad_tokens_are_401(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser], kind: str
) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tinybase.auth.signing_key import load_signing_key
    from tinybase.utils import utcnow

    make_collection(client, admin, "items", FIELDS, {"list": "public"})
    user = make_user()
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    key = load_signing_key(client.app.state.tinybase.db)
    token = {
        "forged": jwt.encode(
            dict(claims, admin=True), Ed25519PrivateKey.generate(), algorithm="EdDSA"
        ),
        "refresh": user.refresh_token,
        "garbage": "a.b.c",
        "expired": jwt.encode(
            dict(claims, exp=int(utcnow().timestamp()) - 5), key, algorithm="EdDSA"
        ),
    }[kind]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/collections/items/records", headers=headers).status_code == 401
    assert (
        client.post(
            "/api/collections/items/records", json={"data": {"title": "x"}}, headers=headers
        ).status_code
        == 401
    )
    assert rows_by_id(client, "items") == {}


# -- concurrency ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_config(db_url=sqlite_url, **FAST_TEST_CONFIG))) as test_client:
        yield test_client


def test_fifty_concurrent_writers_on_sqlite(sqlite_client: TestClient) -> None:
    client = sqlite_client
    email = "writer-admin@example.com"
    client.app.state.tinybase.users.create_user(
        email=email, password="correct horse battery", is_admin=True
    )
    token = client.post(
        "/api/auth/login", json={"email": email, "password": "correct horse battery"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": "items", "schema": {"fields": FIELDS}, "options": {"access": {}}}
    assert client.post("/api/collections", json=body, headers=headers).status_code == 201

    def write(i: int) -> int:
        response = client.post(
            "/api/collections/items/records",
            json={"data": {"title": f"w{i}", "price": i}},
            headers=headers,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(write, range(50)))
    assert statuses == [201] * 50
    assert sorted(row["price"] for row in rows_by_id(client, "items").values()) == [
        float(i) for i in range(50)
    ]
    assert client.get("/api/collections/items/records", headers=headers).json()["total"] == 50


def test_collections_have_a_default_trailbase_api(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    make_collection(client, admin, "items", FIELDS, OWNER)
    alice, bob = make_user(), make_user()
    created = client.post(
        "/api/records/v1/items", json={"title": "via trailbase"}, headers=alice.headers
    )
    assert created.status_code == 200, created.text
    (record_id,) = created.json()["ids"]
    assert rows_by_id(client, "items")[record_id]["owner_id"] == alice.id
    planted = client.post(
        "/api/records/v1/items",
        json={"title": "planted", "owner_id": alice.id},
        headers=bob.headers,
    )
    assert planted.status_code == 403
    assert client.get("/api/records/v1/items", headers=bob.headers).json()["records"] == []
    assert client.get(f"/api/records/v1/items/{record_id}", headers=bob.headers).status_code == 404
    # A schema change reaches the TrailBase API at once (the registry is invalidated).
    fields = [*FIELDS, {"name": "extra", "type": "integer"}]
    client.patch(
        "/api/collections/items", json={"schema": {"fields": fields}}, headers=admin.headers
    )
    patched = client.patch(
        f"/api/records/v1/items/{record_id}", json={"extra": 3}, headers=alice.headers
    )
    assert patched.status_code == 200, patched.text
    assert (
        client.get(f"/api/collections/items/records/{record_id}", headers=alice.headers).json()[
            "data"
        ]["extra"]
        == 3
    )
