"""Schema → ``sa.Table``: the real table that stores a collection.

System columns come first: ``id`` (UUIDv7 text, primary key and pagination cursor),
``owner_id`` (→ ``_user.id``, set to NULL when the user is deleted), ``created_at``,
``updated_at``; then one typed column per field. The schema's rules become constraints the
database enforces too (NOT NULL, UNIQUE, CHECK, foreign keys), so no write path (the
TrailBase API family, raw SQL in a function) can store what validation would refuse.

Indexes: ``(owner_id, id)`` and ``(owner_id, created_at, id)`` always (owner-filtered lists
in id/cursor order, and newest first); for every ``index`` field one on the field and one on
``(owner_id, field, id)``, so that lists under an ``owner`` rule filtered by equality on that
field or sorted by it use an index for the rule, the filter and the whole order (the record
engine always ends the order with ``id``, and a text primary key is not SQLite's rowid, so
without the trailing ``id`` SQLite sorts the matches in a temporary B-tree).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import sqlalchemy as sa

from tinybase.collections.field_schema import CollectionSchema, FieldSchema
from tinybase.collections.fields import FieldType, column_type
from tinybase.db.types import UTCDateTime

__all__ = ["USER_TABLE", "build_table", "constraint_name"]

USER_TABLE = "_user"
_MAX_IDENTIFIER = 63  # PostgreSQL's limit; SQLite has none.

# Types whose defaults can be written as a literal in DDL on both dialects (the default also
# fills existing rows when the column is added later).
_SERVER_DEFAULT_TYPES = frozenset(
    {
        FieldType.STRING,
        FieldType.TEXT,
        FieldType.EMAIL,
        FieldType.URL,
        FieldType.SELECT,
        FieldType.INTEGER,
        FieldType.NUMBER,
        FieldType.BOOLEAN,
        FieldType.DATE,
    }
)


def constraint_name(table: str, kind: str, *parts: str) -> str:
    """A constraint or index name unique to its table, shortened to fit PostgreSQL's limit."""
    # "__" after the table name: table "a_b" + field "c" and table "a" + field "b_c" differ.
    name = f"{kind}_{table}__{'_'.join(parts)}"
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_IDENTIFIER - 11]}_{digest}"


def build_table(name: str, schema: CollectionSchema) -> sa.Table:
    """The table of collection ``name`` under ``schema``, in its own ``MetaData``.

    The metadata also holds stub tables (``_user`` and the targets of relations, primary key
    only) so that foreign keys resolve when the DDL is compiled.
    """
    metadata = sa.MetaData()
    _stub(metadata, USER_TABLE)
    for target in set(schema.relations().values()) - {name}:
        _stub(metadata, target)
    columns = [*_system_columns(), *(_field_column(name, field) for field in schema.fields)]
    table = sa.Table(name, metadata, *columns, *_constraints(name, schema))
    _add_indexes(table, schema)
    return table


def _stub(metadata: sa.MetaData, name: str) -> None:
    sa.Table(name, metadata, sa.Column("id", sa.String(36), primary_key=True))


def _system_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "owner_id",
            sa.String(36),
            sa.ForeignKey(f"{USER_TABLE}.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def _field_column(table: str, field: FieldSchema) -> sa.Column[Any]:
    args: list[Any] = []
    if field.type is FieldType.RELATION:
        # An optional relation is cleared when its target goes; a required one keeps the
        # target alive (deleting it is refused) rather than cascading data away silently.
        ondelete = None if field.required else "SET NULL"
        args.append(sa.ForeignKey(f"{field.collection}.id", ondelete=ondelete))
    return sa.Column(
        field.name,
        column_type(field.type),
        *args,
        nullable=not field.required,
        server_default=_server_default(field),
    )


def _server_default(field: FieldSchema) -> str | None:
    if field.default is None or field.type not in _SERVER_DEFAULT_TYPES:
        return None
    if field.type is FieldType.BOOLEAN:
        return "1" if field.default else "0"
    if field.type in (FieldType.INTEGER, FieldType.NUMBER):
        return orjson.dumps(field.default).decode()
    return str(field.default)


def _constraints(table: str, schema: CollectionSchema) -> list[sa.SchemaItem]:
    items: list[sa.SchemaItem] = []
    for field in schema.fields:
        if field.unique:
            items.append(
                sa.UniqueConstraint(field.name, name=constraint_name(table, "uq", field.name))
            )
        items.extend(_checks(table, field))
    return items


def _checks(table: str, field: FieldSchema) -> list[sa.CheckConstraint]:
    column = sa.column(field.name)
    conditions: list[tuple[str, sa.ColumnElement[bool]]] = []
    if field.type is FieldType.SELECT and field.values:
        conditions.append(("values", column.in_(list(field.values))))
    if field.type.is_numeric and field.min is not None:
        conditions.append(("min", column >= field.min))
    if field.type.is_numeric and field.max is not None:
        conditions.append(("max", column <= field.max))
    if field.type.is_textual and field.min_length is not None:
        conditions.append(("min_length", sa.func.length(column) >= field.min_length))
    if field.type.is_textual and field.max_length is not None:
        conditions.append(("max_length", sa.func.length(column) <= field.max_length))
    return [
        sa.CheckConstraint(
            _literal_sql(condition), name=constraint_name(table, "ck", field.name, kind)
        )
        for kind, condition in conditions
    ]


def _literal_sql(condition: sa.ColumnElement[bool]) -> str:
    # CHECK constraints cannot hold bound parameters; the values come from the admin's
    # validated schema and are rendered as escaped literals by SQLAlchemy.
    return str(condition.compile(compile_kwargs={"literal_binds": True}))


def _add_indexes(table: sa.Table, schema: CollectionSchema) -> None:
    # An Index built over a table's columns attaches itself to that table.
    name = table.name
    owner, key = table.c.owner_id, table.c.id
    sa.Index(constraint_name(name, "ixo", "id"), owner, key)
    sa.Index(constraint_name(name, "ixo", "created_at"), owner, table.c.created_at, key)
    for field in schema.fields:
        column = table.c[field.name]
        if field.index and not field.unique:
            sa.Index(constraint_name(name, "ix", field.name), column)
        if field.index or field.unique:
            sa.Index(constraint_name(name, "ixo", field.name), owner, column, key)
