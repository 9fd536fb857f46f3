"""``sync_table``: bring an existing table to a desired shape without losing data.

Shared by ``db.create(..., transform=True)`` and by TinyBase collections. The caller builds the
desired :class:`sqlalchemy.Table`; :func:`sync_table` compares it with the database and:

- creates the table (and its indexes) when it is missing;
- adds missing columns, drops exactly ``drop_columns`` and keeps every other column;
- converts columns whose type, nullability or default changed, and applies changed UNIQUE,
  CHECK and FOREIGN KEY constraints (SQLite: a table rebuild; PostgreSQL: ALTER TABLE);
- makes the table's indexes match the desired ones.

All of it runs inside a SAVEPOINT of the caller's transaction: when a value cannot be
converted, :class:`~tinybase.data.SchemaChangeError` is raised and nothing has changed.
Name CHECK constraints: unnamed ones are compared by their SQL text, which PostgreSQL rewrites.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from tinybase.data.errors import SchemaChangeError
from tinybase.data.sync_diff import diff_table
from tinybase.data.sync_postgresql import apply_postgresql
from tinybase.data.sync_sqlite import apply_sqlite

__all__ = ["sync_indexes", "sync_table"]


def sync_table(
    connection: sa.Connection, desired: sa.Table, *, drop_columns: Collection[str] = ()
) -> None:
    """Create ``desired`` or change the existing table to match it, keeping the data.

    Args:
        connection: a connection inside the caller's transaction.
        desired: the table as it should be (columns, constraints, named indexes).
        drop_columns: existing columns to drop; other columns missing from ``desired`` stay.

    Raises:
        SchemaChangeError: a value cannot be converted (for example text to integer, or a
            NULL into a NOT NULL column), naming the table and column; nothing is changed.
    """
    with connection.begin_nested():
        if not sa.inspect(connection).has_table(desired.name):
            desired.create(connection)
            return
        current = sa.Table(desired.name, sa.MetaData(), autoload_with=connection)
        diff = diff_table(connection, current, desired, drop_columns)
        if connection.dialect.name == "sqlite":
            apply_sqlite(connection, current, desired, diff)
        else:
            apply_postgresql(connection, current, desired, diff)
        sync_indexes(connection, desired)


# -- indexes --------------------------------------------------------------------------------


def sync_indexes(connection: sa.Connection, desired: sa.Table) -> None:
    """Make the named indexes of the table match ``desired.indexes``."""
    existing = {
        index["name"]: index
        for index in sa.inspect(connection).get_indexes(desired.name)
        if not index.get("duplicates_constraint") and index["name"]
    }
    wanted = {index.name: index for index in desired.indexes}
    preparer = connection.dialect.identifier_preparer
    for name, index in existing.items():
        if name not in wanted or _index_signature(index) != _desired_index_signature(wanted[name]):
            connection.exec_driver_sql(f"DROP INDEX {preparer.quote(name)}")
            existing[name] = None  # type: ignore[assignment]
    for name, index in wanted.items():
        if existing.get(name) is None:
            _create_index(connection, desired, index)


def _create_index(connection: sa.Connection, table: sa.Table, index: sa.Index) -> None:
    try:
        with connection.begin_nested():
            connection.execute(sa.schema.CreateIndex(index))
    except sa.exc.DBAPIError as exc:
        columns = [c.name for c in index.columns]
        raise SchemaChangeError(
            f"cannot create index {index.name} on {table.name}({', '.join(columns)}): {exc.orig}",
            table=table.name,
            column=columns[0] if columns else None,
        ) from exc


def _index_signature(index: dict[str, Any]) -> tuple:
    names = index.get("column_names") or []
    if any(name is None for name in names):
        return ("expression",)
    return (tuple(names), bool(index.get("unique")))


def _desired_index_signature(index: sa.Index) -> tuple:
    if any(not isinstance(expression, sa.Column) for expression in index.expressions):
        return ("expression",)
    return (tuple(column.name for column in index.columns), bool(index.unique))
