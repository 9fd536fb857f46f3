"""Benchmark tinybase.data against raw sqlite3 running the same statements.

Usage: ``python bench/data_bench.py [--rows N] [--rounds R]``.

Both sides use a SQLite file in WAL mode with ``synchronous=NORMAL``, run the same SQL (the
statements ``tinybase.data`` compiles, written out by hand for ``sqlite3``) and build the same
dataclass instances from the rows:

- insert: ``BEGIN IMMEDIATE``, ``INSERT ... RETURNING``, ``COMMIT``: one transaction per row,
  which is what ``Table.insert`` does outside ``db.transaction()``;
- get by pk: ``SELECT ... WHERE id = ?``;
- select 10 rows: ``SELECT ... WHERE year_started = ? ORDER BY rowid LIMIT ? OFFSET ?``.

To be fair on a noisy machine, both sides are warmed up first, then measured in alternating
rounds (A/B, then B/A, ...) with the garbage collector paused; each figure is the best round.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinybase.data import database

Operation = Callable[[int], object]


@dataclass
class User:
    id: int
    name: str
    email: str
    year_started: int


def timed(function: Operation, start: int, count: int) -> float:
    """Microseconds per call of ``function(i)`` for i in range(start, start + count)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        began = time.perf_counter()
        for i in range(start, start + count):
            function(i)
        return (time.perf_counter() - began) / count * 1e6
    finally:
        if enabled:
            gc.enable()


class Side:
    """One implementation under test: its three operations, and the keys inserted so far."""

    def __init__(self, name: str, insert: Operation, get: Operation, select: Operation) -> None:
        self.name = name
        self.operations = {"insert": insert, "get by pk": get, "select 10 rows": select}
        self.best: dict[str, float] = {}
        self.inserted = 0

    def round(self, counts: dict[str, int]) -> None:
        """Run each operation ``counts[name]`` times and keep the best time per call."""
        for name, function in self.operations.items():
            start = self.inserted if name == "insert" else 0
            micros = timed(function, start, counts[name])
            self.best[name] = min(self.best.get(name, float("inf")), micros)
            if name == "insert":
                self.inserted += counts[name]


def tinybase_side(path: Path) -> Side:
    db = database(str(path))
    users = db.create(User)
    side: Side

    def insert(i: int) -> User:
        return users.insert(name=f"user{i}", email=f"u{i}@x.org", year_started=2000 + i % 30)

    def get(i: int) -> User:
        return users[i % side.inserted + 1]

    def select(i: int) -> list[User]:
        return users("year_started = ?", [2000 + i % 30], limit=10)

    side = Side("tinybase.data", insert, get, select)
    return side


def sqlite3_side(path: Path) -> Side:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute(
        'CREATE TABLE "user" (id INTEGER PRIMARY KEY, name TEXT, email TEXT, year_started INTEGER)'
    )
    side: Side

    def insert(i: int) -> User:
        connection.execute("BEGIN IMMEDIATE")
        row = connection.execute(
            'INSERT INTO "user" (name, email, year_started) VALUES (?, ?, ?) '
            "RETURNING id, name, email, year_started",
            (f"user{i}", f"u{i}@x.org", 2000 + i % 30),
        ).fetchall()[0]
        connection.execute("COMMIT")
        return User(*row)

    def get(i: int) -> User:
        rows = connection.execute(
            'SELECT id, name, email, year_started FROM "user" WHERE id = ?',
            (i % side.inserted + 1,),
        ).fetchall()
        return User(*rows[0])

    def select(i: int) -> list[User]:
        rows = connection.execute(
            'SELECT id, name, email, year_started FROM "user" WHERE year_started = ? '
            "ORDER BY rowid LIMIT ? OFFSET ?",
            (2000 + i % 30, 10, 0),
        ).fetchall()
        return [User(*row) for row in rows]

    side = Side("sqlite3", insert, get, select)
    return side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000, help="inserts and gets per round")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (best is kept)")
    options = parser.parse_args()
    rows = options.rows
    counts = {"insert": rows, "get by pk": rows, "select 10 rows": rows // 5}
    warm_up = {name: max(count // 5, 1) for name, count in counts.items()}
    with tempfile.TemporaryDirectory() as folder:
        raw = sqlite3_side(Path(folder) / "raw.db")
        ours = tinybase_side(Path(folder) / "tinybase.db")
        for side in (raw, ours):
            side.round(warm_up)
            side.best.clear()
        for round_ in range(options.rounds):
            for side in (raw, ours) if round_ % 2 == 0 else (ours, raw):
                side.round(counts)
    print(f"{'operation':<16}{'sqlite3 µs':>12}{'tinybase µs':>14}{'ratio':>8}")
    for name, raw_us in raw.best.items():
        ours_us = ours.best[name]
        print(f"{name:<16}{raw_us:>12.1f}{ours_us:>14.1f}{ours_us / raw_us:>7.2f}x")


if __name__ == "__main__":
    main()
