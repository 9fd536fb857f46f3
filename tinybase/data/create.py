"""``db.create``: a table from an annotated class, created or transformed in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tinybase.data.codecs import sql_type_for
from tinybase.data.errors import InvalidDataError
from tinybase.data.rowclasses import class_fields, make_flexiclass, snake_case
from tinybase.data.sync import sync_table
from tinybase.data.sync_diff import type_key
from tinybase.data.table import Table
from tinybase.data.tableinfo import reflect_table

if TYPE_CHECKING:
    from tinybase.data.database import Database

__all__ = ["create_table", "desired_table"]


def create_table(
    db: Database,
    cls: type,
    *,
    pk: str | Sequence[str] = "id",
    transform: bool = False,
    name: str | None = None,
) -> Table:
    """Create the table for ``cls`` (the ``db.create`` of the MiniDataAPI).

    ``cls`` becomes a dataclass in place (fields without a default get ``UNSET``). The
    table is named ``name`` or the snake_case class name. An existing table is returned as is,
    unless ``transform`` is true: then missing columns are added and changed types
    converted; columns the class lacks are kept.

    Raises:
        InvalidDataError: a primary key column is not a field of ``cls`` (add the field, or
            pass ``pk=``), or a field has an unsupported type.
        SchemaChangeError: ``transform`` cannot convert existing values.
    """
    make_flexiclass(cls)
    table_name = name or snake_case(cls.__name__)
    fields = class_fields(cls)
    pks = (pk,) if isinstance(pk, str) else tuple(pk)
    missing = [column for column in pks if column not in fields]
    if missing or not pks:
        raise InvalidDataError(
            f"{cls.__name__} has no field {missing[0] if missing else pk!r} for the primary key: "
            "add the field or pass pk="
        )
    desired = desired_table(table_name, fields, pks)
    with db.write() as connection:
        current = reflect_table(connection, table_name)
        if current is None:
            sync_table(connection, desired)
        elif transform:
            sync_table(connection, _transformed(current, desired, connection.dialect))
    db.forget(table_name)
    db.register_class(table_name, cls)
    return Table(db, table_name, cls)


def desired_table(name: str, fields: dict[str, Any], pks: tuple[str, ...]) -> sa.Table:
    """The table for a class's fields: a single int key is generated, other columns nullable."""
    generated = len(pks) == 1 and isinstance(sql_type_for(fields[pks[0]]), sa.Integer)
    columns = [
        sa.Column(
            field,
            sql_type_for(annotation),
            primary_key=field in pks,
            autoincrement=generated if field in pks else False,
        )
        for field, annotation in fields.items()
    ]
    return sa.Table(name, sa.MetaData(), *columns)


def _transformed(current: sa.Table, desired: sa.Table, dialect: sa.Dialect) -> sa.Table:
    """The current table with the class's new columns added and its changed types applied.

    Everything else (other columns, keys, constraints, indexes) stays as it is.
    """
    for column in desired.columns:
        if column.name in current.c:
            old = current.c[column.name]
            if type_key(old.type, dialect) == type_key(column.type, dialect):
                continue
            replacement = old._copy()
            replacement.type = column.type
            current.append_column(replacement, replace_existing=True)
        else:
            current.append_column(sa.Column(column.name, column.type))
    return current
