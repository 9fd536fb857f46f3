"""Record hooks through a real app (SQLite and PostgreSQL): each write path fires each hook
exactly once, after the commit; a rolled-back write fires nothing; a raising or slow hook
harms nothing and delays nothing.

Hooks are registered with the real decorators into an emptied collection (so they reach only
the app built in the test), as an extension's module would at import time.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import CORE, PASSWORD, V1, login, make_collection
from tinybase.api.app import create_app
from tinybase.collections.service import CollectionService
from tinybase.extensions import (
    RecordCreateEvent,
    RecordDeleteEvent,
    RecordUpdateEvent,
    hooks,
    on_record_create,
    on_record_delete,
    on_record_update,
)
from tinybase.settings import Config

ACCESS = {op: "owner" for op in ("list", "read", "update", "delete")} | {"create": "auth"}
FIELDS = [{"name": "title", "type": "string", "unique": True}, {"name": "n", "type": "integer"}]


@pytest.fixture
def no_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty hook collection for this test (the decorators fill it, build_state reads it)."""
    monkeypatch.setattr(hooks, "_collected", [])


@pytest.fixture
def seen(no_hooks) -> list[tuple[str, object, str]]:
    """Every record event, with the thread it ran in, from hooks on every collection."""
    events: list[tuple[str, object, str]] = []

    @on_record_create
    def created(event: RecordCreateEvent) -> None:
        events.append(("create", event, threading.current_thread().name))

    @on_record_update()
    def updated(event: RecordUpdateEvent) -> None:
        events.append(("update", event, threading.current_thread().name))

    @on_record_delete(collection=None)
    async def deleted(event: RecordDeleteEvent) -> None:  # async ones too
        events.append(("delete", event, threading.current_thread().name))

    return events


def _app_client(config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(config)) as test_client:
        yield test_client


@pytest.fixture
def hooked(seen, app_config: Config) -> Iterator[TestClient]:
    """The app, built after the test's hooks were registered."""
    yield from _app_client(app_config)


@pytest.fixture
def owner(hooked: TestClient):
    state = hooked.app.state.tinybase
    state.users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    admin = login(hooked, "admin@example.com")
    make_collection(hooked, admin, "notes", FIELDS, ACCESS)
    make_collection(hooked, admin, "orders", [{"name": "total", "type": "number"}], ACCESS)
    state.users.create_user(email="user@example.com", password=PASSWORD)
    return admin, login(hooked, "user@example.com")


def wait_for(events: list, count: int, client: TestClient, timeout: float = 10.0) -> list:
    """The events once ``count`` arrived, and no more after the hook queue emptied."""
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    hooks_of = client.app.state.tinybase.hooks
    while hooks_of.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(events) == count, [(op, event) for op, event, _thread in events]
    return events


def ops(events: list) -> list[tuple[str, str, str]]:
    return [(op, event.collection, str(event.record_id)) for op, event, _thread in events]


def test_every_write_path_fires_each_hook_once_after_commit(hooked, owner, seen) -> None:
    admin, user = owner
    h = user.headers
    # TrailBase family: single, bulk, update, delete.
    (one,) = hooked.post(f"{V1}/notes", json={"title": "a"}, headers=h).json()["ids"]
    bulk = hooked.post(f"{V1}/notes", json=[{"title": "b"}, {"title": "c"}], headers=h).json()
    assert hooked.patch(f"{V1}/notes/{one}", json={"n": 5}, headers=h).status_code == 200
    assert hooked.delete(f"{V1}/notes/{bulk['ids'][0]}", headers=h).status_code == 200
    # Collections family.
    created = hooked.post(f"{CORE}/notes/records", json={"data": {"title": "d"}}, headers=h)
    core_id = created.json()["id"]
    hooked.patch(f"{CORE}/notes/records/{core_id}", json={"data": {"n": 1}}, headers=h)
    assert hooked.delete(f"{CORE}/notes/records/{core_id}", headers=h).status_code == 204
    # The transaction endpoint.
    operations = [
        {"Create": {"api_name": "notes", "value": {"title": "e"}}},
        {"Update": {"api_name": "notes", "record_id": one, "value": {"n": 2}}},
    ]
    answer = hooked.post("/api/transaction/v1/execute", json={"operations": operations}, headers=h)
    assert answer.status_code == 200, answer.text
    (tx_id,) = answer.json()["ids"]
    # An admin, through an admin-defined record API over the collection's table.
    api = {"name": "all_notes", "table_name": "notes", "acl_authenticated": []}
    assert hooked.post("/api/admin/record-apis", json=api, headers=admin.headers).status_code == 201
    assert hooked.delete(f"{V1}/all_notes/{tx_id}", headers=admin.headers).status_code == 200
    # CollectionService on a session of the instance.
    state = hooked.app.state.tinybase
    with state.session() as session:
        service = CollectionService(session)
        collection = service.get_collection_by_name("orders")
        record = service.create_record(collection, {"total": 9.5})
        service.update_record(collection, record, {"total": 10.0})
        service.delete_record(record)
    order = str(record.id)
    events = wait_for(seen, 14, hooked)
    assert ops(events) == [
        ("create", "notes", one),
        ("create", "notes", bulk["ids"][0]),
        ("create", "notes", bulk["ids"][1]),
        ("update", "notes", one),
        ("delete", "notes", bulk["ids"][0]),
        ("create", "notes", core_id),
        ("update", "notes", core_id),
        ("delete", "notes", core_id),
        ("create", "notes", tx_id),
        ("update", "notes", one),
        ("delete", "notes", tx_id),
        ("create", "orders", order),
        ("update", "orders", order),
        ("delete", "orders", order),
    ]
    # Hooks run in the hook runner: never in a writer thread, never in the request.
    assert not any(thread.startswith("tinybase-db-") for _op, _event, thread in events)


def test_the_events_carry_the_seed_fields(hooked, owner, seen) -> None:
    _admin, user = owner
    response = hooked.post(
        f"{CORE}/notes/records", json={"data": {"title": "x", "n": 1}}, headers=user.headers
    )
    record_id = response.json()["id"]
    hooked.patch(f"{CORE}/notes/records/{record_id}", json={"data": {"n": 2}}, headers=user.headers)
    hooked.delete(f"{CORE}/notes/records/{record_id}", headers=user.headers)
    (_, create, _), (_, update, _), (_, delete, _) = wait_for(seen, 3, hooked)
    rid, uid = uuid.UUID(record_id), uuid.UUID(user.id)
    assert create == RecordCreateEvent("notes", rid, {"title": "x", "n": 1}, uid)
    assert update == RecordUpdateEvent(
        "notes", rid, {"title": "x", "n": 1}, {"title": "x", "n": 2}, uid
    )
    assert delete == RecordDeleteEvent("notes", rid, {"title": "x", "n": 2}, uid)


def test_a_rolled_back_write_fires_nothing(hooked, owner, seen) -> None:
    _admin, user = owner
    h = user.headers
    (mine,) = hooked.post(f"{V1}/notes", json={"title": "a"}, headers=h).json()["ids"]
    wait_for(seen, 1, hooked)
    seen.clear()
    failing = [
        ("POST", f"{V1}/notes", {"title": "a"}, 409),
        ("POST", f"{V1}/notes", [{"title": "new"}, {"title": "a"}], 409),
        ("POST", f"{CORE}/notes/records", {"data": {"n": "x"}}, 422),
    ]
    for method, url, body, status in failing:
        assert hooked.request(method, url, json=body, headers=h).status_code == status
    operations = [
        {"Create": {"api_name": "notes", "value": {"title": "c"}}},
        {"Update": {"api_name": "notes", "record_id": mine, "value": {"n": 3}}},
        {"Create": {"api_name": "notes", "value": {"title": "a"}}},  # taken: all rolled back
    ]
    response = hooked.post(
        "/api/transaction/v1/execute", json={"operations": operations}, headers=h
    )
    assert response.status_code == 409
    wait_for(seen, 0, hooked)


def test_hooks_for_one_collection_fire_only_for_it(no_hooks, app_config) -> None:
    orders: list[RecordCreateEvent] = []
    on_record_create(collection="orders")(orders.append)
    for client in _app_client(app_config):
        state = client.app.state.tinybase
        state.users.create_user(email="a@example.com", password=PASSWORD, is_admin=True)
        admin = login(client, "a@example.com")
        make_collection(client, admin, "notes", FIELDS, ACCESS)
        make_collection(client, admin, "orders", [{"name": "total", "type": "number"}], ACCESS)
        client.post(f"{V1}/notes", json={"title": "z"}, headers=admin.headers)
        (order,) = client.post(f"{V1}/orders", json={"total": 1}, headers=admin.headers).json()[
            "ids"
        ]
        wait_for(orders, 1, client)
        assert orders[0].record_id == uuid.UUID(order) and orders[0].data == {"total": 1.0}
        assert orders[0].owner_id == uuid.UUID(admin.id)


def test_without_record_hooks_nothing_subscribes(no_hooks, app_config) -> None:
    # One process: realtime between processes (on by default on PostgreSQL) listens too.
    config = app_config.model_copy(update={"realtime_shared": False})
    for client in _app_client(config):
        # Engines record changes (a read before each update and delete) only for listeners.
        assert not client.app.state.tinybase.changes.active_for("posts")


def test_a_raising_hook_harms_nothing(
    no_hooks, app_config, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[RecordCreateEvent] = []

    @on_record_create
    def broken(event: RecordCreateEvent) -> None:
        raise RuntimeError("hook bug")

    on_record_create(after.append)
    for client in _app_client(app_config):
        admin = _admin(client)
        with caplog.at_level(logging.ERROR, logger="tinybase.extensions"):
            response = client.post(f"{V1}/notes", json={"title": "q"}, headers=admin.headers)
            assert response.status_code == 200
            wait_for(after, 1, client)
        assert (
            client.get(f"{V1}/notes/{response.json()['ids'][0]}", headers=admin.headers).json()[
                "title"
            ]
            == "q"
        )
        failure = next(r for r in caplog.records if r.name == "tinybase.extensions")
        assert "broken" in failure.getMessage() and "RecordCreateEvent" in failure.getMessage()


def test_a_slow_hook_adds_nothing_to_the_latency(no_hooks, app_config) -> None:
    done: list[float] = []

    @on_record_create
    def slow(event: RecordCreateEvent) -> None:
        time.sleep(1)
        done.append(time.monotonic())

    for client in _app_client(app_config):
        admin = _admin(client)
        client.post(f"{V1}/notes", json={"title": "warm"}, headers=admin.headers)
        timings = []
        for n in range(3):
            start = time.monotonic()
            response = client.post(f"{V1}/notes", json={"title": f"s{n}"}, headers=admin.headers)
            timings.append(time.monotonic() - start)
            assert response.status_code == 200
        assert max(timings) < 0.5, timings  # three hooks of 1 s each are still queued
        assert len(done) <= 1
    # The lifespan's shutdown drained the queue: every hook ran.
    assert len(done) == 4


def _admin(client: TestClient):
    state = client.app.state.tinybase
    state.users.create_user(email="root@example.com", password=PASSWORD, is_admin=True)
    admin = login(client, "root@example.com")
    make_collection(client, admin, "notes", FIELDS, ACCESS)
    return admin
