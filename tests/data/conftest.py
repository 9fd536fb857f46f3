"""Fixtures of the tinybase.data tests: ``any_raw_db``, an empty database on every URL form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tinybase.data import Database, database


@pytest.fixture(params=["memory", "file", "postgres"])
def any_raw_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Like ``raw_db``, opened from each URL form: SQLite ``:memory:``, a bare file path in a
    folder that does not exist yet, and PostgreSQL."""
    if request.param == "memory":
        url = ":memory:"
    elif request.param == "file":
        url = str(tmp_path / "sub" / "app.db")
    else:
        url = request.getfixturevalue("postgres_url")
    db = database(url)
    yield db
    db.engine.dispose()
