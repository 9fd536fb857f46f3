"""Limits of isolated functions: time, memory, a killed worker, concurrency, and that
nothing leaks (no zombie process, no stuck slot, no live token)."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tests.functions.isolated.test_calls import call
from tinybase.auth.principal import Principal
from tinybase.functions.errors import FunctionBusyError
from tinybase.functions.isolated import IsolatedFunctions
from tinybase.functions.isolated_calls import (
    IsolatedFunction,
    IsolatedFunctionSpec,
    IsolationSettings,
)
from tinybase.functions.registry import FunctionRegistry
from tinybase.utils import AuthLevel


def gone(pid: int) -> bool:
    """The process has exited and was reaped (no zombie left)."""
    return not Path(f"/proc/{pid}").exists()


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def worker_pid(client: TestClient, user: TestUser) -> int:
    response = call(client, "probe", {"action": "pid"}, user)
    assert response.status_code == 200, response.text
    return response.json()["pid"]


def test_timeout_kills_the_worker_and_answers_504(
    sdk_client: TestClient, sdk_user: TestUser
) -> None:
    pid = worker_pid(sdk_client, sdk_user)
    started = time.monotonic()
    response = call(sdk_client, "probe", {"action": "sleep", "seconds": 30}, sdk_user)
    assert response.status_code == 504
    assert response.json()["error_type"] == "FunctionTimeoutError"
    assert time.monotonic() - started < 10
    assert wait_gone(pid)
    assert call(sdk_client, "probe", {"action": "x"}, sdk_user).json() == {"echo": "x"}


def test_memory_limit_stops_the_call_and_the_next_gets_a_fresh_worker(
    sdk_client: TestClient, sdk_user: TestUser
) -> None:
    pid = worker_pid(sdk_client, sdk_user)
    response = call(sdk_client, "probe", {"action": "hog", "megabytes": 800}, sdk_user)
    assert response.status_code == 500
    assert response.json()["detail"] == "Function 'probe' ran past its memory limit (384 MiB)"
    assert response.json()["error_type"] == "MemoryError"
    assert wait_gone(pid)
    assert worker_pid(sdk_client, sdk_user) != pid
    small = call(sdk_client, "probe", {"action": "hog", "megabytes": 10}, sdk_user)
    assert small.json() == {"allocated": 10}


def test_sigkilled_worker_fails_its_call_cleanly(
    sdk_client: TestClient, sdk_user: TestUser
) -> None:
    pid = worker_pid(sdk_client, sdk_user)
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    response = call(sdk_client, "probe", {"action": "sleep", "seconds": 3}, sdk_user)
    killer.join()
    assert response.status_code == 500
    assert response.json()["error_type"] == "WorkerDied"
    assert wait_gone(pid)
    isolated = sdk_client.app.state.tinybase.functions.isolated
    assert len(isolated.tokens) == 0
    assert isolated.registry.get("probe").runtime.running == 0
    assert call(sdk_client, "probe", {"action": "y"}, sdk_user).json() == {"echo": "y"}


def test_32_concurrent_calls(sdk_client: TestClient) -> None:
    def one(number: int) -> tuple[int, object]:
        response = call(sdk_client, "echo", {"n": number})
        return response.status_code, response.json()

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32)))
    assert results == [(200, {"n": number}) for number in range(32)]
    function = sdk_client.app.state.tinybase.functions.registry.get("echo").runtime
    assert function.running == 0
    assert 1 <= function.pool.size <= 4


@pytest.mark.anyio
async def test_concurrency_per_function_and_per_user_is_limited(tmp_path: Path) -> None:
    settings = IsolationSettings(max_concurrent_calls=2, max_calls_per_user=1)
    manager = IsolatedFunctions(FunctionRegistry([]), settings, folder=tmp_path, work=tmp_path)
    function = IsolatedFunction("f", Path("python"), tmp_path / "f.py", settings, manager)
    spec = IsolatedFunctionSpec(
        name="f",
        handler=lambda ctx, payload: None,
        description=None,
        auth=AuthLevel.PUBLIC,
        tags=(),
        input_type=dict,
        output_type=dict,
        runtime=function,
    )
    alice, bob, carol = (Principal(user_id=name) for name in ("a", "b", "c"))
    with manager.admit(spec, alice):
        with (
            pytest.raises(FunctionBusyError, match="Too many function calls of yours"),
            manager.admit(spec, alice),
        ):
            pass
        with (
            manager.admit(spec, bob),
            pytest.raises(FunctionBusyError, match="too many calls running") as caught,
            manager.admit(spec, carol),
        ):
            pass
        assert caught.value.status_code == 429
    assert function.running == 0
    with manager.admit(spec, carol):
        assert function.running == 1
