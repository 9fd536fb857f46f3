"""Isolated functions over HTTP: the seed's SDK example, the client acting as the caller,
printed output, the worker's environment, errors and the call records."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tests.functions.isolated.conftest import SERVER_SECRET

ALLOWED_NAMES = {"PATH", "HOME", "TMPDIR", "PYTHONUNBUFFERED", "PASSED_ON_PURPOSE", "PROBE_API_KEY"}
ALLOWED_NAMES |= {"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES"}


def call(client: TestClient, name: str, payload: object, user: TestUser | None = None):
    headers = user.headers if user is not None else {}
    return client.post(f"/api/functions/{name}", json=payload, headers=headers)


def test_seed_sdk_example_is_called_over_http(sdk_client: TestClient, sdk_user: TestUser) -> None:
    response = call(sdk_client, "my_function", {"value": "x"}, sdk_user)
    assert response.status_code == 200, response.text
    assert response.json() == {"result": "Processed: x"}


def test_seed_sdk_example_is_listed_and_typed(sdk_client: TestClient, sdk_user: TestUser) -> None:
    listed = sdk_client.get("/api/functions", headers=sdk_user.headers).json()
    assert {
        "name": "my_function",
        "description": "My function",
        "auth": "auth",
        "tags": ["category"],
    } in listed
    one = sdk_client.get("/api/functions/my_function", headers=sdk_user.headers).json()
    assert one["input_schema"]["properties"] == {"value": {"title": "Value", "type": "string"}}
    assert one["output_schema"]["required"] == ["result"]
    document = sdk_client.get("/openapi.json").json()
    operation = document["paths"]["/api/functions/my_function"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/MyInput"}
    assert document["components"]["schemas"]["MyOutput"]["properties"]["result"]["type"] == "string"


def test_auth_level_and_payload_are_checked(sdk_client: TestClient, sdk_user: TestUser) -> None:
    assert call(sdk_client, "my_function", {"value": "x"}).status_code == 401
    response = call(sdk_client, "my_function", {"value": 3}, sdk_user)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "value"]


def test_client_acts_as_the_caller(sdk_client: TestClient, sdk_user: TestUser, sdk_admin) -> None:
    response = sdk_client.post(
        "/api/collections",
        json={
            "name": "notes",
            "label": "Notes",
            "schema": {"fields": [{"name": "text", "type": "string"}]},
            "options": {"access": {"list": "owner", "read": "owner", "create": "owner"}},
        },
        headers=sdk_admin.headers,
    )
    assert response.status_code in (201, 409), response.text
    body = call(sdk_client, "whoami", {"text": "mine"}, sdk_user).json()
    assert body["me_status"] == 200
    assert body["me"]["id"] == sdk_user.id
    assert body["context_user"] == sdk_user.id
    assert body["created"]["status"] == 201, body
    assert body["created"]["body"]["owner_id"] == sdk_user.id


def test_anonymous_call_acts_as_anonymous(sdk_client: TestClient) -> None:
    body = call(sdk_client, "whoami", {}).json()
    assert body["me_status"] == 401
    assert body["context_user"] is None


def test_call_token_is_refused_once_the_call_ended(
    sdk_client: TestClient, sdk_user: TestUser
) -> None:
    token = call(sdk_client, "whoami", {}, sdk_user).json()["token"]
    assert token.startswith("tbcall_")
    response = sdk_client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    forged = sdk_client.get("/api/auth/me", headers={"Authorization": "Bearer tbcall_forged"})
    assert forged.status_code == 401
    assert len(sdk_client.app.state.tinybase.functions.isolated.tokens) == 0


def test_worker_environment_holds_no_server_secret(
    sdk_client: TestClient, sdk_user: TestUser
) -> None:
    body = call(sdk_client, "probe", {"action": "env"}, sdk_user).json()
    env = body["env"]
    config = sdk_client.app.state.tinybase.config
    assert not [name for name in env if name.upper().startswith("TINYBASE")]
    assert "SERVER_ONLY_SECRET" not in env
    assert all(SERVER_SECRET not in value for value in env.values())
    assert all(config.db_url not in value for value in env.values())
    assert env["PASSED_ON_PURPOSE"] == "yes"
    assert env["PROBE_API_KEY"] == "per-function-secret"
    assert set(env) <= ALLOWED_NAMES
    assert body["cwd"] == env["HOME"]
    assert "tinybase-probe-" in body["cwd"]


def test_print_and_logging_do_not_break_a_call_and_are_recorded(
    sdk_client: TestClient, sdk_user: TestUser, sdk_admin
) -> None:
    response = call(sdk_client, "probe", {"action": "print"}, sdk_user)
    assert response.status_code == 200, response.text
    assert response.json() == {"printed": True}
    record = latest_call(sdk_client, sdk_admin, "probe")
    assert record["status"] == "succeeded"
    assert "hello from print\n" in record["output"]
    assert "to stderr\n" in record["output"]
    assert "hello from logging" in record["output"]


def test_errors_map_like_in_process_functions(
    sdk_client: TestClient, sdk_user: TestUser, sdk_admin
) -> None:
    refused = call(sdk_client, "probe", {"action": "refuse"}, sdk_user)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "already done"
    assert call(sdk_client, "probe", {"action": "value"}, sdk_user).status_code == 400
    crashed = call(sdk_client, "probe", {"action": "crash"}, sdk_user)
    assert crashed.status_code == 500
    assert crashed.json()["detail"] == "Internal server error"
    assert crashed.json()["error_type"] == "RuntimeError"
    record = sdk_client.get(
        f"/api/admin/functions/calls/{crashed.json()['call_id']}", headers=sdk_admin.headers
    ).json()
    assert record["status"] == "failed"
    assert record["error_message"] == "secret internals"
    assert 'raise RuntimeError("secret internals")' in record["error_traceback"]


def test_result_size_is_limited(sdk_client: TestClient, sdk_user: TestUser) -> None:
    fine = call(sdk_client, "probe", {"action": "big", "size": 1000}, sdk_user)
    assert fine.status_code == 200
    large = call(sdk_client, "probe", {"action": "big", "size": 200_000}, sdk_user)
    assert large.status_code == 500
    assert "past 100000 bytes" in large.json()["detail"]


def test_inline_dependency_from_the_index(sdk_client: TestClient) -> None:
    response = call(sdk_client, "with_dep", {})
    assert response.status_code == 200, response.text
    assert response.json() == {"six": "1.17.0"}


def test_failing_script_is_listed_for_admins(sdk_client: TestClient, sdk_admin) -> None:
    body = sdk_client.get("/api/admin/functions", headers=sdk_admin.headers).json()
    (broken,) = [s for s in body["scripts"] if s["file"].endswith("broken.py")]
    assert broken["state"] == "failed"
    assert "RuntimeError: this script cannot load" in broken["error"]
    assert call(sdk_client, "broken", {}).status_code == 404


def latest_call(client: TestClient, admin, name: str) -> dict:
    page = client.get(
        "/api/admin/functions/calls", params={"function": name, "limit": 1}, headers=admin.headers
    ).json()
    (newest,) = page["calls"]
    return client.get(f"/api/admin/functions/calls/{newest['id']}", headers=admin.headers).json()


def test_call_ids_are_call_records(sdk_client: TestClient, sdk_user: TestUser, sdk_admin) -> None:
    response = call(sdk_client, "probe", {"action": "crash"}, sdk_user)
    assert uuid.UUID(response.json()["call_id"])
