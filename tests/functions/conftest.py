"""Fixtures for the functions tests: an instance whose functions folder is filled first.

A test module defines ``function_modules`` (a fixture: module name -> source) and asks for
``client``: the modules are written into the instance's ``functions_path`` before its app
starts and imports them, on SQLite and PostgreSQL. ``make_user`` and ``admin`` are the HTTP
tests' own fixtures (tests/api/conftest.py), over this ``client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import admin, make_user
from tests.api.helpers import FAST_TEST_CONFIG
from tests.functions.helpers import write_module
from tinybase.api.app import create_app
from tinybase.settings import Config, load_config


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "functions"
    folder.mkdir()
    return folder


__all__ = ["admin", "make_user"]


@pytest.fixture
def function_modules() -> dict[str, str]:
    """The function modules of the instance (a test module overrides it)."""
    return {}


@pytest.fixture
def app_config(db_url: str, functions_dir: Path, function_modules: dict[str, str]) -> Config:
    """The HTTP tests' instance, with ``functions_dir`` and a short call time limit."""
    for name, source in function_modules.items():
        write_module(functions_dir, name, source)
    return load_config(
        db_url=db_url,
        functions_path=str(functions_dir),
        function_timeout_seconds=1.0,
        function_max_payload_bytes=4096,
        **FAST_TEST_CONFIG,
    )


@pytest.fixture
def client(app_config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(app_config)) as test_client:
        yield test_client
