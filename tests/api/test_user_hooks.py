"""User hooks through a real app (SQLite and PostgreSQL): ``on_user_register`` for every way
a user comes to exist, ``on_user_login`` for password logins only (a refresh is not one), and
``tinybase admin add`` running the extensions' register hook in the CLI process."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import PASSWORD, login
from tinybase.api.app import create_app
from tinybase.auth.setup import ensure_setup_token
from tinybase.cli.main import app as cli
from tinybase.extensions import (
    UserLoginEvent,
    UserRegisterEvent,
    hooks,
    on_user_login,
    on_user_register,
)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(hooks, "_collected", [])
    seen: list = []
    on_user_register(seen.append)

    @on_user_login
    async def logged_in(event: UserLoginEvent) -> None:
        seen.append(event)

    return seen


@pytest.fixture
def client(events, app_config) -> Iterator[TestClient]:
    with TestClient(create_app(app_config)) as test_client:
        yield test_client


def settled(client: TestClient, events: list, count: int) -> list:
    """``events`` once ``count`` arrived and the hook queue is empty (no more come)."""
    deadline = time.monotonic() + 10
    while (len(events) < count or client.app.state.tinybase.hooks.queued) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(events) == count, events
    return events


def _id(client: TestClient, email: str) -> uuid.UUID:
    user = client.app.state.tinybase.users.find_by_email(email)
    assert user is not None
    return uuid.UUID(str(user.id))


def test_every_way_a_user_comes_to_exist_fires_on_user_register(client, events) -> None:
    state = client.app.state.tinybase
    token = ensure_setup_token(state.db, state.config)
    setup = client.post(
        "/api/admin/setup",
        json={"token": token, "email": "owner@example.com", "password": PASSWORD},
    )
    assert setup.status_code == 201
    owner = login(client, "owner@example.com")
    assert (
        client.post(
            "/api/auth/register", json={"email": "a@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/auth/v1/register", json={"email": "b@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )
    made = client.post(
        "/api/admin/users",
        json={"email": "c@example.com", "password": PASSWORD},
        headers=owner.headers,
    )
    assert made.status_code == 201
    state.users.create_user(email="d@example.com", password=PASSWORD)  # Python, as the CLI does
    # Failures fire nothing: a taken email (both families), a bad password.
    assert (
        client.post(
            "/api/auth/register", json={"email": "a@example.com", "password": PASSWORD}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/auth/v1/register", json={"email": "e@example.com", "password": "short"}
        ).status_code
        == 422
    )
    seen = settled(client, events, 6)
    registered = [e for e in seen if isinstance(e, UserRegisterEvent)]
    emails = [f"{n}@example.com" for n in ("owner", "a", "b", "c", "d")]
    assert registered == [UserRegisterEvent(_id(client, email), email) for email in emails]
    # The only login so far: the owner's.
    assert [e for e in seen if isinstance(e, UserLoginEvent)] == [
        UserLoginEvent(_id(client, "owner@example.com"), "owner@example.com", True)
    ]


def test_password_logins_fire_on_user_login_and_refreshes_do_not(client, events) -> None:
    client.app.state.tinybase.users.create_user(email="u@example.com", password=PASSWORD)
    settled(client, events, 1)
    events.clear()
    user = login(client, "u@example.com")
    trailbase = client.post(
        "/api/auth/v1/login", json={"email": "u@example.com", "password": PASSWORD}
    )
    assert trailbase.status_code == 200
    assert (
        client.post(
            "/api/auth/login", json={"email": "u@example.com", "password": "wrong password"}
        ).status_code
        == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).status_code
        == 200
    )
    assert (
        client.post(
            "/api/auth/v1/refresh", json={"refresh_token": trailbase.json()["refresh_token"]}
        ).status_code
        == 200
    )
    expected = UserLoginEvent(_id(client, "u@example.com"), "u@example.com", False)
    assert settled(client, events, 2) == [expected, expected]


def test_the_cli_runs_the_register_hook_of_an_extension(
    extension_folder: Path, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "registered.jsonl"
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "TINYBASE_DB_URL": sqlite_url,
        "TINYBASE_EXTENSIONS_PATH": str(extension_folder),
        "TINYBASE_AUTH_PASSWORD_TIME_COST": "1",
        "TINYBASE_AUTH_PASSWORD_MEMORY_KIB": "1024",
        "TINYBASE_AUTH_PASSWORD_PARALLELISM": "1",
        "WELCOME_OUT": str(out),
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(cli, ["admin", "add", "root@example.com", PASSWORD])
    assert result.exit_code == 0, result.output
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["email"] == "root@example.com"
    # Promoting an existing user creates nobody: no second event.
    assert runner.invoke(cli, ["admin", "add", "root@example.com", PASSWORD]).exit_code == 0
    assert len(out.read_text().splitlines()) == 1


@pytest.fixture
def extension_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(hooks, "_collected", [])
    root = tmp_path / "extensions"
    (root / "welcome").mkdir(parents=True)
    (root / "welcome" / "welcome_ext.py").write_text(
        "import json, os\n"
        "from tinybase.extensions import on_user_register\n\n"
        "@on_user_register\n"
        "def welcome(event):\n"
        "    with open(os.environ['WELCOME_OUT'], 'a') as out:\n"
        "        out.write(json.dumps({'email': event.email}) + '\\n')\n"
    )
    (root / "welcome" / "extension.toml").write_text('module = "welcome_ext"\n')
    yield root
    sys.modules.pop("welcome_ext", None)
    if str(root / "welcome") in sys.path:
        sys.path.remove(str(root / "welcome"))
