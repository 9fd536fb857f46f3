"""An isolated function is hooked like an in-process one: on_function_call before,
on_function_complete after, with the call's payload and outcome."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG
from tests.functions.isolated.conftest import copy_script, wait_until_settled
from tinybase.api.app import create_app
from tinybase.settings import load_config

HOOKS = """\
from tinybase.extensions import on_function_call, on_function_complete

EVENTS = []


@on_function_call(name="echo")
def called(event):
    EVENTS.append(("call", event.function_name, event.payload))


@on_function_complete(name="echo")
def completed(event):
    EVENTS.append(("complete", event.function_name, event.status, event.error_type))
"""


def test_isolated_calls_run_the_function_hooks(tmp_path: Path) -> None:
    folder = tmp_path / "functions"
    folder.mkdir()
    copy_script(folder, "echo")
    (folder / "echo_hooks.py").write_text(HOOKS)
    config = load_config(
        db_url=f"sqlite:///{tmp_path / 'hooks.db'}", functions_path=str(folder), **FAST_TEST_CONFIG
    )
    with TestClient(create_app(config)) as client:
        wait_until_settled(client)
        (module,) = client.app.state.tinybase.functions.load.modules
        events = sys.modules[module].EVENTS
        assert client.post("/api/functions/echo", json={"a": 1}).json() == {"a": 1}
        deadline = time.monotonic() + 5
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert events == [("call", "echo", {"a": 1}), ("complete", "echo", "succeeded", None)]
