"""/api/auth/v1 in TrailBase's shape: the same users and sessions as /api/auth."""

from __future__ import annotations

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import PASSWORD, TestUser


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def v1_login(
    client: TestClient, email: str, password: str = PASSWORD, field: str = "email"
) -> dict:
    response = client.post("/api/auth/v1/login", json={field: email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("field", ["email", "email_or_username"])
def test_login_returns_trailbase_tokens(client: TestClient, make_user, field: str) -> None:
    user = make_user()
    tokens = v1_login(client, user.email.upper(), field=field)
    assert set(tokens) == {"auth_token", "refresh_token", "csrf_token"}
    claims = jwt.decode(tokens["auth_token"], options={"verify_signature": False})
    assert claims["sub"] == user.id and claims["email"] == user.email
    assert claims["username"] is None and claims["csrf_token"] == tokens["csrf_token"]
    # The auth token is an access token of /api/auth too, and vice versa.
    assert client.get("/api/auth/me", headers=bearer(tokens["auth_token"])).json()["id"] == user.id
    status = client.get("/api/auth/v1/status", headers=user.headers).json()
    assert status["auth_token"] == user.access_token


def test_login_with_bad_credentials_is_401(client: TestClient, make_user) -> None:
    user = make_user()
    response = client.post(
        "/api/auth/v1/login", json={"email": user.email, "password": "wrong pass"}
    )
    assert response.status_code == 401
    assert client.post("/api/auth/v1/login", json={"password": PASSWORD}).status_code == 422


def test_register_creates_a_user_usable_by_both_families(client: TestClient) -> None:
    response = client.post(
        "/api/auth/v1/register",
        json={"email": "tb@example.com", "password": PASSWORD, "password_repeat": PASSWORD},
    )
    assert (response.status_code, response.text) == (200, "registered")
    login = client.post("/api/auth/login", json={"email": "tb@example.com", "password": PASSWORD})
    assert login.status_code == 200
    mismatch = client.post(
        "/api/auth/v1/register",
        json={"email": "tb2@example.com", "password": PASSWORD, "password_repeat": "different!"},
    )
    assert mismatch.status_code == 422


def test_refresh_keeps_the_refresh_token_as_trailbase_clients_expect(
    client: TestClient, make_user
) -> None:
    user = make_user()
    tokens = v1_login(client, user.email)
    for _ in range(3):  # the npm client refreshes with the same token every time
        response = client.post(
            "/api/auth/v1/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"] == tokens["refresh_token"]
        assert client.get("/api/auth/me", headers=bearer(body["auth_token"])).status_code == 200


def test_refresh_with_an_unknown_or_rotated_token_is_401(client: TestClient, make_user) -> None:
    user = make_user()
    assert client.post("/api/auth/v1/refresh", json={"refresh_token": "nope"}).status_code == 401
    client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})  # rotates
    reuse = client.post("/api/auth/v1/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401


def test_status_without_credentials_is_nulls(client: TestClient) -> None:
    response = client.get("/api/auth/v1/status")
    assert response.status_code == 200
    assert response.json() == {"auth_token": None, "refresh_token": None, "csrf_token": None}


def test_status_echoes_a_valid_auth_token(client: TestClient, make_user) -> None:
    user = make_user()
    tokens = v1_login(client, user.email)
    headers = {**bearer(tokens["auth_token"]), "Refresh-Token": tokens["refresh_token"]}
    assert client.get("/api/auth/v1/status", headers=headers).json() == tokens


def test_status_renews_an_invalid_auth_token_with_a_valid_refresh_token(
    client: TestClient, make_user
) -> None:
    user = make_user()
    tokens = v1_login(client, user.email)
    headers = {**bearer("expired.or.bad"), "Refresh-Token": tokens["refresh_token"]}
    body = client.get("/api/auth/v1/status", headers=headers).json()
    assert (
        body["auth_token"] != tokens["auth_token"]
        and body["refresh_token"] == tokens["refresh_token"]
    )
    assert client.get("/api/auth/me", headers=bearer(body["auth_token"])).status_code == 200


def test_status_with_a_refresh_token_as_bearer_is_401(client: TestClient, make_user) -> None:
    user = make_user()
    response = client.get("/api/auth/v1/status", headers=bearer(user.refresh_token))
    assert response.status_code == 401


def test_post_logout_with_refresh_token_ends_that_session(client: TestClient, make_user) -> None:
    user = make_user()
    tokens = v1_login(client, user.email)
    response = client.post(
        "/api/auth/v1/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["auth_token"]),
    )
    assert (response.status_code, response.text) == (200, "")
    assert (
        client.post(
            "/api/auth/v1/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )
    assert client.get("/api/auth/me", headers=bearer(tokens["auth_token"])).status_code == 401
    assert client.get("/api/auth/me", headers=user.headers).status_code == 200  # other session


def test_get_logout_with_refresh_token_header_ends_that_session(
    client: TestClient, make_user
) -> None:
    user = make_user()
    tokens = v1_login(client, user.email)
    response = client.get("/api/auth/v1/logout", headers={"Refresh-Token": tokens["refresh_token"]})
    assert (response.status_code, response.text) == (200, "logged out")
    assert (
        client.post(
            "/api/auth/v1/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )


def test_get_logout_with_only_an_auth_token_ends_every_session(
    client: TestClient, make_user
) -> None:
    user: TestUser = make_user()
    tokens = v1_login(client, user.email)
    response = client.get("/api/auth/v1/logout", headers=bearer(tokens["auth_token"]))
    assert (response.status_code, response.text) == (200, "logged out")
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )


def test_logout_with_an_invalid_auth_token_is_401(client: TestClient) -> None:
    response = client.get("/api/auth/v1/logout", headers=bearer("forged.token.here"))
    assert response.status_code == 401
