"""The ceiling reference system: ``ceiling_app.py`` on uvicorn, pinned, over a seeded SQLite."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api import Api, Flat, Req, Setup, seed_rows
from procs import LOOPBACK, free_port, server

__all__ = ["running"]

APP_DIR = Path(__file__).resolve().parent


def seed(path: Path, count: int) -> list[str]:
    """Create the items table with the benchmark's rows; return their ids in seed order."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC).isoformat()
    rows = [
        (i, r["title"], r["score"], r["done"], now)
        for i, r in zip(ids, seed_rows(count), strict=True)
    ]
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE items (id TEXT PRIMARY KEY, title TEXT, score INTEGER,"
            " done INTEGER, created_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return ids


def flat(body: Any) -> Flat:
    return {**body, "created": body["created_at"]}


def unsupported(body: Any) -> Any:
    raise NotImplementedError("the ceiling app only serves hello and W2")


@contextmanager
def running(setup: Setup) -> Iterator[list[Api]]:
    """Seed, start uvicorn pinned to ``setup.cpu``, and yield the one ceiling Api."""
    db_path = setup.workdir / "ceiling.db"
    ids = seed(db_path, setup.records)
    port = free_port()
    cmd = [
        str(setup.bin_dir / "python"),
        *("-m", "uvicorn", "--app-dir", str(APP_DIR), "ceiling_app:app"),
        *("--host", LOOPBACK, "--port", str(port), "--no-access-log", "--log-level", "warning"),
    ]
    base = f"http://{LOOPBACK}:{port}"
    with server(
        cmd,
        ready_url=f"{base}/hello",
        log_path=setup.workdir / "ceiling.log",
        cpu=setup.cpu,
        env={"CEILING_DB": str(db_path)},
    ):
        yield [
            Api(
                system="ceiling",
                family="starlette+sqlite",
                base_url=base,
                headers={},
                requests={"hello": Req("GET", "/hello"), "W2": Req("GET", "/items/{id}")},
                ids=ids,
                read_one=flat,
                read_list=unsupported,
                created_id=unsupported,
                authenticated=False,
            )
        ]
