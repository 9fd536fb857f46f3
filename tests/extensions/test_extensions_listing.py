"""``GET /api/admin/extensions`` (admins only, tested from the attacker's side) and
``tinybase extensions list``: what loaded, with its hooks, and what failed and why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, bad_tokens, login
from tinybase.api.app import create_app
from tinybase.cli.main import app as cli
from tinybase.settings import load_config

GOOD = """
    from tinybase.extensions import before_record_create, on_record_delete
    from tinybase.functions import register

    @register("orders_count", description="How many orders")
    def orders_count(ctx) -> int:
        return 0

    @on_record_delete
    def gone(event):
        pass

    @before_record_create(collection="orders")
    def check(event):
        pass
"""


@pytest.fixture
def extensions_root(extension_dir) -> Path:
    extension_dir(
        "orders",
        {"orders_ext.py": GOOD},
        manifest='name = "orders"\nversion = "0.3"\nmodule = "orders_ext"\n',
    )
    return extension_dir("broken", {"broken.py": "1 / 0\n"})


@pytest.fixture
def client(extensions_root: Path, sqlite_url: str) -> Iterator[TestClient]:
    config = load_config(
        db_url=sqlite_url, extensions_path=str(extensions_root), **FAST_TEST_CONFIG
    )
    with TestClient(create_app(config)) as test_client:
        yield test_client


def _admin_and_user(client: TestClient):
    users = client.app.state.tinybase.users
    users.create_user(email="admin@example.com", password=PASSWORD, is_admin=True)
    users.create_user(email="user@example.com", password=PASSWORD)
    return login(client, "admin@example.com"), login(client, "user@example.com")


def test_admins_see_what_loaded_and_what_failed(client, extensions_root: Path) -> None:
    admin, _user = _admin_and_user(client)
    response = client.get("/api/admin/extensions", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enabled"] is True
    assert body["loaded"] == [
        {
            "name": "orders",
            "version": "0.3",
            "description": None,
            "source": "folder",
            "location": str(extensions_root / "orders"),
            "module": "orders_ext",
            "hooks": [
                {"kind": "record_delete", "target": None, "handler": "orders_ext.gone"},
                {"kind": "before_record_create", "target": "orders", "handler": "orders_ext.check"},
            ],
            "functions": ["orders_count"],
        }
    ]
    assert body["failed"] == [
        {
            "name": "broken",
            "source": "folder",
            "location": str(extensions_root / "broken"),
            "file": str(extensions_root / "broken" / "broken.py"),
            "line": 1,
            "error": "ZeroDivisionError: division by zero",
        }
    ]


def test_the_listing_is_for_admins_only(client) -> None:
    _admin, user = _admin_and_user(client)
    assert client.get("/api/admin/extensions").status_code == 401
    response = client.get("/api/admin/extensions", headers=user.headers)
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Admin access required"},
    )
    for name, token in bad_tokens(client, user).items():
        answer = client.get("/api/admin/extensions", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        assert "orders" not in answer.text


def test_the_cli_lists_extensions_and_failures(
    extensions_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYBASE_EXTENSIONS_PATH", str(extensions_root))
    result = CliRunner().invoke(cli, ["extensions", "list"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Loaded extensions (1)" in out and "Failed to load (1)" in out
    assert "orders" in out and "0.3" in out and "folder" in out
    assert "record_delete orders_ext.gone" in out
    assert "before_record_create(orders) orders_ext.check" in out
    assert "orders_count" in out
    assert f"{extensions_root / 'broken' / 'broken.py'}:1" in out
    assert "ZeroDivisionError: division by zero" in out


def test_the_cli_says_when_extensions_are_disabled(
    extensions_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYBASE_EXTENSIONS_PATH", str(extensions_root))
    monkeypatch.setenv("TINYBASE_EXTENSIONS_ENABLED", "false")
    result = CliRunner().invoke(cli, ["extensions", "list"])
    assert result.exit_code == 0
    assert "Extensions are disabled" in result.output and "orders" not in result.output
