"""Fixtures for the schedule tests: an instance with real functions, on both dialects.

The functions module (``NOTE_FUNCTIONS``) appends one JSON line per call to the file named
in the payload, with what its ``Context`` said, and its hooks append to ``hooks.log``:
the tests read what really ran, as whom and through which trigger.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.api.app import create_app
from tinybase.settings import Config, load_config

NOTE_FUNCTIONS = '''
import json
import time

from pydantic import BaseModel

from tinybase.extensions import on_function_call, on_function_complete
from tinybase.functions import Context, register


class Note(BaseModel):
    log: str
    label: str = ""
    sleep: float = 0.0


def _append(path, entry):
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\\n")


@register("note", auth="auth")
def note(ctx: Context, payload: Note) -> dict:
    """Write down who called, through which trigger."""
    time.sleep(payload.sleep)
    _append(payload.log, {
        "label": payload.label,
        "trigger_type": ctx.trigger_type,
        "trigger_id": None if ctx.trigger_id is None else str(ctx.trigger_id),
        "user_id": None if ctx.user_id is None else str(ctx.user_id),
        "is_admin": ctx.is_admin,
        "at": time.time(),
    })
    return {"ok": True}


@register("admin_note", auth="admin")
def admin_note(ctx: Context, payload: Note) -> dict:
    _append(payload.log, {"label": payload.label, "is_admin": ctx.is_admin})
    return {"ok": True}


@register("boom", auth="admin")
def boom(ctx: Context) -> dict:
    raise RuntimeError("boom")


HOOK_LOG = "__HOOK_LOG__"


@on_function_call(name="note")
def before_note(event) -> None:
    _append(HOOK_LOG, {"hook": "call", "name": event.function_name})


@on_function_complete(name="note")
def after_note(event) -> None:
    _append(HOOK_LOG, {"hook": "complete", "status": event.status})
'''

_emails = itertools.count(1)


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "functions"
    folder.mkdir()
    source = NOTE_FUNCTIONS.replace("__HOOK_LOG__", str(tmp_path / "hooks.log"))
    (folder / "notes.py").write_text(source, encoding="utf-8")
    return folder


@pytest.fixture
def schedule_config(db_url: str, functions_dir: Path) -> Config:
    """An instance whose scheduler ticks every second (its loop is not driven by tests)."""
    return load_config(
        db_url=db_url,
        functions_path=str(functions_dir),
        scheduler_interval_seconds=1,
        **FAST_TEST_CONFIG,
    )


@pytest.fixture
def client(schedule_config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(schedule_config)) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestUser:
    email = f"admin{next(_emails)}@example.com"
    client.app.state.tinybase.users.create_user(email=email, password=PASSWORD, is_admin=True)
    return login(client, email)


@pytest.fixture
def user(client: TestClient) -> TestUser:
    email = f"user{next(_emails)}@example.com"
    client.app.state.tinybase.users.create_user(email=email, password=PASSWORD)
    return login(client, email)
