"""Every write path of a running instance announces exactly one change per row written,
after the commit, and nothing for a write that failed (both dialects).

Paths: the TrailBase family (single, bulk, update, delete), the collections family, the
transaction endpoint, and ``CollectionService`` over a session of the instance.
"""

from __future__ import annotations

import threading

import pytest

from tests.api.helpers import CORE, V1, make_collection
from tinybase.collections.service import CollectionService
from tinybase.records.changes import RecordChange

ACCESS = {op: "owner" for op in ("list", "read", "update", "delete")} | {"create": "auth"}


@pytest.fixture
def changes(client):
    """The instance's committed changes, as they arrive (with the arriving thread's name)."""
    state = client.app.state.tinybase
    seen: list[tuple[RecordChange, str]] = []

    def subscriber(change: RecordChange) -> None:
        assert not state.db.in_transaction
        seen.append((change, threading.current_thread().name))

    unsubscribe = state.changes.subscribe(subscriber)
    yield seen
    unsubscribe()


@pytest.fixture
def notes(client, admin):
    fields = [{"name": "title", "type": "string", "unique": True}, {"name": "n", "type": "integer"}]
    make_collection(client, admin, "notes", fields, ACCESS)


def _summary(seen):
    return [(change.operation, change.record_id) for change, _thread in seen]


def test_the_trailbase_family_announces_each_row(client, notes, make_user, changes):
    user = make_user()
    (one,) = client.post(f"{V1}/notes", json={"title": "a"}, headers=user.headers).json()["ids"]
    bulk = client.post(
        f"{V1}/notes", json=[{"title": "b"}, {"title": "c"}], headers=user.headers
    ).json()["ids"]
    assert client.patch(f"{V1}/notes/{one}", json={"n": 5}, headers=user.headers).status_code == 200
    assert client.delete(f"{V1}/notes/{bulk[0]}", headers=user.headers).status_code == 200
    assert _summary(changes) == [
        ("create", one),
        ("create", bulk[0]),
        ("create", bulk[1]),
        ("update", one),
        ("delete", bulk[0]),
    ]
    update = changes[3][0]
    assert (update.before["n"], update.after["n"]) == (None, 5)
    assert update.principal.user_id == user.id
    assert changes[0][0].after["owner_id"] == user.id


def test_the_collections_family_announces_each_row(client, notes, make_user, changes):
    user = make_user()
    created = client.post(
        f"{CORE}/notes/records", json={"data": {"title": "a"}}, headers=user.headers
    )
    record_id = created.json()["id"]
    client.patch(f"{CORE}/notes/records/{record_id}", json={"data": {"n": 1}}, headers=user.headers)
    client.patch(f"{CORE}/notes/records/{record_id}", json={"data": {}}, headers=user.headers)
    client.delete(f"{CORE}/notes/records/{record_id}", headers=user.headers)
    assert _summary(changes) == [
        ("create", record_id),
        ("update", record_id),
        ("delete", record_id),
    ]


def test_failed_writes_announce_nothing(client, notes, make_user, changes):
    user, other = make_user(), make_user()
    (mine,) = client.post(f"{V1}/notes", json={"title": "a"}, headers=user.headers).json()["ids"]
    changes.clear()
    attempts = [
        ("POST", f"{V1}/notes", {"title": "a"}, 409),
        ("POST", f"{V1}/notes", [{"title": "new"}, {"title": "a"}], 409),
        ("POST", f"{V1}/notes", {"n": "not a number"}, 422),
        ("PATCH", f"{V1}/notes/{mine}", {"n": 1}, 404),  # as another user: hidden
        ("DELETE", f"{V1}/notes/{mine}", None, 404),
    ]
    for method, url, body, status in attempts:
        headers = other.headers if method != "POST" else user.headers
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == status, (method, url, response.text)
    assert changes == []


def test_a_transaction_announces_its_operations_or_nothing(client, notes, make_user, changes):
    user = make_user()
    (first,) = client.post(f"{V1}/notes", json={"title": "a"}, headers=user.headers).json()["ids"]
    changes.clear()
    operations = [
        {"Create": {"api_name": "notes", "value": {"title": "b"}}},
        {"Update": {"api_name": "notes", "record_id": first, "value": {"n": 2}}},
        {"Delete": {"api_name": "notes", "record_id": first}},
    ]
    response = client.post(
        "/api/transaction/v1/execute", json={"operations": operations}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    (created,) = response.json()["ids"]
    assert _summary(changes) == [("create", created), ("update", first), ("delete", first)]
    changes.clear()
    failing = [
        {"Create": {"api_name": "notes", "value": {"title": "c"}}},
        {"Create": {"api_name": "notes", "value": {"title": "b"}}},  # taken: all rolled back
    ]
    response = client.post(
        "/api/transaction/v1/execute", json={"operations": failing}, headers=user.headers
    )
    assert response.status_code == 409
    assert changes == []


def test_collection_service_writes_go_through_the_writer_and_announce(client, notes, changes):
    state = client.app.state.tinybase
    with state.session() as session:
        service = CollectionService(session)
        collection = service.get_collection_by_name("notes")
        record = service.create_record(collection, {"title": "from python"})
        service.update_record(collection, record, {"n": 7})
        service.delete_record(record)
    record_id = str(record.id)
    assert _summary(changes) == [
        ("create", record_id),
        ("update", record_id),
        ("delete", record_id),
    ]
    # Written (and announced) in the instance's writer threads, as HTTP writes are.
    assert all(thread.startswith("tinybase-db-write-") for _change, thread in changes)
