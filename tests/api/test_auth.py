"""The /api/auth flows through HTTP: registration, login, refresh, logout, me, passwords."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.auth.sessions import hash_token
from tinybase.db.models import PasswordReset, User, UserSession
from tinybase.settings import Config, load_config
from tinybase.utils import utcnow


@pytest.fixture
def app_config(db_url: str) -> Config:
    """The shared test configuration with a tight login rate limit."""
    return load_config(db_url=db_url, **{**FAST_TEST_CONFIG, "auth_login_attempts_per_minute": 5})


def _past() -> datetime:
    return utcnow() - timedelta(seconds=1)


def query(client: TestClient, statement: sa.Executable) -> list[sa.Row]:
    with client.app.state.tinybase.db.read() as conn:
        return conn.execute(statement).all()


def sessions_of(client: TestClient, user_id: str) -> list[sa.Row]:
    table = UserSession.__table__
    return query(client, sa.select(table).where(table.c.user_id == user_id).order_by(table.c.id))


# -- register ----------------------------------------------------------------------------


def test_register_creates_user_with_normalized_email_and_argon2id_hash(client: TestClient) -> None:
    response = client.post(
        "/api/auth/register", json={"email": "  Alice@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "email": "alice@example.com"}
    (row,) = query(client, sa.select(User.__table__))
    assert str(row.id) == body["id"] and row.email == "alice@example.com"
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert row.is_admin is False and row.token_version == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com"}, "password"),
    ],
)
def test_register_rejects_invalid_input_naming_the_field(
    client: TestClient, payload: dict, field: str
) -> None:
    response = client.post("/api/auth/register", json=payload)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]
    assert query(client, sa.select(User.__table__)) == []


def test_register_with_taken_email_is_409_case_insensitively(client: TestClient) -> None:
    client.post("/api/auth/register", json={"email": "bob@example.com", "password": PASSWORD})
    response = client.post(
        "/api/auth/register", json={"email": "BOB@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "Email already registered"}
    assert len(query(client, sa.select(User.__table__))) == 1


def test_register_is_403_when_registration_is_turned_off(
    client: TestClient, admin: TestUser
) -> None:
    response = client.patch(
        "/api/admin/settings", json={"allow_registration": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    response = client.post(
        "/api/auth/register", json={"email": "carol@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Registration is disabled"}
    assert len(query(client, sa.select(User.__table__))) == 1  # the admin only


# -- login -------------------------------------------------------------------------------


def test_login_returns_tokens_and_user(client: TestClient) -> None:
    client.post("/api/auth/register", json={"email": "dave@example.com", "password": PASSWORD})
    response = client.post(
        "/api/auth/login", json={"email": "Dave@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": "dave@example.com",
        "is_admin": False,
    }
    (session,) = sessions_of(client, body["user"]["id"])
    assert session.token_hash == hash_token(body["refresh_token"])  # only the hash is stored
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == "dave@example.com"


@pytest.mark.parametrize("email", ["erin@example.com", "nobody@example.com"])
def test_login_with_bad_credentials_is_one_401_for_known_and_unknown_emails(
    client: TestClient, make_user: Callable[..., TestUser], email: str
) -> None:
    make_user("erin@example.com")
    response = client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid email or password"}


def test_login_of_unknown_email_still_runs_argon2(client: TestClient) -> None:
    hasher = client.app.state.tinybase.auth._hasher
    calls: list[str | None] = []
    original = hasher.verify

    def spy(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return original(password_hash, password)

    hasher.verify = spy
    client.post("/api/auth/login", json={"email": "ghost@example.com", "password": PASSWORD})
    assert calls == [None]  # verified against the dummy hash, same work as a real account


def test_failed_logins_are_rate_limited_per_account(client: TestClient, make_user) -> None:
    user = make_user()
    for _ in range(5):
        wrong = client.post("/api/auth/login", json={"email": user.email, "password": "x" * 9})
        assert wrong.status_code == 401
    response = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json() == {"detail": "Too many login attempts; try again later"}
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_failed_logins_are_rate_limited_per_ip_across_accounts(
    client: TestClient, make_user
) -> None:
    user = make_user()
    for index in range(5):
        email = f"probe{index}@example.com"
        assert (
            client.post("/api/auth/login", json={"email": email, "password": "x" * 9}).status_code
            == 401
        )
    response = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_successful_logins_do_not_count_towards_the_limit(client: TestClient, make_user) -> None:
    user = make_user()
    for _ in range(8):
        login(client, user.email)


# -- refresh -----------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_token_stops_working(client: TestClient, make_user) -> None:
    user = make_user()
    response = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != user.refresh_token
    assert (
        client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        ).status_code
        == 200
    )
    old, new = sessions_of(client, user.id)
    assert old.rotated_at is not None and old.family_id == new.family_id
    assert new.rotated_at is None and new.revoked_at is None
    again = client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: TestClient, make_user
) -> None:
    user = make_user()
    other_session = login(client, user.email)
    stolen = user.refresh_token
    rotated = client.post("/api/auth/refresh", json={"refresh_token": stolen}).json()
    reuse = client.post("/api/auth/refresh", json={"refresh_token": stolen})
    assert reuse.status_code == 401
    assert reuse.json() == {"detail": "Invalid or expired refresh token"}
    # The legitimate holder's newer token died with the family, and so did its access token.
    assert (
        client.post(
            "/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
        ).status_code
        == 401
    )
    headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    family = [
        row
        for row in sessions_of(client, user.id)
        if row.token_hash != hash_token(other_session.refresh_token)
    ]
    assert len(family) == 2 and all(row.revoked_at is not None for row in family)
    # Another login's session is untouched.
    assert (
        client.post(
            "/api/auth/refresh", json={"refresh_token": other_session.refresh_token}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("token", ["", "garbage", "a" * 43])
def test_refresh_with_unknown_token_is_401(client: TestClient, token: str) -> None:
    response = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401


def test_expired_refresh_token_is_401(client: TestClient, make_user) -> None:
    user = make_user()
    table = UserSession.__table__
    with client.app.state.tinybase.db.write() as conn:
        conn.execute(sa.update(table).values(expires_at=_past()))
    response = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert response.status_code == 401


# -- logout ------------------------------------------------------------------------------


def test_logout_ends_that_session_only(client: TestClient, make_user) -> None:
    user = make_user()
    second = login(client, user.email)
    response = client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert response.status_code == 204
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )
    # The ended session's access token dies too (its session id is revoked) ...
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    # ... while the other session lives on.
    assert client.get("/api/auth/me", headers=second.headers).status_code == 200
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": second.refresh_token}).status_code
        == 200
    )


def test_logout_all_ends_every_session_and_token(client: TestClient, make_user) -> None:
    user = make_user()
    second = login(client, user.email)
    response = client.post("/api/auth/logout", json={"all": True}, headers=user.headers)
    assert response.status_code == 204
    for session in (user, second):
        assert client.get("/api/auth/me", headers=session.headers).status_code == 401
        assert (
            client.post(
                "/api/auth/refresh", json={"refresh_token": session.refresh_token}
            ).status_code
            == 401
        )
    (row,) = query(client, sa.select(User.__table__))
    assert row.token_version == 1
    assert all(session.revoked_at is not None for session in sessions_of(client, user.id))
    login(client, user.email)  # logging in again works


def test_logout_all_needs_an_access_token(client: TestClient) -> None:
    response = client.post("/api/auth/logout", json={"all": True})
    assert response.status_code == 401


def test_logout_without_token_or_all_is_422(client: TestClient) -> None:
    response = client.post("/api/auth/logout", json={})
    assert response.status_code == 422


# -- me ----------------------------------------------------------------------------------


def test_me_returns_the_caller_without_secrets(client: TestClient, make_user) -> None:
    user = make_user()
    body = client.get("/api/auth/me", headers=user.headers).json()
    assert body["id"] == user.id and body["email"] == user.email and body["is_admin"] is False
    assert "password_hash" not in body and "token_version" not in body


def test_me_without_token_is_401(client: TestClient) -> None:
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


# -- change password ---------------------------------------------------------------------


def test_change_password_ends_other_sessions_and_returns_a_new_pair(
    client: TestClient, make_user
) -> None:
    user = make_user()
    other = login(client, user.email)
    response = client.post(
        "/api/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
        headers=user.headers,
    )
    assert response.status_code == 200
    fresh = response.json()
    for stale in (user, other):
        assert client.get("/api/auth/me", headers=stale.headers).status_code == 401
        assert (
            client.post(
                "/api/auth/refresh", json={"refresh_token": stale.refresh_token}
            ).status_code
            == 401
        )
    assert (
        client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        ).status_code
        == 200
    )
    assert (
        client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code
        == 401
    )
    login(client, user.email, "a brand new secret")


def test_change_password_with_wrong_current_password_changes_nothing(
    client: TestClient, make_user
) -> None:
    user = make_user()
    response = client.post(
        "/api/auth/change-password",
        json={"current_password": "not my password", "new_password": "a brand new secret"},
        headers=user.headers,
    )
    assert response.status_code == 400
    assert client.get("/api/auth/me", headers=user.headers).status_code == 200
    login(client, user.email)


def test_change_password_rejects_short_new_password(client: TestClient, make_user) -> None:
    user = make_user()
    response = client.post(
        "/api/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=user.headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "new_password"]


# -- password reset ----------------------------------------------------------------------


def _reset_link(caplog: pytest.LogCaptureFixture) -> str:
    messages = [r.getMessage() for r in caplog.records if r.name == "tinybase.auth"]
    links = [
        m for message in messages for m in re.findall(r"\S+reset-password\?token=\S+", message)
    ]
    assert len(links) == 1, messages
    return links[0]


def test_password_reset_flow_is_single_use_and_ends_sessions(
    client: TestClient, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    response = client.post(
        "/api/auth/password-reset/request",
        json={"email": user.email.upper()},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 202
    link = _reset_link(caplog)
    assert link.startswith("https://tinybase.example/reset-password?token=")  # never the Host
    token = link.split("token=", 1)[1]
    (row,) = query(client, sa.select(PasswordReset.__table__))
    assert row.token_hash == hash_token(token) and str(row.user_id) == user.id
    confirm = client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "reset password!"}
    )
    assert confirm.status_code == 204
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 401
    )
    login(client, user.email, "reset password!")
    again = client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "another password"}
    )
    assert again.status_code == 400
    login(client, user.email, "reset password!")


def test_password_reset_request_answers_the_same_for_unknown_emails(
    client: TestClient, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    known = client.post("/api/auth/password-reset/request", json={"email": user.email})
    unknown = client.post("/api/auth/password-reset/request", json={"email": "nobody@example.com"})
    invalid = client.post("/api/auth/password-reset/request", json={"email": "not an email"})
    assert known.status_code == unknown.status_code == invalid.status_code == 202
    assert known.json() == unknown.json() == invalid.json()
    assert len(query(client, sa.select(PasswordReset.__table__))) == 1


def test_reset_token_is_never_an_access_token(
    client: TestClient, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    client.post("/api/auth/password-reset/request", json={"email": user.email})
    token = _reset_link(caplog).split("token=", 1)[1]
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_expired_or_unknown_reset_token_is_400(client: TestClient, make_user, caplog) -> None:
    user = make_user()
    caplog.set_level(logging.INFO, logger="tinybase.auth")
    client.post("/api/auth/password-reset/request", json={"email": user.email})
    token = _reset_link(caplog).split("token=", 1)[1]
    table = PasswordReset.__table__
    with client.app.state.tinybase.db.write() as conn:
        conn.execute(sa.update(table).values(expires_at=_past()))
    for candidate in (token, "made-up-token"):
        response = client.post(
            "/api/auth/password-reset/confirm", json={"token": candidate, "password": "whatever123"}
        )
        assert response.status_code == 400
        assert response.json() == {"detail": "Invalid or expired reset token"}
    login(client, user.email)
