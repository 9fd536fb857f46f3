"""``tinybase admin add EMAIL PASSWORD``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tinybase.cli.main import app
from tinybase.data import database
from tinybase.db.models import User


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYBASE_DB_URL", sqlite_url)
    monkeypatch.setenv("TINYBASE_AUTH_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("TINYBASE_AUTH_PASSWORD_MEMORY_KIB", "1024")
    monkeypatch.setenv("TINYBASE_AUTH_PASSWORD_PARALLELISM", "1")
    return sqlite_url


def admins(url: str) -> dict[str, bool]:
    db = database(url)
    try:
        with db.read() as conn:
            return {row.email: row.is_admin for row in conn.execute(sa.select(User.__table__))}
    finally:
        db.engine.dispose()


def test_admin_add_creates_then_promotes(env: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["admin", "add", "Root@Example.com", "password123"])
    assert result.exit_code == 0, result.output
    assert "created admin root@example.com" in result.output
    assert admins(env) == {"root@example.com": True}
    result = runner.invoke(app, ["admin", "add", "root@example.com", "password456"])
    assert result.exit_code == 0 and "promoted admin root@example.com" in result.output


def test_admin_add_rejects_a_short_password(env: str) -> None:
    result = CliRunner().invoke(app, ["admin", "add", "root@example.com", "short"])
    assert result.exit_code == 1
    assert "password" in result.output
    assert admins(env) == {}
