"""A real TinyBase server for tests that need one: uvicorn in a subprocess on loopback.

Plain code, not a fixture: the browser tests and the TrailBase client test wrap it in their
own fixtures (``from tests.live_server import live_server``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "live_server"]

READY_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(env: Mapping[str, str], log_path: Path, port: int | None = None) -> Iterator[str]:
    """Run ``create_app`` under uvicorn until the block exits; yield its base URL.

    Args:
        env: the server's whole environment (its ``TINYBASE_*`` settings included).
        log_path: where its output goes (a file, not a pipe: a full pipe would stall it).
        port: the port to bind; a free one when None.

    Raises:
        RuntimeError: the server exited or did not answer ``/health`` in time (its log's tail
            in the message).
    """
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "tinybase.api.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start within {READY_TIMEOUT:.0f} s")
