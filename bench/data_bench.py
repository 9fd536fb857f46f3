"""Benchmark tinybase.data against raw sqlite3 running the same statements.

Usage: ``python bench/data_bench.py [--rows N]``. Both sides use a SQLite file in WAL mode with
``synchronous=NORMAL``, and commit every insert on its own (one transaction each), which is
what ``Table.insert`` does outside ``db.transaction()``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinybase.data import database


@dataclass
class User:
    id: int
    name: str
    email: str
    year_started: int


def timed(function: Callable[[int], object], count: int, repeat: int = 3) -> float:
    """Microseconds per call of ``function(i)`` for i in range(count), best of ``repeat``."""
    best = float("inf")
    for round_ in range(repeat):
        start = time.perf_counter()
        for i in range(round_ * count, (round_ + 1) * count):
            function(i)
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def bench_tinybase(path: Path, rows: int) -> dict[str, float]:
    db = database(str(path))
    users = db.create(User)
    results = {
        "insert": timed(
            lambda i: users.insert(
                name=f"user{i}", email=f"u{i}@x.org", year_started=2000 + i % 30
            ),
            rows,
        ),
        "get by pk": timed(lambda i: users[i % (3 * rows) + 1], rows),
        "select 10 rows": timed(
            lambda i: users("year_started = ?", [2000 + i % 30], limit=10), rows // 10
        ),
    }
    db.engine.dispose()
    return results


def bench_sqlite3(path: Path, rows: int) -> dict[str, float]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        'CREATE TABLE "user" (id INTEGER PRIMARY KEY, name TEXT, email TEXT, year_started INTEGER)'
    )

    def insert(i: int) -> User:
        connection.execute("BEGIN IMMEDIATE")
        row = connection.execute(
            'INSERT INTO "user" (name, email, year_started) VALUES (?, ?, ?) '
            "RETURNING id, name, email, year_started",
            (f"user{i}", f"u{i}@x.org", 2000 + i % 30),
        ).fetchone()
        connection.execute("COMMIT")
        return User(*row)

    def get(i: int) -> User:
        row = connection.execute(
            'SELECT id, name, email, year_started FROM "user" WHERE id = ?', (i % (3 * rows) + 1,)
        ).fetchone()
        return User(*row)

    def select(i: int) -> list[User]:
        cursor = connection.execute(
            'SELECT id, name, email, year_started FROM "user" WHERE year_started = ? '
            "ORDER BY rowid LIMIT ?",
            (2000 + i % 30, 10),
        )
        return [User(*row) for row in cursor]

    results = {
        "insert": timed(insert, rows),
        "get by pk": timed(get, rows),
        "select 10 rows": timed(select, rows // 10),
    }
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        raw = bench_sqlite3(Path(folder) / "raw.db", rows)
        ours = bench_tinybase(Path(folder) / "tinybase.db", rows)
    print(f"{'operation':<16}{'sqlite3 µs':>12}{'tinybase µs':>14}{'ratio':>8}")
    for name, raw_us in raw.items():
        print(f"{name:<16}{raw_us:>12.1f}{ours[name]:>14.1f}{ours[name] / raw_us:>7.2f}x")


if __name__ == "__main__":
    main()
