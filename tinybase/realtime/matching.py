"""Subscription filters evaluated in memory, on the row of each event.

A subscription's filter uses the list filter language (:mod:`tinybase.records.filters`):
it is parsed and checked once, when the client subscribes, by the same code as a list
(:func:`~tinybase.records.filters.bind_filter`: readable columns only, values converted to
the column's type); then every event is matched against it here, without a query.
Semantics follow SQL's: a comparison with NULL is false, ``$like`` is SQL ``LIKE`` (``%``
and ``_``; case-insensitive on SQLite, as SQLite's), ``$re`` searches like PostgreSQL's ``~``.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tinybase.data.engine import REGEXP_TIMEOUT_SECONDS, compile_regexp
from tinybase.records.filters import FilterNode, FilterShape, bind_filter
from tinybase.records.listing import ColumnAllowlist

__all__ = ["RowFilter", "compile_filter"]

RowFilter = Callable[[Mapping[str, Any]], bool]
"""True when a row passes a subscription's filter."""

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def compile_filter(
    node: FilterNode, columns: ColumnAllowlist, *, case_insensitive_like: bool
) -> RowFilter:
    """A matcher for ``node`` over rows of the API whose readable columns are ``columns``.

    Raises:
        BadRequestError: as a list with this filter would (a hidden column, a bad value).
    """
    shape, values = bind_filter(node, columns)
    return _matcher(shape, iter(values), case_insensitive_like)


def _matcher(shape: FilterShape, values: Iterator[Any], insensitive: bool) -> RowFilter:
    if len(shape) == 2:
        parts = [_matcher(child, values, insensitive) for child in shape[1]]
        if shape[0] == "and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    column, op, marker = shape
    if op == "is":
        wants_null = marker == "NULL"
        return lambda row: (row.get(column) is None) == wants_null
    value = next(values)
    if op == "like":
        fullmatch = compile_regexp(_like_regexp(value, insensitive)).fullmatch
        return functools.partial(_searched, fullmatch, column)
    if op == "re":
        return functools.partial(_searched, compile_regexp(value).search, column)
    compare = _COMPARE[op]
    return functools.partial(_compared, compare, column, value)


def _compared(compare: Callable[[Any, Any], bool], column: str, value: Any, row: Any) -> bool:
    found = row.get(column)
    if found is None:
        return False
    try:
        return bool(compare(found, value))
    except TypeError:  # not comparable (a type the column does not hold): no match
        return False


def _searched(search: Callable[..., Any], column: str, row: Any) -> bool:
    """A ``$re`` or ``$like`` match, bounded in time as the list filters' ``REGEXP`` is:
    events are matched one after the other, and a pattern such as ``^(a+)+$`` (or a
    ``LIKE`` of a dozen ``%a``) would backtrack for hours holding the GIL, the whole
    server stalled. A match past the limit counts as no match."""
    found = row.get(column)
    if not isinstance(found, str):
        return False
    try:
        return search(found, timeout=REGEXP_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        return False


def _like_regexp(pattern: str, insensitive: bool) -> str:
    """SQL ``LIKE`` ``pattern`` as a regular expression (for a full match)."""
    parts = ["%" if c == "%" else "_" if c == "_" else re.escape(c) for c in pattern]
    text = "".join(".*" if p == "%" else "." if p == "_" else p for p in parts)
    return ("(?si)" if insensitive else "(?s)") + text
