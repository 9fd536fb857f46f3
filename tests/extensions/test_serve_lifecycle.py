"""``on_startup`` and ``on_shutdown`` in a real ``tinybase serve`` process, in each worker,
and a graceful stop (SIGTERM, SIGINT) that drains the queued after-commit hooks first."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

REPO = Path(__file__).resolve().parents[2]
TINYBASE = Path(sys.executable).parent / "tinybase"

LIFECYCLE = """
import os
import time

from tinybase.extensions import on_shutdown, on_startup, on_user_register

OUT = os.environ["LIFECYCLE_OUT"]


def note(what):
    with open(OUT, "a") as out:
        out.write(f"{what} {os.getpid()}\\n")


@on_startup
async def started():
    note("startup")


@on_user_register
def registered(event):
    time.sleep(0.5)  # still queued when the signal comes: drained before on_shutdown
    note("registered " + event.email)


@on_shutdown
def stopped():
    note("shutdown")
"""


def _serve(tmp_path: Path, port: int, *args: str) -> tuple[subprocess.Popen, Path]:
    extensions = tmp_path / "extensions" / "lifecycle"
    extensions.mkdir(parents=True)
    (extensions / "extension.toml").write_text('name = "lifecycle"\nmodule = "lifecycle_ext"\n')
    (extensions / "lifecycle_ext.py").write_text(LIFECYCLE)
    out = tmp_path / "lifecycle.txt"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TINYBASE_")}
    env |= {
        # this checkout's tinybase and its bundled tinybase_sdk (sdk/)
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "sdk")]),
        "LIFECYCLE_OUT": str(out),
        "TINYBASE_EXTENSIONS_PATH": str(tmp_path / "extensions"),
        "TINYBASE_AUTH_PASSWORD_TIME_COST": "1",
        "TINYBASE_AUTH_PASSWORD_MEMORY_KIB": "1024",
        "TINYBASE_AUTH_PASSWORD_PARALLELISM": "1",
    }
    command = [str(TINYBASE), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its workers too can be killed as one group
    )
    return process, out


def _wait_for_lines(out: Path, count: int, process: subprocess.Popen) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tinybase serve exited: {_kill(process)[-3000:]}")
        lines = out.read_text().splitlines() if out.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    output = _kill(process)[-3000:]
    pytest.fail(f"only {out.read_text() if out.exists() else 'nothing'} in {out}: {output}")


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"{url} did not answer")


def _stop(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        output = _kill(process)
    return output


def _kill(process: subprocess.Popen) -> str:
    """Kill the server and its workers (orphaned workers would hold its output open)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.communicate()[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_startup_and_a_graceful_stop_of_a_real_server(tmp_path: Path, signum: int) -> None:
    port = free_port()
    process, out = _serve(tmp_path, port)
    try:
        (startup,) = _wait_for_lines(out, 1, process)
        assert startup.startswith("startup ")
        _wait_until_up(f"http://127.0.0.1:{port}/health", process)
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/register",
            json={"email": "new@example.com", "password": "correct horse battery"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
    finally:
        output = _stop(process, signum)
    # uvicorn stops gracefully, then re-raises a SIGTERM (the conventional exit status).
    assert process.returncode in (0, -signum), output
    assert "Application shutdown complete" in output
    pid = startup.split()[1]
    assert out.read_text().splitlines() == [
        f"startup {pid}",
        f"registered new@example.com {pid}",
        f"shutdown {pid}",
    ]
    assert "Traceback" not in output


def test_each_worker_process_runs_the_lifecycle_hooks(tmp_path: Path) -> None:
    port = free_port()
    process, out = _serve(tmp_path, port, "--workers", "2")
    try:
        lines = _wait_for_lines(out, 2, process)
    finally:
        output = _stop(process, signal.SIGTERM)
    assert process.returncode in (0, -signal.SIGTERM), output
    lines = out.read_text().splitlines()
    started = {line.split()[1] for line in lines if line.startswith("startup ")}
    stopped = {line.split()[1] for line in lines if line.startswith("shutdown ")}
    assert len(started) == 2 and stopped == started, lines
