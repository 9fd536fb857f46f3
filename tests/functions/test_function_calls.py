"""Calling functions over HTTP: auth levels from the attacker's side, payloads, errors, time
limits, the call's one transaction and its call records, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser, bad_tokens, table_rows

LAB = (Path(__file__).parent / "lab_functions.py.txt").read_text()
NOTES = {"fields": [{"name": "title", "type": "string"}]}


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"lab": LAB}


@pytest.fixture
def user(make_user: Callable[..., TestUser]) -> TestUser:
    return make_user()


@pytest.fixture
def lab(client: TestClient) -> ModuleType:
    """The imported lab module (its ``events``), with the instance's record changes
    appended to ``events`` as they are published (after each commit)."""
    spec = client.app.state.tinybase.functions.registry.get("echo")
    module = sys.modules[spec.module]
    module.events.clear()
    module.done.clear()
    state = client.app.state.tinybase
    unsubscribe = state.changes.subscribe(
        lambda change: module.events.append(("change", change.table, change.operation))
    )
    yield module
    unsubscribe()


@pytest.fixture
def notes(client: TestClient, admin: TestUser) -> None:
    response = client.post(
        "/api/collections",
        json={"name": "notes", "label": "Notes", "schema": NOTES},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text


def call(client: TestClient, name: str, body: Any = None, user: TestUser | None = None) -> Any:
    headers = {} if user is None else user.headers
    return client.post(f"/api/functions/{name}", json=body, headers=headers)


def calls(client: TestClient, admin: TestUser, **query: str) -> list[dict[str, Any]]:
    response = client.get("/api/admin/functions/calls", params=query, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["calls"]


# -- success ------------------------------------------------------------------------------


def test_public_function_answers_anyone_with_its_validated_output(client: TestClient) -> None:
    response = call(client, "echo", {"message": "hi", "times": 2})
    assert response.status_code == 200
    assert response.json() == {"echoed": ["hi", "hi"]}


def test_context_carries_the_caller_and_the_request(client: TestClient, user: TestUser) -> None:
    response = call(client, "whoami", None, user)
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == user.id
    assert body["is_admin"] is False
    assert (body["function_name"], body["trigger_type"]) == ("whoami", "manual")
    assert body["path"] == "/api/functions/whoami"
    uuid.UUID(body["request_id"])


def test_every_call_is_recorded_with_its_outcome(
    client: TestClient, admin: TestUser, user: TestUser
) -> None:
    assert call(client, "whoami", None, user).status_code == 200
    assert call(client, "crash", {}).status_code == 500
    (crashed,) = calls(client, admin, function="crash")
    assert crashed["status"] == "failed"
    assert crashed["error_type"] == "RuntimeError"
    assert crashed["error_message"] == "the secret internal detail"
    assert crashed["trigger_type"] == "manual" and crashed["user_id"] is None
    assert "error_traceback" not in crashed
    (whoami,) = calls(client, admin, function="whoami", status="succeeded")
    assert whoami["user_id"] == user.id
    assert whoami["duration_ms"] >= 0 and whoami["error_type"] is None
    detail = client.get(f"/api/admin/functions/calls/{crashed['id']}", headers=admin.headers)
    assert detail.status_code == 200
    assert "RuntimeError: the secret internal detail" in detail.json()["error_traceback"]


def test_sync_functions_run_in_a_worker_thread(client: TestClient) -> None:
    body = call(client, "where", {}).json()
    assert body["on_event_loop"] is False


def test_function_hooks_run_before_and_after_each_call(client: TestClient, lab: ModuleType) -> None:
    assert call(client, "where", {"x": 1}).status_code == 200
    assert call(client, "crash", {}).status_code == 500
    deadline = time.monotonic() + 5
    while len(lab.events) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lab.events == [
        ("call", "where", {"x": 1}),
        ("complete", "where", "succeeded", None),
        ("complete", "crash", "failed", "RuntimeError"),
    ]


# -- auth levels, from the attacker's side ------------------------------------------------


@pytest.mark.parametrize("name", ["whoami", "admin_only"])
def test_no_token_is_a_401(client: TestClient, name: str) -> None:
    assert call(client, name, {}).status_code == 401


@pytest.mark.parametrize("kind", ["forged", "expired", "refresh token as access token", "garbage"])
def test_bad_tokens_are_a_401_even_for_public_functions(
    client: TestClient, user: TestUser, kind: str
) -> None:
    token = bad_tokens(client, user)[kind]
    for name in ("echo", "whoami"):
        response = client.post(
            f"/api/functions/{name}",
            json={"message": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, (name, response.text)


def test_a_user_calling_an_admin_function_is_a_403(
    client: TestClient, user: TestUser, admin: TestUser
) -> None:
    assert call(client, "admin_only", {}, user).status_code == 403
    assert client.get("/api/functions/admin_only", headers=user.headers).status_code == 403
    assert call(client, "admin_only", {}, admin).json() == {"ok": True}


def test_refused_calls_are_not_recorded(
    client: TestClient, user: TestUser, admin: TestUser
) -> None:
    call(client, "admin_only", {}, user)
    call(client, "echo", {"times": 1})
    assert calls(client, admin, function="admin_only") == []
    assert calls(client, admin, function="echo") == []


def test_the_list_shows_what_the_caller_may_call(
    client: TestClient, user: TestUser, admin: TestUser
) -> None:
    def names(headers: dict[str, str]) -> set[str]:
        response = client.get("/api/functions", headers=headers)
        assert response.status_code == 200
        return {item["name"] for item in response.json()}

    public = {"echo", "refuse", "crash", "bad_output", "slow", "slow_async", "where"}
    assert names({}) == public
    for_users = {"whoami", "add_note", "add_note_async", "add_note_slowly"}
    assert names(user.headers) == public | for_users
    assert names(admin.headers) == names(user.headers) | {"admin_only"}
    echo = next(item for item in client.get("/api/functions").json() if item["name"] == "echo")
    assert echo == {
        "name": "echo",
        "description": "Say it back.",
        "auth": "public",
        "tags": ["demo"],
    }


def test_one_function_has_its_schemas(client: TestClient) -> None:
    response = client.get("/api/functions/echo")
    assert response.status_code == 200
    body = response.json()
    assert body["input_schema"]["required"] == ["message"]
    assert body["output_schema"]["properties"]["echoed"]["type"] == "array"


# -- bad requests -------------------------------------------------------------------------


def test_unknown_function_is_a_404(client: TestClient, user: TestUser) -> None:
    assert call(client, "nope", {}, user).status_code == 404
    assert client.get("/api/functions/nope").status_code == 404


def test_bad_payload_is_a_422_naming_the_field(client: TestClient) -> None:
    response = call(client, "echo", {"message": "hi", "times": 11})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "times"]]
    missing = call(client, "echo", {})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "message"]
    not_json = client.post("/api/functions/echo", content=b"{nope")
    assert not_json.status_code == 400


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    response = call(client, "echo", {"message": "x" * 5000})
    assert response.status_code == 413


# -- failing functions --------------------------------------------------------------------


def test_value_error_and_function_error_reach_the_caller(
    client: TestClient, user: TestUser, notes: None
) -> None:
    refused = call(client, "refuse", {"reason": "sold out"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == {"reason": "sold out"}
    assert refused.json()["error_type"] == "FunctionError"
    value_error = call(client, "add_note", {"title": "a", "refuse": True}, user)
    assert value_error.status_code == 400
    assert set(value_error.json()) == {"detail", "error_type", "call_id"}
    assert value_error.json()["detail"] == "refused after writing"


def test_any_other_exception_is_a_generic_500_without_a_traceback(client: TestClient) -> None:
    response = call(client, "crash", {})
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "Internal server error"
    assert body["error_type"] == "RuntimeError"
    assert "secret" not in response.text and "Traceback" not in response.text
    uuid.UUID(body["call_id"])


def test_an_output_that_does_not_fit_its_model_is_a_500(client: TestClient) -> None:
    response = call(client, "bad_output", {})
    assert response.status_code == 500
    assert response.json()["error_type"] == "ValidationError"


@pytest.mark.parametrize("name", ["slow", "slow_async"])
def test_a_call_past_its_time_limit_is_a_504_and_a_failed_record(
    client: TestClient, admin: TestUser, name: str
) -> None:
    started = time.monotonic()
    response = call(client, name, {})
    assert response.status_code == 504
    assert time.monotonic() - started < 1.9
    assert response.json()["error_type"] == "FunctionTimeoutError"
    (record,) = calls(client, admin, function=name)
    assert (record["status"], record["error_type"]) == ("failed", "FunctionTimeoutError")


# -- the call's transaction ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["add_note", "add_note_async"])
def test_writes_commit_when_the_function_returns_then_their_changes_are_published(
    client: TestClient, user: TestUser, notes: None, lab: ModuleType, name: str
) -> None:
    response = call(client, name, {"title": "kept"}, user)
    assert response.status_code == 200, response.text
    rows = table_rows(client, "notes")
    assert [(str(row["id"]), row["title"], str(row["owner_id"])) for row in rows] == [
        (response.json()["id"], "kept", user.id)
    ]
    # The function saw its own write; the change came only after the function returned.
    assert lab.events == [("wrote", True), "returning", ("change", "notes", "create")]


@pytest.mark.parametrize("name", ["add_note", "add_note_async"])
def test_writes_roll_back_when_the_function_raises_and_publish_nothing(
    client: TestClient, user: TestUser, notes: None, lab: ModuleType, name: str
) -> None:
    response = call(client, name, {"title": "dropped", "fail": True}, user)
    assert response.status_code == 500
    assert table_rows(client, "notes") == []
    assert lab.events == [("wrote", True)]


def test_writes_of_a_call_past_its_time_limit_roll_back(
    client: TestClient, user: TestUser, notes: None, lab: ModuleType
) -> None:
    response = call(client, "add_note_slowly", {"title": "late"}, user)
    assert response.status_code == 504
    assert lab.done.wait(5)
    time.sleep(0.2)  # the worker thread rolls back right after the function returned
    assert table_rows(client, "notes") == []
    assert lab.events == [("wrote", True)]
    # The writer is free again: a later call writes.
    assert call(client, "add_note", {"title": "next"}, user).status_code == 200
    assert [row["title"] for row in table_rows(client, "notes")] == ["next"]
