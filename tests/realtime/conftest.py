"""A live TinyBase server on SQLite for the realtime tests, with users and record APIs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.live_server import live_server
from tests.realtime.helpers import ADMIN, PASSWORD, SERVER_ENV, User, login, register
from tinybase.api.startup import build_state
from tinybase.settings import load_config

EXTRA_ENV = {
    "TINYBASE_REALTIME_QUEUE_SIZE": "8",
    "TINYBASE_REALTIME_MAX_CONNECTIONS_PER_USER": "5",
    "TINYBASE_REALTIME_HEARTBEAT_SECONDS": "0.5",
}


@dataclass(frozen=True)
class Instance:
    base: str
    db_url: str
    admin: User
    alice: User
    bob: User


def prepare_database(db_url: str) -> None:
    """Migrate, add an admin, and the tables ``notes`` (owner rule) and ``docs`` (group rule)."""
    state = build_state(load_config(db_url=db_url))
    try:
        state.users.create_user(email=ADMIN, password=PASSWORD, is_admin=True)
        metadata = sa.MetaData()
        sa.Table("_user", metadata, sa.Column("id", sa.String(36), primary_key=True))
        for name in ("notes", "docs"):
            sa.Table(
                name,
                metadata,
                sa.Column("id", sa.String(36), primary_key=True),
                sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id")),
                sa.Column("title", sa.String(200)),
                sa.Column("score", sa.Integer),
                sa.Column("grp", sa.String(50)),
                sa.Column("_secret", sa.String(50)),
                sa.Column("body", sa.Text),
            )
        sa.Table(
            "members",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("member", sa.String(36), nullable=False),
            sa.Column("grp", sa.String(50), nullable=False),
        )
        with state.db.write() as connection:
            metadata.create_all(connection)
    finally:
        state.close()


OWNER_API = {
    "acl_authenticated": ["CREATE", "READ", "UPDATE", "DELETE"],
    "autofill_missing_user_id_columns": True,
    "create_access_rule": "_REQ_.owner = _USER_.id",
    "read_access_rule": "_ROW_.owner = _USER_.id",
    "update_access_rule": "_ROW_.owner = _USER_.id",
    "delete_access_rule": "_ROW_.owner = _USER_.id",
    "enable_subscriptions": True,
}
GROUP_RULE = "EXISTS (SELECT 1 FROM members m WHERE m.member = _USER_.id AND m.grp = _ROW_.grp)"


def define_apis(base: str, admin: User) -> None:
    """``notes`` (owner rule), ``docs`` (a group-membership rule: a query per event),
    ``quiet`` (subscriptions disabled), ``public_notes`` (anyone reads)."""
    apis = [
        {"name": "notes", "table_name": "notes", **OWNER_API},
        {
            "name": "docs",
            "table_name": "docs",
            **OWNER_API,
            "read_access_rule": GROUP_RULE,
            "update_access_rule": None,
            "delete_access_rule": None,
        },
        {"name": "quiet", "table_name": "notes", **OWNER_API, "enable_subscriptions": False},
        {
            "name": "public_notes",
            "table_name": "notes",
            "acl_world": ["READ"],
            "enable_subscriptions": True,
            "excluded_columns": ["grp"],
        },
    ]
    with httpx.Client(base_url=base, headers=admin.headers) as http:
        for api in apis:
            response = http.post("/api/admin/record-apis", json=api)
            assert response.status_code == 201, response.text


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, **SERVER_ENV, **EXTRA_ENV, "TINYBASE_DB_URL": db_url, **extra}


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One server for the module's tests, with an admin, alice and bob."""
    directory: Path = tmp_path_factory.mktemp("realtime")
    db_url = f"sqlite:///{directory / 'tinybase.db'}"
    prepare_database(db_url)
    with live_server(server_env(db_url), directory / "server.log") as base:
        admin = login(base, ADMIN)
        define_apis(base, admin)
        yield Instance(
            base,
            db_url,
            admin,
            register(base, "alice@example.com"),
            register(base, "bob@example.com"),
        )


@pytest.fixture
def http(instance: Instance) -> Iterator[httpx.Client]:
    """An HTTP client of the server."""
    with httpx.Client(base_url=instance.base) as client:
        yield client
