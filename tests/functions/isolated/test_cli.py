"""``tinybase functions new | sync | list | call`` against a local instance (real uv)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.functions.isolated.conftest import SCRIPTS
from tinybase.cli.main import app

runner = CliRunner()


@pytest.fixture
def instance(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINYBASE_DB_URL", f"sqlite:///{clean_environment / 'cli.db'}")
    monkeypatch.setenv("TINYBASE_LOG_LEVEL", "warning")
    return clean_environment / "functions"


def test_new_sync_list_and_call(instance: Path) -> None:
    created = runner.invoke(app, ["functions", "new", "greet"])
    assert created.exit_code == 0, created.output
    assert (instance / "greet.py").read_text().startswith("# /// script\n")
    again = runner.invoke(app, ["functions", "new", "greet"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    shutil.copyfile(SCRIPTS / "broken.py.txt", instance / "broken.py")

    synced = runner.invoke(app, ["functions", "sync"])
    assert synced.exit_code == 1, synced.output  # one script fails
    assert "1 ready, 1 failed" in synced.output
    assert "RuntimeError: this script cannot load" in synced.output

    listed = runner.invoke(app, ["functions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "greet" in listed.output and "isolated" in listed.output

    called = runner.invoke(app, ["functions", "call", "greet", "--data", '{"name": "Ada"}'])
    assert called.exit_code == 0, called.output
    assert json.loads(called.stdout[called.stdout.index("{") :]) == {"message": "Hello, Ada!"}
    bad = runner.invoke(app, ["functions", "call", "greet", "--data", "{nope"])
    assert bad.exit_code == 2
