"""Benchmark TinyBase against PocketBase and a bare Starlette ceiling (``make bench``).

Each system is started on 127.0.0.1, pinned to CPU 0, seeded through its own API and checked
for correct answers; the systems then take turns, workload by workload, under wrk pinned to
CPU 1 (1 thread, 32 connections). The
report goes to ``bench/results/<date>.md`` (+ raw JSON) and, for full runs, into the
generated block of ``docs/performance.md``. See ``docs/performance.md`` for the method.

Usage: ``python bench/bench.py [--quick] [--only pocketbase,ceiling,tinybase,tinybase-w2]
[--workloads W1,W2,...] [--time-limit SECONDS] [--docs | --no-docs]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import ceiling_system
import httpx
import pocketbase_system
import tinybase_system
from api import Api, Setup, StepFailed
from report import markdown, update_docs
from workloads import RUN_ORDER, WORKLOADS, CheckFailed, check, check_rules
from wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "performance.md"
SYSTEMS = ("pocketbase", "ceiling", "tinybase", "tinybase-w2")


# A wrong answer, an unexpected status, or an answer of an unexpected shape (KeyError...).
CHECK_ERRORS = (CheckFailed, StepFailed, KeyError, TypeError, ValueError, httpx.HTTPError)


class Deadline(BaseException):
    """The run's time limit passed (a BaseException so no per-system handler swallows it)."""


@dataclass(frozen=True)
class Options:
    quick: bool
    only: tuple[str, ...]
    workloads: tuple[str, ...]
    time_limit: int
    docs: bool

    @property
    def records(self) -> int:
        return 2_000 if self.quick else 10_000

    @property
    def warmup(self) -> int:
        return 1 if self.quick else 3

    @property
    def duration(self) -> int:
        return 3 if self.quick else 10


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 3 s runs, 2k rows")
    parser.add_argument("--only", default=",".join(SYSTEMS), help="systems, comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="W1,...,W6,hello")
    parser.add_argument("--time-limit", type=int, default=1800, help="seconds for the run")
    parser.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    only = tuple(s for s in args.only.split(",") if s)
    workloads = tuple(w for w in args.workloads.split(",") if w)
    unknown = (set(only) - set(SYSTEMS)) | (set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown systems or workloads: {sorted(unknown)}")
    docs = (not args.quick) if args.docs is None else args.docs
    return Options(args.quick, only, workloads, args.time_limit, docs)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def base_row(api: Api, name: str) -> dict[str, Any]:
    return {
        "system": api.system,
        "family": api.family,
        "workload": name,
        "cores": api.cores,
        "notes": api.notes,
    }


def invalid(api: Api, name: str, problem: str) -> dict[str, Any]:
    log(f"  {api.system}/{api.family} {name}: INVALID: {problem}")
    return {**base_row(api, name), "valid": False, "problem": problem}


def measure_one(api: Api, name: str, opts: Options, ids_file: Path) -> dict[str, Any]:
    """Check workload ``name`` on ``api``, warm up, load it, and return its row."""
    try:
        with httpx.Client(timeout=30) as client:
            check(api, name, client, opts.records)
    except CHECK_ERRORS as exc:
        return invalid(api, name, f"check failed: {describe(exc)}")
    script = WORKLOADS[name].script
    run_wrk(api, name, script, opts.warmup, ids_file)
    run = run_wrk(api, name, script, opts.duration, ids_file)
    row = {**base_row(api, name), "wrk": run.to_json(), "load": load()}
    if run.problem:
        return {**invalid(api, name, run.problem), **row}
    lat = run.latency_us
    row |= {"valid": True, "problem": None, "rps": run.rps, "rps_per_core": run.rps / api.cores}
    row |= {"p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000}
    log(f"  {api.system}/{api.family} {name}: {run.rps:,.0f} req/s, p99 {row['p99_ms']:.1f} ms")
    return row


def measure(apis: list[Api], opts: Options, names: tuple[str, ...], workdir: Path) -> list[Any]:
    """Every selected workload on every Api, workload by workload, in RUN_ORDER.

    The systems take turns on each workload (PocketBase, the ceiling, TinyBase's families,
    one after the other), so a ratio compares runs a minute apart at most: this machine's
    speed drifts during a run (other tenants of the host), and measuring all of one
    system's workloads before the next system's made the ratios follow that drift. Each
    system still sees its workloads in RUN_ORDER (reads before writes).
    """
    problems = [rules_problem(api) for api in apis]
    ids_files = []
    for number, api in enumerate(apis):
        ids_file = workdir / f"ids-{number}.txt"  # the seeded ids wrk's scripts rotate over
        ids_file.write_text("\n".join(api.ids) + "\n")
        ids_files.append(ids_file)
    rows = []
    for name in RUN_ORDER:
        for api, problem, ids_file in zip(apis, problems, ids_files, strict=True):
            if name not in names or name not in api.requests:
                continue
            rows.append(
                invalid(api, name, problem) if problem else measure_one(api, name, opts, ids_file)
            )
    return rows


def rules_problem(api: Api) -> str | None:
    """Why the owner rules look off (so no figure would be fair), or None."""
    if not api.authenticated:
        return None
    try:
        with httpx.Client(timeout=30) as client:
            check_rules(api, client)
    except CHECK_ERRORS as exc:
        return f"owner rules check failed: {describe(exc)}"
    return None


Starter = Callable[[Setup], AbstractContextManager[list[Api]]]


def starters(opts: Options, seeded: list[tinybase_system.Seeded]) -> Iterator[tuple[str, Starter]]:
    """The pinned systems to start, by name; TinyBase's seed is kept for ``--workers 2``."""
    if "pocketbase" in opts.only:
        yield "pocketbase", pocketbase_system.running
    if "ceiling" in opts.only:
        yield "ceiling", ceiling_system.running
    if {"tinybase", "tinybase-w2"} & set(opts.only):

        @contextmanager
        def tinybase(setup: Setup) -> Iterator[list[Api]]:
            with tinybase_system.running(setup) as (apis, seed):
                seeded.append(seed)
                yield apis if "tinybase" in opts.only else []

        yield "tinybase", tinybase


def describe(exc: Exception) -> str:
    if isinstance(exc, CheckFailed | StepFailed):
        return str(exc)
    if isinstance(exc, subprocess.CalledProcessError):
        return (
            f"`{' '.join(map(str, exc.cmd))}` exited {exc.returncode}: {exc.stderr or exc.stdout}"
        )
    return f"{type(exc).__name__}: {exc}"


def run_all(opts: Options, root: Path, rows: list[Any], failures: list[dict[str, str]]) -> None:
    """Run every selected system, appending to ``rows`` and ``failures`` as it goes.

    The pinned systems all run at once (idle but for the one being loaded; each pinned to
    CPU 0) and take turns per workload (see :func:`measure`). Then ``tinybase --workers 2``
    runs alone, unpinned, on TinyBase's database.
    """
    bin_dir = Path(sys.executable).parent
    seeded: list[tinybase_system.Seeded] = []
    with ExitStack() as stack:
        apis: list[Api] = []
        for name, start in starters(opts, seeded):
            workdir = root / name
            workdir.mkdir()
            log(f"{name}: starting (load {load()})")
            try:
                apis += stack.enter_context(start(Setup(workdir, opts.records, bin_dir)))
            except Exception as exc:  # one broken system must not hide the others' figures
                failures.append({"system": name, "error": describe(exc)})
                log(f"{name}: FAILED: {describe(exc)}")
        rows += measure(apis, opts, opts.workloads, root)
    if "tinybase-w2" in opts.only and "W2" in opts.workloads and seeded:
        setup = Setup(root / "tinybase", opts.records, bin_dir, cpu=None)
        log(f"tinybase --workers 2: starting (load {load()})")
        try:
            with tinybase_system.running(setup, workers=2, seeded=seeded[0]) as (w2, _):
                rows += measure(w2, opts, ("W2",), setup.workdir)
        except Exception as exc:
            failures.append({"system": "tinybase --workers 2", "error": describe(exc)})
            log(f"tinybase --workers 2: FAILED: {describe(exc)}")


def loaded(load_start: str, load_end: str) -> bool:
    """Whether other work ran: load before the run, or beyond server + wrk (~2) during it."""
    return float(load_start.split()[0]) > 1.0 or float(load_end.split()[0]) > 2.5


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def tinybase_rev() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def metadata(opts: Options, started: datetime, load_start: str) -> dict[str, Any]:
    notes = [
        "the ceiling app has no auth and no access rules; it bounds what Python can do here.",
        "PocketBase lists use skipTotal=1; the collections family of TinyBase returns a total.",
    ]
    if opts.quick:
        notes.append("quick smoke run: short runs, 2,000 records; not a final figure.")
    if loaded(load_start, load()):
        notes.append(
            "**loaded machine**: other work was running (see the load averages), so the"
            " figures are depressed and noisy; not final."
        )
    pb = subprocess.run(
        [str(Path(sys.executable).parent / "pocketbase"), "--version"],
        capture_output=True,
        text=True,
    )
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": opts.quick,
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_start": load_start,
        "load_end": load(),
        "records": opts.records,
        "warmup": opts.warmup,
        "duration": opts.duration,
        "tinybase_rev": tinybase_rev(),
        "pocketbase": pb.stdout.strip() or "pocketbase not installed",
        "only": list(opts.only),
        "notes": notes,
    }


def write_results(
    meta: dict[str, Any], rows: list[Any], failures: list[Any], opts: Options
) -> Path:
    stamp = meta["date"].replace(" UTC", "").replace(" ", "-").replace(":", "")
    name = stamp + ("-quick" if opts.quick else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = markdown(meta, rows, failures)
    (RESULTS / f"{name}.md").write_text(report)
    raw = {"meta": meta, "rows": rows, "failures": failures}
    (RESULTS / f"{name}.json").write_text(json.dumps(raw, indent=2) + "\n")
    if opts.docs and not failures:  # a stopped or broken run never replaces the last figures
        update_docs(DOCS, report, name)
    return RESULTS / f"{name}.md"


def on_deadline(signum: int, frame: FrameType | None) -> None:
    raise Deadline(f"signal {signum}: time limit reached")


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("wrk and taskset are needed: run `bash bench/run.sh` (it installs wrk)")
    signal.signal(signal.SIGALRM, on_deadline)
    signal.signal(signal.SIGTERM, on_deadline)
    signal.alarm(opts.time_limit)
    started, load_start = datetime.now(UTC), load()
    rows: list[Any] = []
    failures: list[dict[str, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tinybase-bench-") as root:
            run_all(opts, Path(root), rows, failures)
    except Deadline as exc:
        failures.append({"system": "run", "error": f"stopped: {exc}"})
    finally:
        signal.alarm(0)
    path = write_results(metadata(opts, started, load_start), rows, failures, opts)
    log(f"report: {path}")
    print(path.read_text())
    return 1 if failures or not all(r["valid"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
