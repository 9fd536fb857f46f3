"""Lists of one record API: a SELECT compiled once per shape, each request binding its values.

The shape of a list (the rule applies or not, the filters' structure, the order, which
cursor values are NULL) decides its SQL; requests of one shape share a compiled query
(:mod:`tinybase.records.compiled`) and bind only their values, filters, cursor, limit and
offset included. A request's value can never be baked into a shared query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from tinybase.errors import BadRequestError
from tinybase.records.compiled import CompiledQuery, QueryCache
from tinybase.records.config import RecordApiConfig
from tinybase.records.cursor import after_cursor, cursor_arguments, decode_cursor
from tinybase.records.filters import FILTER_PARAM, FilterShape, bind_filter, build_filter
from tinybase.records.order import SortKey
from tinybase.records.query import ListQuery
from tinybase.records.rules import CompiledRule
from tinybase.records.statements import Statements

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["ColumnAllowlist", "ListShape", "Lister"]

LIMIT_PARAM = "tb_limit"
OFFSET_PARAM = "tb_offset"
_REGEX_STATEMENT_TIMEOUT = sa.text("SET LOCAL statement_timeout = 2000")


class ColumnAllowlist:
    """The allowlist of columns clients may filter and sort on: the readable ones."""

    def __init__(self, row: sa.Alias, readable: Iterable[str]) -> None:
        self._columns = {name: row.c[name] for name in readable}

    def resolve(self, name: str) -> sa.ColumnElement[Any]:
        column = self._columns.get(name)
        if column is None:
            raise BadRequestError(f"unknown column: {name[:64]!r}")
        return column


class ListShape(NamedTuple):
    """What a list's SQL depends on; requests of equal shape share one compiled query."""

    rule: CompiledRule | None
    filters: FilterShape | None
    keys: list[SortKey]
    cursor: tuple[bool, ...] | None  # per sort key: is the cursor's value NULL?

    def key(self) -> tuple[Any, ...]:
        order = tuple((key.name, key.descending) for key in self.keys)
        return (self.rule is not None, self.filters, order, self.cursor)


class Lister:
    """Builds, caches and runs the list queries of one API.

    Args:
        db: the database.
        api: the API's configuration (its listing limit).
        statements: the API's statements (the base SELECT, the count).
        queries: the API's cache of compiled queries.
        columns: the columns clients may filter and sort on.
    """

    def __init__(
        self,
        db: Database,
        api: RecordApiConfig,
        statements: Statements,
        queries: QueryCache,
        columns: ColumnAllowlist,
    ) -> None:
        self.db, self.api, self.statements = db, api, statements
        self.queries, self.resolver = queries, columns

    def run(
        self, shape: ListShape, params: dict[str, Any], *, count: bool, guarded: bool
    ) -> tuple[Sequence[Any], int | None]:
        """The page's rows and, if ``count``, the total; ``guarded``: under a statement
        timeout (a client's regular expression on PostgreSQL)."""
        if guarded:
            return self._list_guarded(shape, params, count=count)
        return self._list_compiled(shape, params, count=count)

    def bind(
        self,
        params: dict[str, Any],
        rule: CompiledRule | None,
        keys: list[SortKey],
        query: ListQuery,
    ) -> tuple[ListShape, dict[str, Any]]:
        """The list's shape and the values of its parameters (filters checked and converted),
        added to ``params`` (the rule's).

        Raises:
            BadRequestError: a bad filter or cursor (named).
        """
        filters = None
        if query.filters is not None:
            filters, values = bind_filter(query.filters, self.resolver)
            params.update((FILTER_PARAM.format(i), value) for i, value in enumerate(values))
        cursor = None
        if query.cursor:
            values = decode_cursor(keys, query.cursor)
            cursor = tuple(value is None for value in values)
            params.update(cursor_arguments(values))
        params[LIMIT_PARAM] = min(query.limit, self.api.listing_hard_limit)
        params[OFFSET_PARAM] = query.offset
        return ListShape(rule, filters, keys, cursor), params

    def _page_query(self, shape: ListShape) -> CompiledQuery:
        def build() -> sa.Select[Any]:
            statement = self.statements.select_rows(shape.rule)
            if shape.filters is not None:
                statement = statement.where(build_filter(shape.filters, self.resolver))
            if shape.cursor is not None:
                nulls_smallest = self.db.dialect == "sqlite"
                after = after_cursor(shape.keys, shape.cursor, nulls_smallest=nulls_smallest)
                statement = statement.where(after)
            statement = statement.order_by(*(key.clause() for key in shape.keys))
            # OFFSET is always a parameter: SQLite's compiler adds `OFFSET 0` to a LIMIT
            # parameter otherwise, as a literal.
            statement = statement.limit(sa.bindparam(LIMIT_PARAM, type_=sa.Integer))
            return statement.offset(sa.bindparam(OFFSET_PARAM, type_=sa.Integer))

        return self.queries.fixed(("page", shape.key()), build)

    def _count_query(self, shape: ListShape) -> CompiledQuery:
        def build() -> sa.Select[Any]:
            statement = self.statements.count()
            if shape.filters is not None:
                statement = statement.where(build_filter(shape.filters, self.resolver))
            return statement if shape.rule is None else statement.where(shape.rule.clause)

        return self.queries.fixed(("count", shape.rule is not None, shape.filters), build)

    def _list_compiled(
        self, shape: ListShape, params: dict[str, Any], *, count: bool
    ) -> tuple[Sequence[Any], int | None]:
        """Rows (and the count) on the raw-connection fast path (:mod:`.compiled`).

        On SQLite the page and the count are two snapshots, like two statements of a
        READ COMMITTED transaction on PostgreSQL: a write in between may make them differ
        by that write. The count is remembered under the page's query and arguments (they
        determine the filters and the rule's values, hence the count) until the database
        changes.
        """
        page = self._page_query(shape)
        with self.db.dbapi_read() as connection:
            args = page.arguments(params)
            rows = page.run(connection, args)
            if not count:
                return rows, None

            def total() -> int:
                return self._count_query(shape).rows(connection, params)[0][0]

            return rows, self.queries.count(connection, (page, args), total)

    def _list_guarded(
        self, shape: ListShape, params: dict[str, Any], *, count: bool
    ) -> tuple[Sequence[Any], int | None]:
        """PostgreSQL with a regular expression: one transaction with a statement timeout."""
        with self.db.read() as connection:
            # `~` with a client's pattern must not run away (SQLite's REGEXP has its own
            # per-match timeout); SET LOCAL ends with this read transaction.
            connection.execute(_REGEX_STATEMENT_TIMEOUT)
            rows = connection.execute(self._page_query(shape).statement, params).fetchall()
            if not count:
                return rows, None
            total = connection.execute(self._count_query(shape).statement, params).scalar_one()
        return rows, total
