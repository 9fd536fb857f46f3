"""TrailBase's official npm client (``trailbase``) against a real TinyBase server.

A session fixture prepares a SQLite database (an admin, a ``posts`` table), starts uvicorn
on 127.0.0.1 in a subprocess, defines the record API over HTTP, and runs
``tests/js/trailbase_scenario.mjs``: login, create, read, update, bulk create, list with
filters, order and cursor paging, a transaction, refresh, delete, logout.

The npm package is installed with ``npm install`` into a cache directory. Without node/npm
the test is skipped, except in CI or with ``TINYBASE_REQUIRE_PG=1``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.live_server import live_server
from tinybase.api.startup import build_state
from tinybase.settings import load_config

JS_DIR = Path(__file__).parent.parent / "js"
CACHE_DIR = Path(os.environ.get("TINYBASE_JS_CACHE", Path.home() / ".cache" / "tinybase-js"))
ADMIN = ("admin@example.com", "admin password 123")
USER = ("user@example.com", "user password 123")


def _required() -> bool:
    return os.environ.get("TINYBASE_REQUIRE_PG") == "1" or bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def trailbase_js() -> Path:
    """A directory with the scenario script and ``node_modules/trailbase`` installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        if _required():
            pytest.fail("node and npm are required in CI for the TrailBase client test")
        pytest.skip("node/npm are not installed")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "trailbase_scenario.mjs"):
        shutil.copy(JS_DIR / name, CACHE_DIR / name)
    if not (CACHE_DIR / "node_modules" / "trailbase" / "package.json").exists():
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return CACHE_DIR


def _prepare(db_url: str) -> None:
    """Migrate, add an admin and a plain ``posts`` table (what ``tinybase admin add`` does)."""
    state = build_state(load_config(db_url=db_url))
    try:
        state.users.create_user(email=ADMIN[0], password=ADMIN[1], is_admin=True)
        metadata = sa.MetaData()
        sa.Table("_user", metadata, sa.Column("id", sa.String(36), primary_key=True))
        sa.Table(
            "posts",
            metadata,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id"), nullable=False),
            sa.Column("title", sa.String(200)),
            sa.Column("score", sa.Integer),
        )
        with state.db.write() as connection:
            metadata.create_all(connection)
    finally:
        state.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A TinyBase server on a free loopback port over a fresh SQLite file: (URL, db URL)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('trailbase') / 'tinybase.db'}"
    _prepare(db_url)
    env = {**os.environ, "TINYBASE_DB_URL": db_url}
    log_path = tmp_path_factory.mktemp("trailbase-log") / "server.log"
    with live_server(env, log_path) as base:
        yield base, db_url


def _define_api(base: str) -> None:
    with httpx.Client(base_url=base) as http:
        login = http.post("/api/auth/v1/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['auth_token']}"}
        api = {
            "name": "posts",
            "table_name": "posts",
            "acl_authenticated": ["CREATE", "READ", "UPDATE", "DELETE"],
            "autofill_missing_user_id_columns": True,
            "create_access_rule": "_REQ_.owner = _USER_.id",
            "read_access_rule": "_ROW_.owner = _USER_.id",
            "update_access_rule": "_ROW_.owner = _USER_.id",
            "delete_access_rule": "_ROW_.owner = _USER_.id",
        }
        response = http.post("/api/admin/record-apis", json=api, headers=headers)
        assert response.status_code == 201, response.text
        response = http.post("/api/auth/v1/register", json={"email": USER[0], "password": USER[1]})
        assert (response.status_code, response.text) == (200, "registered")


def test_trailbase_npm_client_scenario(server: tuple[str, str], trailbase_js: Path) -> None:
    base, db_url = server
    _define_api(base)
    result = subprocess.run(
        ["node", "trailbase_scenario.mjs", base, *USER],
        cwd=trailbase_js,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["first"] == ["b4", "b3", "b2"] and seen["second"] == ["b1"]
    assert seen["afterLogout"] == 401
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT title, score FROM posts").all()
            owners = (
                connection.exec_driver_sql(
                    "SELECT DISTINCT u.email FROM posts p JOIN _user u ON u.id = p.owner"
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert sorted(rows) == [("b1", 50), ("b3", 7), ("b4", 8), ("tx", 9)]
    assert owners == [USER[0]]
