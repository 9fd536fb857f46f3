"""The results as markdown: the figures table, the issue's targets, and the docs summary.

A row is a dict made by ``bench.py``: ``system``, ``family``, ``workload``, ``cores``, ``rps``,
``rps_per_core``, ``p50_ms``, ``p99_ms``, ``valid`` and ``problem``. INVALID rows never show
a figure: only the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workloads import WORKLOADS

__all__ = ["markdown", "update_docs"]

Row = dict[str, Any]
SYSTEM_ORDER = ["pocketbase", "ceiling", "tinybase", "tinybase --workers 2"]
WORKLOAD_ORDER = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "hello"]
TINYBASE_FAMILIES = ("collections", "records-v1")
DOCS_START = "<!-- bench:latest:start -->"
DOCS_END = "<!-- bench:latest:end -->"


def find(rows: Iterable[Row], system: str, workload: str, family: str | None = None) -> Row | None:
    """The valid row of ``system`` for ``workload`` (and ``family``), if any."""
    for row in rows:
        same_family = family is None or row["family"] == family
        if row["system"] == system and row["workload"] == workload and same_family:
            return row if row["valid"] else None
    return None


def vs_pocketbase(rows: list[Row], row: Row) -> str:
    pb = find(rows, "pocketbase", row["workload"])
    if not (row["valid"] and pb) or row["system"] == "pocketbase":
        return "—"
    return f"{row['rps_per_core'] / pb['rps_per_core']:.2f}x"


def sort_key(row: Row) -> tuple[int, int, str]:
    return (
        WORKLOAD_ORDER.index(row["workload"]),
        SYSTEM_ORDER.index(row["system"]) if row["system"] in SYSTEM_ORDER else 99,
        row["family"],
    )


def figures_table(rows: list[Row]) -> list[str]:
    lines = [
        "| Workload | System | Family | Server cores | req/s | req/s per core | p50 ms | p99 ms"
        " | x PocketBase | Result |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in sorted(rows, key=sort_key):
        name = f"{row['workload']} {WORKLOADS[row['workload']].title}"
        head = f"| {name} | {row['system']} | {row['family']} | {row['cores']} |"
        if row["valid"]:
            figures = (
                f" {row['rps']:,.0f} | {row['rps_per_core']:,.0f} | {row['p50_ms']:.2f} |"
                f" {row['p99_ms']:.2f} | {vs_pocketbase(rows, row)} | valid |"
            )
        else:
            figures = f" — | — | — | — | — | INVALID: {row['problem']} |".replace("\n", " ")
        lines.append(head + figures)
    return lines


def ratio_target(
    rows: list[Row], family: str, workload: str, other: str, factor: float
) -> tuple[str, str]:
    """(measured, met) for "TinyBase ``workload`` per core >= ``factor`` x ``other``"."""
    mine = find(rows, "tinybase", workload, family)
    theirs = find(rows, other, workload)
    if not (mine and theirs):
        return "not measured (or INVALID)", "n/a"
    ratio = mine["rps_per_core"] / theirs["rps_per_core"]
    shown = f"{ratio:.0%}" if factor < 1 else f"{ratio:.2f}x"
    return shown, "yes" if ratio >= factor else "no"


def latency_target(rows: list[Row], family: str) -> tuple[str, str]:
    mine = [find(rows, "tinybase", w, family) for w in WORKLOAD_ORDER[:6]]
    if not all(mine):
        return "not all of W1-W6 valid", "no"
    worst = max(mine, key=lambda r: r["p99_ms"])
    return f"worst p99 {worst['p99_ms']:.1f} ms ({worst['workload']})", (
        "yes" if worst["p99_ms"] < 25 else "no"
    )


def workers_target(rows: list[Row], family: str) -> tuple[str, str]:
    one = find(rows, "tinybase", "W2", family)
    two = find(rows, "tinybase --workers 2", "W2", family)
    if not (one and two):
        return "not measured (or INVALID)", "n/a"
    ratio = two["rps"] / one["rps"]
    return f"{ratio:.2f}x", "yes" if ratio >= 1.6 else "no"


def function_target(rows: list[Row], family: str) -> tuple[str, str]:
    """W7 (the echo function) against W2 (get by id) of the same family and run."""
    echo, get = find(rows, "tinybase", "W7", family), find(rows, "tinybase", "W2", family)
    if not (echo and get):
        return "not measured (or INVALID)", "n/a"
    ratio = echo["rps"] / get["rps"]
    return f"{ratio:.0%}", "yes" if ratio >= 0.7 else "no"


def sdk_function_target(rows: list[Row], family: str) -> tuple[str, str]:
    """W8 (the warm SDK echo) against W7 (the in-process echo), and W8's p99."""
    sdk, echo = find(rows, "tinybase", "W8", family), find(rows, "tinybase", "W7", family)
    if not (sdk and echo):
        return "not measured (or INVALID)", "n/a"
    ratio = sdk["rps"] / echo["rps"]
    met = ratio >= 0.4 and sdk["p99_ms"] < 25
    return f"{ratio:.0%}, p99 {sdk['p99_ms']:.1f} ms", "yes" if met else "no"


def targets_table(rows: list[Row]) -> list[str]:
    lines = ["| Target | Family | Measured | Met |", "|---|---|---|---|"]
    for family in TINYBASE_FAMILIES:
        checks = [
            ("W2 ≥ 2x PocketBase per core", ratio_target(rows, family, "W2", "pocketbase", 2)),
            ("W2 ≥ 40% of the ceiling", ratio_target(rows, family, "W2", "ceiling", 0.4)),
            ("W1 ≥ 2x PocketBase", ratio_target(rows, family, "W1", "pocketbase", 2)),
            ("W4 ≥ 2x PocketBase", ratio_target(rows, family, "W4", "pocketbase", 2)),
            *(
                (f"{w} ≥ 10x PocketBase", ratio_target(rows, family, w, "pocketbase", 10))
                for w in ("W3", "W5", "W6")
            ),
            ("p99 < 25 ms on W1-W6, no errors", latency_target(rows, family)),
            ("--workers 2 ≥ 1.6x one worker (W2)", workers_target(rows, family)),
        ]
        if family == "collections":  # W7 is one route, measured with the collections family
            checks.append(("W7 (function) ≥ 70% of W2", function_target(rows, family)))
            checks.append(("W8 (SDK) ≥ 40% of W7, p99 < 25 ms", sdk_function_target(rows, family)))
        lines += [f"| {name} | {family} | {measured} | {met} |" for name, (measured, met) in checks]
    return lines


def markdown(meta: dict[str, Any], rows: list[Row], failures: list[dict[str, str]]) -> str:
    """The whole report of one run."""
    lines = [
        f"# Benchmark run {meta['date']}{' (quick smoke run)' if meta['quick'] else ''}",
        "",
        f"- Machine: {meta['nproc']} cores, {meta['cpu_model']}; load average"
        f" {meta['load_start']} at the start, {meta['load_end']} at the end.",
        f"- Method: servers pinned to CPU 0 (`taskset`), wrk pinned to CPU 1, 1 thread,"
        f" 32 connections, {meta['warmup']} s warm-up then {meta['duration']} s per workload;"
        f" {meta['records']:,} records. `--workers 2` runs unpinned and shares CPU 1 with wrk.",
        f"- Versions: TinyBase {meta['tinybase_rev']}; {meta['pocketbase']}.",
        *(f"- Note: {note}" for note in meta["notes"]),
        "",
        *figures_table(rows),
        "",
        "## Targets (issue 5)",
        "",
        *targets_table(rows),
    ]
    notes = sorted({(r["system"], r["family"], n) for r in rows for n in r.get("notes", [])})
    if notes:
        lines += ["", "## Set-up", ""]
        lines += [f"- {system} / {family}: {note}" for system, family, note in notes]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- **{f['system']}**: {f['error']}".replace("\n", " ") for f in failures]
    return "\n".join(lines) + "\n"


def update_docs(path: Path, report: str, results_name: str) -> None:
    """Replace the generated block of ``docs/performance.md`` with this run's report."""
    body = report.replace("# Benchmark run", "### Latest run:", 1).replace("\n## ", "\n#### ")
    block = f"{DOCS_START}\n{body}\nRaw results: `bench/results/{results_name}.json`.\n{DOCS_END}"
    text = path.read_text() if path.exists() else f"{DOCS_START}\n{DOCS_END}\n"
    pattern = re.compile(re.escape(DOCS_START) + ".*?" + re.escape(DOCS_END), re.DOTALL)
    if not pattern.search(text):
        text = text.rstrip("\n") + f"\n\n{DOCS_START}\n{DOCS_END}\n"
    path.write_text(pattern.sub(lambda _: block, text, count=1))
