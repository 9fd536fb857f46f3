"""Real ``tinybase serve`` processes sharing one database: every run happens exactly once.

One combined scenario per dialect (two processes on one SQLite file, three on one
PostgreSQL database):

1. a 1-second interval schedule runs for 10 seconds: exactly its 10 slots run, each once
   (counted in the call records, the run records and the function's own log);
2. the process running a slow scheduled function is killed with SIGKILL: its lease expires,
   another process marks the run interrupted (its call record too) and the schedule goes
   on in the surviving processes; no slot runs twice.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.api.helpers import FAST_TEST_CONFIG
from tests.live_server import free_port
from tinybase.api.startup import build_state
from tinybase.api.state import AppState
from tinybase.db.models import FunctionCall, ScheduleRun
from tinybase.settings import environment_variable, load_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3
_call = FunctionCall.__table__
_run = ScheduleRun.__table__


def server_env(db_url: str, functions_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TINYBASE_")}
    settings = {
        "db_url": db_url,
        "functions_path": str(functions_dir),
        "scheduler_interval_seconds": "1",
        "scheduler_lease_seconds": str(LEASE_SECONDS),
        "log_level": "warning",
        **{name: str(value) for name, value in FAST_TEST_CONFIG.items()},
    }
    env |= {environment_variable(name): value for name, value in settings.items()}
    env["PYTHONPATH"] = str(REPO)
    return env


@contextmanager
def serve(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``tinybase serve`` on a free loopback port until the block exits."""
    port = free_port()
    command = [sys.executable, "-c", "from tinybase.cli.main import app; app()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    pending = list(zip(processes, logs, strict=True))
    while pending and time.monotonic() < deadline:
        process, log = pending[0]
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{process.base_url}/health", timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    assert not pending, "servers did not start in time"


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def wait_for(condition: Any, *, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def runs_of(state: AppState, schedule_id: Any) -> list[Any]:
    with state.db.read() as conn:
        query = sa.select(_run).where(_run.c.schedule_id == schedule_id).order_by(_run.c.slot)
        return conn.execute(query).all()


def calls_of(state: AppState, schedule_id: Any) -> list[Any]:
    with state.db.read() as conn:
        query = sa.select(_call).where(_call.c.trigger_id == schedule_id)
        return conn.execute(query.order_by(_call.c.created_at)).all()


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def scenario(db_url: str, functions_dir: Path, tmp_path: Path, processes: int) -> None:
    env = server_env(db_url, functions_dir)
    state = build_state(load_config(db_url=db_url, functions_path=str(functions_dir)))
    with ExitStack() as stack:
        logs = [tmp_path / f"server{i}.log" for i in range(processes)]
        servers = [stack.enter_context(serve(env, log)) for log in logs]
        stack.callback(state.close)
        wait_ready(servers, logs)
        every_second(state, tmp_path / "ticks.log")
        killed_mid_run(state, servers, tmp_path / "slow.log")


def every_second(state: AppState, log: Path) -> None:
    start = datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC)
    schedule = state.schedules.create(
        function_name="note",
        schedule={"method": "interval", "every": 1, "start_at": start.isoformat()},
        payload={"log": str(log)},
    )
    sleep_until(start + timedelta(seconds=9.5))  # the slots at +0 s ... +9 s are due
    state.schedules.update(schedule["id"], enabled=False)
    wait_for(
        lambda: all(run.status != "running" for run in runs_of(state, schedule["id"])),
        seconds=10,
        what="the last runs to end",
    )
    runs = runs_of(state, schedule["id"])
    expected = [start + timedelta(seconds=k) for k in range(10)]
    assert [run.slot for run in runs] == expected
    assert {(run.status, run.attempt, run.trigger) for run in runs} == {
        ("succeeded", 1, "schedule")
    }
    calls = calls_of(state, schedule["id"])
    assert len(calls) == 10
    assert {(call.status, call.trigger_type) for call in calls} == {("succeeded", "schedule")}
    assert [entry["trigger_id"] for entry in log_lines(log)] == [str(schedule["id"])] * 10


def killed_mid_run(state: AppState, servers: list[subprocess.Popen[bytes]], log: Path) -> None:
    schedule = state.schedules.create(
        function_name="note",
        schedule={"method": "interval", "every": 1},
        payload={"log": str(log), "label": "slow", "sleep": 60},
    )
    first = wait_for(lambda: runs_of(state, schedule["id"]), seconds=10, what="a claimed run")[0]
    pid = int(first.claimed_by.split(":")[1])
    [victim] = [server for server in servers if server.pid == pid]
    # Started: its call record says running. Then the process dies mid-run.
    wait_for(lambda: calls_of(state, schedule["id"]), seconds=10, what="the running call")
    state.schedules.update(schedule["id"], payload={"log": str(log), "label": "fast"})
    os.kill(pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = datetime.now(UTC)

    def carried_on() -> bool:
        return any(run.status == "succeeded" for run in runs_of(state, schedule["id"]))

    wait_for(carried_on, seconds=LEASE_SECONDS + 15, what="the schedule to run again")
    state.schedules.update(schedule["id"], enabled=False)
    wait_for(
        lambda: all(run.status != "running" for run in runs_of(state, schedule["id"])),
        seconds=10,
        what="the last runs to end",
    )
    runs = runs_of(state, schedule["id"])
    assert (runs[0].id, runs[0].status, runs[0].attempt) == (first.id, "interrupted", 1)
    assert runs[0].finished_at >= killed_at + timedelta(seconds=LEASE_SECONDS - 1)
    assert {run.status for run in runs[1:]} == {"succeeded"}
    assert all(run.claimed_by != first.claimed_by for run in runs[1:])
    slots = [run.slot for run in runs]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    calls = calls_of(state, schedule["id"])
    assert (calls[0].status, calls[0].error_type) == ("failed", "ScheduleRunInterrupted")
    assert {call.status for call in calls[1:]} == {"succeeded"}
    assert len(calls) == len(runs)
    # The killed run never wrote its line (it slept); every later run wrote one.
    assert [entry["label"] for entry in log_lines(log)] == ["fast"] * (len(runs) - 1)


def test_two_processes_on_one_sqlite_file(
    sqlite_url: str, functions_dir: Path, tmp_path: Path
) -> None:
    scenario(sqlite_url, functions_dir, tmp_path, processes=2)


@pytest.mark.postgres
def test_three_processes_on_one_postgresql(
    postgres_url: str, functions_dir: Path, tmp_path: Path
) -> None:
    scenario(postgres_url, functions_dir, tmp_path, processes=3)
