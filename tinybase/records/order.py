"""``order=-rank,+created``: the sort keys of a list, checked against an allowlist.

A key is a column name with an optional ``+`` (ascending, the default) or ``-`` (descending)
prefix. A ``+`` sent unencoded in a query string arrives as a space, so leading spaces count
as ``+``. The primary key is always the last key (the tie-breaker that makes keyset cursors
stable); without ``order`` the list is newest first (primary key descending).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tinybase.errors import BadRequestError
from tinybase.records.filters import ColumnResolver

__all__ = ["MAX_ORDER_KEYS", "SortKey", "parse_order", "sort_keys"]

MAX_ORDER_KEYS = 5


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort key: a resolved column and its direction."""

    name: str
    column: sa.ColumnElement[Any]
    descending: bool

    def clause(self) -> sa.UnaryExpression[Any]:
        return self.column.desc() if self.descending else self.column.asc()


def parse_order(raw: str | None) -> list[tuple[str, bool]]:
    """Parse ``order`` into ``(name, descending)`` pairs (not yet checked against columns).

    Raises:
        BadRequestError: an empty key, a duplicate, or more than ``MAX_ORDER_KEYS`` keys.
    """
    if raw is None or not raw.strip():
        return []
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        text = part.strip()
        descending = text.startswith("-")
        name = text[1:].strip() if text[:1] in "+-" and text else text
        if not name:
            raise BadRequestError("order: empty sort key")
        if any(name == seen for seen, _ in keys):
            raise BadRequestError(f"order: duplicate column {name!r}")
        keys.append((name, descending))
    if len(keys) > MAX_ORDER_KEYS:
        raise BadRequestError(f"order: at most {MAX_ORDER_KEYS} columns")
    return keys


def sort_keys(
    raw: str | None, resolver: ColumnResolver, primary_key: sa.ColumnElement[Any]
) -> list[SortKey]:
    """The full sort of a list: the requested keys, then the primary key as tie-breaker.

    The tie-breaker follows the direction of the last requested key (so ``order=-score``
    pages newest-first among equal scores, and an index on ``(score)`` serves it backwards).

    Raises:
        BadRequestError: see :func:`parse_order`, or a column the resolver refuses.
    """
    keys: list[SortKey] = []
    pk_name = primary_key.key
    for name, descending in parse_order(raw):
        column = resolver.resolve(name)
        keys.append(SortKey(name, column, descending))
        if column.key == pk_name:
            return keys
    descending = keys[-1].descending if keys else True
    keys.append(SortKey(pk_name, primary_key, descending))
    return keys
