"""Before-record hooks through a real app (SQLite and PostgreSQL): they run inside the write's
transaction on every write path, may change the values (validated afterwards) or refuse the
write with a clear 4xx; anything else they raise is a logged 500 without a traceback."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import CORE, PASSWORD, V1, login, make_collection
from tinybase.api.app import create_app
from tinybase.collections.service import CollectionService
from tinybase.extensions import (
    BeforeRecordCreateEvent,
    BeforeRecordDeleteEvent,
    BeforeRecordUpdateEvent,
    RecordRejected,
    before_record_create,
    before_record_delete,
    before_record_update,
    hooks,
)

ACCESS = {op: "owner" for op in ("list", "read", "update", "delete")} | {"create": "auth"}
FIELDS = [
    {"name": "item", "type": "string"},
    {"name": "quantity", "type": "integer"},
    {"name": "total", "type": "number"},
    {"name": "status", "type": "string"},
]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """The before-hooks of this test (on ``orders`` only), and what they saw."""
    monkeypatch.setattr(hooks, "_collected", [])
    seen: list = []

    @before_record_create(collection="orders")
    def price(event: BeforeRecordCreateEvent) -> None:
        seen.append(("create", event, threading.current_thread().name))
        if event.data.get("item") == "forbidden":
            raise RecordRejected("this item cannot be ordered", status_code=403)
        if event.data.get("quantity") == 0:
            raise ValueError("quantity must be positive")
        if event.data.get("item") == "crash":
            raise RuntimeError("a bug in the hook")
        event.data["total"] = 2.5 * (event.data.get("quantity") or 1)  # edited in place
        if event.data.get("item") == "bad type":
            event.data["quantity"] = "many"  # the validator, last, refuses it

    @before_record_create(collection="orders")
    def stamp(event: BeforeRecordCreateEvent) -> dict:
        return event.data | {"status": "new"}  # or a returned dict

    @before_record_update(collection="orders")
    def freeze(event: BeforeRecordUpdateEvent) -> None:
        seen.append(("update", event, threading.current_thread().name))
        if event.old_data["status"] == "shipped":
            raise RecordRejected("a shipped order cannot change", status_code=409)
        if "quantity" in event.data:
            event.data["total"] = 2.5 * event.data["quantity"]

    @before_record_delete(collection="orders")
    def keep(event: BeforeRecordDeleteEvent) -> None:
        seen.append(("delete", event, threading.current_thread().name))
        if event.data["status"] == "shipped":
            raise RecordRejected("shipped orders are kept")

    return seen


@pytest.fixture
def client(calls, app_config) -> Iterator[TestClient]:
    with TestClient(create_app(app_config)) as test_client:
        yield test_client


@pytest.fixture
def users(client):
    state = client.app.state.tinybase
    state.users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    admin = login(client, "admin@example.com")
    make_collection(client, admin, "orders", FIELDS, ACCESS)
    make_collection(client, admin, "notes", [{"name": "item", "type": "string"}], ACCESS)
    state.users.create_user(email="user@example.com", password=PASSWORD)
    return admin, login(client, "user@example.com")


def _rows(client: TestClient, admin, collection: str = "orders") -> list[dict]:
    return client.get(f"{V1}/{collection}", headers=admin.headers).json()["records"]


def test_a_before_create_hook_changes_the_values_on_both_families(client, users, calls) -> None:
    _admin, user = users
    core = client.post(
        f"{CORE}/orders/records",
        json={"data": {"item": "pen", "quantity": 2}},
        headers=user.headers,
    )
    assert core.status_code == 201, core.text
    assert core.json()["data"] == {"item": "pen", "quantity": 2, "total": 5.0, "status": "new"}
    (tb,) = client.post(
        f"{V1}/orders", json={"item": "ink", "quantity": 4}, headers=user.headers
    ).json()["ids"]
    stored = client.get(f"{V1}/orders/{tb}", headers=user.headers).json()
    assert (stored["total"], stored["status"]) == (10.0, "new")
    event = calls[0][1]
    assert event.collection == "orders" and event.owner_id == uuid.UUID(user.id)
    assert event.user_id == uuid.UUID(user.id) and event.is_admin is False
    # In the writing thread (inside the write's transaction), not in the request's.
    assert all(thread.startswith("tinybase-db-write") for _op, _event, thread in calls)


def test_a_refused_write_is_a_clear_4xx_and_writes_nothing(
    client, users, caplog: pytest.LogCaptureFixture
) -> None:
    admin, user = users
    h = user.headers
    refused = client.post(f"{V1}/orders", json={"item": "forbidden"}, headers=h)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "this item cannot be ordered"}
    invalid = client.post(f"{CORE}/orders/records", json={"data": {"quantity": 0}}, headers=h)
    assert invalid.status_code == 422
    assert invalid.json() == {"detail": "quantity must be positive"}
    typed = client.post(f"{V1}/orders", json={"item": "bad type"}, headers=h)
    assert typed.status_code == 422
    assert typed.json()["detail"][0]["loc"][-1] == "quantity"
    with caplog.at_level(logging.ERROR, logger="tinybase.extensions"):
        crashed = client.post(f"{V1}/orders", json={"item": "crash"}, headers=h)
    assert crashed.status_code == 500
    assert crashed.json() == {"detail": "Internal server error"}
    assert "Traceback" not in crashed.text and "a bug in the hook" not in crashed.text
    assert any("price" in r.getMessage() for r in caplog.records if r.exc_info)
    # A bulk create with one refused record writes none of them.
    bulk = client.post(f"{V1}/orders", json=[{"item": "ok"}, {"item": "forbidden"}], headers=h)
    assert bulk.status_code == 403
    assert _rows(client, admin) == []


def test_update_and_delete_hooks_see_the_stored_record(client, users, calls) -> None:
    admin, user = users
    h = user.headers
    (order,) = client.post(f"{V1}/orders", json={"item": "pen"}, headers=h).json()["ids"]
    changed = client.patch(
        f"{CORE}/orders/records/{order}", json={"data": {"quantity": 3}}, headers=h
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["total"] == 7.5
    update = next(event for op, event, _ in calls if op == "update")
    assert update.record_id == uuid.UUID(order) and update.data == {"quantity": 3, "total": 7.5}
    assert update.old_data == {"item": "pen", "quantity": None, "total": 2.5, "status": "new"}
    # An admin marks it shipped (hooks run for admins too): now it cannot change or go.
    assert (
        client.patch(f"{V1}/orders/{order}", json={"status": "shipped"}, headers=admin.headers)
    ).status_code == 200
    refused = client.patch(f"{V1}/orders/{order}", json={"quantity": 1}, headers=h)
    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "a shipped order cannot change"},
    )
    gone = client.delete(f"{CORE}/orders/records/{order}", headers=h)
    assert (gone.status_code, gone.json()) == (400, {"detail": "shipped orders are kept"})
    delete = next(event for op, event, _ in calls if op == "delete")
    assert delete.data["status"] == "shipped" and delete.owner_id == uuid.UUID(user.id)
    assert _rows(client, admin)[0]["quantity"] == 3


def test_a_refusal_rolls_back_the_whole_transaction(client, users) -> None:
    admin, user = users
    operations = [
        {"Create": {"api_name": "notes", "value": {"item": "kept?"}}},
        {"Create": {"api_name": "orders", "value": {"item": "pen"}}},
        {"Create": {"api_name": "orders", "value": {"item": "forbidden"}}},
    ]
    response = client.post(
        "/api/transaction/v1/execute", json={"operations": operations}, headers=user.headers
    )
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "this item cannot be ordered"},
    )
    assert _rows(client, admin, "notes") == [] and _rows(client, admin) == []


def test_hooks_on_one_collection_leave_the_others_alone(client, users, calls) -> None:
    _admin, user = users
    response = client.post(f"{V1}/notes", json={"item": "forbidden"}, headers=user.headers)
    assert response.status_code == 200
    assert calls == []


def test_collection_service_honours_before_hooks(client, users) -> None:
    state = client.app.state.tinybase
    with state.session() as session:
        service = CollectionService(session)
        orders = service.get_collection_by_name("orders")
        record = service.create_record(orders, {"item": "pen", "quantity": 2})
        assert (record.data["total"], record.data["status"]) == (5.0, "new")
        with pytest.raises(RecordRejected, match="cannot be ordered") as refused:
            service.create_record(orders, {"item": "forbidden"})
        assert refused.value.status_code == 403
        records, total = service.list_records(orders)
        assert total == 1 and [r.id for r in records] == [record.id]


def test_record_rejected_needs_a_4xx() -> None:
    with pytest.raises(ValueError, match="4xx"):
        RecordRejected("no", status_code=500)
    assert RecordRejected("no").status_code == 400
