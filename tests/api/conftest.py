"""Fixtures for HTTP tests: the app on SQLite and PostgreSQL, users and their tokens."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.api.app import create_app
from tinybase.settings import Config, load_config

_emails = itertools.count(1)


@pytest.fixture
def app_config(db_url: str) -> Config:
    """A fresh instance on a fresh database (both dialects), with cheap argon2 parameters."""
    return load_config(db_url=db_url, **FAST_TEST_CONFIG)


@pytest.fixture
def client(app_config: Config) -> Iterator[TestClient]:
    """HTTP through the ASGI app, with its lifespan run (migrations, keys, services)."""
    with TestClient(create_app(app_config)) as test_client:
        yield test_client


@pytest.fixture
def other_process(app_config: Config, client: TestClient) -> Iterator[TestClient]:
    """A second instance on the same database as ``client``: another worker process."""
    with TestClient(create_app(app_config)) as second:
        yield second


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., TestUser]:
    """Register (through the API) and log in a new normal user."""

    def make(email: str | None = None, password: str = PASSWORD) -> TestUser:
        email = email or f"user{next(_emails)}@example.com"
        response = client.post("/api/auth/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return login(client, email, password)

    return make


@pytest.fixture
def admin(client: TestClient) -> TestUser:
    """An admin, created the way `tinybase admin add` does, then logged in over HTTP."""
    email = f"admin{next(_emails)}@example.com"
    client.app.state.tinybase.users.create_user(email=email, password=PASSWORD, is_admin=True)
    return login(client, email)
