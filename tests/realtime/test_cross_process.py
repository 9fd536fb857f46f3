"""Events reach subscribers of every process: ``tinybase serve --workers 2`` on one SQLite
file (through the ``_realtime_event`` table), and two servers on one PostgreSQL database
(LISTEN/NOTIFY; events past NOTIFY's 8000 bytes through the table)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.live_server import free_port, live_server
from tests.realtime.conftest import define_apis, prepare_database, server_env
from tests.realtime.helpers import ADMIN, User, login, register, sse

V1 = "/api/records/v1"


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90  # two workers start on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("tinybase serve did not start")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tinybase serve --workers 2`` over a fresh SQLite file: its base URL."""
    directory = tmp_path_factory.mktemp("workers")
    db_url = f"sqlite:///{directory / 'tinybase.db'}"
    prepare_database(db_url)
    port = free_port()
    command = [sys.executable, "-c", "from tinybase.cli.main import app; app()", "serve"]
    command += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    log = directory / "serve.log"
    env = server_env(db_url)
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=directory, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        define_apis(base, login(base, ADMIN))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _new_connection_post(base: str, path: str, user: User, body: dict) -> str:
    # A new connection each time: the kernel hands it to either worker.
    with httpx.Client(base_url=base) as http:
        response = http.post(path, json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["ids"][0]


def test_sqlite_workers_deliver_every_event_to_every_stream(workers: str) -> None:
    alice = register(workers, "alice@example.com")
    bob = register(workers, "bob@example.com")
    with ExitStack() as stack:
        # Six streams over new connections: each lands on one of the two workers.
        readers = []
        for _ in range(6):
            http = stack.enter_context(httpx.Client(base_url=workers))
            readers.append(stack.enter_context(sse(http, f"{V1}/notes/subscribe/*", alice.headers)))
        time.sleep(0.1)
        _new_connection_post(workers, f"{V1}/notes", bob, {"title": "bob's"})
        ids = [
            _new_connection_post(workers, f"{V1}/notes", alice, {"title": f"n{i}"})
            for i in range(6)
        ]
        for reader in readers:
            seen = [reader.next(5)["Insert"]["id"] for _ in ids]
            assert seen == ids  # in commit order, none of bob's
            assert reader.nothing_within(0.2)


@pytest.fixture(scope="module")
def two_postgres_servers(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Two servers on one fresh PostgreSQL database."""
    name = f"rt_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db_url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    directory = tmp_path_factory.mktemp("pg-realtime")
    try:
        prepare_database(db_url)
        env = server_env(db_url)
        with (
            live_server(env, directory / "a.log") as first,
            live_server(env, directory / "b.log") as second,
        ):
            define_apis(first, login(first, ADMIN))
            yield first, second
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_postgres_events_reach_the_other_process(two_postgres_servers: tuple[str, str]) -> None:
    first, second = two_postgres_servers
    alice = register(first, "alice@example.com")
    bob = register(first, "bob@example.com")
    with (
        httpx.Client(base_url=first) as writer,
        httpx.Client(base_url=second) as reading,
        sse(reading, f"{V1}/notes/subscribe/*", alice.headers) as notes,
        sse(reading, f"{V1}/docs/subscribe/*", alice.headers) as docs,
    ):
        writer.post(f"{V1}/notes", json={"title": "bob's"}, headers=bob.headers)
        big = "x" * 20_000  # past NOTIFY's payload limit: sent by reference
        response = writer.post(
            f"{V1}/notes", json={"title": "big", "body": big}, headers=alice.headers
        )
        record = response.json()["ids"][0]
        event = notes.next(5)
        assert event["Insert"]["id"] == record and event["Insert"]["body"] == big
        writer.patch(f"{V1}/notes/{record}", json={"score": 7}, headers=alice.headers)
        assert notes.next(5)["Update"]["score"] == 7
        writer.delete(f"{V1}/notes/{record}", headers=alice.headers)
        assert notes.next(5)["Delete"]["id"] == record
        assert notes.nothing_within(0.3)
        # A rule with a query per event, evaluated in the reading process on PostgreSQL.
        _member(first, alice, "a")
        writer.post(f"{V1}/docs", json={"title": "b", "grp": "b"}, headers=bob.headers)
        writer.post(f"{V1}/docs", json={"title": "a", "grp": "a"}, headers=bob.headers)
        assert docs.next(5)["Insert"]["title"] == "a"
        assert docs.nothing_within(0.3)


def _member(base: str, user: User, group: str) -> None:
    """Put ``user`` in ``group`` (a record API over ``members``, defined for this test)."""
    admin = login(base, ADMIN)
    with httpx.Client(base_url=base, headers=admin.headers) as http:
        api = {"name": "members", "table_name": "members", "acl_authenticated": ["CREATE"]}
        response = http.post("/api/admin/record-apis", json=api)
        assert response.status_code in (201, 409), response.text
        response = http.post(f"{V1}/members", json={"member": user.id, "grp": group})
        assert response.status_code == 200, response.text
