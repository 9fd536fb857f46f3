"""SQLite's write lock held by another process: writes wait, and never answer 500.

Another process is played by a plain ``sqlite3`` connection holding ``BEGIN IMMEDIATE`` (it
shares none of this process's locks), and for real by two uvicorn processes on one file.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, login
from tests.live_server import live_server
from tinybase.api.app import create_app
from tinybase.api.startup import build_state
from tinybase.settings import load_config

BULK = 500


def _make_table(db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("CREATE TABLE rows (id TEXT PRIMARY KEY, n INTEGER)")


@contextmanager
def _lock_held(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another writer holding the database's write lock until the block ends."""
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def busy_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """An app over a SQLite file whose writes wait 0.3 s for the lock; table ``rows`` is
    open to anonymous creates."""
    db_path = tmp_path / "tinybase.db"
    config = load_config(
        db_url=f"sqlite:///{db_path}", db_write_wait_seconds=0.3, **FAST_TEST_CONFIG
    )
    with TestClient(create_app(config)) as client:
        _make_table(db_path)
        client.app.state.tinybase.users.create_user(
            email="admin@example.com", password=PASSWORD, is_admin=True
        )
        admin = login(client, "admin@example.com")
        api = {"name": "rows", "table_name": "rows", "acl_world": ["CREATE", "READ"]}
        response = client.post("/api/admin/record-apis", json=api, headers=admin.headers)
        assert response.status_code == 201, response.text
        yield client, db_path


def test_a_write_that_cannot_get_the_lock_is_503_with_retry_after(busy_client) -> None:
    client, db_path = busy_client
    with _lock_held(db_path):
        response = client.post("/api/records/v1/rows", json=[{"n": 1}, {"n": 2}])
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"detail": "The database is busy; retry shortly"}
    retried = client.post("/api/records/v1/rows", json=[{"n": 1}, {"n": 2}])
    assert retried.status_code == 200, retried.text
    with sqlite3.connect(db_path) as connection:
        assert sorted(n for (n,) in connection.execute("SELECT n FROM rows")) == [1, 2]


def test_a_write_waits_for_a_lock_released_within_the_wait(busy_client) -> None:
    client, db_path = busy_client
    with _lock_held(db_path) as other:
        threading.Timer(0.1, other.execute, ("COMMIT",)).start()
        response = client.post("/api/records/v1/rows", json={"n": 7})
    assert response.status_code == 200, response.text
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("SELECT n FROM rows").fetchall() == [(7,)]


def _prepare(db_url: str, db_path: Path) -> None:
    state = build_state(load_config(db_url=db_url))
    try:
        state.users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    finally:
        state.close()
    _make_table(db_path)


def _define_rows_api(base: str) -> None:
    with httpx.Client(base_url=base) as http:
        credentials = {"email": "admin@example.com", "password": PASSWORD}
        token = http.post("/api/auth/v1/login", json=credentials).json()["auth_token"]
        api = {"name": "rows", "table_name": "rows", "acl_world": ["CREATE"]}
        headers = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/admin/record-apis", json=api, headers=headers).status_code == 201


async def _bulk_creates(bases: list[str], clients: int, rounds: int) -> list[int]:
    async def one_client(index: int) -> list[int]:
        async with httpx.AsyncClient(base_url=bases[index % len(bases)], timeout=60) as http:
            statuses = []
            for round_ in range(rounds):
                rows = [{"n": index * 1000 + round_} for _ in range(BULK)]
                statuses.append((await http.post("/api/records/v1/rows", json=rows)).status_code)
            return statuses

    results = await asyncio.gather(*(one_client(i) for i in range(clients)))
    return [status for statuses in results for status in statuses]


def test_bulk_creates_from_two_processes_on_one_file_all_commit(tmp_path: Path) -> None:
    db_path = tmp_path / "tinybase.db"
    db_url = f"sqlite:///{db_path}"
    _prepare(db_url, db_path)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TINYBASE_")}
    env |= {"TINYBASE_DB_URL": db_url}
    with ExitStack() as stack:
        first = stack.enter_context(live_server(env, tmp_path / "server1.log"))
        _define_rows_api(first)  # before the second process starts, which loads it then
        second = stack.enter_context(live_server(env, tmp_path / "server2.log"))
        statuses = asyncio.run(_bulk_creates([first, second], clients=12, rounds=4))
    assert statuses == [200] * 48
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM rows").scalar_one()
    finally:
        engine.dispose()
    assert count == 48 * BULK
