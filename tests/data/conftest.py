"""Fixtures of the tinybase.data tests: a database on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tinybase.data import Database, database


@pytest.fixture(params=["memory", "file", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database: SQLite in memory, SQLite on a file, PostgreSQL."""
    if request.param == "memory":
        url = ":memory:"
    elif request.param == "file":
        url = str(tmp_path / "sub" / "app.db")
    else:
        url = request.getfixturevalue("postgres_url")
    db = database(url)
    yield db
    db.engine.dispose()


@pytest.fixture
def both_db(db_url: str) -> Iterator[Database]:
    """A fresh database on a SQLite file and on PostgreSQL."""
    db = database(db_url)
    yield db
    db.engine.dispose()
