"""TrailBase's npm client (``trailbase``, as in ``tests/api/test_trailbase_client.py``)
reads a file column and downloads its files from a live TinyBase (local file storage)."""

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

from tests.api.test_trailbase_client import ADMIN, JS_DIR, trailbase_js
from tests.live_server import live_server
from tinybase.api.startup import build_state
from tinybase.settings import load_config

__all__ = ["trailbase_js"]  # the session fixture, shared with the client test module

USER = ("files-js@example.com", "files js password 1")
SCENARIO = "trailbase_files_scenario.mjs"


@pytest.fixture(scope="module")
def files_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A live TinyBase over a SQLite file with an ``attachments`` table: (URL, db URL)."""
    folder = tmp_path_factory.mktemp("files-js")
    db_url = f"sqlite:///{folder / 'tinybase.db'}"
    state = build_state(load_config(db_url=db_url))
    try:
        state.users.create_user(email=ADMIN[0], password=ADMIN[1], is_admin=True)
        metadata = sa.MetaData()
        sa.Table("_user", metadata, sa.Column("id", sa.String(36), primary_key=True))
        sa.Table(
            "attachments",
            metadata,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id"), nullable=False),
            sa.Column("title", sa.Text),
            sa.Column("single_file", sa.Text),
            sa.Column("multiple_files", sa.Text),
        )
        with state.db.write() as connection:
            metadata.create_all(connection)
    finally:
        state.close()
    env = {**os.environ, "TINYBASE_DB_URL": db_url}
    with live_server(env, folder / "server.log") as base:
        yield base, db_url


def _define(base: str) -> None:
    with httpx.Client(base_url=base) as http:
        login = http.post("/api/auth/v1/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        headers = {"Authorization": f"Bearer {login.json()['auth_token']}"}
        rule = "_ROW_.owner = _USER_.id"
        api = {
            "name": "attachments",
            "table_name": "attachments",
            "acl_authenticated": ["CREATE", "READ", "UPDATE", "DELETE"],
            "autofill_missing_user_id_columns": True,
            "read_access_rule": rule,
            "update_access_rule": rule,
            "delete_access_rule": rule,
            "file_columns": {"single_file": "std.FileUpload", "multiple_files": "std.FileUploads"},
        }
        response = http.post("/api/admin/record-apis", json=api, headers=headers)
        assert response.status_code == 201, response.text
        registered = http.post(
            "/api/auth/v1/register", json={"email": USER[0], "password": USER[1]}
        )
        assert registered.status_code == 200, registered.text


def test_npm_client_reads_a_file_column_and_downloads_the_files(
    files_server: tuple[str, str], trailbase_js: Path
) -> None:
    base, db_url = files_server
    _define(base)
    shutil.copy(JS_DIR / SCENARIO, trailbase_js / SCENARIO)
    result = subprocess.run(
        ["node", SCENARIO, base, *USER],
        cwd=trailbase_js,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["downloaded"] == [0, 1, 2, 3, 4, 5]
    assert seen["text"] == "hello from the npm client"
    assert seen["single"]["mime_type"] == "application/octet-stream"
    assert seen["single"]["content_type"] == "application/octet-stream"
    assert seen["disposition"].startswith("attachment")
    assert seen["nosniff"] == "nosniff"
    assert seen["anonymous"] in (401, 403)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT single_file FROM attachments").scalar_one()
    finally:
        engine.dispose()
    assert json.loads(stored)["original_filename"] == "test1.bin"
