"""The list filter language: query parameters -> a small AST -> a shape, values and SQL.

Two syntaxes are accepted and may be mixed (all top-level terms are ANDed):

- TrailBase's: ``filter[col]=v``, ``filter[col][$op]=v``, nested
  ``filter[$and][0][col][$op]=v`` and ``filter[$or][1][col]=v``;
- the short form: ``col[op]=v`` and bare ``col=v`` (names in ``RESERVED_PARAMETERS`` are list
  options, not filters; use ``filter[limit]=...`` for a column named ``limit``).

Operators: ``$eq $ne $gt $gte $lt $lte $like $re $is`` (``$is`` takes ``NULL`` or ``!NULL``),
and in the short form also ``eq``, ``not``, ``ne``, ``gt`` ... ``re``, ``is``.

Security: column names are only ever looked up through a :class:`ColumnResolver` (an
allowlist owned by the caller); values are converted by the column's type and always bound.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from tinybase.errors import BadRequestError
from tinybase.records.values import ValueKind, convert, value_kind

__all__ = [
    "FILTER_PARAM",
    "RESERVED_PARAMETERS",
    "ColumnResolver",
    "Comparison",
    "Composite",
    "FilterNode",
    "FilterShape",
    "bind_filter",
    "build_filter",
    "parse_filters",
    "uses_regex",
]

RESERVED_PARAMETERS = frozenset(
    {"limit", "cursor", "offset", "order", "expand", "count", "geojson", "mode", "filter"}
)
MAX_TERMS = 64
MAX_DEPTH = 8
MAX_PATTERN_LENGTH = 512

_OPERATORS = {
    "eq": "eq",
    "equal": "eq",
    "ne": "ne",
    "not": "ne",
    "neq": "ne",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "like": "like",
    "re": "re",
    "regexp": "re",
    "is": "is",
}
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class ColumnResolver(Protocol):
    """Turns a client-supplied column name into a column, or refuses it.

    Implementations allowlist: write-only (``_``-prefixed) and excluded columns must never
    resolve. Raise :class:`~tinybase.errors.BadRequestError` naming the column otherwise.
    """

    def resolve(self, name: str) -> sa.ColumnElement[Any]: ...


@dataclass(frozen=True, slots=True)
class Comparison:
    """``column op value``; ``value`` is the raw text from the query string."""

    column: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Composite:
    """``$and`` / ``$or`` over child nodes."""

    kind: str
    children: tuple[FilterNode, ...]


FilterNode = Comparison | Composite


def parse_filters(params: Iterable[tuple[str, str]]) -> FilterNode | None:
    """Parse query parameters into one filter tree (``None`` when there is no filter).

    Args:
        params: the query string's (key, value) pairs, in order; list options such as
            ``limit`` are skipped.

    Raises:
        BadRequestError: a malformed key, an unknown operator, a filter that is too large.
    """
    terms: list[FilterNode] = []
    tree: dict[str, Any] = {}
    for key, value in params:
        match = _KEY.match(key)
        if match is None:
            raise BadRequestError(f"malformed query parameter: {key!r}")
        name, rest = match.group(1), _SEGMENT.findall(match.group(2))
        if name == "filter":
            if not rest:
                raise BadRequestError("filter needs a column: filter[column]=value")
            _insert(tree, rest, value)
        elif name in RESERVED_PARAMETERS and not rest:
            continue
        elif len(rest) > 1:
            raise BadRequestError(f"malformed filter: {key!r}")
        else:
            terms.append(Comparison(name, _operator(rest[0] if rest else "eq"), value))
    if tree:
        terms.extend(_level(tree, depth=1))
    if len(terms) > MAX_TERMS or _count(terms) > MAX_TERMS:
        raise BadRequestError(f"too many filter terms (at most {MAX_TERMS})")
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else Composite("and", tuple(terms))


def _operator(raw: str) -> str:
    op = _OPERATORS.get(raw.removeprefix("$").lower())
    if op is None:
        raise BadRequestError(f"unknown filter operator: {raw!r}")
    return op


def _insert(tree: dict[str, Any], path: list[str], value: str) -> None:
    if len(path) > 2 * MAX_DEPTH + 2:
        raise BadRequestError("filter nested too deeply")
    node = tree
    for segment in path[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise BadRequestError(f"conflicting filter keys at {segment!r}")
        node = child
    last = path[-1]
    if last in node:
        raise BadRequestError(f"duplicate filter key: {last!r}")
    node[last] = value


def _level(node: dict[str, Any], *, depth: int) -> list[FilterNode]:
    """One level of the nested syntax: columns and ``$and``/``$or`` groups, ANDed."""
    if depth > MAX_DEPTH:
        raise BadRequestError("filter nested too deeply")
    terms: list[FilterNode] = []
    for key, child in node.items():
        if key in ("$and", "$or"):
            terms.append(_group(key[1:], child, depth=depth))
        elif isinstance(child, str):
            terms.append(Comparison(key, "eq", child))
        else:
            terms.extend(_column_terms(key, child))
    return terms


def _group(kind: str, child: Any, *, depth: int) -> Composite:
    if not isinstance(child, dict) or not child:
        raise BadRequestError(f"${kind} needs indexed members: filter[${kind}][0][column]=v")
    members: list[FilterNode] = []
    for index in sorted(child, key=_index):
        member = child[index]
        if not isinstance(member, dict):
            raise BadRequestError(f"${kind}[{index}] needs a column")
        parts = _level(member, depth=depth + 1)
        members.append(parts[0] if len(parts) == 1 else Composite("and", tuple(parts)))
    return Composite(kind, tuple(members))


def _index(raw: str) -> int:
    # ASCII digits only, and few: str.isdigit() takes "²" (which int() refuses) and int()
    # refuses past 4300 digits; either was a 500. The index only orders a group's members.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadRequestError(f"filter group index must be a number: {raw[:20]!r}")
    return int(raw)


def _column_terms(column: str, operators: dict[str, Any]) -> list[FilterNode]:
    terms: list[FilterNode] = []
    for raw_op, value in operators.items():
        if not isinstance(value, str):
            raise BadRequestError(f"malformed filter on {column!r}")
        terms.append(Comparison(column, _operator(raw_op), value))
    return terms


def _count(terms: Iterable[FilterNode]) -> int:
    total = 0
    for term in terms:
        total += _count(term.children) if isinstance(term, Composite) else 1
    return total


FilterShape = tuple[Any, ...]
"""What a filter's SQL depends on, not its values: ``(column, op, is-marker or None)`` for a
comparison, ``("and" | "or", (child shapes))`` for a group."""

FILTER_PARAM = "tb_f{}"
"""The name of a filter value's bind parameter, numbered in :func:`bind_filter` order."""


def bind_filter(node: FilterNode, resolver: ColumnResolver) -> tuple[FilterShape, list[Any]]:
    """Check a filter tree and convert its values: its shape and its values in bind order.

    Equal shapes compile to the same SQL (:func:`build_filter`), so a list is compiled once
    per shape and each request only binds its values.

    Raises:
        BadRequestError: an unknown or hidden column (named), a value that does not fit the
            column's type (named), an operator that does not apply to the column.
    """
    values: list[Any] = []
    return _bind(node, resolver, values), values


def _bind(node: FilterNode, resolver: ColumnResolver, values: list[Any]) -> FilterShape:
    if isinstance(node, Composite):
        return (node.kind, tuple(_bind(child, resolver, values) for child in node.children))
    column = resolver.resolve(node.column)
    op, kind = node.op, value_kind(column)
    if op == "is":
        marker = node.value.strip().upper()
        if marker not in ("NULL", "!NULL"):
            raise BadRequestError(f"filter on {node.column!r}: $is takes NULL or !NULL")
        return (node.column, op, marker)
    if op in ("like", "re"):
        if kind not in (ValueKind.TEXT, ValueKind.UUID):
            raise BadRequestError(f"filter on {node.column!r}: ${op} needs a text column")
        if len(node.value) > MAX_PATTERN_LENGTH:
            raise BadRequestError(f"filter on {node.column!r}: pattern too long")
        if op == "re":
            _check_regex(node)
        values.append(node.value)
        return (node.column, op, None)
    if kind == ValueKind.JSON:
        raise BadRequestError(f"filter on {node.column!r}: JSON columns only support $is")
    try:
        values.append(convert(kind, node.value))
    except ValueError as exc:
        raise BadRequestError(f"filter on {node.column!r}: {exc}") from None
    return (node.column, op, None)


def build_filter(shape: FilterShape, resolver: ColumnResolver) -> sa.ColumnElement[bool]:
    """The boolean SQL of a filter shape, its values as parameters ``tb_f0``, ``tb_f1`` ...

    ``shape`` comes from :func:`bind_filter`, which already checked it.
    """
    return _build(shape, resolver, itertools.count())


def _build(
    shape: FilterShape, resolver: ColumnResolver, numbers: Iterator[int]
) -> sa.ColumnElement[bool]:
    if len(shape) == 2:  # ("and" | "or", children); a comparison has three members
        parts = [_build(child, resolver, numbers) for child in shape[1]]
        return sa.and_(*parts) if shape[0] == "and" else sa.or_(*parts)
    name, op, marker = shape
    column = resolver.resolve(name)
    if op == "is":
        return column.is_(None) if marker == "NULL" else column.is_not(None)
    # Untyped for patterns: SQLAlchemy gives them the type a literal pattern would get.
    value = sa.bindparam(
        FILTER_PARAM.format(next(numbers)), type_=None if op in ("like", "re") else column.type
    )
    if op == "like":
        return column.like(value)
    if op == "re":
        return column.regexp_match(value)
    return _COMPARATORS[op](column, value)


def _check_regex(node: Comparison) -> None:
    try:
        re.compile(node.value)
    # Not only re.error: groups nested a few hundred deep overflow the parser's recursion,
    # and a repeat count past 32 bits is an OverflowError (both were a 500).
    except (re.error, RecursionError, OverflowError) as exc:
        raise BadRequestError(f"filter on {node.column!r}: invalid regular expression") from exc


_COMPARATORS = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: column != value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
}


def uses_regex(node: FilterNode | None) -> bool:
    """Whether a filter tree has a ``$re`` term (the engine bounds such queries' time)."""
    if node is None:
        return False
    if isinstance(node, Composite):
        return any(uses_regex(child) for child in node.children)
    return node.op == "re"
