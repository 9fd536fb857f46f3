"""Drive one workload with wrk pinned to CPU 1, and read back its JSON summary.

wrk runs with 1 thread and 32 connections; the Lua scripts in ``bench/lua`` count every
status code and print one ``BENCH_JSON`` line. A run is valid only if every response was a
2xx and there was no socket error (connect, read, write, timeout).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api import Api
from procs import LOOPBACK

__all__ = ["LUA_DIR", "WrkRun", "run_wrk"]

LUA_DIR = Path(__file__).resolve().parent / "lua"
CONNECTIONS = 32
WRK_CPU = 1


@dataclass(frozen=True)
class WrkRun:
    """wrk's figures for one run, and whether they may be reported."""

    requests: int
    seconds: float
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_us: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def problem(self) -> str | None:
        """Why the run is INVALID, or None when it is valid."""
        bad = {k: v for k, v in self.statuses.items() if not k.startswith("2")}
        socket_errors = {k: v for k, v in self.errors.items() if k != "status" and v}
        if bad:
            return f"non-2xx statuses {bad}"
        if socket_errors:
            return f"socket errors {socket_errors}"
        if not self.requests:
            return "no request completed"
        return None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "rps": round(self.rps, 1), "problem": self.problem}


def wrk_command(api: Api, script: str, seconds: int, ids_file: Path, name: str) -> list[str]:
    req = api.requests[name]
    static = "{id}" not in req.path
    url = api.base_url + (req.path if static else "/")
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"refusing to load a non-loopback target: {url}")
    headers = [arg for k, v in api.headers.items() for arg in ("-H", f"{k}: {v}")]
    return [
        *("taskset", "-c", str(WRK_CPU), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s"),
        *("--timeout", "2s", "-s", script, *headers, "-H", "Content-Type: application/json"),
        *(url, "--", req.path, str(ids_file), req.body),
    ]


def run_wrk(api: Api, name: str, script: str, seconds: int, ids_file: Path) -> WrkRun:
    """Load ``api`` with workload ``name`` for ``seconds``.

    Raises:
        RuntimeError: wrk failed or printed no summary (its output is in the message).
    """
    cmd = wrk_command(api, script, seconds, ids_file, name)
    done = subprocess.run(
        cmd, cwd=LUA_DIR, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            return WrkRun(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                statuses=data["statuses"],
                errors=data["errors"],
                latency_us=data["latency_us"],
            )
    raise RuntimeError(f"wrk exited {done.returncode}: {done.stdout[-800:]} {done.stderr[-800:]}")
