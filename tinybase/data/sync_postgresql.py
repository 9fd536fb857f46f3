"""PostgreSQL side of ``sync_table``: ALTER TABLE statements, each failure named.

PostgreSQL refuses lossy conversions itself (``'abc'::integer`` is an error), so every step
runs as is; an error becomes a :class:`~tinybase.data.SchemaChangeError` naming the column and
the caller's SAVEPOINT undoes the steps already taken.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint, CreateColumn

from tinybase.data.errors import SchemaChangeError
from tinybase.data.sync_diff import SchemaDiff, constraint_columns

__all__ = ["apply_postgresql"]


def apply_postgresql(
    connection: sa.Connection, current: sa.Table, desired: sa.Table, diff: SchemaDiff
) -> None:
    """Apply ``diff`` to ``current`` so that it matches ``desired``."""
    table = _quote(connection, desired.name)
    for constraint in diff.constraints_to_drop:
        name = _quote(connection, constraint["name"])
        _run(connection, f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}", desired, None)
    for name in diff.dropped:
        _run(
            connection, f"ALTER TABLE {table} DROP COLUMN {_quote(connection, name)}", desired, name
        )
    for column in diff.added:
        sql = f"ALTER TABLE {table} ADD COLUMN {_column_sql(connection, column)}"
        _run(connection, sql, desired, column.name)
    for name in diff.changed:
        _alter_column(connection, desired, current.c[name], desired.c[name], diff)
    for constraint in diff.constraints_to_add:
        columns = constraint_columns(constraint)
        sql = str(AddConstraint(constraint).compile(dialect=connection.dialect))
        _run(connection, sql, desired, columns[0] if columns else None)


def _alter_column(
    connection: sa.Connection,
    desired: sa.Table,
    old: sa.Column,
    new: sa.Column,
    diff: SchemaDiff,
) -> None:
    alter = f"ALTER TABLE {_quote(connection, desired.name)} ALTER COLUMN "
    alter += _quote(connection, new.name)
    if new.name in diff.redefaulted or new.name in diff.retyped:
        _run(connection, f"{alter} DROP DEFAULT", desired, new.name)
    if new.name in diff.retyped:
        spelled = new.type.compile(dialect=connection.dialect)
        using = f"{_quote(connection, new.name)}::{spelled}"
        _run(connection, f"{alter} TYPE {spelled} USING {using}", desired, new.name)
    if new.server_default is not None:
        default = _default_sql(connection, new)
        _run(connection, f"{alter} SET DEFAULT {default}", desired, new.name)
    if new.name in diff.renulled:
        action = "DROP NOT NULL" if new.nullable else "SET NOT NULL"
        _run(connection, f"{alter} {action}", desired, new.name)


def _default_sql(connection: sa.Connection, column: sa.Column) -> str:
    ddl = str(CreateColumn(column).compile(dialect=connection.dialect))
    argument = column.server_default.arg  # type: ignore[union-attr]
    if isinstance(argument, str):
        return "'" + argument.replace("'", "''") + "'"
    if isinstance(argument, sa.ClauseElement):
        compiled = argument.compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        return str(compiled)
    return ddl.split(" DEFAULT ", 1)[1].split(" NOT NULL")[0]


def _run(connection: sa.Connection, sql: str, desired: sa.Table, column: str | None) -> None:
    try:
        with connection.begin_nested():
            connection.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        where = f"{desired.name}.{column}" if column else desired.name
        raise SchemaChangeError(
            f"cannot change {where}: {exc.orig}".strip(), table=desired.name, column=column
        ) from exc


def _quote(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _column_sql(connection: sa.Connection, column: sa.Column) -> str:
    return str(CreateColumn(column).compile(dialect=connection.dialect))
