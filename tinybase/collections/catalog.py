"""The collection catalog: collections' definitions (``_collection``) and their real tables.

Every change (create, schema or options change, delete) runs in one write transaction that
alters the table with :func:`tinybase.data.sync_table`, saves the definition, regenerates the
``_record`` view and, before committing, runs every SQL access rule once so a broken rule is
refused with the database's message. Listeners (the record API registry) hear about each
committed change.

Reads are served from an in-process cache of every collection's definition, so a record
request does no catalog query in the steady state. A change made through any catalog of this
process (over the same engine) is seen by the next lookup; a change made by another process
within ``poll_seconds`` (2 s by default): every ``poll_seconds`` the next lookup reads a
version (the row count and latest ``updated_at`` of ``_collection``, one tiny query, as the
record API registry does) and reloads when it differs.

Schema changes never lose data silently: a field missing from the new schema is dropped only
when named in ``drop_fields``; a type change that cannot convert every value is refused (422,
field named) and the transaction leaves table and data as they were.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa

from tinybase.auth.principal import Principal
from tinybase.collections.access import allowed_operations, parse_options, record_api_config
from tinybase.collections.field_schema import CollectionSchema, parse_schema
from tinybase.collections.names import collection_name_problem
from tinybase.collections.tables import build_table
from tinybase.collections.validation import FieldValueError, convert_value
from tinybase.collections.views import create_record_view, drop_record_view
from tinybase.data import Database, SchemaChangeError, sync_table
from tinybase.db.models import Collection
from tinybase.errors import ConflictError, NotFoundError, ValidationError
from tinybase.records.access import check_rules, compile_rules
from tinybase.records.config import RecordApiConfig
from tinybase.utils import utcnow, uuid7

__all__ = [
    "CollectionCatalog",
    "CollectionDefinition",
    "collection_row",
    "collection_view",
    "definition_of",
]

logger = logging.getLogger(__name__)

_COLLECTIONS: sa.Table = Collection.__table__  # type: ignore[attr-defined]
# Serializes collection DDL across PostgreSQL processes (SQLite: the writer lock does it).
_DDL_LOCK_KEY = zlib.crc32(b"tinybase.collections.ddl")


@dataclass(frozen=True)
class _Snapshot:
    """Every collection's definition by name, as loaded at ``version``."""

    definitions: dict[str, CollectionDefinition]
    version: tuple[Any, ...]
    local: int  # the catalog's own change count when the load started


@dataclass(frozen=True)
class CollectionDefinition:
    """A collection with everything derived from its stored definition."""

    collection: Collection
    schema: CollectionSchema
    table: sa.Table
    api: RecordApiConfig


def definition_of(collection: Collection) -> CollectionDefinition:
    """Parse a stored collection (cached by its name, schema and options)."""
    return _definition(
        collection.name, _canonical(collection.schema_), _canonical(collection.options)
    ).with_collection(collection)


@dataclass(frozen=True)
class _Derived:
    schema: CollectionSchema
    table: sa.Table
    api: RecordApiConfig

    def with_collection(self, collection: Collection) -> CollectionDefinition:
        return CollectionDefinition(collection, self.schema, self.table, self.api)


@lru_cache(maxsize=512)
def _definition(name: str, schema_json: bytes, options_json: bytes) -> _Derived:
    schema = parse_schema(orjson.loads(schema_json))
    options = orjson.loads(options_json)
    return _Derived(schema, build_table(name, schema), record_api_config(name, options))


def _canonical(value: Mapping[str, Any] | None) -> bytes:
    return orjson.dumps(value or {}, option=orjson.OPT_SORT_KEYS)


class CollectionCatalog:
    """Reads and changes collections over a :class:`tinybase.data.Database`.

    Args:
        db: the database.
        listeners: called with no arguments after each committed change (for example the
            record API registry's invalidation).
        poll_seconds: how often a lookup checks the database for changes made by other
            processes (changes made in this process are seen at once).
    """

    def __init__(
        self,
        db: Database,
        *,
        listeners: Sequence[Callable[[], None]] = (),
        poll_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self._listeners = list(listeners)
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._local_changes = 0  # changes committed through this catalog
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every committed collection change."""
        self._listeners.append(listener)

    # -- reads -----------------------------------------------------------------------------

    def list(self) -> list[Collection]:
        """All collections, by name."""
        with self.db.read() as connection:
            rows = connection.execute(sa.select(_COLLECTIONS).order_by(_COLLECTIONS.c.name))
            return [_collection(row) for row in rows.mappings()]

    def get(self, name: str) -> Collection | None:
        """The collection called ``name``, or None (a copy: callers may change it freely)."""
        definition = self.definition(name)
        return None if definition is None else definition.collection.model_copy(deep=True)

    def definition(self, name: str) -> CollectionDefinition | None:
        """The current definition of collection ``name`` (from the cache), or None.

        Shared, read-only: callers must not change the objects it holds.
        """
        snapshot = self._snapshot
        if (
            snapshot is None
            or snapshot.local != self._local_changes
            or self._clock() - self._checked_at >= self._poll_seconds
        ):
            snapshot = self._refresh()
        return snapshot.definitions.get(name)

    def require(self, name: str) -> Collection:
        """The collection called ``name``; raises NotFoundError (404) when there is none."""
        collection = self.get(name)
        if collection is None:
            raise NotFoundError(f"collection {name!r} not found")
        return collection

    def recheck(self, name: str) -> CollectionDefinition | None:
        """:meth:`definition` after checking the database's version now, whatever the poll
        interval (for a caller whose statement failed on a possibly stale definition)."""
        return self._refresh().definitions.get(name)

    def _refresh(self) -> _Snapshot:
        """Check the version (and reload if it moved).

        No lock is held while reading (a read may wait for the writer, which may itself be
        looking a collection up): two threads may load at once, and the first to finish
        is kept; a later lookup reloads if it was not the newest.
        """
        started = self._clock()
        local = self._local_changes
        current = self._snapshot
        snapshot = current
        # The version is read before the rows: a change committed in between makes the
        # next check reload again, never keeps a stale definition.
        with self.db.read() as connection:
            version = tuple(connection.execute(_VERSION_QUERY).one())
            if current is None or current.local != local or version != current.version:
                rows = connection.execute(sa.select(_COLLECTIONS)).mappings().all()
                definitions = {row["name"]: definition_of(_collection(row)) for row in rows}
                snapshot = _Snapshot(definitions, version, local)
        assert snapshot is not None
        with self._lock:
            if self._snapshot is current:  # nobody stored a newer load meanwhile
                self._snapshot = snapshot
                self._checked_at = started
        return snapshot

    # -- changes ---------------------------------------------------------------------------

    def create(
        self,
        name: str,
        label: str,
        schema: Any,
        options: Any = None,
    ) -> Collection:
        """Create a collection and its table.

        Raises:
            ValidationError: a bad name, schema, options or access rule (422, named).
            ConflictError: the name is taken by a collection or another table (409).
        """
        problem = collection_name_problem(name)
        if problem:
            raise ValidationError.for_field("name", problem)
        parsed = parse_schema(schema)
        stored_options = parse_options(options)
        now = utcnow()
        row = {
            "id": uuid7(),
            "name": name,
            "label": label or name,
            "schema": parsed.to_json(),
            "options": stored_options,
            "created_at": now,
            "updated_at": now,
        }
        with self._changing() as connection:
            self._check_name_free(connection, name)
            self._check_relations(connection, name, parsed)
            created = _collection(row)
            definition = definition_of(created)
            with _mapped_schema_errors(parsed):
                sync_table(connection, definition.table)
            connection.execute(sa.insert(_COLLECTIONS).values(**row))
            self._finish(connection, definition)
        return created

    def update(
        self,
        collection: Collection,
        *,
        label: str | None = None,
        schema: Any = None,
        options: Any = None,
    ) -> Collection:
        """Change a collection's label, schema (altering its table) and/or options.

        ``schema`` is the complete new field list; a field left out is dropped only when
        named in ``schema["drop_fields"]``. Access entries in ``options`` replace the stored
        ones one operation at a time; operations not named keep their rule.

        Raises:
            ValidationError: a bad schema or rule, or values that do not convert (422).
            ConflictError: fields would be removed without ``drop_fields`` (409).
            NotFoundError: the collection no longer exists.
        """
        with self._changing() as connection:
            current = _find(connection, collection.name)
            if current is None or current.id != collection.id:
                raise NotFoundError(f"collection {collection.name!r} not found")
            old = definition_of(current)
            new_schema = old.schema if schema is None else parse_schema(schema)
            drop = _fields_to_drop(old.schema, new_schema, schema)
            self._check_relations(connection, current.name, new_schema)
            values = {
                "label": current.label if label is None else label,
                "schema": new_schema.to_json(),
                "options": parse_options(options, current=current.options),
                "updated_at": utcnow(),
            }
            updated = _collection({**collection_row(current), **values})
            definition = definition_of(updated)
            drop_record_view(connection)
            with _mapped_schema_errors(new_schema):
                sync_table(connection, definition.table, drop_columns=drop)
            _convert_json_values(connection, definition.table, old.schema, new_schema)
            connection.execute(
                sa.update(_COLLECTIONS).where(_COLLECTIONS.c.id == current.id).values(**values)
            )
            self._finish(connection, definition)
        return updated

    def delete(self, collection: Collection) -> None:
        """Drop a collection's table with all its records, and its definition.

        Raises:
            ConflictError: another collection has a relation to this one (409, named).
            NotFoundError: the collection no longer exists.
        """
        with self._changing() as connection:
            current = _find(connection, collection.name)
            if current is None:
                raise NotFoundError(f"collection {collection.name!r} not found")
            self._check_not_referenced(connection, current.name)
            drop_record_view(connection)
            definition_of(current).table.drop(connection)
            connection.execute(sa.delete(_COLLECTIONS).where(_COLLECTIONS.c.id == current.id))
            self._finish(connection, None)

    # -- steps -----------------------------------------------------------------------------

    @contextmanager
    def _changing(self) -> Iterator[sa.Connection]:
        with self.db.write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK_KEY)))
            yield connection
            # Other threads reload once it is committed: told earlier (the change inside a
            # larger write, the writer's), one of them would reload the old state and keep
            # it as current until the next poll.
            self.db.after_commit(self._changed)
        if self.db.in_transaction:
            self._changed()  # inside a larger write: this thread's lookups see it at once

    def _changed(self) -> None:
        with self._lock:  # this catalog reloads on its next lookup
            self._local_changes += 1
        self.db.forget()
        for listener in self._listeners:
            listener()

    def _finish(self, connection: sa.Connection, changed: CollectionDefinition | None) -> None:
        if changed is not None:
            check_rules(
                connection,
                changed.table,
                compile_rules(changed.api, changed.table, dialect=connection.dialect.name),
            )
        rows = connection.execute(sa.select(_COLLECTIONS).order_by(_COLLECTIONS.c.name))
        definitions = [definition_of(_collection(row)) for row in rows.mappings()]
        create_record_view(
            connection, [(str(d.collection.id), d.table, d.schema) for d in definitions]
        )

    @staticmethod
    def _check_name_free(connection: sa.Connection, name: str) -> None:
        if _find(connection, name) is not None:
            raise ConflictError(f"collection {name!r} already exists")
        inspector = sa.inspect(connection)
        if name in inspector.get_table_names() or name in inspector.get_view_names():
            raise ConflictError(f"a table named {name!r} already exists")

    @staticmethod
    def _check_relations(connection: sa.Connection, name: str, schema: CollectionSchema) -> None:
        errors = []
        for position, field in enumerate(schema.fields):
            target = field.collection
            if target is not None and target != name and _find(connection, target) is None:
                errors.append(
                    {
                        "loc": ["body", "schema", "fields", position, "collection"],
                        "msg": f"no collection named {target!r}",
                        "type": "value_error",
                    }
                )
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _check_not_referenced(connection: sa.Connection, name: str) -> None:
        rows = connection.execute(sa.select(_COLLECTIONS)).mappings()
        for row in rows:
            other = _collection(row)
            if other.name == name:
                continue
            fields = [
                f for f, target in definition_of(other).schema.relations().items() if target == name
            ]
            if fields:
                raise ConflictError(
                    f"collection {other.name!r} has a relation to {name!r} ({', '.join(fields)});"
                    " change or delete it first"
                )


def _convert_json_values(
    connection: sa.Connection, table: sa.Table, old: CollectionSchema, new: CollectionSchema
) -> None:
    """Re-check the values of JSON-stored fields whose type or options changed.

    ``list[...]`` and ``json`` fields share one column type, so the table sync sees no change
    from ``list[string]`` to ``list[integer]``: each stored value is converted here (and
    rewritten when its form changes), or the change is refused with a 422 naming the field;
    the surrounding transaction then leaves the data as it was.
    """
    previous = old.by_name()
    for position, field in enumerate(new.fields):
        before = previous.get(field.name)
        if not field.type.is_list or before is None or before == field:
            continue
        column = table.c[field.name]
        rows = connection.execute(
            sa.select(table.c.id, column).where(column.is_not(None))
        ).fetchall()
        for record_id, value in rows:
            try:
                converted = convert_value(field, value)
            except FieldValueError as exc:
                raise ValidationError(
                    [
                        {
                            "loc": ["body", "schema", "fields", position, field.name],
                            "msg": f"record {record_id}: {exc}",
                            "type": "schema_change",
                        }
                    ]
                ) from None
            if orjson.dumps(converted) != orjson.dumps(value):  # 1 -> 1.0 is a change too
                connection.execute(
                    sa.update(table).where(table.c.id == record_id).values({column: converted})
                )


def _fields_to_drop(old: CollectionSchema, new: CollectionSchema, raw: Any) -> tuple[str, ...]:
    removed = [f.name for f in old.fields if f.name not in new.by_name()]
    requested = raw.get("drop_fields") or [] if isinstance(raw, dict) else []
    if not isinstance(requested, list) or not all(isinstance(n, str) for n in requested):
        raise ValidationError.for_field("drop_fields", "drop_fields must be a list of names")
    stray = [n for n in requested if n not in removed]
    if stray:
        raise ValidationError.for_field(
            "drop_fields",
            f"only fields removed from the schema can be dropped: {', '.join(map(repr, stray))}",
        )
    kept = [n for n in removed if n not in requested]
    if kept:
        raise ConflictError(
            f"the new schema removes field(s) {', '.join(map(repr, kept))}, which would delete "
            "their data: list them in drop_fields to confirm"
        )
    return tuple(requested)


@contextmanager
def _mapped_schema_errors(schema: CollectionSchema) -> Iterator[None]:
    """A value that cannot convert (or a constraint the data breaks) is a 422 naming the field."""
    try:
        yield
    except SchemaChangeError as exc:
        raise ValidationError([_change_error(schema, exc.column, str(exc))]) from exc
    except sa.exc.IntegrityError as exc:
        logger.info("schema change refused by the database: %s", exc.orig)
        raise ValidationError(
            [
                _change_error(
                    schema, None, "the existing records violate the new schema's constraints"
                )
            ]
        ) from exc


def _change_error(schema: CollectionSchema, column: str | None, message: str) -> dict[str, Any]:
    names = [f.name for f in schema.fields]
    loc: list[Any] = ["body", "schema", "fields"]
    if column in names:
        loc += [names.index(column), column]
    return {"loc": loc, "msg": message, "type": "schema_change"}


_VERSION_QUERY = sa.select(
    sa.select(sa.func.count()).select_from(_COLLECTIONS).scalar_subquery(),
    sa.select(sa.func.max(_COLLECTIONS.c.updated_at)).scalar_subquery(),
)


def _find(connection: sa.Connection, name: str) -> Collection | None:
    row = (
        connection.execute(sa.select(_COLLECTIONS).where(_COLLECTIONS.c.name == name))
        .mappings()
        .first()
    )
    return None if row is None else _collection(row)


def _collection(row: Mapping[str, Any]) -> Collection:
    return Collection(
        id=row["id"],
        name=row["name"],
        label=row["label"],
        schema_=row["schema"],
        options=row["options"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def collection_view(collection: Collection, principal: Principal) -> dict[str, Any]:
    """A collection as ``principal`` may see it.

    Admins get the whole row. Others get what they need to use the API, the fields and the
    operations they may attempt (``operations``), and never the options: access rules are
    SQL an admin wrote, and their literals can be secrets (an invite code a create rule
    checks, say).
    """
    row = collection_row(collection)
    if principal.is_admin:
        return row
    del row["options"]
    row["operations"] = allowed_operations(principal, definition_of(collection).api)
    return row


def collection_row(collection: Collection) -> dict[str, Any]:
    """A collection as its ``_collection`` row (plain values; the API's JSON shape too)."""
    return {
        "id": collection.id,
        "name": collection.name,
        "label": collection.label,
        "schema": collection.schema_,
        "options": collection.options,
        "created_at": collection.created_at,
        "updated_at": collection.updated_at,
    }
