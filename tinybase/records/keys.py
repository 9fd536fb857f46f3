"""Keys of record tables: the primary key, the unique column sets, ids as clients spell them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from typing import Any

import sqlalchemy as sa

from tinybase.errors import ValidationError

__all__ = [
    "UNREFLECTED_UNIQUE",
    "advisory_key",
    "base64_uuid",
    "plain_id",
    "primary_key",
    "unique_column_sets",
]

UNREFLECTED_UNIQUE = "tinybase_unreflected_unique_index"
"""``Table.info`` key: the table has a unique index reflection could not describe."""


def unique_column_sets(table: sa.Table) -> tuple[frozenset[str], ...]:
    """The column sets of the table's unique constraints and indexes, the key aside.

    A unique index over an expression (``lower(_email)``) may cover any column: it counts
    as covering all of them. PostgreSQL reflects it without its columns; SQLite not at all,
    so reflection marks such a table (``table.info[UNREFLECTED_UNIQUE]``, see
    :func:`tinybase.records.registry.reflect`).
    """
    every = frozenset(table.c.keys())
    sets = {
        frozenset(constraint.columns.keys())
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    }
    for index in table.indexes:
        if index.unique:
            plain = len(index.columns) == len(index.expressions)
            sets.add(frozenset(index.columns.keys()) if plain else every)
    if table.info.get(UNREFLECTED_UNIQUE):
        sets.add(every)
    return tuple(columns for columns in sets if columns and columns != {primary_key(table)})


def primary_key(table: sa.Table) -> str:
    """The name of the table's single-column primary key (a view's ``id`` column).

    Raises:
        ValidationError: the table has no single-column key.
    """
    columns = list(table.primary_key.columns)
    if len(columns) == 1:
        return columns[0].name
    if not columns and "id" in table.c:
        return "id"  # views have no declared key: TrailBase's convention, an id column
    raise ValidationError.for_field("table_name", "the table needs a single-column primary key")


def plain_id(value: Any) -> Any:
    """A key as JSON carries it (UUIDs as text)."""
    return str(value) if isinstance(value, uuid.UUID) else value


def base64_uuid(raw: str) -> str | None:
    """TrailBase's older url-safe base64 form of a UUID as text, or None if it is not one."""
    try:
        data = base64.urlsafe_b64decode(raw + "==")
    except (binascii.Error, ValueError):
        return None
    return str(uuid.UUID(bytes=data)) if len(data) == 16 else None


def advisory_key(table_name: str, key: Any) -> int:
    """A PostgreSQL advisory-lock key (signed 64 bits) for row ``key`` of ``table_name``,
    the same in every process (not Python's ``hash``, which is salted per process)."""
    digest = hashlib.blake2b(f"{table_name}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
