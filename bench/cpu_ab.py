"""Server CPU time per request, for A/B comparisons on a busy machine.

wrk's req/s move with whatever else runs on this shared machine; the CPU time the server
spends per request moves much less. This drives one ``tinybase serve`` (the tree on
``PYTHONPATH``, so two checkouts compare on the same venv) with the bench's own seeding and
wrk scripts, and for each workload reads the server process's CPU time (``/proc/<pid>/stat``,
every thread) around one wrk run. (This machine's VM exposes no hardware counters, so
``perf stat`` cannot count instructions.)

    PYTHONPATH=/path/to/tree python bench/cpu_ab.py --workloads W1,W4 --rounds 3

Prints one line per (round, family, workload): requests, req/s and CPU µs per
request.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tinybase_system
from api import Setup
from workloads import WORKLOADS
from wrk import run_wrk

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_pid() -> int:
    """The ``tinybase serve`` this process started (its only child running ``serve``)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == os.getpid() and b"serve" in cmdline:
            return int(stat.parent.name)
    raise RuntimeError("no tinybase serve child found")


def measure(pid: int, api, name: str, seconds: int, ids_file: Path) -> tuple[int, float]:
    """(requests, CPU seconds) of one wrk run of ``name``."""
    before = cpu_seconds(pid)
    run = run_wrk(api, name, WORKLOADS[name].script, seconds, ids_file)
    used = cpu_seconds(pid) - before
    if run.problem:
        raise RuntimeError(f"{api.family} {name}: {run.problem}")
    return run.requests, used


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="W1,W4")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default=os.environ.get("PYTHONPATH", "venv"))
    opts = parser.parse_args()
    names = opts.workloads.split(",")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="tb-cpu-ab-") as tmp:
        setup = Setup(workdir=Path(tmp), records=opts.records, bin_dir=bin_dir, cpu=0)
        with tinybase_system.running(setup) as (apis, _seeded):
            pid = server_pid()
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("\n".join(apis[0].ids) + "\n")
            for api in apis:  # warm-up: every shape compiled, caches filled
                for name in names:
                    run_wrk(api, name, WORKLOADS[name].script, 1, ids_file)
            for round_ in range(opts.rounds):
                for api in apis:
                    for name in names:
                        n, cpu = measure(pid, api, name, opts.seconds, ids_file)
                        print(
                            f"{opts.label} r{round_} {api.family:11} {name}: {n:6d} req "
                            f"{n / opts.seconds:7.0f}/s  cpu {cpu / n * 1e6:6.1f} us/req",
                            flush=True,
                        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
