"""The ``tinybase`` command line, in process (CliRunner) and one real ``tinybase serve``."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tinybase import __version__
from tinybase.cli import serve as serve_command
from tinybase.cli.config_template import render_config_template, toml_location
from tinybase.cli.main import app
from tinybase.data import database
from tinybase.db import migrate
from tinybase.db.models import User
from tinybase.settings import Config, check_environment, environment_variable, flatten_toml

runner = CliRunner()
TINYBASE = Path(sys.executable).parent / "tinybase"

pytestmark = pytest.mark.usefixtures("clean_environment")


def admins(db_file: Path) -> list[str]:
    db = database(f"sqlite:///{db_file}")
    try:
        with db.read() as connection:
            table = User.__table__
            rows = connection.execute(sa.select(table.c.email).where(table.c.is_admin)).all()
        return [row.email for row in rows]
    finally:
        db.engine.dispose()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tinybase {__version__}"


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "serve", "db", "admin", "functions", "version"):
        assert command in result.output


# -- init ----------------------------------------------------------------------------------


def test_init_writes_a_commented_config_and_an_example_function(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "site"])
    assert result.exit_code == 0, result.output
    config_text = (tmp_path / "site" / "tinybase.toml").read_text()
    assert flatten_toml(tomllib.loads(config_text)) == {}  # all commented out: defaults
    example = (tmp_path / "site" / "functions" / "hello.py").read_text()
    assert "@register(" in example
    for network in ("httpx", "requests", "urllib", "socket", "client."):
        assert network not in example
    compile(example, "hello.py", "exec")
    assert not (tmp_path / "site" / "tinybase.db").exists()  # no admin asked: no database


def test_config_template_documents_every_setting_at_its_default() -> None:
    for name, field in Config.model_fields.items():
        assert field.description, f"config field {name} has no description"
        if field.default is None:
            assert field.examples, f"config field {name} is unset by default but has no example"
    defaults = Config.model_construct()
    section = None
    seen: set[str] = set()
    for line in render_config_template().splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
        elif assignment := re.fullmatch(r"# (\w+) = (.+?)(  # default: unset)?", line):
            key, value, unset = assignment.groups()
            [name] = flatten_toml({section: {key: None}} if section else {key: None})
            assert toml_location(name) == (section, key)
            expected = None if unset else tomllib.loads(f"v = {value}")["v"]
            assert getattr(defaults, name) == expected, name
            seen.add(name)
    assert seen == set(Config.model_fields) - {"record_apis"}


def test_config_template_names_each_settings_environment_variable() -> None:
    lines = render_config_template().splitlines()
    section = None
    named: dict[str, str] = {}
    for previous, line in itertools.pairwise(lines):
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
        elif assignment := re.fullmatch(r"# (\w+) = .+", line):
            key = assignment.group(1)
            [name] = flatten_toml({section: {key: None}} if section else {key: None})
            named[name] = previous
    assert named == {
        name: f"# (environment: {environment_variable(name)})"
        for name in set(Config.model_fields) - {"record_apis"}
    }
    assert named["db_url"] == "# (environment: TINYBASE_DB_URL)"
    mentioned = set(re.findall(r"TINYBASE_\w+", render_config_template()))
    check_environment(dict.fromkeys(mentioned, "x"))  # every variable it names is real
    assert "<SECTION>" not in render_config_template()


def test_uncommented_template_loads_as_the_defaults(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        line[2:] if re.match(r"# \w+ = ", line) and "default: unset" not in line else line
        for line in render_config_template().splitlines()
    ]
    (clean_environment / "tinybase.toml").write_text("\n".join(lines))
    from tinybase.settings import load_config

    assert load_config() == Config()


def test_init_keeps_existing_files(tmp_path: Path) -> None:
    (tmp_path / "tinybase.toml").write_text("debug = true\n")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "kept" in result.output
    assert (tmp_path / "tinybase.toml").read_text() == "debug = true\n"
    assert (tmp_path / "functions" / "hello.py").is_file()


def test_init_creates_the_admin_in_the_instance_folder(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["init", "site", "--admin-email", "boss@example.com", "--admin-password", "s3cret pw!"]
    )
    assert result.exit_code == 0, result.output
    assert admins(tmp_path / "site" / "tinybase.db") == ["boss@example.com"]
    assert not (tmp_path / "tinybase.db").exists()
    assert Path.cwd() == tmp_path


def test_init_takes_the_admin_from_the_environment(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["init"],
        env={"TINYBASE_ADMIN_EMAIL": "env@example.com", "TINYBASE_ADMIN_PASSWORD": "s3cret pw!"},
    )
    assert result.exit_code == 0, result.output
    assert admins(tmp_path / "tinybase.db") == ["env@example.com"]


def test_init_refuses_an_email_without_a_password(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--admin-email", "boss@example.com"])
    assert result.exit_code == 2
    assert "--admin-password" in result.output
    assert not (tmp_path / "tinybase.toml").exists()


def test_init_rejects_a_short_admin_password(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["init", "--admin-email", "boss@example.com", "--admin-password", "short"]
    )
    assert result.exit_code == 1
    assert "password" in result.output
    assert "Traceback" not in result.output
    assert admins(tmp_path / "tinybase.db") == []


# -- db ------------------------------------------------------------------------------------


def test_db_upgrade_current_history(tmp_path: Path) -> None:
    env = {"TINYBASE_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 0, result.output
    assert "not migrated yet" in result.output
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"database at revision {migrate.head()}" in result.output
    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.output.strip() == f"{migrate.head()} (head)"
    result = runner.invoke(app, ["db", "history"], env=env)
    assert result.exit_code == 0
    assert "<base> -> 0001: The system tables" in result.output


def test_unknown_environment_variable_stops_a_command() -> None:
    result = runner.invoke(app, ["db", "current"], env={"TINYBASE_DB_ULR": "sqlite://"})
    assert result.exit_code == 2
    assert "TINYBASE_DB_ULR (did you mean TINYBASE_DB_URL?)" in result.output


def test_serve_refuses_reload_with_workers() -> None:
    result = runner.invoke(app, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 2
    assert "--reload" in result.output


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The arguments of every ``uvicorn.run`` call ``tinybase serve`` makes (none serves)."""
    calls: list[dict[str, object]] = []

    def run(*args: object, **kwargs: object) -> None:
        calls.append({**kwargs, "public_url": os.environ.get("TINYBASE_PUBLIC_URL")})

    monkeypatch.setattr(serve_command.uvicorn, "run", run)
    # serve may export the public URL to its server processes: gone again after the test.
    monkeypatch.setenv("TINYBASE_PUBLIC_URL", "unset")
    monkeypatch.delenv("TINYBASE_PUBLIC_URL")
    return calls


def printed_setup_link(output: str) -> str:
    [link] = re.findall(r"^  (\S+)/admin/setup\?token=[\w-]+$", output, flags=re.MULTILINE)
    return link


def test_serve_prints_the_setup_link_on_the_port_it_listens_on(
    uvicorn_runs: list[dict[str, object]],
) -> None:
    result = runner.invoke(app, ["serve", "--port", "8766"])
    assert result.exit_code == 0, result.output
    assert printed_setup_link(result.output) == "http://127.0.0.1:8766"
    assert [(run["host"], run["port"]) for run in uvicorn_runs] == [("0.0.0.0", 8766)]
    # The server processes build reset links on the same address.
    assert [run["public_url"] for run in uvicorn_runs] == ["http://127.0.0.1:8766"]


def test_serve_prints_the_setup_link_on_an_ipv6_interface(
    uvicorn_runs: list[dict[str, object]],
) -> None:
    result = runner.invoke(app, ["serve", "--host", "::", "--port", "8766"])
    assert result.exit_code == 0, result.output
    assert printed_setup_link(result.output) == "http://[::1]:8766"


def test_serve_prints_the_setup_link_on_public_url_when_set(
    uvicorn_runs: list[dict[str, object]],
) -> None:
    env = {"TINYBASE_PUBLIC_URL": "https://base.example/"}
    result = runner.invoke(app, ["serve", "--port", "8766"], env=env)
    assert result.exit_code == 0, result.output
    assert printed_setup_link(result.output) == "https://base.example"
    assert [run["public_url"] for run in uvicorn_runs] == ["https://base.example/"]


# -- a real server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tinybase serve exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout}s")


def test_serve_starts_a_real_server_on_a_fresh_folder(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TINYBASE_")}
    process = subprocess.Popen(
        [str(TINYBASE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", process)
        health = httpx.get(f"{base}/health", headers={"X-Request-ID": "tour-42"})
        assert health.json() == {"status": "ok"}
        assert health.headers["x-request-id"] == "tour-42"
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "TinyBase"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    assert (tmp_path / "tinybase.db").is_file()  # created and migrated on first run
    # No admin yet: the one-time setup URL, on the port the server listens on.
    assert f"  http://127.0.0.1:{port}/admin/setup?token=" in output
    assert "Traceback" not in output
    assert "[tour-42] 127.0.0.1" in output  # request ids in the access log
