"""Engine factory: SQLite (file or memory) and PostgreSQL (psycopg 3) behind one function.

On SQLite, Python's ``sqlite3`` module is put in autocommit mode (``isolation_level=None``) and
SQLAlchemy's ``begin`` event emits ``BEGIN`` itself (the "pysqlite serializable" recipe of the
SQLAlchemy documentation), so transactions are real transactions, SAVEPOINTs work, and a
connection flagged as a writer starts with ``BEGIN IMMEDIATE``: the write lock is taken up
front instead of failing later with "database is locked" when a read turns into a write.
"""

from __future__ import annotations

import contextvars
import functools
import sqlite3
from pathlib import Path
from typing import Any

import regex
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from tinybase.data.codecs import loads_json

__all__ = [
    "IMMEDIATE_OPTION",
    "REGEXP_TIMEOUT_SECONDS",
    "compile_regexp",
    "create_engine",
    "is_memory",
    "regexp_timed_out",
    "sqlite_path",
]

#: How long one ``REGEXP`` match may run on SQLite (a catastrophic pattern is stopped).
REGEXP_TIMEOUT_SECONDS = 0.02

#: Execution option that makes the next ``BEGIN`` on a SQLite connection a ``BEGIN IMMEDIATE``.
IMMEDIATE_OPTION = "tinybase_begin_immediate"

_MEMORY_NAMES = (None, "", ":memory:")


def create_engine(url: str) -> sa.Engine:
    """Create a SQLAlchemy engine for ``url``.

    Args:
        url: ``':memory:'``, a file path (its parent folder is created), ``sqlite:///path``,
            ``postgresql://...`` (rewritten to the psycopg 3 driver) or
            ``postgresql+psycopg://...``.

    Returns:
        An engine. On SQLite every connection has WAL (files), ``synchronous=NORMAL``,
        ``foreign_keys=ON``, ``busy_timeout=5000`` and a ``REGEXP`` function. A ``:memory:``
        database is a single connection shared by all threads (callers serialize access,
        as :class:`tinybase.data.Database` does). PostgreSQL sessions use the UTC time zone.
    """
    parsed = make_url(_normalize(url))
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            parsed, connect_args={"options": "-c timezone=UTC"}, json_deserializer=loads_json
        )
    return sa.create_engine(parsed, json_deserializer=loads_json)


def is_memory(engine: sa.Engine) -> bool:
    """True for an in-memory SQLite engine."""
    return engine.dialect.name == "sqlite" and engine.url.database in _MEMORY_NAMES


def sqlite_path(engine: sa.Engine) -> str | None:
    """The resolved file path of a SQLite file engine, else None."""
    if engine.dialect.name != "sqlite" or is_memory(engine):
        return None
    return str(Path(engine.url.database).resolve())


def _normalize(url: str) -> str:
    if url in _MEMORY_NAMES or url == "sqlite://":
        return "sqlite://"
    if "://" not in url:
        return f"sqlite:///{Path(url)}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _create_sqlite_engine(url: sa.URL) -> sa.Engine:
    memory = url.database in _MEMORY_NAMES
    if memory:
        engine = sa.create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_deserializer=loads_json,
        )
    else:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            pool_size=8,
            max_overflow=32,
            connect_args={"check_same_thread": False, "timeout": 5},
            json_deserializer=loads_json,
        )
    sa.event.listen(engine, "connect", functools.partial(_on_connect, wal=not memory))
    sa.event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any, *, wal: bool) -> None:
    # Autocommit mode at the driver level: the "begin" event below emits BEGIN itself.
    dbapi_connection.isolation_level = None
    if wal:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")
    dbapi_connection.execute("PRAGMA busy_timeout=5000")
    dbapi_connection.create_function("REGEXP", 2, _regexp, deterministic=True)


def _on_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    connection.connection.driver_connection.execute(statement)


@functools.lru_cache(maxsize=256)
def compile_regexp(pattern: str) -> regex.Pattern[str]:
    """A client's pattern as SQLite's ``REGEXP`` runs it (cached); search it with
    ``timeout=REGEXP_TIMEOUT_SECONDS``: Python's ``re`` has no time limit."""
    return regex.compile(pattern, flags=regex.VERSION0)


# sqlite3 reports any exception of a user function as "user-defined function raised
# exception"; the flag says it was a REGEXP timeout (the function runs in the caller's thread
# and context, so the caller sees the flag it set).
_regexp_timeout: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tinybase_regexp_timeout", default=False
)


def regexp_timed_out() -> bool:
    """Whether a ``REGEXP`` in this context hit its time limit since the last call (resets)."""
    timed_out = _regexp_timeout.get()
    if timed_out:
        _regexp_timeout.set(False)
    return timed_out


def _regexp(pattern: str | None, value: Any) -> bool | None:
    """SQLite calls ``regexp(pattern, value)`` for ``value REGEXP pattern``."""
    if pattern is None or value is None:
        return None
    # Security: a client's pattern such as ^(a+)+$ backtracks exponentially; the timeout
    # bounds it (the Python side would otherwise stall a thread holding the database).
    try:
        found = compile_regexp(pattern).search(str(value), timeout=REGEXP_TIMEOUT_SECONDS)
    except TimeoutError:
        _regexp_timeout.set(True)
        raise
    return found is not None
