"""Helpers shared by the HTTP tests: the test password, cheap settings, logged-in users.

Plain code, not fixtures: test modules import it as ``from tests.api.helpers import ...``
(pytest discourages importing from conftest modules); the fixtures live in conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

__all__ = ["FAST_TEST_CONFIG", "PASSWORD", "TestUser", "login"]

PASSWORD = "correct horse battery"
FAST_TEST_CONFIG = {
    "public_url": "https://tinybase.example",
    "auth_password_time_cost": 1,
    "auth_password_memory_kib": 1024,
    "auth_password_parallelism": 1,
    "auth_revocation_poll_seconds": 0.1,
}


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
