"""Helpers shared by the HTTP tests: password, cheap settings, users, record APIs and tables.

Plain code, not fixtures: test modules import it as ``from tests.api.helpers import ...``
(pytest discourages importing from conftest modules); the fixtures live in conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tinybase.auth.signing_key import load_signing_key
from tinybase.utils import utcnow

__all__ = [
    "CORE",
    "FAST_TEST_CONFIG",
    "PASSWORD",
    "V1",
    "TestUser",
    "add_record",
    "bad_tokens",
    "create_tables",
    "define",
    "login",
    "make_collection",
    "make_tables",
    "rows_by_id",
    "table_rows",
]

PASSWORD = "correct horse battery"
FAST_TEST_CONFIG = {
    "public_url": "https://tinybase.example",
    "auth_password_time_cost": 1,
    "auth_password_memory_kib": 1024,
    "auth_password_parallelism": 1,
    "auth_revocation_poll_seconds": 0.1,
}
V1 = "/api/records/v1"
CORE = "/api/collections"


@dataclass(frozen=True)
class TestUser:
    """A registered, logged-in user and the headers that authenticate as them."""

    __test__ = False  # not a test class

    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def login(client: TestClient, email: str, password: str = PASSWORD) -> TestUser:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return TestUser(
        id=body["user"]["id"],
        email=email,
        password=password,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


def table_rows(client: TestClient, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` (read directly, sorted by id)."""
    with client.app.state.tinybase.db.read() as connection:
        rows = connection.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY id')).mappings()
        return [dict(row) for row in rows]


def rows_by_id(client: TestClient, table: str) -> dict[Any, dict[str, Any]]:
    """Every row of ``table`` (read directly), by its id."""
    return {row["id"]: row for row in table_rows(client, table)}


def make_collection(
    client: TestClient,
    admin: TestUser,
    name: str,
    fields: list[dict[str, Any]],
    access: dict[str, str],
) -> None:
    """Create collection ``name`` with ``fields`` and ``access`` rules, as ``admin``."""
    response = client.post(
        CORE,
        json={"name": name, "schema": {"fields": fields}, "options": {"access": access}},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text


def add_record(
    client: TestClient, user: TestUser | None, collection: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create a record of ``collection`` through ``/api/collections`` as ``user`` (``None``:
    anonymous); the answer's JSON."""
    headers = user.headers if user else {}
    response = client.post(f"{CORE}/{collection}/records", json={"data": data}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def create_tables(client: TestClient, metadata: sa.MetaData) -> None:
    """Create ``metadata``'s tables straight in the instance's database (no record API yet)."""
    with client.app.state.tinybase.db.write() as connection:
        metadata.create_all(connection)


def make_tables(client: TestClient) -> None:
    """A plain table ``posts`` (and ``memberships``), created straight in the database."""
    metadata = sa.MetaData()
    sa.Table("_user", metadata, sa.Column("id", sa.String(36), primary_key=True))  # exists
    sa.Table(
        "posts",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id"), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("grp", sa.String(50), nullable=True),
        sa.Column("_secret", sa.String(50), nullable=True),
        sa.Column("parent", sa.String(36), sa.ForeignKey("posts.id"), nullable=True),
    )
    sa.Table(
        "memberships",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member", sa.String(36), nullable=False),
        sa.Column("grp", sa.String(50), nullable=False),
    )
    create_tables(client, metadata)


def define(client: TestClient, admin: TestUser, **config: Any) -> dict[str, Any]:
    """Define an admin record API from ``config`` (table ``posts`` unless named); its JSON."""
    config.setdefault("table_name", "posts")
    response = client.post("/api/admin/record-apis", json=config, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def bad_tokens(client: TestClient, user: TestUser) -> dict[str, str]:
    """Tokens an attacker could send instead of ``user``'s access token, by name."""
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    key = load_signing_key(client.app.state.tinybase.db)
    now = utcnow()
    return {
        "forged": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "expired": jwt.encode(
            dict(claims, iat=now - timedelta(hours=1), exp=now - timedelta(seconds=1)),
            key,
            algorithm="EdDSA",
        ),
        "refresh token as access token": user.refresh_token,
        "garbage": "not.a.token",
    }
