"""The SQL statements of one record API, built once per shape and reused.

Every statement evaluates access rules in SQL, inside the statement that reads or changes
the row, so there is no window between "may I?" and "do it":

- read / list: ``SELECT ... FROM t AS _row_ WHERE <rule> AND ...``;
- update / delete: ``... WHERE pk IN (SELECT _row_.pk FROM t AS _row_ WHERE _row_.pk = :id
  AND <rule>)``, so a rule's sub-queries correlate with ``_row_``;
- create: ``INSERT INTO t (...) SELECT :v1, ... WHERE <rule>``: a denied create inserts
  nothing.

Statements are cached by shape (the set of columns written, whether a rule applies), and
SQLAlchemy's compiled cache then skips compilation for every later request.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tinybase.records.config import ConflictResolution
from tinybase.records.rules import CompiledRule

__all__ = ["ID_PARAM", "Statements"]

ID_PARAM = "tb_id"
IDS_PARAM = "tb_ids"
_CACHE_SIZE = 512


class Statements:
    """Builds and caches the statements of one table for one API.

    Args:
        table: the exposed table.
        row: ``table`` aliased as ``_row_`` (what rules refer to).
        primary_key: the name of the primary-key column.
        readable: the names of the columns reads return.
        conflict: the API's conflict resolution for creates.
        dialect: ``"sqlite"`` or ``"postgresql"``.
    """

    def __init__(
        self,
        table: sa.Table,
        row: sa.Alias,
        primary_key: str,
        readable: Sequence[str],
        *,
        conflict: ConflictResolution,
        dialect: str,
    ) -> None:
        self.table, self.row, self.pk = table, row, primary_key
        self.readable = tuple(readable)
        self.conflict = conflict
        self.dialect = dialect
        self.params = {column.name: f"c{index}" for index, column in enumerate(table.columns)}
        self._cache: dict[tuple[Any, ...], sa.Executable] = {}
        self._guard = threading.Lock()

    def _cached(self, key: tuple[Any, ...], build: Any) -> Any:
        statement = self._cache.get(key)
        if statement is None:
            statement = build()
            with self._guard:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = statement
        return statement

    def select_rows(self, rule: CompiledRule | None) -> sa.Select[Any]:
        """``SELECT <readable> FROM t AS _row_ [WHERE <rule>]`` (a base for lists)."""
        return self._cached(("select", rule is not None), lambda: self._select(rule))

    def _select(self, rule: CompiledRule | None) -> sa.Select[Any]:
        query = sa.select(*(self.row.c[name] for name in self.readable))
        return query if rule is None else query.where(rule.clause)

    def read(self, rule: CompiledRule | None) -> sa.Select[Any]:
        """One row by primary key, filtered by ``rule``."""
        return self._cached(
            ("read", rule is not None),
            lambda: self._select(rule).where(self.row.c[self.pk] == self._id_bind()),
        )

    def read_many(self, rule: CompiledRule | None) -> sa.Select[Any]:
        """Rows whose primary key is in the expanding parameter ``tb_ids``."""
        return self._cached(
            ("read_many", rule is not None),
            lambda: self._select(rule).where(
                self.row.c[self.pk].in_(sa.bindparam(IDS_PARAM, expanding=True))
            ),
        )

    def whole_row(self) -> sa.Select[Any]:
        """Every column of the row ``tb_id`` (``FOR UPDATE`` on PostgreSQL), for changes."""
        return self._cached(
            ("whole",),
            lambda: (
                sa.select(self.table)
                .where(self.table.c[self.pk] == self._id_bind())
                .with_for_update()
            ),
        )

    def count(self) -> sa.Select[Any]:
        """``SELECT count(*) FROM t AS _row_`` (conditions are added per request)."""
        return sa.select(sa.func.count()).select_from(self.row)

    def rule_holds(self, rule: CompiledRule, *, on_row: bool) -> sa.Select[Any]:
        """``SELECT 1 [FROM t AS _row_ WHERE _row_.pk = :id] AND <rule>``."""

        def build() -> sa.Select[Any]:
            # A literal column, not a bound 1: compiled once per rule (records.compiled).
            query = sa.select(sa.literal_column("1")).where(rule.clause)
            if on_row:
                query = query.select_from(self.row).where(self.row.c[self.pk] == self._id_bind())
            return query

        return self._cached(("holds", id(rule), on_row), build)

    def insert(self, names: tuple[str, ...], rule: CompiledRule | None) -> sa.Insert:
        """Insert one row of ``names`` (guarded by ``rule``), returning its primary key."""
        return self._cached(("insert", names, rule is not None), lambda: self._insert(names, rule))

    def _insert(self, names: tuple[str, ...], rule: CompiledRule | None) -> sa.Insert:
        dialect_module = postgresql if self.dialect == "postgresql" else sqlite
        statement = dialect_module.insert(self.table)
        binds = [self._value_bind(name) for name in names]
        if rule is None:
            statement = statement.values(dict(zip(names, binds, strict=True)))
        else:
            source = sa.select(*binds).where(rule.clause)
            statement = statement.from_select(list(names), source)
        statement = self._on_conflict(statement, names)
        return statement.returning(self.table.c[self.pk])

    def _on_conflict(self, statement: Any, names: tuple[str, ...]) -> Any:
        if self.conflict == ConflictResolution.IGNORE:
            return statement.on_conflict_do_nothing()
        if self.conflict != ConflictResolution.REPLACE:
            return statement
        # Security: only a primary-key conflict may replace, on both dialects. SQLite's
        # INSERT OR REPLACE would delete every row conflicting on ANY unique column (rows the
        # caller may not touch); ON CONFLICT(pk) DO UPDATE leaves other conflicts a 409.
        # (The INSERT ... SELECT form always has a WHERE, as SQLite's upsert parser needs.)
        changed = {name: statement.excluded[name] for name in names if name != self.pk}
        if not changed:
            return statement.on_conflict_do_nothing(index_elements=[self.pk])
        return statement.on_conflict_do_update(index_elements=[self.pk], set_=changed)

    def update(self, names: tuple[str, ...], rule: CompiledRule | None) -> sa.Update:
        """Update ``names`` (at least one) of the row ``tb_id`` if ``rule`` holds; returns
        the readable columns."""

        def build() -> sa.Update:
            values: dict[str, Any] = {name: self._value_bind(name) for name in names}
            statement = sa.update(self.table).values(values).where(self._target(rule))
            return statement.returning(*(self.table.c[name] for name in self.readable))

        return self._cached(("update", names, rule is not None), build)

    def delete(self, rule: CompiledRule | None) -> sa.Delete:
        """Delete the row ``tb_id`` if ``rule`` holds; returns its primary key."""
        return self._cached(
            ("delete", rule is not None),
            lambda: (
                sa.delete(self.table).where(self._target(rule)).returning(self.table.c[self.pk])
            ),
        )

    def _target(self, rule: CompiledRule | None) -> sa.ColumnElement[bool]:
        target = self.table.c[self.pk]
        if rule is None:
            return target == self._id_bind()
        row_pk = self.row.c[self.pk]
        inner = sa.select(row_pk).where(row_pk == self._id_bind()).where(rule.clause)
        return target.in_(inner)

    def _id_bind(self) -> sa.BindParameter[Any]:
        return sa.bindparam(ID_PARAM, type_=self.table.c[self.pk].type)

    def _value_bind(self, name: str) -> sa.ColumnElement[Any]:
        column = self.table.c[name]
        bind = sa.bindparam(self.params[name], type_=column.type)
        # PostgreSQL cannot infer the type of a parameter in a SELECT list (INSERT ...
        # SELECT); SQLite must not cast (CAST to a DATETIME affinity mangles text).
        return sa.cast(bind, column.type) if self.dialect == "postgresql" else bind
