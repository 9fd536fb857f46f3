"""One instance for the isolated-function tests, shared by the session: its scripts'
environments are prepared once per test run (real uv, real worker processes)."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.api.app import create_app
from tinybase.settings import load_config

SCRIPTS = Path(__file__).parent / "scripts"
READY_SECONDS = 180.0
SERVER_SECRET = "hunter2-server-only"
_emails = itertools.count()


def copy_script(folder: Path, name: str, as_name: str | None = None) -> Path:
    """Put ``scripts/<name>.py.txt`` into ``folder`` as ``<as_name or name>.py``."""
    target = folder / f"{as_name or name}.py"
    shutil.copyfile(SCRIPTS / f"{name}.py.txt", target)
    return target


@pytest.fixture(scope="session")
def sdk_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdk") / "functions"
    folder.mkdir()
    for name in ("my_function", "whoami", "probe", "with_dep", "echo", "broken"):
        copy_script(folder, name)
    return folder


@pytest.fixture(scope="session")
def sdk_client(sdk_folder: Path) -> Iterator[TestClient]:
    """The instance, once every script of ``sdk_folder`` is prepared (or failed)."""
    os.environ["SERVER_ONLY_SECRET"] = SERVER_SECRET
    os.environ["PASSED_ON_PURPOSE"] = "yes"
    config = load_config(
        db_url=f"sqlite:///{sdk_folder.parent / 'sdk.db'}",
        functions_path=str(sdk_folder),
        function_timeout_seconds=4.0,
        function_memory_limit_mb=384,
        function_max_result_bytes=100_000,
        function_output_limit_chars=2000,
        function_env_allow=["PASSED_ON_PURPOSE"],
        function_secrets={"probe": {"PROBE_API_KEY": "per-function-secret"}},
        function_deploy_poll_seconds=0.5,
        **FAST_TEST_CONFIG,
    )
    try:
        with TestClient(create_app(config)) as client:
            wait_until_settled(client)
            yield client
    finally:
        del os.environ["SERVER_ONLY_SECRET"], os.environ["PASSED_ON_PURPOSE"]


def wait_until_settled(client: TestClient, seconds: float = READY_SECONDS) -> list[dict]:
    """Wait until no script is being prepared; return the scripts' listing."""
    isolated = client.app.state.tinybase.functions.isolated
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listing = isolated.listing()
        if listing and all(entry["state"] != "preparing" for entry in listing):
            return listing
        time.sleep(0.2)
    raise AssertionError(f"scripts still preparing: {isolated.listing()}")


@pytest.fixture(scope="session")
def sdk_admin(sdk_client: TestClient) -> TestUser:
    email = f"sdk-admin{next(_emails)}@example.com"
    sdk_client.app.state.tinybase.users.create_user(email=email, password=PASSWORD, is_admin=True)
    return login(sdk_client, email)


@pytest.fixture
def sdk_user(sdk_client: TestClient) -> TestUser:
    """A new normal user (created directly: registration is rate-limited per address)."""
    email = f"sdk-user{next(_emails)}@example.com"
    sdk_client.app.state.tinybase.users.create_user(email=email, password=PASSWORD)
    return login(sdk_client, email)
