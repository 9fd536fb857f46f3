"""TrailBase's official clients (npm ``trailbase``, PyPI ``trailbase``) against a real TinyBase.

A session fixture prepares a SQLite database (an admin, a ``posts`` table for the npm client,
a ``notes`` table for the Python client), starts uvicorn on 127.0.0.1 in a subprocess, and
defines the record APIs over HTTP. Each client then runs its scenario script in its own
runtime: ``tests/js/trailbase_scenario.mjs`` with node (login, create, read, update, bulk
create, list with filters, order and cursor paging, a transaction, refresh, delete, logout)
and ``tests/py/trailbase_scenario.py`` with Python 3.13 (register, login, CRUD, filters,
cursor, count, expand, transactions, refresh, both logouts).

The npm package is installed with ``npm install`` into a cache directory; the PyPI package
into a Python 3.13 virtualenv in a cache directory, made once. Without node/npm the npm test
is skipped, except in CI or with ``TINYBASE_REQUIRE_PG=1``, where it fails. Without a Python
3.13 interpreter (``TINYBASE_PYTHON313``, ``python3.13`` on PATH, or pyenv's) the Python test
is skipped, except in CI or with ``TINYBASE_REQUIRE_PYTHON313=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.install_lock import install_lock
from tests.live_server import live_server
from tinybase.api.startup import build_state
from tinybase.settings import load_config

JS_DIR = Path(__file__).parent.parent / "js"
PY_SCENARIO = Path(__file__).parent.parent / "py" / "trailbase_scenario.py"
CACHE_DIR = Path(os.environ.get("TINYBASE_JS_CACHE", Path.home() / ".cache" / "tinybase-js"))
PY_CACHE_DIR = Path(
    os.environ.get("TINYBASE_PY_CLIENT_CACHE", Path.home() / ".cache" / "tinybase-trailbase-py")
)
PY_CLIENT = "trailbase==0.7.4"
ADMIN = ("admin@example.com", "admin password 123")
USER = ("user@example.com", "user password 123")
PY_USER = ("python@example.com", "python password 123")


def _required(variable: str = "TINYBASE_REQUIRE_PG") -> bool:
    return os.environ.get(variable) == "1" or bool(os.environ.get("CI"))


def _python313() -> str | None:
    """A Python 3.13 interpreter: TINYBASE_PYTHON313, pyenv's, or python3.13 on PATH (the
    first that runs: pyenv's shim on PATH fails when 3.13 is not the selected version)."""
    candidates = [os.environ.get("TINYBASE_PYTHON313")]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))]
    candidates.append(shutil.which("python3.13"))
    check = "import sys; sys.exit(sys.version_info[:2] != (3, 13))"
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="session")
def trailbase_js() -> Path:
    """A directory with the scenario script and ``node_modules/trailbase`` installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        if _required():
            pytest.fail("node and npm are required in CI for the TrailBase client test")
        pytest.skip("node/npm are not installed")
    with install_lock(CACHE_DIR):
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


@pytest.fixture(scope="session")
def trailbase_python() -> Path:
    """The interpreter of a Python 3.13 virtualenv with PyPI's ``trailbase`` installed."""
    base = _python313()
    if base is None:
        if _required("TINYBASE_REQUIRE_PYTHON313"):
            pytest.fail("Python 3.13 is required in CI for the TrailBase Python client test")
        pytest.skip("no Python 3.13 interpreter (set TINYBASE_PYTHON313)")
    python = PY_CACHE_DIR / "venv" / "bin" / "python"
    stamp = PY_CACHE_DIR / "venv" / "installed.txt"
    with install_lock(PY_CACHE_DIR):
        if not (python.exists() and stamp.exists() and stamp.read_text() == PY_CLIENT):
            subprocess.run([base, "-m", "venv", "--clear", str(python.parent.parent)], check=True)
            install = [str(python), "-m", "pip", "install", "--quiet"]
            install.append("--disable-pip-version-check")
            subprocess.run([*install, PY_CLIENT], check=True, capture_output=True, timeout=300)
            stamp.write_text(PY_CLIENT)
    return python


def _prepare(db_url: str) -> None:
    """Migrate, add an admin and the ``posts`` and ``notes`` tables (what ``tinybase admin
    add`` does)."""
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
        sa.Table(
            "notes",
            metadata,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id"), nullable=False),
            sa.Column("parent", sa.String(36), sa.ForeignKey("notes.id")),
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


def _define_api(base: str, table: str, **config: Any) -> None:
    """Define an owner-only record API over ``table`` as the admin, over HTTP."""
    with httpx.Client(base_url=base) as http:
        login = http.post("/api/auth/v1/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['auth_token']}"}
        api = {
            "name": table,
            "table_name": table,
            "acl_authenticated": ["CREATE", "READ", "UPDATE", "DELETE"],
            "autofill_missing_user_id_columns": True,
            "create_access_rule": "_REQ_.owner = _USER_.id",
            "read_access_rule": "_ROW_.owner = _USER_.id",
            "update_access_rule": "_ROW_.owner = _USER_.id",
            "delete_access_rule": "_ROW_.owner = _USER_.id",
            **config,
        }
        response = http.post("/api/admin/record-apis", json=api, headers=headers)
        assert response.status_code == 201, response.text


def test_trailbase_npm_client_scenario(server: tuple[str, str], trailbase_js: Path) -> None:
    base, db_url = server
    _define_api(base, "posts")
    with httpx.Client(base_url=base) as http:
        response = http.post("/api/auth/v1/register", json={"email": USER[0], "password": USER[1]})
        assert (response.status_code, response.text) == (200, "registered")
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


def test_trailbase_python_client_scenario(server: tuple[str, str], trailbase_python: Path) -> None:
    base, db_url = server
    _define_api(base, "notes", expand=["parent"])
    result = subprocess.run(
        [str(trailbase_python), str(PY_SCENARIO), base, *PY_USER],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["first"] == ["b4", "b3", "b2"] and seen["second"] == ["b1"]
    assert (seen["count"], seen["failedTransaction"], seen["afterLogout"]) == (4, 404, 401)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT title, score FROM notes").all()
            sessions = connection.exec_driver_sql(
                "SELECT count(*) FROM _session s JOIN _user u ON u.id = s.user_id"
                " WHERE u.email = ? AND s.revoked_at IS NULL",
                (PY_USER[0],),
            ).scalar_one()
    finally:
        engine.dispose()
    assert sorted(rows) == [("b1", 50), ("b3", 7), ("b4", 8), ("first", 2), ("tx", 9)]
    assert sessions == 0  # both logouts ended their sessions
