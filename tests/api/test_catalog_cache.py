"""The collections catalog is cached in process: a schema or access change takes effect at
once in the process that made it, and within the poll interval (~2 s) in another process on
the same database (a second app instance here)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.helpers import TestUser, add_record, make_collection

FIELDS = [{"name": "title", "type": "string"}]
OWNER = {op: "owner" for op in ("list", "read", "create", "update", "delete")}
# The catalog's poll interval is 2 s; allow for a slow machine, but not for "never".
WITHIN = 4.0


def _patch(client: TestClient, admin: TestUser, body: dict, name: str = "notes") -> None:
    response = client.patch(f"/api/collections/{name}", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text


def _wait_until(condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < WITHIN, "not within the poll interval"
        time.sleep(0.1)
    return time.monotonic() - started


def test_access_change_applies_at_once_in_this_process(
    client: TestClient, admin: TestUser, make_user
) -> None:
    owner, other = make_user(), make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    record = add_record(client, owner, "notes", {"title": "secret"})
    url = f"/api/collections/notes/records/{record['id']}"
    assert client.get(url, headers=other.headers).status_code == 404  # cached: owner only

    _patch(client, admin, {"options": {"access": {"read": "auth"}}})
    response = client.get(url, headers=other.headers)
    assert response.status_code == 200 and response.json()["data"] == {"title": "secret"}

    _patch(client, admin, {"options": {"access": {"read": "owner"}}})
    assert client.get(url, headers=other.headers).status_code == 404


def test_schema_change_applies_at_once_in_this_process(
    client: TestClient, admin: TestUser, make_user
) -> None:
    user = make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    add_record(client, user, "notes", {"title": "a"})
    refused = client.post(
        "/api/collections/notes/records", json={"data": {"n": 1}}, headers=user.headers
    )
    assert refused.status_code == 422

    _patch(client, admin, {"schema": {"fields": [*FIELDS, {"name": "n", "type": "integer"}]}})
    assert add_record(client, user, "notes", {"title": "b", "n": 1})["data"] == {
        "title": "b",
        "n": 1,
    }


def test_access_change_reaches_another_process_within_the_poll_interval(
    client: TestClient, other_process: TestClient, admin: TestUser, make_user
) -> None:
    owner, other = make_user(), make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    record = add_record(client, owner, "notes", {"title": "secret"})
    url = f"/api/collections/notes/records/{record['id']}"
    # The second instance has the owner-only definition cached.
    assert other_process.get(url, headers=owner.headers).status_code == 200
    assert other_process.get(url, headers=other.headers).status_code == 404

    _patch(client, admin, {"options": {"access": {"read": "auth"}}})
    _wait_until(lambda: other_process.get(url, headers=other.headers).status_code == 200)

    # Taking access away is seen as promptly (and is what matters for security).
    _patch(client, admin, {"options": {"access": {"read": "owner"}}})
    _wait_until(lambda: other_process.get(url, headers=other.headers).status_code == 404)


def test_new_and_deleted_collections_reach_another_process(
    client: TestClient, other_process: TestClient, admin: TestUser, make_user
) -> None:
    user = make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    assert other_process.get("/api/collections/notes/records", headers=user.headers).json() == {
        "records": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
        "cursor": None,
    }
    later = other_process.get("/api/collections/later/records", headers=user.headers)
    assert later.status_code == 404
    make_collection(client, admin, "later", FIELDS, OWNER)
    _wait_until(
        lambda: (
            other_process.get("/api/collections/later/records", headers=user.headers).status_code
            == 200
        )
    )

    assert client.delete("/api/collections/notes", headers=admin.headers).status_code == 204
    _wait_until(
        lambda: (
            other_process.get("/api/collections/notes/records", headers=user.headers).status_code
            == 404
        )
    )


def test_list_total_follows_writes_of_another_process(
    client: TestClient, other_process: TestClient, admin: TestUser, make_user
) -> None:
    """The core list's ``total`` is exact: a remembered count is dropped on any commit."""
    user = make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    add_record(client, user, "notes", {"title": "a"})
    listing = "/api/collections/notes/records?limit=1"
    assert client.get(listing, headers=user.headers).json()["total"] == 1
    assert client.get(listing, headers=user.headers).json()["total"] == 1  # remembered

    # Committed by another process's connection ...
    add_record(other_process, user, "notes", {"title": "b"})
    assert client.get(listing, headers=user.headers).json()["total"] == 2
    add_record(client, user, "notes", {"title": "c"})  # ... and by this process's writer
    assert client.get(listing, headers=user.headers).json()["total"] == 3
    assert client.get(listing + "&title=c", headers=user.headers).json()["total"] == 1


def test_records_v1_on_a_collection_dropped_by_another_process_is_404(
    client: TestClient, other_process: TestClient, admin: TestUser, make_user
) -> None:
    owner = make_user()
    make_collection(client, admin, "notes", FIELDS, OWNER)
    record = add_record(client, owner, "notes", {"title": "gone soon"})
    url = f"/api/records/v1/notes/{record['id']}"
    assert other_process.get(url, headers=owner.headers).json()["title"] == "gone soon"

    response = client.delete("/api/collections/notes", headers=admin.headers)
    assert response.status_code == 204, response.text

    # The other process's registry has not polled yet: its statement fails on the dropped
    # table, it checks the version at once and answers as if it had known.
    read = other_process.get(url, headers=owner.headers)
    assert (read.status_code, read.json()) == (404, {"detail": "record API 'notes' not found"})
    write = other_process.post("/api/records/v1/notes", json={"title": "x"}, headers=owner.headers)
    assert write.status_code == 404, write.text
