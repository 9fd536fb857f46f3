"""Access tokens from the attacker's side: forged, expired, wrong type, revoked; and
revocation across processes (two app instances on one database) within seconds."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.auth.signing_key import SIGNING_KEY_SECRET, load_signing_key
from tinybase.db.models import Secret
from tinybase.settings import Config, load_config
from tinybase.utils import utcnow

POLL_SECONDS = 0.1


@pytest.fixture
def app_config(db_url: str) -> Config:
    """The shared test configuration with this module's poll interval."""
    return load_config(
        db_url=db_url, **{**FAST_TEST_CONFIG, "auth_revocation_poll_seconds": POLL_SECONDS}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def instance_key(client: TestClient) -> Ed25519PrivateKey:
    return load_signing_key(client.app.state.tinybase.db)  # the stored key, not a new one


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def wait_until(condition, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the timeout"
        time.sleep(POLL_SECONDS / 2)
    return time.monotonic() - started


# -- the token format --------------------------------------------------------------------


def test_access_token_is_an_eddsa_jwt_with_both_families_claims(
    client: TestClient, make_user
) -> None:
    user = make_user()
    header = jwt.get_unverified_header(user.access_token)
    assert header["alg"] == "EdDSA"
    claims = claims_of(user.access_token)
    assert claims["sub"] == user.id and claims["type"] == "access" and claims["ver"] == 0
    assert claims["admin"] is False and claims["email"] == user.email
    assert claims["username"] is None and isinstance(claims["csrf_token"], str)
    assert claims["exp"] - claims["iat"] == 15 * 60
    public_key = instance_key(client).public_key()
    assert jwt.decode(user.access_token, public_key, algorithms=["EdDSA"])["sub"] == user.id


def test_signing_key_is_stored_once_and_shared_by_processes(
    client: TestClient, other_process: TestClient, make_user
) -> None:
    user = make_user()
    assert other_process.get("/api/auth/me", headers=user.headers).status_code == 200
    with client.app.state.tinybase.db.read() as conn:
        rows = conn.execute(
            sa.select(Secret.__table__).where(Secret.__table__.c.name == SIGNING_KEY_SECRET)
        ).all()
    assert len(rows) == 1 and "PRIVATE KEY" in rows[0].value


# -- forged and malformed tokens ---------------------------------------------------------


def _forgeries(client: TestClient, user: TestUser) -> dict[str, str]:
    claims = claims_of(user.access_token)
    key = instance_key(client)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload, signature = user.access_token.split(".")
    tampered = dict(claims, admin=True)
    now = utcnow()
    return {
        "other key": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "tampered payload": f"{header}.{b64(tampered)}.{signature}",
        "forged signature": f"{header}.{payload}.{b64(b'x' * 64)}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "hs256 with public key": f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}."
        + b64(_hmac(public_pem, f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}")),
        "expired": jwt.encode(
            dict(claims, iat=now - timedelta(hours=1), exp=now - timedelta(seconds=1)),
            key,
            algorithm="EdDSA",
        ),
        "wrong type": jwt.encode(dict(claims, type="refresh"), key, algorithm="EdDSA"),
        "no type": jwt.encode(
            {k: v for k, v in claims.items() if k != "type"}, key, algorithm="EdDSA"
        ),
        "no exp": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, key, algorithm="EdDSA"
        ),
        "unknown user": jwt.encode(
            dict(claims, sub="0190aaaa-0000-7000-8000-000000000000"), key, algorithm="EdDSA"
        ),
        "string version": jwt.encode(dict(claims, ver="0"), key, algorithm="EdDSA"),
        "refresh token": user.refresh_token,
        "garbage": "not.a.token",
    }


def _hmac(secret: bytes, message: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(secret, message.encode(), hashlib.sha256).digest()


FORGERIES = [
    "other key",
    "tampered payload",
    "forged signature",
    "alg none",
    "hs256 with public key",
    "expired",
    "wrong type",
    "no type",
    "no exp",
    "unknown user",
    "string version",
    "refresh token",
    "garbage",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_invalid_bearer_tokens_are_401_never_anonymous(
    client: TestClient, make_user, kind: str
) -> None:
    user = make_user()
    token = _forgeries(client, user)[kind]
    for path in ("/api/auth/me", "/api/auth/v1/status", "/api/admin/users"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 401, (kind, path, response.text)
        assert response.json() == {"detail": "Invalid or expired token"}
    assert client.get("/api/auth/me", headers=user.headers).status_code == 200  # the real one


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
def test_malformed_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    response = client.get("/api/auth/v1/status", headers={"Authorization": header})
    assert response.status_code == 401


def test_tampered_admin_claim_does_not_make_an_admin(client: TestClient, make_user) -> None:
    user = make_user()
    forged = jwt.encode(
        dict(claims_of(user.access_token), admin=True),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
    )
    assert client.get("/api/admin/users", headers=bearer(forged)).status_code == 401
    assert client.get("/api/admin/users", headers=user.headers).status_code == 403


# -- revocation across processes ---------------------------------------------------------


def test_logout_all_in_one_process_ends_tokens_in_another_within_seconds(
    client: TestClient, other_process: TestClient, make_user
) -> None:
    user = make_user()
    assert other_process.get("/api/auth/me", headers=user.headers).status_code == 200
    assert (
        client.post("/api/auth/logout", json={"all": True}, headers=user.headers).status_code == 204
    )
    elapsed = wait_until(
        lambda: other_process.get("/api/auth/me", headers=user.headers).status_code == 401
    )
    assert elapsed < 3


def test_single_logout_ends_that_access_token_in_other_processes(
    client: TestClient, other_process: TestClient, make_user
) -> None:
    user = make_user()
    second = login(client, user.email)
    assert other_process.get("/api/auth/me", headers=user.headers).status_code == 200
    client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    wait_until(lambda: other_process.get("/api/auth/me", headers=user.headers).status_code == 401)
    assert other_process.get("/api/auth/me", headers=second.headers).status_code == 200


def test_password_change_ends_tokens_in_other_processes(
    client: TestClient, other_process: TestClient, make_user
) -> None:
    user = make_user()
    assert other_process.get("/api/auth/me", headers=user.headers).status_code == 200
    response = client.post(
        "/api/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "changed password"},
        headers=user.headers,
    )
    fresh = response.json()["access_token"]
    wait_until(lambda: other_process.get("/api/auth/me", headers=user.headers).status_code == 401)
    # The token issued after the change is accepted by the other process at once, even
    # before its poll (a newer version than cached is re-read once).
    assert other_process.get("/api/auth/me", headers=bearer(fresh)).status_code == 200


def test_demotion_ends_admin_tokens_in_other_processes(
    client: TestClient, other_process: TestClient, admin: TestUser
) -> None:
    second_admin = client.post(
        "/api/admin/users",
        json={"email": "second-admin@example.com", "password": PASSWORD, "is_admin": True},
        headers=admin.headers,
    ).json()
    demoted = login(client, "second-admin@example.com")
    assert other_process.get("/api/admin/users", headers=demoted.headers).status_code == 200
    response = client.patch(
        f"/api/admin/users/{second_admin['id']}", json={"is_admin": False}, headers=admin.headers
    )
    assert response.status_code == 200 and response.json()["is_admin"] is False
    wait_until(
        lambda: other_process.get("/api/admin/users", headers=demoted.headers).status_code == 401
    )
    relogged = login(other_process, "second-admin@example.com")
    assert other_process.get("/api/admin/users", headers=relogged.headers).status_code == 403
    assert claims_of(relogged.access_token)["admin"] is False


def test_deleted_user_tokens_die_at_once_in_the_deleting_process(
    client: TestClient, admin: TestUser, make_user
) -> None:
    user = make_user()
    assert client.delete(f"/api/admin/users/{user.id}", headers=admin.headers).status_code == 204
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401


def test_verification_needs_no_database_query_in_the_steady_state(
    client: TestClient, make_user
) -> None:
    user = make_user()
    assert client.get("/api/auth/v1/status", headers=user.headers).status_code == 200
    statements: list[str] = []
    engine = client.app.state.tinybase.db.engine

    def record(conn, cursor, statement, *args) -> None:
        is_poll = "updated_at >=" in statement or "revoked_at >=" in statement
        if not is_poll:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(5):
            assert client.get("/api/auth/v1/status", headers=user.headers).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    # Only the background poll reads the database; the requests themselves never do.
    assert statements == []
