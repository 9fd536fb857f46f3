"""The SQL of every :class:`~tinybase.data.Table` operation, built with SQLAlchemy Core.

Each builder returns a :class:`~tinybase.data.tableinfo.CompiledStatement` cached under a key
describing its shape (which columns, which ``xtra`` columns are NULL, which ``where`` text...),
so a statement is generated and compiled once and then only executed.

Parameter names: ``v{i}`` values, ``k{i}`` primary key, ``x{i}`` xtra, ``w{i}`` where
arguments, ``lim``/``off`` limit and offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tinybase.data.placeholders import translate_placeholders
from tinybase.data.tableinfo import CompiledStatement, TableInfo

__all__ = ["Statements"]

OrderTerms = tuple[tuple[str, bool], ...]


def _xtra_key(xtra: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    return tuple((column, value is None) for column, value in xtra.items())


class Statements:
    """Compiled statements of one table."""

    def __init__(self, info: TableInfo) -> None:
        self.info = info
        self.table = info.table

    # -- conditions -----------------------------------------------------------------------

    def _key_condition(self) -> list[sa.ColumnElement[bool]]:
        return [self.table.c[pk] == sa.bindparam(f"k{i}") for i, pk in enumerate(self.info.pks)]

    def _xtra_condition(self, xtra: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        conditions = []
        for i, (column, value) in enumerate(xtra.items()):
            target = self.table.c[column]
            conditions.append(
                target.is_(None) if value is None else target == sa.bindparam(f"x{i}")
            )
        return conditions

    def _where_condition(self, where: str | None) -> list[sa.ColumnElement[bool]]:
        if where is None:
            return []
        text = translate_placeholders(where, "w")[0]
        return [sa.text(f"({text})")]

    # -- statements -----------------------------------------------------------------------

    def get(self, xtra: Mapping[str, Any]) -> CompiledStatement:
        """SELECT one row by primary key."""
        return self.info.statement(
            ("get", _xtra_key(xtra)),
            lambda: sa.select(*self.table.c).where(
                *self._key_condition(), *self._xtra_condition(xtra)
            ),
        )

    def exists(self, xtra: Mapping[str, Any]) -> CompiledStatement:
        """SELECT 1 when a primary key exists."""
        return self.info.statement(
            ("exists", _xtra_key(xtra)),
            lambda: (
                sa.select(sa.literal_column("1"))
                .select_from(self.table)
                .where(*self._key_condition(), *self._xtra_condition(xtra))
            ),
        )

    def select(
        self,
        columns: tuple[str, ...],
        where: str | None,
        order: OrderTerms,
        limit: int | None,
        offset: int | None,
        xtra: Mapping[str, Any],
    ) -> CompiledStatement:
        """SELECT rows with an optional condition, order, limit and offset."""
        key = ("select", columns, where, order, limit is None, offset is None, _xtra_key(xtra))

        def build() -> sa.Select:
            statement = sa.select(*(self.table.c[c] for c in columns)).where(
                *self._where_condition(where), *self._xtra_condition(xtra)
            )
            statement = statement.order_by(*self._order(order))
            if limit is not None:
                statement = statement.limit(sa.bindparam("lim", type_=sa.Integer))
            if offset is not None:
                statement = statement.offset(sa.bindparam("off", type_=sa.Integer))
            return statement

        return self.info.statement(key, build)

    def _order(self, order: OrderTerms) -> list[Any]:
        if order:
            return [self.table.c[c].desc() if desc else self.table.c[c] for c, desc in order]
        if self.info.dialect.name == "sqlite":
            # Insertion order, as the MiniDataAPI promises (rowid tables keep it).
            return [sa.literal_column("rowid")]
        if self.info.generated_pk is not None:
            return [self.table.c[self.info.generated_pk]]
        return []

    def count(self, where: str | None, xtra: Mapping[str, Any]) -> CompiledStatement:
        """SELECT count(*) with an optional condition."""
        return self.info.statement(
            ("count", where, _xtra_key(xtra)),
            lambda: (
                sa.select(sa.func.count())
                .select_from(self.table)
                .where(*self._where_condition(where), *self._xtra_condition(xtra))
            ),
        )

    def insert(self, columns: tuple[str, ...]) -> CompiledStatement:
        """INSERT one row of ``columns`` (``v{i}``), RETURNING the stored row."""

        def build() -> sa.ClauseElement:
            if not columns:
                return self._insert_default_values()
            values = {self.table.c[c]: sa.bindparam(f"v{i}") for i, c in enumerate(columns)}
            return sa.insert(self.table).values(values).returning(*self.table.c)

        return self.info.statement(("insert", columns), build)

    def _insert_default_values(self) -> sa.TextClause:
        preparer = self.info.dialect.identifier_preparer
        returning = ", ".join(preparer.quote(c) for c in self.info.columns)
        table = preparer.format_table(self.table)
        return sa.text(f"INSERT INTO {table} DEFAULT VALUES RETURNING {returning}")

    def update(self, columns: tuple[str, ...], xtra: Mapping[str, Any]) -> CompiledStatement:
        """UPDATE ``columns`` of one row by primary key and xtra, RETURNING the row."""
        return self.info.statement(
            ("update", columns, _xtra_key(xtra)),
            lambda: (
                sa.update(self.table)
                .where(*self._key_condition(), *self._xtra_condition(xtra))
                .values({self.table.c[c]: sa.bindparam(f"v{i}") for i, c in enumerate(columns)})
                .returning(*self.table.c)
            ),
        )

    def upsert(
        self, columns: tuple[str, ...], changes: tuple[str, ...], xtra: Mapping[str, Any]
    ) -> CompiledStatement:
        """INSERT ... ON CONFLICT (pk) DO UPDATE the ``changes`` where xtra matches."""

        def build() -> sa.ClauseElement:
            dialect_insert = (
                postgresql.insert if self.info.dialect.name == "postgresql" else (sqlite.insert)
            )
            values = {self.table.c[c]: sa.bindparam(f"v{i}") for i, c in enumerate(columns)}
            statement = dialect_insert(self.table).values(values)
            # With nothing to change, "update" the key to itself so RETURNING gives the row.
            targets = changes or self.info.pks
            conditions = self._xtra_condition(xtra)
            return statement.on_conflict_do_update(
                index_elements=list(self.info.pks),
                set_={c: statement.excluded[c] for c in targets},
                where=sa.and_(*conditions) if conditions else None,
            ).returning(*self.table.c)

        return self.info.statement(("upsert", columns, changes, _xtra_key(xtra)), build)

    def delete(self, xtra: Mapping[str, Any]) -> CompiledStatement:
        """DELETE one row by primary key and xtra."""
        return self.info.statement(
            ("delete", _xtra_key(xtra)),
            lambda: sa.delete(self.table).where(
                *self._key_condition(), *self._xtra_condition(xtra)
            ),
        )

    def delete_where(self, where: str | None, xtra: Mapping[str, Any]) -> CompiledStatement:
        """DELETE the rows matching a condition and xtra."""
        return self.info.statement(
            ("delete_where", where, _xtra_key(xtra)),
            lambda: sa.delete(self.table).where(
                *self._where_condition(where), *self._xtra_condition(xtra)
            ),
        )

    def advance_sequence(self) -> CompiledStatement:
        """PostgreSQL: raise the key's sequence to ``value`` if it is behind."""
        sql = (
            "SELECT setval(s, :value) FROM pg_get_serial_sequence(:table, :column) AS s "
            "WHERE s IS NOT NULL AND :value > coalesce(pg_sequence_last_value(s::regclass), 0)"
        )
        return self.info.statement(("advance_sequence",), lambda: sa.text(sql))
