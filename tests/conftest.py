"""Suite-wide fixtures: a throwaway PostgreSQL server and fresh databases on both dialects.

Database fixtures, each once for SQLite (a file) and once for PostgreSQL:

- ``db_url``: the URL of a fresh, empty database;
- ``raw_db``: a :class:`tinybase.data.Database` on it, with no tables;
- ``migrated_db``: the same after the migrations (the system tables).

A module that needs rows or tables of its own builds them on one of these, in a fixture named
for what it seeds (``items_db``, ``schema``, ``catalog``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tinybase.data import Database, database
from tinybase.db.migrate import upgrade

PG_USER = "tinybase_test"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as(user: str | None) -> dict:
    """PostgreSQL refuses to run as root: drop to a dedicated system user when we are root."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _ensure_system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("tinybase-pg")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "tinybase-pg",
            ],
            check=True,
        )
    return "tinybase-pg"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TINYBASE_* variables and an empty working folder (so no stray tinybase.toml)."""
    for name in list(os.environ):
        if name.upper().startswith("TINYBASE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL server in a temp dir on a free loopback port; yield its admin URL."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("TINYBASE_REQUIRE_PG") == "1":
            pytest.fail("TINYBASE_REQUIRE_PG=1 but initdb/pg_ctl are not installed")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    system_user = _ensure_system_user()
    root = Path(tempfile.mkdtemp(prefix="tinybase-pg-"))
    data_dir, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    if system_user:
        shutil.chown(root, system_user)
        shutil.chown(socket_dir, system_user)
    as_user = _run_as(system_user)
    port = _free_port()
    subprocess.run(
        [initdb, "-D", str(data_dir), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        **as_user,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        [pg_ctl, "-D", str(data_dir), "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        **as_user,
    )
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(data_dir), "-m", "immediate", "stop"],
            capture_output=True,
            **as_user,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL, once for SQLite (file) and once for PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def raw_db(db_url: str) -> Iterator[Database]:
    """An empty database (no tables) on a SQLite file and on PostgreSQL."""
    opened = database(db_url)
    try:
        yield opened
    finally:
        opened.engine.dispose()


@pytest.fixture
def migrated_db(raw_db: Database) -> Database:
    """A fresh database with the system tables (the migrations run), on both dialects."""
    upgrade(raw_db)
    return raw_db
