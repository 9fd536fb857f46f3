"""/api/admin/users and the first admin's setup, through HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import PASSWORD, TestUser, login
from tinybase.auth.instance_secrets import read_secret, replace_secret
from tinybase.auth.setup import SETUP_TOKEN_SECRET, ensure_setup_token, setup_url
from tinybase.db.models import User, UserSession
from tinybase.utils import utcnow


def users_table(client: TestClient) -> dict[str, sa.Row]:
    with client.app.state.tinybase.db.read() as conn:
        return {row.email: row for row in conn.execute(sa.select(User.__table__))}


def sessions(client: TestClient) -> list[sa.Row]:
    with client.app.state.tinybase.db.read() as conn:
        return conn.execute(sa.select(UserSession.__table__)).all()


# -- access ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("GET", "/api/admin/users/0190aaaa-0000-7000-8000-000000000000"),
        ("PATCH", "/api/admin/users/0190aaaa-0000-7000-8000-000000000000"),
        ("DELETE", "/api/admin/users/0190aaaa-0000-7000-8000-000000000000"),
    ],
)
def test_admin_endpoints_refuse_anonymous_and_normal_users(
    client: TestClient, make_user, method: str, path: str
) -> None:
    user = make_user()
    body = {"email": "x@example.com", "password": PASSWORD}
    assert client.request(method, path, json=body).status_code == 401
    response = client.request(method, path, json=body, headers=user.headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Admin access required"}
    assert set(users_table(client)) == {user.email}


# -- CRUD --------------------------------------------------------------------------------


def test_admin_lists_users_with_limit_and_offset(
    client: TestClient, admin: TestUser, make_user
) -> None:
    created = [make_user() for _ in range(3)]
    page = client.get("/api/admin/users?limit=2&offset=1", headers=admin.headers).json()
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    assert [user["email"] for user in page["users"]] == [created[0].email, created[1].email]
    assert all("password_hash" not in user for user in page["users"])
    assert client.get("/api/admin/users?limit=0", headers=admin.headers).status_code == 422


def test_admin_creates_reads_updates_and_deletes_a_user(
    client: TestClient, admin: TestUser
) -> None:
    response = client.post(
        "/api/admin/users",
        json={"email": "New@Example.com", "password": PASSWORD},
        headers=admin.headers,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["email"] == "new@example.com" and created["is_admin"] is False
    assert client.get(f"/api/admin/users/{created['id']}", headers=admin.headers).json() == created
    patched = client.patch(
        f"/api/admin/users/{created['id']}",
        json={"email": "renamed@example.com", "password": "new password 1"},
        headers=admin.headers,
    )
    assert patched.status_code == 200 and patched.json()["email"] == "renamed@example.com"
    login(client, "renamed@example.com", "new password 1")
    assert users_table(client)["renamed@example.com"].token_version == 1  # new password
    assert (
        client.delete(f"/api/admin/users/{created['id']}", headers=admin.headers).status_code == 204
    )
    assert "renamed@example.com" not in users_table(client)
    missing = client.get(f"/api/admin/users/{created['id']}", headers=admin.headers)
    assert missing.status_code == 404 and missing.json() == {"detail": "User not found"}


def test_admin_create_validates_and_rejects_taken_email(
    client: TestClient, admin: TestUser
) -> None:
    bad = client.post(
        "/api/admin/users", json={"email": "x", "password": PASSWORD}, headers=admin.headers
    )
    assert bad.status_code == 422
    taken = client.post(
        "/api/admin/users", json={"email": admin.email, "password": PASSWORD}, headers=admin.headers
    )
    assert taken.status_code == 409


def test_patch_to_a_taken_email_is_409(client: TestClient, admin: TestUser, make_user) -> None:
    user = make_user()
    response = client.patch(
        f"/api/admin/users/{user.id}", json={"email": admin.email}, headers=admin.headers
    )
    assert response.status_code == 409
    assert users_table(client)[user.email].email == user.email


def test_unknown_or_malformed_user_id_is_404(client: TestClient, admin: TestUser) -> None:
    for user_id in ("0190aaaa-0000-7000-8000-000000000000", "not-a-uuid", "1%20OR%201=1"):
        assert client.get(f"/api/admin/users/{user_id}", headers=admin.headers).status_code == 404
        assert (
            client.delete(f"/api/admin/users/{user_id}", headers=admin.headers).status_code == 404
        )


def test_promotion_takes_effect_on_the_next_token(
    client: TestClient, admin: TestUser, make_user
) -> None:
    user = make_user()
    response = client.patch(
        f"/api/admin/users/{user.id}", json={"is_admin": True}, headers=admin.headers
    )
    assert response.status_code == 200
    assert client.get("/api/admin/users", headers=user.headers).status_code == 403  # old claim
    assert (
        client.get("/api/admin/users", headers=login(client, user.email).headers).status_code == 200
    )


# -- the last admin ----------------------------------------------------------------------


def test_last_admin_cannot_be_demoted_or_deleted(client: TestClient, admin: TestUser) -> None:
    demote = client.patch(
        f"/api/admin/users/{admin.id}", json={"is_admin": False}, headers=admin.headers
    )
    assert demote.status_code == 409
    assert demote.json() == {"detail": "The last admin cannot be demoted or deleted"}
    delete = client.delete(f"/api/admin/users/{admin.id}", headers=admin.headers)
    assert delete.status_code == 409
    row = users_table(client)[admin.email]
    assert row.is_admin is True and row.token_version == 0
    assert client.get("/api/admin/users", headers=admin.headers).status_code == 200


def test_an_admin_can_go_once_another_admin_exists(client: TestClient, admin: TestUser) -> None:
    client.post(
        "/api/admin/users",
        json={"email": "backup@example.com", "password": PASSWORD, "is_admin": True},
        headers=admin.headers,
    )
    assert client.delete(f"/api/admin/users/{admin.id}", headers=admin.headers).status_code == 204
    assert client.get("/api/admin/users", headers=admin.headers).status_code == 401
    backup = login(client, "backup@example.com")
    demote = client.patch(
        f"/api/admin/users/{backup.id}", json={"is_admin": False}, headers=backup.headers
    )
    assert demote.status_code == 409


def test_deleting_a_user_with_sessions_cascades(
    client: TestClient, admin: TestUser, make_user
) -> None:
    user = make_user()
    login(client, user.email)
    assert sum(str(row.user_id) == user.id for row in sessions(client)) == 2
    assert client.delete(f"/api/admin/users/{user.id}", headers=admin.headers).status_code == 204
    assert all(str(row.user_id) != user.id for row in sessions(client))
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )


# -- first admin setup -------------------------------------------------------------------


def _setup_token(client: TestClient) -> str:
    state = client.app.state.tinybase
    token = ensure_setup_token(state.db, state.config)
    assert token is not None
    return token


def test_setup_token_creates_the_first_admin_once(client: TestClient) -> None:
    token = _setup_token(client)
    assert setup_url(client.app.state.tinybase.config, token) == (
        f"https://tinybase.example/admin/setup?token={token}"
    )
    response = client.post(
        "/api/admin/setup",
        json={"token": token, "email": "Owner@Example.com", "password": PASSWORD},
    )
    assert response.status_code == 201
    assert response.json()["email"] == "owner@example.com" and response.json()["is_admin"] is True
    owner = login(client, "owner@example.com")
    assert client.get("/api/admin/users", headers=owner.headers).status_code == 200
    again = client.post(
        "/api/admin/setup",
        json={"token": token, "email": "second@example.com", "password": PASSWORD},
    )
    assert again.status_code == 409
    assert set(users_table(client)) == {"owner@example.com"}
    with client.app.state.tinybase.db.read() as conn:
        assert read_secret(conn, SETUP_TOKEN_SECRET) is None
    state = client.app.state.tinybase
    assert ensure_setup_token(state.db, state.config) is None  # an admin exists now


@pytest.mark.parametrize("token", ["wrong", ""])
def test_setup_with_a_wrong_token_creates_nobody(client: TestClient, token: str) -> None:
    _setup_token(client)
    response = client.post(
        "/api/admin/setup", json={"token": token, "email": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert users_table(client) == {}


def test_setup_without_any_token_issued_creates_nobody(client: TestClient) -> None:
    response = client.post(
        "/api/admin/setup", json={"token": "guess", "email": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert users_table(client) == {}


def test_expired_setup_token_is_refused(client: TestClient) -> None:
    token = _setup_token(client)
    with client.app.state.tinybase.db.write() as conn:
        stored = read_secret(conn, SETUP_TOKEN_SECRET)
        digest = stored.split(" ")[0]
        replace_secret(
            conn, SETUP_TOKEN_SECRET, f"{digest} {(utcnow() - timedelta(seconds=1)).isoformat()}"
        )
    response = client.post(
        "/api/admin/setup", json={"token": token, "email": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert users_table(client) == {}


def test_registering_or_logging_in_first_never_makes_an_admin(
    client: TestClient, make_user
) -> None:
    first = make_user()
    assert users_table(client)[first.email].is_admin is False
    assert client.get("/api/admin/users", headers=first.headers).status_code == 403


def test_create_user_helper_makes_admins_like_the_cli(client: TestClient) -> None:
    users = client.app.state.tinybase.users
    created, was_created = users.promote_or_create_admin(email="cli@example.com", password=PASSWORD)
    assert was_created and created.is_admin
    promoted, was_created = users.promote_or_create_admin(
        email="CLI@example.com", password="other password"
    )
    assert not was_created and promoted.id == created.id
    login(client, "cli@example.com", "other password")


def test_the_printed_setup_link_opens_a_form_that_posts_to_the_setup_api(
    client: TestClient,
) -> None:
    token = ensure_setup_token(client.app.state.tinybase.db, client.app.state.config)
    link = setup_url(client.app.state.config, token)
    response = client.get(link.removeprefix("https://tinybase.example"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert '<form id="setup">' in response.text
    assert 'fetch("/api/admin/setup"' in response.text
    assert token not in response.text  # the token stays in the URL, never in the page
