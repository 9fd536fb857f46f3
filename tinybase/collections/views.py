"""The ``_record`` view: every collection's rows in the seed's ``Record`` shape.

``tinybase.db.models.Record`` maps this view, so ``select(Record).where(...)`` on a session
reads records of any collection. The view is regenerated inside the transaction of every
collection change (create, schema change, delete), as::

    SELECT id, '<collection id>' AS collection_id, owner_id,
           json_object('title', title, ...) AS data,       -- json_build_object on PostgreSQL
           created_at, updated_at
    FROM <collection> UNION ALL ...

With no collections it is an empty, typed SELECT. Write-only fields (``_``-prefixed) stay out
of ``data``. Values in ``data`` read the same on both dialects: booleans are JSON booleans,
JSON fields are embedded JSON, date-times are ISO 8601 strings with ``+00:00``.

Schema changes must drop the view before they touch a table (PostgreSQL refuses to alter a
column a view depends on, and SQLite's table rebuild trips over views naming the table);
:func:`drop_record_view` does that and :func:`create_record_view` puts it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tinybase.collections.field_schema import CollectionSchema
from tinybase.collections.fields import FieldType
from tinybase.db.types import UTCDateTime

__all__ = ["VIEW_NAME", "create_record_view", "drop_record_view", "record_view_select"]

VIEW_NAME = "_record"
# Function-argument limits: PostgreSQL allows 100 (50 key/value pairs), SQLite 127 by
# default. Bigger schemas are built in chunks and merged.
_PAIRS_PER_CALL = 40


def drop_record_view(connection: sa.Connection) -> None:
    """Drop ``_record`` (in the caller's transaction) before a collection table changes."""
    connection.execute(sa.text(f"DROP VIEW IF EXISTS {VIEW_NAME}"))


def create_record_view(
    connection: sa.Connection,
    collections: Iterable[tuple[str, sa.Table, CollectionSchema]],
) -> None:
    """(Re)create ``_record`` over ``collections``: ``(collection id, table, schema)`` each."""
    select = record_view_select(list(collections), connection.dialect.name)
    compiled = select.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    drop_record_view(connection)
    connection.execute(sa.text(f"CREATE VIEW {VIEW_NAME} AS {compiled}"))


def record_view_select(
    collections: Sequence[tuple[str, sa.Table, CollectionSchema]], dialect: str
) -> sa.Select[Any] | sa.CompoundSelect:
    """The view's SELECT over ``collections`` for ``dialect`` (``sqlite`` or ``postgresql``)."""
    if not collections:
        return _empty_select()
    selects = [_branch(cid, table, schema, dialect) for cid, table, schema in collections]
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def _empty_select() -> sa.Select[Any]:
    columns = [
        ("id", sa.String(36)),
        ("collection_id", sa.String(36)),
        ("owner_id", sa.String(36)),
        ("data", sa.JSON()),
        ("created_at", UTCDateTime()),
        ("updated_at", UTCDateTime()),
    ]
    return sa.select(*(sa.cast(sa.null(), kind).label(name) for name, kind in columns)).where(
        sa.false()
    )


def _branch(
    collection_id: str, table: sa.Table, schema: CollectionSchema, dialect: str
) -> sa.Select[Any]:
    pairs = [
        (field.name, _json_value(table.c[field.name], field.type, dialect))
        for field in schema.fields
        if not field.name.startswith("_")
    ]
    return sa.select(
        table.c.id,
        sa.cast(sa.literal(collection_id), sa.String(36)).label("collection_id"),
        table.c.owner_id,
        _json_object(pairs, dialect).label("data"),
        table.c.created_at,
        table.c.updated_at,
    )


def _json_value(column: sa.Column[Any], field_type: FieldType, dialect: str) -> Any:
    if dialect == "postgresql":
        return column  # json_build_object maps booleans, jsonb and timestamptz natively
    if field_type is FieldType.BOOLEAN:
        # SQLite stores 0/1: make them JSON booleans.
        return sa.case(
            (column.is_(None), sa.null()),
            (column != 0, sa.func.json("true")),
            else_=sa.func.json("false"),
        )
    if field_type is FieldType.JSON or field_type.is_list:
        return sa.func.json(column)  # embedded as JSON, not as a string holding JSON
    if field_type is FieldType.DATETIME:
        # Stored as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC; ISO 8601 with the offset, like PG.
        return sa.func.replace(column, " ", "T").op("||")("+00:00")
    return column


def _json_object(pairs: list[tuple[str, Any]], dialect: str) -> sa.ColumnElement[Any]:
    chunks = [pairs[i : i + _PAIRS_PER_CALL] for i in range(0, len(pairs), _PAIRS_PER_CALL)]
    if dialect == "postgresql":
        return _pg_object(chunks)
    return _sqlite_object(chunks)


def _pg_object(chunks: list[list[tuple[str, Any]]]) -> sa.ColumnElement[Any]:
    objects = [sa.func.json_build_object(*_flat(chunk)) for chunk in chunks] or [
        sa.func.json_build_object()
    ]
    if len(objects) == 1:
        return sa.type_coerce(objects[0], sa.JSON())
    merged = sa.cast(objects[0], postgresql.JSONB())
    for extra in objects[1:]:
        merged = merged.op("||")(sa.cast(extra, postgresql.JSONB()))
    return sa.cast(merged, sa.JSON())


def _sqlite_object(chunks: list[list[tuple[str, Any]]]) -> sa.ColumnElement[Any]:
    if not chunks:
        return sa.func.json_object()
    merged = sa.func.json_object(*_flat(chunks[0]))
    for chunk in chunks[1:]:
        # json_insert (not json_patch): a merge patch would drop keys whose value is null.
        merged = sa.func.json_insert(
            merged, *_flat([(f"$.{name}", value) for name, value in chunk])
        )
    return merged


def _flat(pairs: list[tuple[str, Any]]) -> list[Any]:
    return [item for name, value in pairs for item in (sa.literal(name), value)]
