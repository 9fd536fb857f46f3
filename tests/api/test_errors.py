"""The error shape: every error is ``{"detail": ...}`` with its status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tinybase.api.app import create_app
from tinybase.errors import TinyBaseError
from tinybase.settings import Config

SECRET_CAUSE = "password=hunter2 at /srv/internal/path.py"


def test_401_without_a_token(client: TestClient) -> None:
    response = client.get("/api/admin/settings")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_401_with_a_forged_token(client: TestClient) -> None:
    response = client.get("/api/admin/settings", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert isinstance(response.json()["detail"], str)


def test_403_for_a_user_who_is_not_admin(
    client: TestClient, make_user: Callable[..., TestUser]
) -> None:
    response = client.get("/api/admin/settings", headers=make_user().headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Admin access required"}


def test_404_for_an_unknown_path(client: TestClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert response.headers["content-type"] == "application/json"


def test_405_for_a_wrong_method(client: TestClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET"


def test_422_lists_the_field_errors(client: TestClient, admin: TestUser) -> None:
    response = client.patch(
        "/api/admin/settings", json={"storage": {"enabled": "on"}}, headers=admin.headers
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}
    assert error["loc"] == ["body", "storage", "enabled"]


def test_422_for_a_body_that_is_not_json(client: TestClient, admin: TestUser) -> None:
    response = client.patch(
        "/api/admin/settings",
        content=b"{not json",
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}
    assert error["loc"][0] == "body"


@pytest.fixture
def crashing_client(app_config: Config) -> Iterator[TestClient]:
    """The app plus test-only routes that fail the way a bug does (not in product code)."""
    app = create_app(app_config)

    @app.get("/test-only/crash")
    def crash() -> None:
        raise RuntimeError(SECRET_CAUSE)

    @app.get("/test-only/internal-error")
    def internal_error() -> None:
        raise TinyBaseError(SECRET_CAUSE)

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/test-only/crash", "/test-only/internal-error"])
def test_500_carries_no_traceback_and_logs_the_cause(
    crashing_client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tinybase"):
        response = crashing_client.get(path)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "Traceback" not in response.text
    assert "hunter2" not in response.text
    [logged] = [record for record in caplog.records if record.exc_info]
    assert SECRET_CAUSE in str(logged.exc_info[1])  # the cause goes to the log only
    # The client can quote the id; it is the one on the log line.
    assert response.headers["x-request-id"] == logged.request_id != "-"


def test_errors_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/api/no-such-thing", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-123"
