"""The admin's call records: filters, cursor paging, one call; errors of bad queries."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tinybase.utils import utcnow

MODULE = """
    import time

    from tinybase.functions import register

    @register(name="wait", auth="public")
    def wait(ctx) -> dict:
        time.sleep(0.7)
        return {}

    @register(name="ok", auth="public")
    def ok(ctx) -> dict:
        return {}

    @register(name="fails", auth="public")
    def fails(ctx) -> dict:
        raise ValueError("no")
"""
CALLS = "/api/admin/functions/calls"


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"calls": MODULE}


def listed(client: TestClient, admin: TestUser, **query: object) -> dict:
    response = client.get(CALLS, params=query, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_calls_are_listed_newest_first_page_by_page(client: TestClient, admin: TestUser) -> None:
    for _ in range(5):
        assert client.post("/api/functions/ok").status_code == 200
    first = listed(client, admin, limit=2)
    second = listed(client, admin, limit=2, cursor=first["next_cursor"])
    third = listed(client, admin, limit=2, cursor=second["next_cursor"])
    ids = [call["id"] for page in (first, second, third) for call in page["calls"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)
    assert third["next_cursor"] is None


def test_calls_are_filtered_by_function_status_trigger_and_time(
    client: TestClient, admin: TestUser
) -> None:
    client.post("/api/functions/ok")
    client.post("/api/functions/fails")
    failed = listed(client, admin, status="failed")["calls"]
    assert [(c["function_name"], c["error_type"]) for c in failed] == [("fails", "ValueError")]
    assert [c["function_name"] for c in listed(client, admin, function="ok")["calls"]] == ["ok"]
    assert len(listed(client, admin, trigger="manual")["calls"]) == 2
    assert listed(client, admin, trigger="schedule")["calls"] == []
    now = utcnow()
    assert len(listed(client, admin, since=(now - timedelta(minutes=1)).isoformat())["calls"]) == 2
    assert listed(client, admin, since=(now + timedelta(minutes=1)).isoformat())["calls"] == []
    assert listed(client, admin, until=(now - timedelta(minutes=1)).isoformat())["calls"] == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"status": "done"}, 400),
        ({"trigger": "cron"}, 400),
        ({"cursor": "not-an-id"}, 400),
        ({"limit": 0}, 422),
        ({"since": "yesterday"}, 422),
    ],
)
def test_bad_queries_are_4xx(
    client: TestClient, admin: TestUser, query: dict[str, object], status: int
) -> None:
    response = client.get(CALLS, params=query, headers=admin.headers)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_one_call_and_missing_ones(client: TestClient, admin: TestUser, make_user: object) -> None:
    call_id = client.post("/api/functions/fails").json()["call_id"]
    one = client.get(f"{CALLS}/{call_id}", headers=admin.headers)
    assert one.status_code == 200
    assert (one.json()["status"], one.json()["error_message"]) == ("failed", "no")
    assert "ValueError: no" in one.json()["error_traceback"]
    missing = "00000000-0000-7000-8000-000000000000"
    assert client.get(f"{CALLS}/{missing}", headers=admin.headers).status_code == 404
    assert client.get(f"{CALLS}/nope", headers=admin.headers).status_code == 404
    user = make_user()
    assert client.get(f"{CALLS}/{call_id}", headers=user.headers).status_code == 403


def test_a_call_still_running_is_listed_as_running_then_succeeded(
    client: TestClient, admin: TestUser
) -> None:
    caller = threading.Thread(target=lambda: client.post("/api/functions/wait"))
    caller.start()
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while caller.is_alive() and time.monotonic() < deadline:
        seen += [call["status"] for call in listed(client, admin, function="wait")["calls"]]
        time.sleep(0.05)
    caller.join()
    assert "running" in seen
    (call,) = listed(client, admin, function="wait")["calls"]
    assert call["status"] == "succeeded" and call["duration_ms"] >= 700
