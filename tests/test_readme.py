"""The README's promises: what ``make serve`` listens on, its links, and its examples."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, login, make_collection
from tinybase.api.app import create_app
from tinybase.settings import load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def make_serve_command(*variables: str) -> str:
    """The command ``make serve`` would run (``make -n``: printed, never run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Run by `make test`: the outer make's flags must not reach this one.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    command = ["make", "-n", "serve", *variables]
    dry_run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return dry_run.stdout.splitlines()[-1]


def test_make_serve_listens_on_loopback_as_the_readme_says() -> None:
    assert make_serve_command() == ".venv/bin/tinybase serve --host 127.0.0.1 --port 8000"
    assert "serves http://127.0.0.1:8000" in README
    assert "`make serve` listens on 127.0.0.1 only" in README


def test_make_serve_listens_on_every_interface_when_asked() -> None:
    assert make_serve_command("HOST=0.0.0.0") == (
        ".venv/bin/tinybase serve --host 0.0.0.0 --port 8000"
    )
    assert "`make serve HOST=0.0.0.0`" in README


def code_block(heading: str, language: str, index: int = 0) -> str:
    """The ``index``-th ``language`` code block of the README section under ``heading``."""
    section = README.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)[index]


def test_readme_links_every_doc() -> None:
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"[docs/{doc.name}](docs/{doc.name})" in README, doc.name


def test_readme_data_example_runs_as_its_comments_say(tmp_path: Path) -> None:
    code = code_block("## Python: `tinybase.data`", "python")
    expected = re.findall(r"^print\(.*\)  # (.*)$", code, flags=re.MULTILINE)
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    # this checkout's tinybase and its bundled tinybase_sdk (sdk/)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "sdk")])}
    run = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == expected
    assert (tmp_path / "tasks.db").is_file()


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    config = load_config(db_url=sqlite_url, **FAST_TEST_CONFIG)
    with TestClient(create_app(config)) as test_client:
        yield test_client


def test_readme_list_envelopes_are_what_both_families_answer(client: TestClient) -> None:
    users = client.app.state.tinybase.users
    users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    admin = login(client, "admin@example.com")
    fields = [{"name": "title", "type": "string"}, {"name": "done", "type": "boolean"}]
    make_collection(client, admin, "tasks", fields, {"list": "auth", "create": "auth"})
    created = client.post(
        "/api/collections/tasks/records",
        json={"data": {"title": "Try TinyBase", "done": True}},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    tinybase_family = client.get("/api/collections/tasks/records", headers=admin.headers)
    trailbase_family = client.get("/api/records/v1/tasks?count=true", headers=admin.headers)
    for documented, answer in zip(
        (code_block("**6.", "json", 0), code_block("**6.", "json", 1)),
        (tinybase_family.json(), trailbase_family.json()),
        strict=True,
    ):
        shown = json.loads(documented)
        assert set(shown) == set(answer)
        assert set(shown["records"][0]) == set(answer["records"][0])
    assert tinybase_family.json()["records"][0]["data"] == {"title": "Try TinyBase", "done": True}
