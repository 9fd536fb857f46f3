"""The record engine: CRUD and lists over one table for one record API, rules in the SQL.

One engine serves both HTTP families (``/api/records/v1`` and ``/api/collections``) and the
Python side. It returns plain dicts (write-only ``_`` columns and excluded columns removed),
ready for orjson. See :mod:`tinybase.records.statements` for how rules become SQL and
:mod:`tinybase.records.access` for the ACLs and statuses.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
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
from tinybase.records.changes import ChangeStream, RecordChange
from tinybase.records.compiled import QueryCache
from tinybase.records.config import ConflictResolution, RecordApiConfig
from tinybase.records.conflicts import note_ignored_conflict, note_records
from tinybase.records.cursor import encode_cursor
from tinybase.records.expand import expand_records
from tinybase.records.file_columns import FileColumn, public_files, stored_files
from tinybase.records.filters import uses_regex
from tinybase.records.integrity import map_database_errors
from tinybase.records.json_schema import json_schema
from tinybase.records.keys import (
    advisory_key,
    base64_uuid,
    plain_id,
    primary_key,
    unique_column_sets,
)
from tinybase.records.listing import ColumnAllowlist, Lister
from tinybase.records.order import sort_keys
from tinybase.records.query import ListQuery, ListResult
from tinybase.records.rules import ROW_ALIAS, CompiledRule, Operation
from tinybase.records.statements import ID_PARAM, IDS_PARAM, Statements
from tinybase.records.values import ValueKind, convert, value_kind
from tinybase.utils import utcnow, uuid7

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["MAX_BULK", "ExpandLookup", "RecordEngine"]

MAX_BULK = 1024
TIMESTAMP_COLUMNS = ("created_at", "updated_at")
USER_TABLE_KEY = "_user.id"

ExpandLookup = Callable[[str], "RecordEngine | None"]
"""Given a table name, the engine of the record API that exposes it (or None)."""


class RecordEngine:
    """CRUD and lists over ``table`` as record API ``api`` describes.

    Args:
        db: the database (``tinybase.data.Database``).
        api: the API's configuration (ACLs, rules, conflict resolution ...).
        table: the exposed table (or view, with ``read_only=True``).
        read_only: refuse writes (views).
        expand_lookup: finds the engine of a referenced table, for ``expand``.
        changes: where committed writes are announced (:mod:`tinybase.records.changes`).

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
        changes: ChangeStream | None = None,
    ) -> None:
        self.db, self.api, self.table, self.read_only = db, api, table, read_only
        self.expand_lookup = expand_lookup
        self.changes = changes
        self.pk = primary_key(table)
        excluded = set(api.excluded_columns)
        if self.pk in excluded or self.pk.startswith("_"):
            raise ValidationError.for_field("excluded_columns", "the primary key must be readable")
        self.readable = tuple(
            c.name for c in table.columns if not c.name.startswith("_") and c.name not in excluded
        )
        self.writable = {c.name: c for c in table.columns if c.name not in excluded}
        self.kinds = {c.name: value_kind(c) for c in table.columns}
        self.columns = tuple(c.name for c in table.columns)
        self.file_columns = _file_columns(api, table)
        # TrailBase-style TEXT columns store the metadata as JSON text; JSON columns as JSON.
        self.text_files = frozenset(
            name for name in self.file_columns if self.kinds[name] == ValueKind.TEXT
        )
        self.shown_files = tuple(
            (name, column.multiple)
            for name, column in self.file_columns.items()
            if name in self.readable
        )
        for name, column in self.file_columns.items():
            self.kinds[name] = ValueKind.FILES if column.multiple else ValueKind.FILE
        self.row = table.alias(ROW_ALIAS)
        self.resolver = ColumnAllowlist(self.row, self.readable)
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
        self.unique_sets = unique_column_sets(table)
        hidden = set(table.c.keys()) - set(self.readable)
        # Write-only or excluded columns under a unique constraint: setting one can tell a
        # value the caller may not read (records.conflicts).
        self.hidden_unique = frozenset().union(*(columns & hidden for columns in self.unique_sets))
        self.lister = Lister(db, api, self.statements, self.queries, self.resolver)

    def conflicts_may_reveal(self, principal: Principal) -> bool:
        """Whether a unique conflict could tell ``principal`` a value they may not read.

        True when a unique constraint covers a write-only or excluded column, or when the
        read rules hide rows from ``principal`` (see :mod:`tinybase.records.conflicts`).
        """
        if principal.is_admin or not self.unique_sets:
            return False
        return bool(self.hidden_unique) or not self._reads_everything(principal)

    def _note_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Report to the conflict budget what this write carries (see its module)."""
        if not self.hidden_unique:  # nearly every table: nothing to count per record
            note_records(len(records))
            return
        setting = sum(1 for record in records if self._sets_hidden(record))
        note_records(len(records), setting_hidden_unique=setting)

    def _sets_hidden(self, record: Mapping[str, Any]) -> bool:
        return any(record.get(column) is not None for column in self.hidden_unique)

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
        record = self._read_row(principal, self.parse_id(record_id))
        self.show_files([record])
        if self.api.expand:
            expand_records(self, principal, [record], expand)
        return record

    def _read_row(self, principal: Principal, key: Any) -> dict[str, Any]:
        """The readable columns of record ``key`` (parsed), as stored, if the ACLs and the
        read rule (compiled into the SELECT) let ``principal`` see it."""
        rule = self._rule(principal, Operation.READ)
        query = self.queries.fixed(("read", rule is not None), lambda: self.statements.read(rule))
        with self.db.dbapi_read() as connection:
            found = query.rows(connection, self._params(principal, rule, key))
        if not found:
            raise NotFoundError()
        return dict(zip(self.readable, found[0], strict=True))

    def files(
        self, principal: Principal, record_id: Any, column: str
    ) -> tuple[FileColumn, list[dict[str, Any]]]:
        """File column ``column`` and the stored metadata (object ids included) of its files
        in a record, if ``principal`` may read the record: the same read, rule in the SQL, as
        :meth:`read`.

        Raises:
            BadRequestError: ``column`` is not a readable column, or not a file column.
            NotFoundError / PermissionDeniedError / AuthenticationError: as for :meth:`read`.
        """
        if column not in self.readable:
            raise BadRequestError("Invalid field/column name")
        if column not in self.file_columns:
            raise BadRequestError("Not a file")
        row = self._read_row(principal, self.parse_id(record_id))
        return self.file_columns[column], stored_files(row[column])

    def show_files(self, records: Sequence[dict[str, Any]]) -> None:
        """File columns as clients see them: metadata without the object ids."""
        for name, multiple in self.shown_files:
            for record in records:
                record[name] = public_files(record[name], multiple=multiple)

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
        self.show_files(records)
        return {str(record[self.pk]): record for record in records}

    def list(self, principal: Principal, query: ListQuery) -> ListResult:
        """A page of the records ``principal`` may list, filtered and sorted in SQL.

        The SELECT (rule, filters, order, cursor condition) is compiled once per shape of
        the request; each request binds only its values (:mod:`tinybase.records.listing`).

        Raises:
            BadRequestError: a bad filter, order, cursor or expand (named).
            PermissionDeniedError / AuthenticationError: the ACLs deny listing.
        """
        rule = self._rule(principal, Operation.LIST)
        keys = sort_keys(query.order, self.resolver, self.row.c[self.pk])
        if any(self.kinds[key.column.key] == ValueKind.JSON for key in keys):
            raise BadRequestError("order: JSON columns cannot be sorted")
        shape, params = self.lister.bind(self._params(principal, rule), rule, keys, query)
        guarded = self.db.dialect == "postgresql" and uses_regex(query.filters)
        with map_database_errors(self.table.name):
            rows, total = self.lister.run(shape, params, count=query.count, guarded=guarded)
        records = [dict(zip(self.readable, row, strict=True)) for row in rows]
        self.show_files(records)
        next_cursor = encode_cursor(keys, records[-1]) if records else None
        if self.api.expand:
            expand_records(self, principal, records, query.expand)
        return ListResult(records=records, cursor=next_cursor, total_count=total)

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
        with map_database_errors(self.table.name), self.db.write() as connection:
            # Inside the transaction: the validator chain (before-hooks) runs in the write.
            prepared = [self._prepare_create(principal, record) for record in records]
            self._note_records([values for values, _request in prepared])
            return [
                self._insert(connection, principal, rule, values, request)
                for values, request in prepared
            ]

    def update(
        self,
        principal: Principal,
        record_id: Any,
        values: Mapping[str, Any],
        *,
        partial: bool = True,
        answer: bool = True,
    ) -> dict[str, Any] | None:
        """Change some fields of a record; return it as the caller may see it (:meth:`seen`),
        or None without ``answer`` (callers that answer with no body skip that read).

        An update that names no field writes nothing (``updated_at`` stays): it checks the
        update rule and answers as a real update would. ``partial=False`` asks the API's
        validator for a full update (collections set every field not given to its default
        or null).

        Raises:
            NotFoundError: no such record, or the caller may not read it.
            PermissionDeniedError: the caller may read it but the update rule denies it.
            ValidationError / ConflictError: as for :meth:`create`.
        """
        self._check_writable()
        rule = self._rule(principal, Operation.UPDATE)
        key = self.parse_id(record_id)
        with map_database_errors(self.table.name), self.db.write() as connection:
            if self.api.validator is not None:
                values = self.api.validator.validate(
                    principal, values, partial=partial, record_id=key
                )
            request = self._prepare(values, creating=False, key=key)
            self._note_records([request])
            if request:
                before = self._row_now(connection, key) if self._recording() else None
                row = self._update_row(connection, principal, rule, key, request)
                if row is not None and before is not None:
                    after = self._row_now(connection, key)
                    self._record("update", principal, key, before, after)
            else:
                row = self._unchanged_row(connection, principal, rule, key)
            if row is None:
                self._raise_missing(connection, principal, key)
            if not answer:
                return None
            if self._reads_everything(principal) or self._readable_now(connection, principal, key):
                record = dict(zip(self.readable, row, strict=True))
                self.show_files([record])
                return record
            return {self.pk: plain_id(key)}

    def seen(self, principal: Principal, record_id: Any) -> dict[str, Any]:
        """A record as ``principal`` may see it after writing it: whole if the read ACL and
        rule let them read it, else only its id.

        A write's answer must not show what a read would hide (``update: auth, read:
        owner`` lets anyone change a row only its owner may read).
        """
        key = self.parse_id(record_id)
        if may(self.api, principal, Operation.READ):
            with contextlib.suppress(NotFoundError):
                record = self._read_row(principal, key)
                self.show_files([record])
                return record
        return {self.pk: plain_id(key)}

    def _readable_now(self, connection: sa.Connection, principal: Principal, key: Any) -> bool:
        """Whether the read ACL and rule let ``principal`` see row ``key`` as this write
        left it (in its transaction): what :meth:`seen` decides, without reading the row
        again (the write's RETURNING gave it)."""
        if not may(self.api, principal, Operation.READ):
            return False
        rule = self.rules[Operation.READ]
        if rule is None:
            return True
        query = self.queries.fixed(
            ("holds", Operation.READ), lambda: self.statements.rule_holds(rule, on_row=True)
        )
        params = self._params(principal, rule, key)
        return bool(query.rows(connection.connection.driver_connection, params))

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
            if self.api.validator is not None:
                self.api.validator.before_delete(principal, key)
            before = self._row_now(connection, key) if self._recording() else None
            row = self._write_row(
                connection,
                ("delete", rule is not None),
                lambda: self.statements.delete(rule),
                params,
            )
            if row is None:
                self._raise_missing(connection, principal, key)
            if before is not None:
                self._record("delete", principal, key, before, None)

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
            raw = base64_uuid(raw) or raw
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
        validator = self.api.validator
        typed = validator.typed_columns if validator is not None else frozenset()
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
            if name in typed:  # converted by the API's validator already
                prepared[name] = value
                continue
            try:
                prepared[name] = convert(kind, value)
            except ValueError as exc:
                raise ValidationError.for_field(name, str(exc)) from None
            if name in self.text_files and prepared[name] is not None:
                prepared[name] = orjson.dumps(prepared[name]).decode()
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
        replacing = self.api.conflict_resolution == ConflictResolution.REPLACE
        recording = self._recording()
        if (replacing or recording) and request.get(self.pk) is not None:
            self._serialize_key(connection, values[self.pk])
        if replacing and not principal.is_admin:
            self._guard_replace(connection, principal, values.get(self.pk), request)
        before = None
        if recording and replacing and values.get(self.pk) is not None:
            before = self._row_now(connection, values[self.pk])  # a REPLACE may update it
        names = tuple(sorted(values))
        params = self._values(values) | self._params(principal, rule, request=request)
        statement = ("insert", names, rule is not None)
        row = self._write_row(
            connection, statement, lambda: self.statements.insert(names, rule), params
        )
        if row is not None:
            if recording:
                after = self._row_now(connection, row[0])
                self._record(
                    "create" if before is None else "update", principal, row[0], before, after
                )
            return plain_id(row[0])
        if rule is not None and self.api.conflict_resolution != ConflictResolution.IGNORE:
            raise PermissionDeniedError()
        if rule is not None:
            holds = connection.execute(self.statements.rule_holds(rule, on_row=False), params)
            if holds.first() is None:
                raise PermissionDeniedError()
        # IGNORE swallowed a unique conflict: as telling as a 409 (the id answered does not
        # exist), so it draws on the caller's conflict budget like one.
        if self.api.conflict_resolution == ConflictResolution.IGNORE and not self._sets_hidden(
            values
        ):
            note_ignored_conflict()  # (a record setting a hidden unique value paid already)
        return plain_id(values.get(self.pk))

    def _recording(self) -> bool:
        return self.changes is not None and self.changes.active_for(self.table.name)

    def _serialize_key(self, connection: sa.Connection, key: Any) -> None:
        """PostgreSQL: wait for every other transaction writing row ``key`` with a client
        key (a REPLACE, or a create while changes are recorded) to end.

        Why: a REPLACE reads the row before writing it (its update check, its change's
        ``before``), and a row another transaction inserted but has not committed is not
        there for that read (``FOR UPDATE`` locks only rows it sees); the upsert then waits
        for that insert and updates the row, announced as a create with no ``before`` (and,
        for a caller subject to rules, without the update check). Under this lock the
        read comes after the other transaction's commit. A transaction-scoped advisory lock
        on (table, key): only writes of the same row wait. SQLite has one writer at a time.
        """
        if self.db.dialect == "postgresql":
            lock = advisory_key(self.table.name, plain_id(key))
            driver = connection.connection.driver_connection
            driver.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))

    def stored_row(self, key: Any) -> dict[str, Any] | None:
        """Every column of row ``key`` as the current write sees it (joining it), or None.

        For the validator chain (before-hooks are told the row an update or delete is about).
        """
        with self.db.write() as connection:
            return self._row_now(connection, key)

    def _row_now(self, connection: sa.Connection, key: Any) -> dict[str, Any] | None:
        """Every column of row ``key`` as this transaction sees it (locked on PostgreSQL).

        Compiled once and run on the driver connection like the writes (:meth:`_write_row`):
        with the change stream on, every create, update and delete pays for this read.
        """
        rows = self.queries.fixed(("whole_row",), self.statements.whole_row).rows(
            connection.connection.driver_connection, {ID_PARAM: key}
        )
        return dict(zip(self.columns, rows[0], strict=True)) if rows else None

    def _record(
        self,
        operation: Literal["create", "update", "delete"],
        principal: Principal,
        key: Any,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Announce a write once its transaction has committed (dropped on rollback)."""
        assert self.changes is not None
        change = RecordChange(self.table.name, operation, plain_id(key), before, after, principal)
        self.db.after_commit(functools.partial(self.changes.publish, change))

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


def _file_columns(api: RecordApiConfig, table: sa.Table) -> dict[str, FileColumn]:
    """The API's file columns and its validator's (a collection's file fields)."""
    declared = (*api.file_columns, *getattr(api.validator, "file_columns", ()))
    unknown = [column.name for column in declared if column.name not in table.c]
    if unknown:
        raise ValidationError.for_field("file_columns", f"no column {unknown[0][:64]!r}")
    return {column.name: column for column in declared}
