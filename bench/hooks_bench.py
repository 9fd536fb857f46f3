"""W1 (create) with five no-op record hooks registered, against W1 without, in one run.

Two ``tinybase serve`` processes, each over its own SQLite file seeded as ``make bench``
seeds it (``tinybase_system``), both pinned to CPU 0 (only one is loaded at a time): one
plain, one with an extension folder whose module registers five no-op ``on_record_create``
hooks (three on ``bench``, two on every collection; plain functions, as most hooks are). wrk
(CPU 1, 1 thread, 32 connections) loads W1 on each HTTP family, alternating plain and hooked
for ``--rounds`` rounds, so that the machine's drift hits both alike; the figure is the
median of the rounds, the target a ratio of at least 0.90.

Usage: ``python bench/hooks_bench.py [--rounds 3] [--seconds 10] [--records 2000]``
(run from the repository; wrk and taskset needed, see ``bench/run.sh``). Bounded: at most
``rounds x 4 x (seconds + warm-up)`` seconds of load plus the set-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import tinybase_system
from api import Api, Setup
from procs import LOOPBACK, free_port, server
from workloads import WORKLOADS, check
from wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET = 0.90

NOOP_HOOKS = """
from tinybase.extensions import on_record_create


@on_record_create(collection="bench")
def noop_1(event):
    pass


@on_record_create(collection="bench")
def noop_2(event):
    pass


@on_record_create(collection="bench")
def noop_3(event):
    pass


@on_record_create
def noop_4(event):
    pass


@on_record_create(collection=None)
def noop_5(event):
    pass
"""


def log(message: str) -> None:
    print(f"[hooks-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def hooks_folder(workdir: Path) -> Path:
    """An extensions_path with one extension: five no-op record hooks."""
    folder = workdir / "extensions" / "bench_noop_hooks"
    folder.mkdir(parents=True)
    (folder / "extension.toml").write_text('name = "noop"\nmodule = "bench_noop_hooks"\n')
    (folder / "bench_noop_hooks.py").write_text(NOOP_HOOKS)
    return folder.parent


@contextmanager
def running(setup: Setup, *, hooks: bool) -> Iterator[list[Api]]:
    """One seeded ``tinybase serve`` (with the no-op hooks when ``hooks``); its two Apis."""
    tinybase_system.add_admin(setup)
    env = tinybase_system.environment(setup.workdir)
    if hooks:
        env |= {
            "TINYBASE_EXTENSIONS_ENABLED": "true",
            "TINYBASE_EXTENSIONS_PATH": str(hooks_folder(setup.workdir)),
        }
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    cmd = [str(setup.bin_dir / "tinybase"), "serve", "--host", LOOPBACK, "--port", str(port)]
    with (
        server(
            cmd,
            ready_url=f"{base}/health",
            log_path=setup.workdir / "tinybase.log",
            cpu=setup.cpu,
            env=env,
            cwd=setup.workdir,
        ),
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        if hooks:
            token = tinybase_system.login(client, tinybase_system.ADMIN)
            extensions = client.get(
                "/api/admin/extensions", headers={"Authorization": f"Bearer {token}"}
            ).json()
            (loaded,) = extensions["loaded"]
            assert len(loaded["hooks"]) == 5, extensions
        seeded = tinybase_system.seed_tinybase(client, setup.records)
        system = "tinybase + 5 hooks" if hooks else "tinybase"
        yield tinybase_system.family_apis(base, seeded.token, seeded.ids, 1, system)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--records", type=int, default=2_000)
    opts = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    script = WORKLOADS["W1"].script
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="tinybase-hooks-bench-") as root, ExitStack() as stack:
        systems = []
        for hooks in (False, True):
            workdir = Path(root) / ("hooks" if hooks else "plain")
            workdir.mkdir()
            setup = Setup(workdir=workdir, records=opts.records, bin_dir=bin_dir, cpu=0)
            apis = stack.enter_context(running(setup, hooks=hooks))
            ids_file = workdir / "ids.txt"
            ids_file.write_text("\n".join(apis[0].ids) + "\n")
            systems.append((apis, ids_file))
        for apis, _ids in systems:
            with httpx.Client(timeout=30) as client:
                for api in apis:
                    check(api, "W1", client, opts.records)
        for number in range(opts.rounds):
            for family in (0, 1):
                for apis, ids_file in systems:
                    api = apis[family]
                    run_wrk(api, "W1", script, 2, ids_file)  # warm-up
                    run = run_wrk(api, "W1", script, opts.seconds, ids_file)
                    if run.problem:
                        log(f"{api.system} {api.family}: INVALID: {run.problem}")
                        return 1
                    p99 = run.latency_us["p99"] / 1000
                    runs.setdefault((api.family, api.system), []).append((run.rps, p99))
                    log(f"round {number + 1} {api.system} {api.family}: {run.rps:,.0f} req/s")
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report = render(runs, opts, started, load_start, load_end)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started.strftime('%Y-%m-%d-%H%M')}-hooks.md"
    path.write_text(report)
    print(report)
    log(f"report: {path}")
    ratios = [ratio(runs, family) for family in ("collections", "records-v1")]
    return 0 if all(r >= TARGET for r in ratios) else 1


def ratio(runs: dict[tuple[str, str], list[tuple[float, float]]], family: str) -> float:
    plain = statistics.median(rps for rps, _p99 in runs[(family, "tinybase")])
    hooked = statistics.median(rps for rps, _p99 in runs[(family, "tinybase + 5 hooks")])
    return hooked / plain


def render(
    runs: dict[tuple[str, str], list[tuple[float, float]]],
    opts: argparse.Namespace,
    started: datetime,
    load_start: str,
    load_end: str,
) -> str:
    lines = [
        f"# W1 with five no-op record hooks: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"{opts.rounds} rounds of {opts.seconds} s per system and family, alternating plain"
        f" and hooked; {opts.records:,} seeded records each; load averages {load_start} at"
        f" the start, {load_end} at the end.",
        "",
        "| family | system | req/s per round | median req/s | median p99 ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for family in ("collections", "records-v1"):
        for system in ("tinybase", "tinybase + 5 hooks"):
            figures = runs[(family, system)]
            rounds = ", ".join(f"{rps:,.0f}" for rps, _p99 in figures)
            median = statistics.median(rps for rps, _p99 in figures)
            p99 = statistics.median(p for _rps, p in figures)
            shown = f"{ratio(runs, family):.2f}" if system != "tinybase" else ""
            lines.append(
                f"| {family} | {system} | {rounds} | {median:,.0f} | {p99:.1f} | {shown} |"
            )
    met = all(ratio(runs, f) >= TARGET for f in ("collections", "records-v1"))
    lines += [
        "",
        f"Target: W1 with hooks >= {TARGET:.0%} of W1 without: {'met' if met else 'NOT met'}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
