"""What :class:`Table` knows about one table: columns, keys, converters, compiled statements.

A :class:`TableInfo` is built once per table (from reflection) and cached by the
:class:`~tinybase.data.Database`. Statements are built with SQLAlchemy Core, compiled once for
the engine's dialect and then executed straight on the DBAPI cursor: the hot path does no
SQL generation and no reflection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tinybase.data.codecs import Dumper, column_kind, dumper_for

__all__ = ["CompiledStatement", "TableInfo", "compile_statement", "reflect_table"]


def reflect_table(connection: sa.Connection, name: str) -> sa.Table | None:
    """Reflect table ``name``, or None when it does not exist."""
    if not sa.inspect(connection).has_table(name):
        return None
    return sa.Table(name, sa.MetaData(), autoload_with=connection)


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """A statement compiled for one dialect: its SQL and how to order its parameters."""

    sql: str
    positional: tuple[str, ...] | None
    defaults: dict[str, Any]
    #: True when the DBAPI parameters are just the ``v0, v1, ...`` values in order (a SQLite
    #: INSERT of columns given in table order): callers may pass the value tuple as is.
    sequential: bool = False

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The DBAPI parameters (a tuple or a dict) for the named ``values``."""
        if self.defaults:
            values = {**self.defaults, **values}
        if self.positional is None:
            return values
        return tuple([values[name] for name in self.positional])


def compile_statement(statement: sa.ClauseElement, dialect: sa.Dialect) -> CompiledStatement:
    """Compile ``statement`` for ``dialect`` once, for direct DBAPI execution."""
    compiled = statement.compile(dialect=dialect)
    positional = tuple(compiled.positiontup) if dialect.positional else None
    # Values SQLAlchemy bound itself (such as SQLite's OFFSET 0 after a LIMIT).
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    sequential = (
        positional is not None
        and not defaults
        and positional == tuple(f"v{i}" for i in range(len(positional)))
    )
    return CompiledStatement(compiled.string, positional, defaults, sequential)


class TableInfo:
    """Columns, primary key, per-column dumpers and a cache of compiled statements."""

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        self.table = table
        self.name: str = table.name
        self.dialect = dialect
        self.columns: tuple[str, ...] = tuple(column.name for column in table.columns)
        self.pks: tuple[str, ...] = tuple(column.name for column in table.primary_key.columns)
        self.kinds: dict[str, str] = {c.name: column_kind(c.type) for c in table.columns}
        self.dumpers: dict[str, Dumper] = {
            name: dumper_for(kind, dialect.name) for name, kind in self.kinds.items()
        }
        self.generated_pk: str | None = self._generated_pk(table)
        self._statements: dict[Any, CompiledStatement] = {}
        self._guard = threading.Lock()

    @staticmethod
    def _generated_pk(table: sa.Table) -> str | None:
        columns = list(table.primary_key.columns)
        if len(columns) == 1 and column_kind(columns[0].type) == "int":
            return columns[0].name
        return None

    def statement(self, key: Any, build: Callable[[], sa.ClauseElement]) -> CompiledStatement:
        """The compiled statement cached under ``key``, built by ``build()`` the first time."""
        found = self._statements.get(key)
        if found is None:
            found = compile_statement(build(), self.dialect)
            with self._guard:
                if len(self._statements) > 512:
                    self._statements.clear()
                self._statements[key] = found
        return found
