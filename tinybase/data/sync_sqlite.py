"""SQLite side of ``sync_table``: ALTER TABLE ADD COLUMN when it is enough, else a rebuild.

The rebuild follows SQLite's "12-step generalized ALTER TABLE procedure": create the new
table, copy the rows (with CASTs checked beforehand, since SQLite casts 'abc' to 0 without a
word), swap the tables, recreate indexes and triggers, check the foreign keys. It runs inside
the caller's transaction with ``PRAGMA defer_foreign_keys=ON``. Before the old table is dropped,
the foreign keys of other tables are pointed at the new one, so the implicit DELETE of the DROP
fires no ON DELETE action on them (see ``_retarget_children``).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateColumn

from tinybase.data.codecs import column_kind
from tinybase.data.errors import SchemaChangeError
from tinybase.data.sync_diff import SchemaDiff, constraint_columns, type_key

__all__ = ["apply_sqlite"]


def apply_sqlite(
    connection: sa.Connection, current: sa.Table, desired: sa.Table, diff: SchemaDiff
) -> None:
    """Apply ``diff`` to ``current`` so that it matches ``desired``."""
    needs_rebuild = (
        diff.dropped
        or diff.changed
        or diff.constraints_to_add
        or diff.constraints_to_drop
        or not all(_can_add(column, desired) for column in diff.added)
    )
    if needs_rebuild:
        _rebuild(connection, current, desired, diff)
        return
    for column in diff.added:
        _execute(
            connection,
            f"ALTER TABLE {_quote(connection, desired.name)} ADD COLUMN "
            + _column_sql(connection, column),
            desired.name,
            column.name,
        )


def _can_add(column: sa.Column, table: sa.Table) -> bool:
    """Whether SQLite's ADD COLUMN can add ``column`` (no keys, constraints or expressions)."""
    if column.primary_key or column.unique or column.foreign_keys or column.constraints:
        return False
    for constraint in table.constraints:
        if not isinstance(constraint, sa.PrimaryKeyConstraint) and column.name in (
            constraint_columns(constraint)
        ):
            return False
    default = column.server_default
    argument = getattr(default, "arg", None)
    if default is not None and not isinstance(argument, str):
        return False
    return column.nullable or default is not None


# -- the rebuild ----------------------------------------------------------------------------


def _rebuild(connection: sa.Connection, current: sa.Table, desired: sa.Table, diff: SchemaDiff):
    name = desired.name
    kept = [c for c in current.columns if c.name not in desired.c and c.name not in diff.dropped]
    copied = [c for c in desired.columns if c.name in current.c]
    _check_new_columns(connection, desired, diff)
    expressions = [_copy_expression(connection, current, c, diff) for c in copied]
    _check_uniques(connection, desired, diff)
    triggers = (
        connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (name,)
        )
        .scalars()
        .all()
    )
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    new_name = f"_tinybase_new_{name}"
    connection.exec_driver_sql(_create_table_sql(connection, desired, kept, new_name))
    targets = ", ".join(_quote(connection, c.name) for c in [*copied, *kept])
    sources = ", ".join([*expressions, *(_quote(connection, c.name) for c in kept)])
    _execute(
        connection,
        f"INSERT INTO {_quote(connection, new_name)} ({targets}) "
        f"SELECT {sources} FROM {_quote(connection, name)}",
        name,
        None,
    )
    _swap(connection, name, new_name)
    for sql in triggers:
        connection.exec_driver_sql(sql)
    _check_foreign_keys(connection, name)


def _swap(connection: sa.Connection, name: str, new_name: str) -> None:
    _retarget_children(connection, name, new_name)
    connection.exec_driver_sql(f"DROP TABLE {_quote(connection, name)}")
    # legacy_alter_table: do not re-check views and triggers that name the table (they are
    # valid again once the rename is done); references from other tables follow the rename.
    connection.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    try:
        connection.exec_driver_sql(
            f"ALTER TABLE {_quote(connection, new_name)} RENAME TO {_quote(connection, name)}"
        )
    finally:
        connection.exec_driver_sql("PRAGMA legacy_alter_table = OFF")


def _retarget_children(connection: sa.Connection, name: str, new_name: str) -> None:
    """Point the foreign keys of other tables at ``new_name`` before ``name`` is dropped.

    With foreign keys on (they cannot be switched off inside a transaction), DROP TABLE runs
    an implicit DELETE that fires the children's ON DELETE CASCADE / SET NULL actions. So the
    children are made to reference the new table first, by editing their schema text exactly
    as SQLite's own ALTER TABLE RENAME does; the final rename then carries them back to
    ``name``.
    """
    children = connection.exec_driver_sql(
        "SELECT DISTINCT m.name, m.sql FROM sqlite_master AS m, "
        "pragma_foreign_key_list(m.name) AS f "
        "WHERE m.type = 'table' AND lower(f.\"table\") = lower(?) AND m.name <> ?",
        (name, name),
    ).all()
    if not children:
        return
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for child, sql in children:
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (_retarget_references(sql, name, _quote(connection, new_name)), child),
            )
        connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema = OFF")


_REFERENCES = re.compile(
    r"""(\bREFERENCES\s+)("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|'[^']+'|[\w$]+)""", re.IGNORECASE
)


def _retarget_references(sql: str, name: str, replacement: str) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        if target[0] in "\"`['":
            target = target[1:-1].replace('""', '"')
        return match.group(1) + replacement if target.lower() == name.lower() else match.group(0)

    return _REFERENCES.sub(replace, sql)


def _create_table_sql(
    connection: sa.Connection, desired: sa.Table, kept: list[sa.Column], new_name: str
) -> str:
    compiler = connection.dialect.ddl_compiler(connection.dialect, None)
    holder = sa.Table(desired.name, sa.MetaData(), *(column._copy() for column in kept))
    parts = []
    first_pk = False
    for column in [*desired.columns, *holder.columns]:
        parts.append(
            compiler.process(CreateColumn(column), first_pk=column.primary_key and not first_pk)
        )
        first_pk = first_pk or column.primary_key
    constraints = compiler.create_table_constraints(desired)
    if constraints:
        parts.append(constraints)
    body = ",\n\t".join(part for part in parts if part)
    suffix = compiler.post_create_table(desired)
    return f"CREATE TABLE {_quote(connection, new_name)} (\n\t{body}\n){suffix}"


# -- checks before anything changes ---------------------------------------------------------


def _check_new_columns(connection: sa.Connection, desired: sa.Table, diff: SchemaDiff) -> None:
    required = [c for c in diff.added if not c.nullable and c.server_default is None]
    if required and _has_rows(connection, desired.name):
        column = required[0].name
        raise SchemaChangeError(
            f"cannot add NOT NULL column {desired.name}.{column} without a default: "
            "the table has rows",
            table=desired.name,
            column=column,
        )


def _has_rows(connection: sa.Connection, name: str) -> bool:
    sql = f"SELECT 1 FROM {_quote(connection, name)} LIMIT 1"
    return connection.exec_driver_sql(sql).first() is not None


def _copy_expression(
    connection: sa.Connection, current: sa.Table, column: sa.Column, diff: SchemaDiff
) -> str:
    """The SELECT expression copying ``column``, after checking that no value is lost."""
    quoted = _quote(connection, column.name)
    table = _quote(connection, current.name)
    if column.name in diff.renulled and not column.nullable:
        found = connection.exec_driver_sql(
            f"SELECT 1 FROM {table} WHERE {quoted} IS NULL LIMIT 1"
        ).first()
        if found is not None:
            raise SchemaChangeError(
                f"cannot make {current.name}.{column.name} NOT NULL: it holds NULLs",
                table=current.name,
                column=column.name,
            )
    if column.name not in diff.retyped:
        return quoted
    target = _target(column.type, connection.dialect)
    valid, cast = _CONVERSIONS[target]
    bad = connection.exec_driver_sql(
        f"SELECT {quoted} FROM {table} WHERE {quoted} IS NOT NULL "
        f"AND NOT ({valid.format(c=quoted)}) LIMIT 1"
    ).first()
    if bad is not None:
        spelled = type_key(column.type, connection.dialect)
        raise SchemaChangeError(
            f"cannot convert {current.name}.{column.name} to {spelled}: value {bad[0]!r}",
            table=current.name,
            column=column.name,
        )
    return cast.format(c=quoted)


# target -> (condition that a non-NULL value {c} converts without loss, copy expression)
_CONVERSIONS: dict[str, tuple[str, str]] = {
    "bool": ("{c} IN (0, 1)", "CAST({c} AS INTEGER)"),
    "datetime": ("typeof({c}) = 'text' AND datetime({c}) IS NOT NULL", "{c}"),
    "date": ("typeof({c}) = 'text' AND date({c}) IS NOT NULL", "{c}"),
    "json": ("typeof({c}) <> 'blob' AND json_valid({c})", "{c}"),
    "integer": (
        "typeof({c}) = 'integer' OR (typeof({c}) = 'real' AND {c} = CAST({c} AS INTEGER))"
        " OR (typeof({c}) = 'text' AND CAST(CAST({c} AS INTEGER) AS TEXT) = {c})",
        "CAST({c} AS INTEGER)",
    ),
    "real": (
        "typeof({c}) IN ('integer', 'real') OR (typeof({c}) = 'text' AND trim({c}) <> ''"
        " AND trim({c}) NOT GLOB '*[^0-9.eE+-]*' AND trim({c}) GLOB '*[0-9]*')",
        "CAST({c} AS REAL)",
    ),
    "numeric": (
        "typeof({c}) IN ('integer', 'real') OR (typeof({c}) = 'text' AND trim({c}) <> ''"
        " AND trim({c}) NOT GLOB '*[^0-9.eE+-]*' AND trim({c}) GLOB '*[0-9]*')",
        "{c}",
    ),
    "text": ("typeof({c}) <> 'blob'", "CAST({c} AS TEXT)"),
    "blob": ("1", "{c}"),
}


def _target(column_type: sa.types.TypeEngine, dialect: sa.Dialect) -> str:
    """The conversion target of a type: a TinyBase kind, else SQLite's affinity rules."""
    kind = column_kind(column_type)
    if kind in ("bool", "datetime", "date", "json"):
        return kind
    spelled = type_key(column_type, dialect)
    if "INT" in spelled:
        return "integer"
    if any(word in spelled for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in spelled or not spelled:
        return "blob"
    if any(word in spelled for word in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


def _check_uniques(connection: sa.Connection, desired: sa.Table, diff: SchemaDiff) -> None:
    for constraint in diff.constraints_to_add:
        if not isinstance(constraint, sa.UniqueConstraint):
            continue
        names = [c.name for c in constraint.columns]
        if not all(
            name in desired.c and name not in [c.name for c in diff.added] for name in names
        ):
            continue
        columns = ", ".join(_quote(connection, name) for name in names)
        not_null = " AND ".join(f"{_quote(connection, name)} IS NOT NULL" for name in names)
        duplicate = connection.exec_driver_sql(
            f"SELECT {columns} FROM {_quote(connection, desired.name)} WHERE {not_null} "
            f"GROUP BY {columns} HAVING count(*) > 1 LIMIT 1"
        ).first()
        if duplicate is not None:
            raise SchemaChangeError(
                f"cannot make {desired.name}({', '.join(names)}) unique: "
                f"duplicate value {tuple(duplicate)!r}",
                table=desired.name,
                column=names[0],
            )


def _check_foreign_keys(connection: sa.Connection, name: str) -> None:
    tables = [
        name,
        *connection.exec_driver_sql(
            "SELECT m.name FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f "
            "WHERE m.type = 'table' AND f.\"table\" = ? AND m.name <> ?",
            (name, name),
        ).scalars(),
    ]
    for table in dict.fromkeys(tables):
        problem = connection.exec_driver_sql(
            f"PRAGMA foreign_key_check({_quote(connection, table)})"
        ).first()
        if problem is None:
            continue
        column = _foreign_key_column(connection, table, problem[3])
        raise SchemaChangeError(
            f"foreign key {table}.{column} -> {problem[2]} would be violated (rowid {problem[1]})",
            table=table,
            column=column,
        )


def _foreign_key_column(connection: sa.Connection, table: str, fk_id: int) -> str | None:
    row = connection.exec_driver_sql(
        'SELECT "from" FROM pragma_foreign_key_list(?) WHERE id = ?', (table, fk_id)
    ).first()
    return row[0] if row else None


# -- helpers --------------------------------------------------------------------------------


def _quote(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _column_sql(connection: sa.Connection, column: sa.Column) -> str:
    return str(CreateColumn(column).compile(dialect=connection.dialect))


def _execute(connection: sa.Connection, sql: str, table: str, column: str | None) -> Any:
    try:
        return connection.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        raise SchemaChangeError(
            f"cannot change table {table}: {exc.orig}", table=table, column=column
        ) from exc
