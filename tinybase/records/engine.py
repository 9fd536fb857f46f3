"""The record engine: CRUD and lists over one table for one record API, rules in the SQL.

One engine serves both HTTP families (``/api/records/v1`` and ``/api/collections``) and the
Python side. It returns plain dicts (write-only ``_`` columns and excluded columns removed),
ready for orjson. See :mod:`tinybase.records.statements` for how rules become SQL and
:mod:`tinybase.records.access` for the ACLs and statuses.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from tinybase.auth.principal import Principal
from tinybase.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)
from tinybase.records.access import authorize, compile_rules, may
from tinybase.records.compiled import CompiledQuery, QueryCache
from tinybase.records.config import ConflictResolution, RecordApiConfig
from tinybase.records.conflicts import note_ignored_conflict
from tinybase.records.cursor import after_cursor, cursor_arguments, decode_cursor, encode_cursor
from tinybase.records.filters import (
    FILTER_PARAM,
    FilterShape,
    bind_filter,
    build_filter,
    uses_regex,
)
from tinybase.records.integrity import map_database_errors
from tinybase.records.order import SortKey, sort_keys
from tinybase.records.query import ListQuery, ListResult
from tinybase.records.rules import ROW_ALIAS, CompiledRule, Operation
from tinybase.records.schema import json_schema
from tinybase.records.statements import ID_PARAM, IDS_PARAM, Statements
from tinybase.records.values import ValueKind, convert, value_kind
from tinybase.utils import utcnow, uuid7

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["MAX_BULK", "UNREFLECTED_UNIQUE", "ExpandLookup", "RecordEngine"]

MAX_BULK = 1024

UNREFLECTED_UNIQUE = "tinybase_unreflected_unique_index"
"""``Table.info`` key: the table has a unique index reflection could not describe."""
_REGEX_STATEMENT_TIMEOUT = sa.text("SET LOCAL statement_timeout = 2000")
TIMESTAMP_COLUMNS = ("created_at", "updated_at")
USER_TABLE_KEY = "_user.id"
LIMIT_PARAM = "tb_limit"
OFFSET_PARAM = "tb_offset"

ExpandLookup = Callable[[str], "RecordEngine | None"]
"""Given a table name, the engine of the record API that exposes it (or None)."""


class _Resolver:
    """The allowlist of columns clients may filter and sort on: the readable ones."""

    def __init__(self, row: sa.Alias, readable: Iterable[str]) -> None:
        self._columns = {name: row.c[name] for name in readable}

    def resolve(self, name: str) -> sa.ColumnElement[Any]:
        column = self._columns.get(name)
        if column is None:
            raise BadRequestError(f"unknown column: {name[:64]!r}")
        return column


class _ListShape(NamedTuple):
    """What a list's SQL depends on; requests of equal shape share one compiled query."""

    rule: CompiledRule | None
    filters: FilterShape | None
    keys: list[SortKey]
    cursor: tuple[bool, ...] | None  # per sort key: is the cursor's value NULL?

    def key(self) -> tuple[Any, ...]:
        order = tuple((key.name, key.descending) for key in self.keys)
        return (self.rule is not None, self.filters, order, self.cursor)


class RecordEngine:
    """CRUD and lists over ``table`` as record API ``api`` describes.

    Args:
        db: the database (``tinybase.data.Database``).
        api: the API's configuration (ACLs, rules, conflict resolution ...).
        table: the exposed table (or view, with ``read_only=True``).
        read_only: refuse writes (views).
        expand_lookup: finds the engine of a referenced table, for ``expand``.

    Raises:
        ValidationError: the table has no usable primary key, or a rule misuses
            ``_USER_``/``_ROW_``/``_REQ_``.
    """

    def __init__(
        self,
        db: Database,
        api: RecordApiConfig,
        table: sa.Table,
        *,
        read_only: bool = False,
        expand_lookup: ExpandLookup | None = None,
    ) -> None:
        self.db, self.api, self.table, self.read_only = db, api, table, read_only
        self.expand_lookup = expand_lookup
        self.pk = _primary_key(table)
        excluded = set(api.excluded_columns)
        if self.pk in excluded or self.pk.startswith("_"):
            raise ValidationError.for_field("excluded_columns", "the primary key must be readable")
        self.readable = tuple(
            c.name for c in table.columns if not c.name.startswith("_") and c.name not in excluded
        )
        self.writable = {c.name: c for c in table.columns if c.name not in excluded}
        self.kinds = {c.name: value_kind(c) for c in table.columns}
        self.row = table.alias(ROW_ALIAS)
        self.resolver = _Resolver(self.row, self.readable)
        self.rules = compile_rules(api, table, dialect=db.dialect)
        self.queries = QueryCache(db.engine.dialect)
        self.statements = Statements(
            table,
            self.row,
            self.pk,
            self.readable,
            conflict=api.conflict_resolution,
            dialect=db.dialect,
        )
        self.user_columns = tuple(
            c.name
            for c in table.columns
            if c.name in self.writable
            and any(fk.target_fullname == USER_TABLE_KEY for fk in c.foreign_keys)
        )
        self.timestamps = tuple(
            n for n in TIMESTAMP_COLUMNS if n in table.c and self.kinds[n] == ValueKind.DATETIME
        )
        pk_type = table.c[self.pk].type
        self.uuid_key = self.kinds[self.pk] == ValueKind.UUID or (
            self.kinds[self.pk] == ValueKind.TEXT and getattr(pk_type, "length", None) == 36
        )
        self.generates_id = self.kinds[self.pk] in (ValueKind.TEXT, ValueKind.UUID)
        self.unique_sets = _unique_column_sets(table)

    def conflicts_may_reveal(self, principal: Principal) -> bool:
        """Whether a unique conflict could tell ``principal`` a value they may not read.

        True when a unique constraint covers a write-only or excluded column, or when the
        read rules hide rows from ``principal`` (see :mod:`tinybase.records.conflicts`).
        """
        if principal.is_admin or not self.unique_sets:
            return False
        hidden = set(self.table.c.keys()) - set(self.readable)
        if any(columns & hidden for columns in self.unique_sets):
            return True
        return not self._reads_everything(principal)

    # -- reads ------------------------------------------------------------------------------

    def read(
        self, principal: Principal, record_id: Any, *, expand: Sequence[str] = ()
    ) -> dict[str, Any]:
        """One record, if the ACLs and the read rule let ``principal`` see it.

        Raises:
            NotFoundError: no such record, or the read rule hides it.
            PermissionDeniedError / AuthenticationError: the ACLs deny reading.
            BadRequestError: an ``expand`` the API does not allow.
        """
        rule = self._rule(principal, Operation.READ)
        key = self.parse_id(record_id)
        query = self.queries.fixed(("read", rule is not None), lambda: self.statements.read(rule))
        with self.db.dbapi_read() as connection:
            found = query.rows(connection, self._params(principal, rule, key))
        if not found:
            raise NotFoundError()
        record = dict(zip(self.readable, found[0], strict=True))
        if self.api.expand:
            self._expand(principal, [record], expand)
        return record

    def read_many(self, principal: Principal, ids: Iterable[Any]) -> dict[str, dict[str, Any]]:
        """The readable records among ``ids``, keyed by their id as text (for expand)."""
        wanted = list({key for key in (self._try_id(i) for i in ids) if key is not None})
        if not wanted or not may(self.api, principal, Operation.READ):
            return {}
        rule = self._rule(principal, Operation.READ)
        params = self._params(principal, rule) | {IDS_PARAM: wanted}
        with self.db.read() as connection:
            rows = connection.execute(self.statements.read_many(rule), params).fetchall()
        records = [dict(zip(self.readable, row, strict=True)) for row in rows]
        return {str(record[self.pk]): record for record in records}

    def list(self, principal: Principal, query: ListQuery) -> ListResult:
        """A page of the records ``principal`` may list, filtered and sorted in SQL.

        The SELECT (rule, filters, order, cursor condition) is compiled once per shape of
        the request; each request binds only its values (:class:`_ListShape`).

        Raises:
            BadRequestError: a bad filter, order, cursor or expand (named).
            PermissionDeniedError / AuthenticationError: the ACLs deny listing.
        """
        rule = self._rule(principal, Operation.LIST)
        keys = sort_keys(query.order, self.resolver, self.row.c[self.pk])
        if any(self.kinds[key.column.key] == ValueKind.JSON for key in keys):
            raise BadRequestError("order: JSON columns cannot be sorted")
        shape, params = self._bind_list(principal, rule, keys, query)
        with map_database_errors(self.table.name):
            if self.db.dialect == "postgresql" and uses_regex(query.filters):
                rows, total = self._list_guarded(shape, params, count=query.count)
            else:
                rows, total = self._list_compiled(shape, params, count=query.count)
        records = [dict(zip(self.readable, row, strict=True)) for row in rows]
        next_cursor = encode_cursor(keys, records[-1]) if records else None
        if self.api.expand:
            self._expand(principal, records, query.expand)
        return ListResult(records=records, cursor=next_cursor, total_count=total)

    def _bind_list(
        self, principal: Principal, rule: CompiledRule | None, keys: list[SortKey], query: ListQuery
    ) -> tuple[_ListShape, dict[str, Any]]:
        """The list's shape and the values of its parameters (filters checked and converted).

        Raises:
            BadRequestError: a bad filter or cursor (named).
        """
        params = self._params(principal, rule)
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
        return _ListShape(rule, filters, keys, cursor), params

    def _page_query(self, shape: _ListShape) -> CompiledQuery:
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

    def _count_query(self, shape: _ListShape) -> CompiledQuery:
        def build() -> sa.Select[Any]:
            statement = self.statements.count()
            if shape.filters is not None:
                statement = statement.where(build_filter(shape.filters, self.resolver))
            return statement if shape.rule is None else statement.where(shape.rule.clause)

        return self.queries.fixed(("count", shape.rule is not None, shape.filters), build)

    def _list_compiled(
        self, shape: _ListShape, params: dict[str, Any], *, count: bool
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
        self, shape: _ListShape, params: dict[str, Any], *, count: bool
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

    def json_schema(self, principal: Principal, mode: str = "Insert") -> dict[str, Any]:
        """The JSON Schema of records in ``mode`` (``Insert``, ``Update`` or ``Select``).

        Raises:
            PermissionDeniedError / AuthenticationError: SCHEMA is not granted.
            BadRequestError: an unknown mode.
        """
        rule = self._rule(principal, Operation.SCHEMA)
        if rule is not None:
            with self.db.read() as connection:
                holds = connection.execute(
                    self.statements.rule_holds(rule, on_row=False), self._params(principal, rule)
                ).first()
            if holds is None:
                raise PermissionDeniedError()
        return json_schema(self, mode)

    # -- writes -----------------------------------------------------------------------------

    def create(
        self, principal: Principal, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        """Create one record, or several (a list) in one transaction; return their ids.

        Raises:
            PermissionDeniedError: the ACLs or the create rule deny it (nothing is written).
            ValidationError: an unknown, excluded or badly typed field (named).
            ConflictError: a unique value is taken (``ABORT`` conflict resolution).
            PayloadTooLargeError: more than ``MAX_BULK`` records.
        """
        self._check_writable()
        rule = self._rule(principal, Operation.CREATE)
        if not isinstance(values, (Mapping, list, tuple)):
            raise ValidationError.for_field("body", "expected a JSON object or a list of them")
        records = [values] if isinstance(values, Mapping) else list(values)
        if not records:
            raise ValidationError.for_field("body", "no records to create")
        if len(records) > MAX_BULK:
            raise PayloadTooLargeError(f"at most {MAX_BULK} records per request")
        prepared = [self._prepare_create(principal, record) for record in records]
        with map_database_errors(self.table.name), self.db.write() as connection:
            return [
                self._insert(connection, principal, rule, values, request)
                for values, request in prepared
            ]

    def update(
        self, principal: Principal, record_id: Any, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change some fields of a record; return it as the caller may see it (:meth:`seen`).

        An update that names no field writes nothing (``updated_at`` stays): it checks the
        update rule and answers as a real update would.

        Raises:
            NotFoundError: no such record, or the caller may not read it.
            PermissionDeniedError: the caller may read it but the update rule denies it.
            ValidationError / ConflictError: as for :meth:`create`.
        """
        self._check_writable()
        rule = self._rule(principal, Operation.UPDATE)
        key = self.parse_id(record_id)
        if self.api.validator is not None:
            values = self.api.validator.validate(principal, values, partial=True)
        request = self._prepare(values, creating=False, key=key)
        with map_database_errors(self.table.name), self.db.write() as connection:
            if request:
                row = self._update_row(connection, principal, rule, key, request)
            else:
                row = self._unchanged_row(connection, principal, rule, key)
            if row is None:
                self._raise_missing(connection, principal, key)
            if self._reads_everything(principal):
                return dict(zip(self.readable, row, strict=True))
            return self.seen(principal, key)

    def seen(self, principal: Principal, record_id: Any) -> dict[str, Any]:
        """A record as ``principal`` may see it after writing it: whole if the read ACL and
        rule let them read it, else only its id.

        A write's answer must not show what a read would hide (``update: auth, read:
        owner`` lets anyone change a row only its owner may read).
        """
        key = self.parse_id(record_id)
        if may(self.api, principal, Operation.READ):
            with contextlib.suppress(NotFoundError):
                return self.read(principal, key)
        return {self.pk: _plain_id(key)}

    def _reads_everything(self, principal: Principal) -> bool:
        """Whether ``principal`` may read every row (no read rule, or an admin)."""
        return principal.is_admin or (
            may(self.api, principal, Operation.READ) and self.rules[Operation.READ] is None
        )

    def _update_row(
        self,
        connection: sa.Connection,
        principal: Principal,
        rule: CompiledRule | None,
        key: Any,
        request: dict[str, Any],
    ) -> Sequence[Any] | None:
        changes = dict(request)
        if "updated_at" in self.timestamps:
            changes["updated_at"] = utcnow()
        names = tuple(sorted(changes))
        params = self._params(principal, rule, key, request) | self._values(changes)
        statement = ("update", names, rule is not None)
        return self._write_row(
            connection, statement, lambda: self.statements.update(names, rule), params
        )

    def _unchanged_row(
        self, connection: sa.Connection, principal: Principal, rule: CompiledRule | None, key: Any
    ) -> Sequence[Any] | None:
        """The row ``key`` if the update rule lets ``principal`` change it (nothing written)."""
        params = self._params(principal, rule, key, {})
        if (
            rule is not None
            and not connection.execute(
                self.statements.rule_holds(rule, on_row=True), params
            ).first()
        ):
            return None
        return connection.execute(self.statements.read(None), {ID_PARAM: key}).first()

    def delete(self, principal: Principal, record_id: Any) -> None:
        """Delete a record.

        Raises:
            NotFoundError: no such record, or the caller may not read it.
            PermissionDeniedError: the caller may read it but the delete rule denies it.
        """
        self._check_writable()
        rule = self._rule(principal, Operation.DELETE)
        key = self.parse_id(record_id)
        params = self._params(principal, rule, key)
        with map_database_errors(self.table.name), self.db.write() as connection:
            row = self._write_row(
                connection,
                ("delete", rule is not None),
                lambda: self.statements.delete(rule),
                params,
            )
            if row is None:
                self._raise_missing(connection, principal, key)

    # -- ids ------------------------------------------------------------------------------

    def parse_id(self, raw: Any) -> Any:
        """A record id from a URL or body, typed like the primary key.

        Accepts the plain value and, for UUID keys, TrailBase's older url-safe base64 form.

        Raises:
            NotFoundError: the id cannot be a key of this table (so it names no record).
        """
        key = self._try_id(raw)
        if key is None:
            raise NotFoundError()
        return key

    def _try_id(self, raw: Any) -> Any:
        kind = self.kinds[self.pk]
        if isinstance(raw, uuid.UUID):
            raw = str(raw)
        if self.uuid_key and isinstance(raw, str) and len(raw) == 22:
            raw = _base64_uuid(raw) or raw
        try:
            return convert(kind, raw)
        except ValueError:
            return None

    # -- helpers ----------------------------------------------------------------------------

    def _rule(self, principal: Principal, operation: str) -> CompiledRule | None:
        applies = authorize(self.api, principal, operation)
        return self.rules[operation] if applies else None

    def _params(
        self,
        principal: Principal,
        rule: CompiledRule | None,
        key: Any = None,
        request: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        params = {ID_PARAM: key} if key is not None else {}
        if rule is not None:
            params.update(rule.params(principal.user_id, request))
        return params

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        names = self.statements.params
        return {names[name]: value for name, value in values.items()}

    def _check_writable(self) -> None:
        if self.read_only:
            raise PermissionDeniedError(f"record API {self.api.name!r} is read-only")

    def _prepare(self, values: Any, *, creating: bool, key: Any = None) -> dict[str, Any]:
        """Check and convert client values: known, visible, well-typed columns only."""
        if not isinstance(values, Mapping):
            raise ValidationError.for_field("body", "expected a JSON object")
        prepared: dict[str, Any] = {}
        for name, value in values.items():
            column = self.writable.get(name)
            if column is None:
                raise ValidationError.for_field(
                    str(name)[:64], "unknown field", kind="extra_forbidden"
                )
            if name in self.timestamps:
                raise ValidationError.for_field(name, "read-only field")
            kind = self.kinds[name]
            if creating and name == self.pk and self.uuid_key:
                kind = ValueKind.UUID  # a text UUID key takes client ids only if they are UUIDs
            try:
                prepared[name] = convert(kind, value)
            except ValueError as exc:
                raise ValidationError.for_field(name, str(exc)) from None
        if not creating and self.pk in prepared and prepared.pop(self.pk) != key:
            raise ValidationError.for_field(self.pk, "the primary key cannot be changed")
        return prepared

    def _prepare_create(
        self, principal: Principal, record: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.api.validator is not None:
            record = self.api.validator.validate(principal, record, partial=False)
        request = self._prepare(record, creating=True)
        if self.api.autofill_missing_user_id_columns and principal.user_id is not None:
            for name in self.user_columns:
                if request.get(name) is None:
                    request[name] = principal.user_id
        values = dict(request)
        if self.generates_id and values.get(self.pk) is None:
            values[self.pk] = str(uuid7())
        now = utcnow()
        for name in self.timestamps:
            values[name] = now
        return values, request

    def _insert(
        self,
        connection: sa.Connection,
        principal: Principal,
        rule: CompiledRule | None,
        values: dict[str, Any],
        request: dict[str, Any],
    ) -> Any:
        if self.api.conflict_resolution == ConflictResolution.REPLACE and not principal.is_admin:
            self._guard_replace(connection, principal, values.get(self.pk), request)
        names = tuple(sorted(values))
        params = self._values(values) | self._params(principal, rule, request=request)
        statement = ("insert", names, rule is not None)
        row = self._write_row(
            connection, statement, lambda: self.statements.insert(names, rule), params
        )
        if row is not None:
            return _plain_id(row[0])
        if rule is not None and self.api.conflict_resolution != ConflictResolution.IGNORE:
            raise PermissionDeniedError()
        if rule is not None:
            holds = connection.execute(self.statements.rule_holds(rule, on_row=False), params)
            if holds.first() is None:
                raise PermissionDeniedError()
        # IGNORE swallowed a unique conflict: as telling as a 409 (the id answered does not
        # exist), so it draws on the caller's conflict budget like one.
        if self.api.conflict_resolution == ConflictResolution.IGNORE:
            note_ignored_conflict()
        return _plain_id(values.get(self.pk))

    def _write_row(
        self,
        connection: sa.Connection,
        shape: tuple[Any, ...],
        build: Callable[[], sa.Executable],
        params: dict[str, Any],
    ) -> Sequence[Any] | None:
        """The first row a write's RETURNING gives, run in ``connection``'s transaction.

        Compiled once per ``shape`` and run on the driver connection, as reads are
        (:mod:`.compiled`): SQLAlchemy's execution path was half the cost of an insert.
        """
        rows = self.queries.fixed(shape, build).rows(
            connection.connection.driver_connection, params
        )
        return rows[0] if rows else None

    def _guard_replace(
        self, connection: sa.Connection, principal: Principal, key: Any, request: Mapping[str, Any]
    ) -> None:
        """REPLACE overwrites an existing row: only if the caller may update that row."""
        if key is None:
            return
        exists = connection.execute(
            sa.select(sa.literal(1)).where(self.table.c[self.pk] == key)
        ).first()
        if exists is None:
            return
        rule = self._rule(principal, Operation.UPDATE)
        if rule is None:
            return
        statement = self.statements.rule_holds(rule, on_row=True)
        if connection.execute(statement, self._params(principal, rule, key, request)).first():
            return
        raise PermissionDeniedError()

    def _raise_missing(self, connection: sa.Connection, principal: Principal, key: Any) -> None:
        """After an update/delete that matched nothing: 403 if the caller can see the row."""
        if may(self.api, principal, Operation.READ):
            rule = None if principal.is_admin else self.rules[Operation.READ]
            statement = self.statements.read(rule)
            if connection.execute(statement, self._params(principal, rule, key)).first():
                raise PermissionDeniedError()
        raise NotFoundError()

    def _expand(
        self, principal: Principal, records: list[dict[str, Any]], names: Sequence[str]
    ) -> None:
        """Replace expanded foreign keys by ``{"id": ..., "data": {...}}`` or None, and the
        API's other expandable columns by ``{"id": ...}`` (TrailBase's shape; NULL stays null).

        Each referenced record is read through the API exposing its table, with the
        caller's own ACLs and read rule: what the caller may not read comes back as None.
        """
        for name in names:
            if name not in self.api.expand:
                raise BadRequestError(f"expand: {name[:64]!r} is not expandable")
            self.resolver.resolve(name)
            target = self._expand_target(name)
            found = target.read_many(principal, (r[name] for r in records)) if target else {}
            for record in records:
                value = record[name]
                data = None if value is None else found.get(str(value))
                record[name] = None if data is None else {"id": _plain_id(value), "data": data}
        for name in self.api.expand:
            if name in names or name not in self.readable:
                continue
            for record in records:
                if record[name] is not None:
                    record[name] = {"id": _plain_id(record[name])}

    def _expand_target(self, name: str) -> RecordEngine | None:
        for foreign_key in self.table.c[name].foreign_keys:
            table_name, _, column = foreign_key.target_fullname.rpartition(".")
            target = self.expand_lookup(table_name) if self.expand_lookup else None
            if target is not None and target.pk == column:
                return target
        if not self.table.c[name].foreign_keys:
            raise BadRequestError(f"expand: {name!r} is not a foreign key")
        return None


def _unique_column_sets(table: sa.Table) -> tuple[frozenset[str], ...]:
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
    return tuple(columns for columns in sets if columns and columns != {_primary_key(table)})


def _primary_key(table: sa.Table) -> str:
    columns = list(table.primary_key.columns)
    if len(columns) == 1:
        return columns[0].name
    if not columns and "id" in table.c:
        return "id"  # views have no declared key: TrailBase's convention, an id column
    raise ValidationError.for_field("table_name", "the table needs a single-column primary key")


def _plain_id(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _base64_uuid(raw: str) -> str | None:
    try:
        data = base64.urlsafe_b64decode(raw + "==")
    except (binascii.Error, ValueError):
        return None
    return str(uuid.UUID(bytes=data)) if len(data) == 16 else None
