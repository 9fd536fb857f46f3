"""How a :class:`~tinybase.data.Table` runs its compiled statements: on raw DBAPI connections,
inside the :class:`~tinybase.data.Database`'s transactions, without SQLAlchemy's execution
path (the MiniDataAPI's hot path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tinybase.data import engine as _engine
from tinybase.data.tableinfo import CompiledStatement, TableInfo

if TYPE_CHECKING:
    from tinybase.data.database import Database

__all__ = ["StatementRunner"]


class StatementRunner:
    """Runs one table's statements with the Database's connections and transactions.

    Args:
        db: the database.
        info: the table's description (its dialect and driver).
    """

    def __init__(self, db: Database, info: TableInfo) -> None:
        self.db = db
        self._info = info
        self._dbapi_error = info.dialect.loaded_dbapi.Error
        self._direct_writes = _can_write_directly(db)
        # The writer lock and raw writer connection, for the direct paths only (SQLite).
        self._dbapi_writer = db.dbapi_writer() if self._direct_writes else None
        # SQLite in memory: reads share the one connection, under the writer lock (see fetch).
        self._memory_reads = self._direct_writes and db.is_memory

    def fetch(self, statement: CompiledStatement, parameters: Any) -> list[Any]:
        """Run a read with DBAPI ``parameters`` and return all its rows."""
        db = self.db
        connection = db.reader_connection()
        if connection is not None:
            return self.execute(connection, statement.sql, parameters).fetchall()
        if self._memory_reads:
            # SQLite in memory: one connection for everything, serialized by the writer
            # lock; a lone SELECT in autocommit mode is its own transaction.
            with self._dbapi_writer as raw:
                return self.execute(raw, statement.sql, parameters).fetchall()
        with db.dbapi_read() as connection:
            return self.execute(connection, statement.sql, parameters).fetchall()

    def write(
        self,
        statement: CompiledStatement,
        parameters: Any,
        *,
        rowcount: bool = False,
        after: Callable[[Any], None] | None = None,
    ) -> Any:
        """Run a write with DBAPI ``parameters``: its rows, or its row count; ``after`` runs
        on the same connection, in the same transaction."""
        db = self.db
        if self._direct_writes and not db.in_transaction and after is None:
            return self._write_directly(statement, parameters, rowcount)
        with db.write() as connection:
            raw = connection.connection.driver_connection
            cursor = self.execute(raw, statement.sql, parameters)
            result = cursor.rowcount if rowcount else cursor.fetchall()
            if after is not None:
                after(raw)
            return result

    def _write_directly(self, statement: CompiledStatement, parameters: Any, rowcount: bool) -> Any:
        """SQLite outside ``db.write()``: the transaction of ``db.write()`` without its
        SQLAlchemy bookkeeping (a third of an insert's time).

        Same semantics: the process-wide writer lock and the Database's writer connection
        (both from :meth:`Database.dbapi_writer`), ``BEGIN IMMEDIATE`` (what its ``begin``
        event emits, retried while another process writes), COMMIT, and ROLLBACK on any
        error. Only used when the engine has no other transaction event listeners.
        """
        with self._dbapi_writer as raw:
            self.db.begin_immediate(raw)
            try:
                cursor = self.execute(raw, statement.sql, parameters)
                result = cursor.rowcount if rowcount else cursor.fetchall()
                self.execute(raw, "COMMIT", ())
            except BaseException:
                if raw.in_transaction:
                    raw.rollback()
                raise
            return result

    def execute(self, connection: Any, sql: str, parameters: Any) -> Any:
        """Execute on a DBAPI connection; driver errors become SQLAlchemy exceptions."""
        cursor = connection.cursor()
        try:
            cursor.execute(sql, parameters)
        except self._dbapi_error as exc:
            raise sa.exc.DBAPIError.instance(
                sql, parameters, exc, self._dbapi_error, dialect=self._info.dialect
            ) from exc
        return cursor


def _can_write_directly(db: Database) -> bool:
    """True when :meth:`StatementRunner._write_directly` does exactly what ``db.write()``
    would.

    That is SQLite with the writer lock and writer connection of :class:`Database`, and an
    engine whose only transaction event is the ``BEGIN [IMMEDIATE]`` of
    :func:`tinybase.data.create_engine` (a listener added by someone else must still run).
    """
    if not db.has_writer_lock:
        return False
    dispatch = db.engine.dispatch
    on_begin = getattr(_engine, "_on_begin", None)
    return (
        db.engine.dialect.name == "sqlite"
        and list(dispatch.begin) == [on_begin]
        and not any(
            list(getattr(dispatch, event))
            for event in ("commit", "rollback", "savepoint", "before_execute")
        )
    )
