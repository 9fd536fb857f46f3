"""Cold start of an isolated (SDK) function, beside W8's warm figures.

Measures, on this machine, for W8's echo script: preparing its environment with uv when it
is already satisfied (a restart), and starting a worker (spawn, interpreter, imports of
pydantic, httpx and the script, the ``hello`` frame) until it can take a call: what the
first call after an idle timeout waits for. The first preparation ever (uv resolving and
downloading the script's dependencies) depends on the network and uv's cache, and is
printed once for what it is.

Usage: ``python bench/cold_start.py [--runs 10]`` (prints a JSON line and a summary).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from tinybase_system import SDK_ECHO_FUNCTION

from tinybase.functions.environments import prepare_environment
from tinybase.functions.workers import Worker, worker_environment


async def worker_starts(python: Path, script: Path, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        worker = await Worker.start(
            "echo_sdk",
            python,
            script,
            environment=lambda home: worker_environment({}, {}, home),
            memory_bytes=1024 * 1024 * 1024,
            output_limit=65536,
            start_seconds=60,
        )
        seconds.append(time.perf_counter() - started)
        await worker.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        script = work / "echo_sdk.py"
        script.write_text(SDK_ECHO_FUNCTION)
        started = time.perf_counter()
        python = prepare_environment("bench", SDK_ECHO_FUNCTION, work=work, cwd=work, timeout=600)
        first = time.perf_counter() - started
        satisfied = []
        for _ in range(runs):
            started = time.perf_counter()
            prepare_environment("bench", SDK_ECHO_FUNCTION, work=work, cwd=work, timeout=600)
            satisfied.append(time.perf_counter() - started)
        starts = asyncio.run(worker_starts(python, script, runs))
    result = {
        "first_prepare_s": round(first, 3),
        "prepare_satisfied_ms": round(statistics.median(satisfied) * 1000, 1),
        "worker_start_ms": round(statistics.median(starts) * 1000, 1),
        "worker_start_max_ms": round(max(starts) * 1000, 1),
        "runs": runs,
    }
    print(json.dumps(result))
    print(
        f"uv, environment satisfied: {result['prepare_satisfied_ms']} ms (median); "
        f"worker start to first call: {result['worker_start_ms']} ms (median, "
        f"max {result['worker_start_max_ms']} ms); first preparation: {first:.2f} s"
    )


if __name__ == "__main__":
    main()
