"""/api/collections over HTTP: admin-only changes, visibility, schema changes keep data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser

FIELDS = [{"name": "title", "type": "string", "required": True}, {"name": "n", "type": "integer"}]


def _create(client: TestClient, admin: TestUser, name: str = "posts", **extra: Any) -> dict:
    body = {"name": name, "label": name.title(), "schema": {"fields": FIELDS}, **extra}
    response = client.post("/api/collections", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_admin_creates_a_collection(client: TestClient, admin: TestUser) -> None:
    created = _create(client, admin)
    assert created["name"] == "posts" and created["label"] == "Posts"
    assert created["schema"] == {
        "fields": [
            {"name": "title", "type": "string", "required": True},
            {"name": "n", "type": "integer"},
        ]
    }
    listed = client.get("/api/collections", headers=admin.headers).json()
    assert [c["name"] for c in listed] == ["posts"]


def test_non_admins_cannot_change_collections(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    user = make_user()
    body = {"name": "posts", "schema": {"fields": FIELDS}}
    assert client.post("/api/collections", json=body).status_code == 401
    assert client.post("/api/collections", json=body, headers=user.headers).status_code == 403
    _create(client, admin)
    assert (
        client.patch(
            "/api/collections/posts", json={"label": "x"}, headers=user.headers
        ).status_code
        == 403
    )
    assert client.delete("/api/collections/posts", headers=user.headers).status_code == 403
    assert client.delete("/api/collections/posts").status_code == 401
    assert client.get("/api/collections/posts", headers=admin.headers).json()["label"] == "Posts"


def test_closed_collections_are_hidden(
    client: TestClient, admin: TestUser, make_user: Callable[..., TestUser]
) -> None:
    user = make_user()
    _create(client, admin, "closed")
    _create(client, admin, "mine", options={"access": {"list": "owner", "read": "owner"}})
    _create(client, admin, "open", options={"access": {"read": "public"}})
    assert [c["name"] for c in client.get("/api/collections").json()] == ["open"]
    assert [c["name"] for c in client.get("/api/collections", headers=user.headers).json()] == [
        "mine",
        "open",
    ]
    assert client.get("/api/collections/closed", headers=user.headers).status_code == 404
    assert client.get("/api/collections/mine").status_code == 404
    assert client.get("/api/collections/open").status_code == 200


@pytest.mark.parametrize(
    ("schema", "loc_end", "named"),
    [
        ({"fields": [{"name": "a", "type": "strin"}]}, "type", "'strin'"),
        ({"fields": [{"name": "a", "type": "string", "colour": "red"}]}, "colour", "'colour'"),
        ({"fields": [{"name": "id", "type": "string"}]}, "name", "'id'"),
    ],
)
def test_bad_schema_is_422_naming_it(
    client: TestClient, admin: TestUser, schema: dict, loc_end: str, named: str
) -> None:
    response = client.post(
        "/api/collections", json={"name": "posts", "schema": schema}, headers=admin.headers
    )
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"][-1] == loc_end and named in error["msg"]
    assert client.get("/api/collections", headers=admin.headers).json() == []


@pytest.mark.parametrize("name", ["Posts", "select", "_user", "1abc"])
def test_bad_collection_name_is_422(client: TestClient, admin: TestUser, name: str) -> None:
    response = client.post(
        "/api/collections", json={"name": name, "schema": {"fields": []}}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_schema_changes_keep_data(client: TestClient, admin: TestUser) -> None:
    _create(client, admin)
    h = admin.headers
    record = client.post(
        "/api/collections/posts/records", json={"data": {"title": "t", "n": 7}}, headers=h
    ).json()
    url = f"/api/collections/posts/records/{record['id']}"

    # add a field
    fields = [*FIELDS, {"name": "extra", "type": "string", "default": "d"}]
    assert (
        client.patch(
            "/api/collections/posts", json={"schema": {"fields": fields}}, headers=h
        ).status_code
        == 200
    )
    assert client.get(url, headers=h).json()["data"] == {"title": "t", "n": 7, "extra": "d"}

    # convert integer -> string (always possible)
    fields[1] = {"name": "n", "type": "string"}
    assert (
        client.patch(
            "/api/collections/posts", json={"schema": {"fields": fields}}, headers=h
        ).status_code
        == 200
    )
    assert client.get(url, headers=h).json()["data"]["n"] == "7"

    # a conversion that fails: 422 naming the field, data unchanged
    client.patch(url, json={"data": {"n": "seven"}}, headers=h)
    fields[1] = {"name": "n", "type": "integer"}
    response = client.patch(
        "/api/collections/posts", json={"schema": {"fields": fields}}, headers=h
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "n"
    assert client.get(url, headers=h).json()["data"]["n"] == "seven"

    # removal refused without drop_fields, done with it
    response = client.patch(
        "/api/collections/posts", json={"schema": {"fields": FIELDS[:1]}}, headers=h
    )
    assert response.status_code == 409 and "'n'" in response.json()["detail"]
    assert client.get(url, headers=h).json()["data"]["n"] == "seven"
    response = client.patch(
        "/api/collections/posts",
        json={"schema": {"fields": FIELDS[:1]}, "drop_fields": ["n", "extra"]},
        headers=h,
    )
    assert response.status_code == 200, response.text
    assert client.get(url, headers=h).json()["data"] == {"title": "t"}


def test_delete_collection_drops_records(client: TestClient, admin: TestUser) -> None:
    _create(client, admin)
    client.post(
        "/api/collections/posts/records", json={"data": {"title": "t"}}, headers=admin.headers
    )
    assert client.delete("/api/collections/posts", headers=admin.headers).status_code == 204
    assert client.get("/api/collections/posts", headers=admin.headers).status_code == 404
    assert client.get("/api/collections/posts/records", headers=admin.headers).status_code == 404
    _create(client, admin)  # the name is free again, the new table empty
    assert client.get("/api/collections/posts/records", headers=admin.headers).json()["total"] == 0
