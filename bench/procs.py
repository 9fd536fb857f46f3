"""Servers under test: started pinned on loopback, stopped by process group, always.

Every server runs in its own session (``start_new_session``), so its process group id is its
pid: stopping it signals that group only (uvicorn's workers included), never anything by name.
Output goes to a log file, not a pipe, so a chatty server can never block on a full pipe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["LOOPBACK", "ServerFailed", "free_port", "server"]

LOOPBACK = "127.0.0.1"


class ServerFailed(RuntimeError):
    """A server exited or never became ready; the message carries its log's tail."""


def free_port() -> int:
    """A TCP port free on loopback right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a server log, for error messages."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def server(
    cmd: Sequence[str],
    *,
    ready_url: str,
    log_path: Path,
    cpu: int | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (pinned to ``cpu`` with taskset when given) until the block exits.

    Raises:
        ServerFailed: the process exited, or ``ready_url`` did not answer 200 in ``timeout``.
    """
    full = ["taskset", "-c", str(cpu), *cmd] if cpu is not None else list(cmd)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            full,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_ready(proc, ready_url, timeout, log_path)
        yield proc
    finally:
        stop(proc)


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path) -> None:
    """Poll ``url`` until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ServerFailed(f"not ready after {timeout:.0f}s at {url}:\n{log_tail(log_path)}")


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL it after ``grace`` seconds.

    The group is SIGKILLed at the end in any case, so no straggler of it outlives the run.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=grace)
