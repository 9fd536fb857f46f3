"""Keyset cursors: where the next page of a list starts, stable under concurrent inserts.

With the default sort (primary key, newest first) the cursor is the primary key of the last
row as plain text, as TrailBase sends it. With a custom ``order`` it is opaque:
``k1.<base64url(JSON [v1, ..., pk])>``, the sort values of the last row followed by its
primary key. Clients hand the cursor back unchanged (the TrailBase clients do).

A cursor is client input: its values are converted by each column's type and bound, so a
forged cursor can only move the start of a page, never widen what the read rule allows.
NULLs sort where the database puts them by default (smallest on SQLite, largest on
PostgreSQL), so plain indexes serve the ``ORDER BY``; the keyset condition follows suit.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

from tinybase.errors import BadRequestError
from tinybase.records.order import SortKey
from tinybase.records.values import ValueKind, convert, value_kind

__all__ = ["CURSOR_PARAM", "after_cursor", "cursor_arguments", "decode_cursor", "encode_cursor"]

_PREFIX = "k1."
CURSOR_PARAM = "tb_k{}"
MAX_CURSOR_LENGTH = 4096


def _is_plain(keys: Sequence[SortKey]) -> bool:
    return len(keys) == 1


def encode_cursor(keys: Sequence[SortKey], row: Mapping[str, Any]) -> str:
    """The cursor that continues after ``row`` under the sort ``keys``."""
    if _is_plain(keys):
        return str(row[keys[0].column.key])
    values = [_jsonable(row[key.column.key]) for key in keys]
    return _PREFIX + base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    return value


def decode_cursor(keys: Sequence[SortKey], cursor: str) -> list[Any]:
    """The typed sort values a cursor carries, one per key.

    Raises:
        BadRequestError: the cursor is malformed or does not fit the sort's columns.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadRequestError("invalid cursor")
    if _is_plain(keys):
        return [_typed(keys[0], _plain_key(keys[0], cursor))]
    if not cursor.startswith(_PREFIX):
        raise BadRequestError("invalid cursor (it does not match the order)")
    raw = cursor[len(_PREFIX) :]
    try:
        values = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise BadRequestError("invalid cursor") from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise BadRequestError("invalid cursor (it does not match the order)")
    return [_typed(key, value) for key, value in zip(keys, values, strict=True)]


def _plain_key(key: SortKey, cursor: str) -> str:
    """A primary-key cursor. UUID keys (also 36-character text keys) must be UUIDs; older
    TrailBase clients send them as the url-safe base64 of the 16 bytes."""
    column_type = key.column.type
    is_uuid = value_kind(key.column) == ValueKind.UUID or getattr(column_type, "length", 0) == 36
    if not is_uuid:
        return cursor
    if len(cursor) != 36:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            return str(uuid.UUID(bytes=raw))
        except (binascii.Error, ValueError):
            raise BadRequestError("invalid cursor") from None
    try:
        return str(uuid.UUID(cursor))
    except ValueError:
        raise BadRequestError("invalid cursor") from None


def _typed(key: SortKey, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise BadRequestError("invalid cursor")
    try:
        return convert(value_kind(key.column), value)
    except ValueError:
        raise BadRequestError("invalid cursor") from None


def cursor_arguments(values: Sequence[Any]) -> dict[str, Any]:
    """The values of :func:`after_cursor`'s parameters (``tb_k0``, ``tb_k1`` ...)."""
    return {CURSOR_PARAM.format(index): v for index, v in enumerate(values) if v is not None}


def after_cursor(
    keys: Sequence[SortKey], nulls: Sequence[bool], *, nulls_smallest: bool
) -> sa.ColumnElement[bool]:
    """The WHERE condition selecting rows strictly after the cursor in the sort ``keys``.

    The cursor's values are parameters (see :func:`cursor_arguments`), so one condition
    serves every cursor of the same sort and the same NULL positions.

    Args:
        keys: the full sort, ending with the primary key.
        nulls: for each key, whether the cursor's value is NULL (the SQL differs).
        nulls_smallest: True on SQLite (NULLs sort first ascending), False on PostgreSQL.
    """
    if _simple_tuple(keys, nulls):
        columns = sa.tuple_(*(key.column for key in keys))
        bound = sa.tuple_(*(_bind(key, index) for index, key in enumerate(keys)))
        return columns < bound if keys[0].descending else columns > bound
    branches: list[sa.ColumnElement[bool]] = []
    equal: list[sa.ColumnElement[bool]] = []
    for index, (key, is_null) in enumerate(zip(keys, nulls, strict=True)):
        strictly = _strictly_after(key, index, is_null, nulls_smallest=nulls_smallest)
        if strictly is not None:
            branches.append(sa.and_(*equal, strictly))
        equal.append(key.column.is_(None) if is_null else key.column == _bind(key, index))
    return sa.or_(*branches) if branches else sa.false()


def _simple_tuple(keys: Sequence[SortKey], nulls: Sequence[bool]) -> bool:
    if len(keys) == 1:
        return not nulls[0]
    same_direction = len({key.descending for key in keys}) == 1
    return same_direction and not any(nulls) and not any(_nullable(key) for key in keys)


def _nullable(key: SortKey) -> bool:
    return bool(getattr(key.column, "nullable", True)) and not getattr(
        key.column, "primary_key", False
    )


def _bind(key: SortKey, index: int) -> sa.BindParameter[Any]:
    return sa.bindparam(CURSOR_PARAM.format(index), type_=key.column.type)


def _strictly_after(
    key: SortKey, index: int, is_null: bool, *, nulls_smallest: bool
) -> sa.ColumnElement[bool] | None:
    nulls_first = nulls_smallest != key.descending
    if is_null:
        return key.column.is_not(None) if nulls_first else None
    bound = _bind(key, index)
    compare = key.column < bound if key.descending else key.column > bound
    if _nullable(key) and not nulls_first:
        return sa.or_(compare, key.column.is_(None))
    return compare
