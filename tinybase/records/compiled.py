"""Statements compiled once per shape and run on the raw DBAPI connection: the fast path.

A record read through SQLAlchemy's ``Connection.execute`` pays, per request, for a pooled
connection checkout, ``BEGIN`` and ``ROLLBACK``, the cache-key walk of the statement, an
execution context and a ``Result``. On a primary-key read that is most of the database
time. Here a statement is compiled once (SQLAlchemy's own compiler, so the SQL is exactly
what ``execute`` would send, access rules included) and then run with the driver's
``execute`` on :meth:`tinybase.data.Database.dbapi_read`'s connection (on SQLite a
per-thread autocommit connection: each SELECT is its own snapshot, as with ``db.read()``).
Bind and result processors of the column types are applied as SQLAlchemy would.

Every value is a named parameter, so a query is looked up by a key of its shape (the
caller's: for a read, whether a rule applies; for a list, also its filters, order and
cursor) and a request only binds its values; no statement is built per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["CompiledQuery", "QueryCache"]

_CACHE_SIZE = 512
_VERSION = ("data_version",)  # the key of the version in a thread's remembered totals


class CompiledQuery:
    """One statement, compiled for ``dialect``, run on raw DBAPI connections.

    Args:
        statement: a SELECT, or an INSERT / UPDATE / DELETE with RETURNING (its rows are
            what RETURNING gives).
        dialect: the engine's dialect.

    Raises:
        ValueError: the statement has expanding or literal-execute parameters, or a literal
            value (an anonymous parameter).
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding or literal-execute parameters are not supported")
        if any(bind.unique for bind in compiled.binds.values()):
            # An anonymous parameter carries one request's literal value.
            raise ValueError("a compiled query is shared: every value must be named")
        self.statement = statement
        self.sql: str = compiled.string
        self._compiled = compiled
        self._dialect = dialect
        self._positional = compiled.positional
        self._names = tuple(compiled.positiontup or ())
        self._bind_processors = dict(compiled._bind_processors)
        self._types = [column.type for column in statement.exported_columns]
        # Result processors depend on the driver's type codes (PostgreSQL numerics): made
        # from the first cursor's description, then reused.
        self._result_processors: list[tuple[int, Any]] | None = None
        self._processors_known = False

    def rows(self, connection: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """All rows, converted by the column types (as SQLAlchemy would convert them).

        Raises:
            sqlalchemy.exc.DBAPIError: the driver's error, wrapped as SQLAlchemy wraps it
                (so callers map ``OperationalError`` and friends as they always did).
        """
        return self.run(connection, self.arguments(params))

    def arguments(self, params: dict[str, Any]) -> Any:
        """The driver's arguments for ``params`` (a tuple, or a dict for named styles)."""
        values = self._compiled.construct_params(params)
        for name, process in self._bind_processors.items():
            if name in values:
                values[name] = process(values[name])
        return tuple(values[name] for name in self._names) if self._positional else values

    def run(self, connection: Any, args: Any) -> list[tuple[Any, ...]]:
        """All rows for the driver's ``args`` (see :meth:`rows`)."""
        dbapi = self._dialect.loaded_dbapi
        try:
            cursor = connection.execute(self.sql, args)
            rows = cursor.fetchall()
        except dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                self.sql, args, exc, dbapi.Error, dialect=self._dialect
            ) from exc
        if not self._processors_known:
            self._learn_processors(cursor.description)
        processors = self._result_processors
        if processors is None:
            return rows
        return [_converted(processors, row) for row in rows]

    def _learn_processors(self, description: Sequence[Any]) -> None:
        processors = [
            sa_type._cached_result_processor(self._dialect, column[1])
            for sa_type, column in zip(self._types, description, strict=True)
        ]
        active = [(index, process) for index, process in enumerate(processors) if process]
        self._result_processors = active or None
        self._processors_known = True


def _converted(processors: list[tuple[int, Any]], row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return tuple(values)


class QueryCache:
    """Compiled queries of one record API, by shape (bounded)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        self._queries: dict[Any, CompiledQuery] = {}
        self._guard = threading.Lock()
        self._local = threading.local()

    def __len__(self) -> int:
        """How many compiled queries are kept."""
        return len(self._queries)

    def fixed(self, key: Any, build: Callable[[], sa.Executable]) -> CompiledQuery:
        """The query of shape ``key``, built and compiled on first use.

        ``build`` must return a statement whose every value is a named parameter (no
        literals), so that the one compiled query serves every request of that shape.
        """
        query = self._queries.get(key)
        if query is None:
            query = CompiledQuery(build(), self._dialect)
            self._store(key, query)
        return query

    def count(self, connection: Any, key: tuple[Any, Any], compute: Callable[[], int]) -> int:
        """A ``count(*)`` total, remembered until the database changes.

        Args:
            connection: the connection ``compute`` counts on.
            key: what determines the total: a query and its driver arguments (for a list,
                the page's: they fix the filters and the rule's values).
            compute: runs the count (called when the total is not remembered).

        On a SQLite reader connection (autocommit, never writing), ``PRAGMA data_version``
        changes whenever any other connection, in any process, commits: a total counted at
        one version is exact for as long as the version stays. The version is read before
        counting, so a commit in between makes the next call count again. Elsewhere
        (PostgreSQL, inside a write transaction) it counts every time.
        """
        if self._dialect.name != "sqlite" or connection.in_transaction:
            return compute()
        totals = self._totals_for(connection)
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if totals.get(_VERSION) != version:
            totals.clear()
            totals[_VERSION] = version
        query, args = key
        try:
            hashable = (query, args if isinstance(args, tuple) else tuple(sorted(args.items())))
            total = totals.get(hashable)
        except TypeError:  # an unhashable argument: count without remembering
            return compute()
        if total is None:
            total = compute()
            if len(totals) >= _CACHE_SIZE:
                totals.clear()
                totals[_VERSION] = version
            totals[hashable] = total
        return total

    def _totals_for(self, connection: Any) -> dict[Any, Any]:
        # Per thread (each reader thread has its own connection and its own versions).
        local = self._local
        if getattr(local, "connection", None) is not connection:
            local.connection = connection
            local.totals = {}
        return local.totals

    def _store(self, key: Any, query: CompiledQuery) -> None:
        with self._guard:
            if len(self._queries) >= _CACHE_SIZE:
                self._queries.clear()
            self._queries[key] = query
