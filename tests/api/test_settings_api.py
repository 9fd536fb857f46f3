"""``GET/PATCH /api/admin/settings``: admins only, validated, stored, seen by every process."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tinybase.api.app import create_app
from tinybase.db.models import Setting
from tinybase.settings import SECRET_MASK, Config, settings

URL = "/api/admin/settings"


def stored(client: TestClient) -> dict[str, object]:
    table = Setting.__table__
    with client.app.state.tinybase.db.read() as connection:
        return dict(connection.execute(sa.select(table.c.key, table.c.value)).all())


def test_admin_reads_the_defaults(client: TestClient, admin: TestUser) -> None:
    response = client.get(URL, headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["instance_name"] == "TinyBase"
    assert body["allow_registration"] is True
    assert body["storage"]["enabled"] is False
    assert body["storage"]["backend"] == "local"
    assert body["storage"]["max_file_size_mb"] == 10


def test_admin_patch_changes_only_the_given_keys(client: TestClient, admin: TestUser) -> None:
    response = client.patch(
        URL, json={"instance_name": "Acme", "storage": {"enabled": True}}, headers=admin.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["instance_name"] == "Acme"
    assert body["storage"]["enabled"] is True
    assert body["allow_registration"] is True
    assert stored(client) == {"instance_name": "Acme", "storage.enabled": True}
    assert client.get(URL, headers=admin.headers).json() == body


def test_patch_binds_the_module_settings_of_the_running_instance(
    client: TestClient, admin: TestUser
) -> None:
    client.patch(URL, json={"storage": {"enabled": True}}, headers=admin.headers)
    assert settings.storage.enabled is True
    assert settings.current is client.app.state.tinybase.settings.current


def test_unknown_key_is_a_422_naming_it(client: TestClient, admin: TestUser) -> None:
    response = client.patch(URL, json={"storage": {"bucket": "x"}}, headers=admin.headers)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "storage", "bucket"]
    assert "storage.bucket" in error["msg"]
    assert stored(client) == {}


def test_wrong_type_is_a_422_naming_the_key(client: TestClient, admin: TestUser) -> None:
    response = client.patch(URL, json={"allow_registration": "nope"}, headers=admin.headers)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "allow_registration"]
    assert stored(client) == {}


def test_body_must_be_an_object(client: TestClient, admin: TestUser) -> None:
    response = client.patch(URL, json=["instance_name"], headers=admin.headers)
    assert response.status_code == 422
    assert stored(client) == {}


def test_secret_is_never_shown(client: TestClient, admin: TestUser) -> None:
    response = client.patch(
        URL, json={"storage": {"s3_secret_access_key": "s3cr3t"}}, headers=admin.headers
    )
    assert response.json()["storage"]["s3_secret_access_key"] == SECRET_MASK
    assert "s3cr3t" not in client.get(URL, headers=admin.headers).text
    assert stored(client)["storage.s3_secret_access_key"] == "s3cr3t"


def test_anonymous_caller_gets_401(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
    response = client.patch(URL, json={"instance_name": "Pwned"})
    assert response.status_code == 401
    assert stored(client) == {}


def test_normal_user_gets_403(client: TestClient, make_user: Callable[..., TestUser]) -> None:
    user = make_user()
    assert client.get(URL, headers=user.headers).status_code == 403
    response = client.patch(URL, json={"allow_registration": False}, headers=user.headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Admin access required"}
    assert stored(client) == {}


def test_closing_registration_refuses_new_users(client: TestClient, admin: TestUser) -> None:
    response = client.patch(URL, json={"allow_registration": False}, headers=admin.headers)
    assert response.status_code == 200
    response = client.post(
        "/api/auth/register", json={"email": "late@example.com", "password": "long enough 1"}
    )
    assert response.status_code == 403


def test_another_process_sees_a_change_within_its_poll_interval(
    client: TestClient, admin: TestUser, app_config: Config
) -> None:
    """A second app on the same database stands for a second server process."""
    other_config = app_config.model_copy(update={"settings_poll_seconds": 0.05})
    with TestClient(create_app(other_config)) as other:
        assert other.get(URL, headers=admin.headers).json()["instance_name"] == "TinyBase"
        client.patch(URL, json={"instance_name": "Shared"}, headers=admin.headers)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if other.get(URL, headers=admin.headers).json()["instance_name"] == "Shared":
                break
            time.sleep(0.05)
        assert other.app.state.tinybase.settings.instance_name == "Shared"
