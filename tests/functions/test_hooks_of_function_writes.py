"""Record hooks and before-hooks for the writes a function makes through ``ctx.db``
(SQLite and PostgreSQL): after-commit hooks fire once, after the function returned and its
transaction committed, and never when it raised; before-hooks refuse inside the function's
transaction like anywhere else."""

from __future__ import annotations

import sys
import time

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser, make_collection, table_rows

MODULE = """
    from tinybase.collections.service import CollectionService
    from tinybase.extensions import (
        RecordRejected,
        before_record_create,
        on_record_create,
    )
    from tinybase.functions import Context, register

    events = []


    @before_record_create(collection="notes")
    def refuse_secret(event):
        if event.data.get("title") == "secret":
            raise RecordRejected("no secrets", status_code=403)


    @on_record_create(collection="notes")
    def created(event):
        events.append(("created", event.data["title"]))


    @register("write_notes", auth="auth")
    def write_notes(ctx: Context, payload: dict) -> dict:
        service = CollectionService(ctx.db)
        notes = service.get_collection_by_name("notes")
        for title in payload["titles"]:
            service.create_record(notes, {"title": title})
        events.append(("returning", len(payload["titles"])))
        if payload.get("fail"):
            raise ValueError("changed my mind")
        return {"written": len(payload["titles"])}
"""


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"hooked_notes": MODULE}


@pytest.fixture
def events(client: TestClient, admin: TestUser) -> list:
    fields = [{"name": "title", "type": "string"}]
    make_collection(client, admin, "notes", fields, {"create": "auth", "list": "owner"})
    spec = client.app.state.tinybase.functions.registry.get("write_notes")
    return sys.modules[spec.module].events


def _settled(client: TestClient, events: list, count: int) -> list:
    deadline = time.monotonic() + 10
    while (len(events) < count or client.app.state.tinybase.hooks.queued) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(events) == count, events
    return events


def test_hooks_fire_after_the_function_committed_and_not_after_it_raised(
    client: TestClient, make_user, events: list
) -> None:
    user = make_user()
    url = "/api/functions/write_notes"
    ok = client.post(url, json={"titles": ["a", "b"]}, headers=user.headers)
    assert ok.status_code == 200, ok.text
    assert _settled(client, events, 3) == [("returning", 2), ("created", "a"), ("created", "b")]
    events.clear()
    failed = client.post(url, json={"titles": ["c"], "fail": True}, headers=user.headers)
    assert failed.status_code == 400
    assert _settled(client, events, 1) == [("returning", 1)]  # rolled back: no hook
    refused = client.post(url, json={"titles": ["d", "secret"]}, headers=user.headers)
    assert (refused.status_code, refused.json()["detail"]) == (403, "no secrets")
    assert sorted(row["title"] for row in table_rows(client, "notes")) == ["a", "b"]
    _settled(client, events, 1)
