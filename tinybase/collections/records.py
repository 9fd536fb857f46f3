"""Records of collections, through the record engine, in the seed's ``Record`` shape.

Every operation validates ``data`` against the collection's current schema (typed values,
unknown fields refused, errors naming the field), then hands it to the
:class:`tinybase.records.engine.RecordEngine` of the collection's default API, which checks
the ACLs and compiles the access rules into the statement itself: a list under an ``owner``
rule returns only the caller's rows, and a row the caller may not read is a 404.

Records come back as plain dicts ``{id, collection_id, owner_id, data, created_at,
updated_at}``, ready for orjson (no Pydantic model on the read path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa

from tinybase.auth.principal import Principal
from tinybase.collections.catalog import CollectionCatalog, CollectionDefinition, definition_of
from tinybase.collections.names import SYSTEM_COLUMNS
from tinybase.collections.validation import field_error, validate_record_data
from tinybase.data import Database
from tinybase.db.models import Collection
from tinybase.errors import BadRequestError, ConflictError, NotFoundError, ValidationError
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import RecordEngine
from tinybase.records.filters import parse_filters
from tinybase.records.query import MAX_OFFSET, ListQuery

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "CollectionRecords",
    "CollectionValidator",
    "RecordPage",
    "check_relations",
    "engine_for",
    "record_shape",
    "with_validator",
]

_T = TypeVar("_T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# List options of /api/collections/{name}/records, never filters.
_LIST_OPTIONS = frozenset({"limit", "offset", "sort_by", "sort_order", "cursor"})


@dataclass(frozen=True)
class RecordPage:
    """One page of a list: records in the ``Record`` shape, the total and the next cursor."""

    records: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "cursor": self.cursor,
        }


def engine_for(db: Database, definition: CollectionDefinition) -> RecordEngine:
    """The record engine of a collection's default API (cached per database and definition)."""
    return _engine(db, definition.collection.name, definition.table, definition.api)


@lru_cache(maxsize=256)
def _engine(db: Database, name: str, table: sa.Table, api: Any) -> RecordEngine:
    # ``table`` and ``api`` come from definition_of's cache: the same definition gives the same
    # objects, so a schema or options change (a new definition) gets a new engine.
    return RecordEngine(db, api, table)


def record_shape(collection_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """An engine row as the seed's ``Record``: system columns, then the fields in ``data``.

    A write's answer about a record the caller may not read is its id alone
    (:meth:`RecordEngine.seen`): ``{"id", "collection_id"}``.
    """
    if len(row) == 1:
        return {"id": row["id"], "collection_id": collection_id}
    return {
        "id": row["id"],
        "collection_id": collection_id,
        "owner_id": row["owner_id"],
        "data": {name: value for name, value in row.items() if name not in SYSTEM_COLUMNS},
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class CollectionRecords:
    """Record operations on collections, for a caller (a :class:`Principal`).

    Args:
        catalog: where collections are looked up.
    """

    def __init__(self, catalog: CollectionCatalog) -> None:
        self.catalog = catalog
        self.db = catalog.db

    def _run(
        self,
        collection: Collection | str,
        operation: Callable[[CollectionDefinition], _T],
        *,
        retry: bool,
    ) -> _T:
        """``operation(definition)``; when the database refuses the statement and the cached
        definition turns out stale (changed or dropped by another process within the
        catalog's poll interval), 404 for a dropped collection, and else one more try with
        the new definition (``retry``: reads) or a 409 (writes: the transaction may be
        aborted, the client retries)."""
        definition = self.definition(collection)
        try:
            return operation(definition)
        except sa.exc.DBAPIError:
            if not isinstance(collection, str):
                raise
            fresh = self.catalog.recheck(collection)
            if fresh is definition:
                raise
        if fresh is None:
            raise NotFoundError(f"collection {collection!r} not found")
        if not retry:
            raise ConflictError(f"collection {collection!r} changed meanwhile; try again")
        return operation(fresh)

    def definition(self, collection: Collection | str) -> CollectionDefinition:
        """The current definition of a collection (by name or as loaded); 404 if it is gone."""
        if isinstance(collection, str):
            definition = self.catalog.definition(collection)
            if definition is None:
                raise NotFoundError(f"collection {collection!r} not found")
            return definition
        return definition_of(collection)

    def create(
        self,
        principal: Principal,
        collection: Collection | str,
        data: Any,
        *,
        owner_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a record; the owner is ``owner_id`` (SYSTEM only) or the caller.

        Returns the record, or only its id when the read rule hides it from the caller.

        Raises:
            ValidationError: bad, missing or unknown fields, or a relation to nothing (422).
            PermissionDeniedError / AuthenticationError: the create access denies it.
            ConflictError: a unique value is taken (409).
        """

        def create(definition: CollectionDefinition) -> dict[str, Any]:
            values = validate_record_data(definition.schema, data)
            check_relations(self.catalog, principal, definition, values)
            if owner_id is not None:
                if not principal.is_admin:
                    raise ValidationError.for_field("owner_id", "only TinyBase itself sets owners")
                values["owner_id"] = owner_id
            engine = engine_for(self.db, definition)
            (record_id,) = engine.create(principal, values)
            return self._shape(definition, engine.seen(principal, record_id))

        return self._run(collection, create, retry=False)

    def read(
        self, principal: Principal, collection: Collection | str, record_id: str
    ) -> dict[str, Any]:
        """One record; 404 when it does not exist or the caller may not read it."""

        def read(definition: CollectionDefinition) -> dict[str, Any]:
            row = engine_for(self.db, definition).read(principal, record_id)
            return self._shape(definition, row)

        return self._run(collection, read, retry=True)

    def update(
        self,
        principal: Principal,
        collection: Collection | str,
        record_id: str,
        data: Any,
        *,
        partial: bool = True,
    ) -> dict[str, Any]:
        """Change a record's fields (only those given when ``partial``; all otherwise).

        Returns the record, or only its id when the read rule hides it from the caller.

        Raises:
            NotFoundError: no such record, or the caller may not read it.
            PermissionDeniedError: the caller may read it but not update it.
            ValidationError / ConflictError: as for :meth:`create`.
        """

        def update(definition: CollectionDefinition) -> dict[str, Any]:
            values = validate_record_data(definition.schema, data, partial=partial)
            if not partial:
                values = {field.name: None for field in definition.schema.fields} | values
            check_relations(self.catalog, principal, definition, values)
            engine = engine_for(self.db, definition)
            # An empty change still goes through the update rule (and writes nothing).
            return self._shape(definition, engine.update(principal, record_id, values))

        return self._run(collection, update, retry=False)

    def conflicts_may_reveal(self, principal: Principal, collection: Collection | str) -> bool:
        """Whether a unique conflict in ``collection`` could show ``principal`` a value they
        may not read (see :mod:`tinybase.records.conflicts`)."""
        definition = self.definition(collection)
        return engine_for(self.db, definition).conflicts_may_reveal(principal)

    def delete(self, principal: Principal, collection: Collection | str, record_id: str) -> None:
        """Delete a record; 404 when it does not exist or the caller may not read it."""
        self._run(
            collection,
            lambda definition: engine_for(self.db, definition).delete(principal, record_id),
            retry=False,
        )

    def list(
        self,
        principal: Principal,
        collection: Collection | str,
        *,
        filters: Iterable[tuple[str, str]] = (),
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str = "desc",
        cursor: str | None = None,
    ) -> RecordPage:
        """A page of the records the caller may list.

        Args:
            filters: query-string pairs in the record engine's filter language
                (``title=x``, ``price[gte]=10``, ``filter[status][$in]=...``).
            limit: 1 to ``MAX_LIMIT``.
            sort_by: a field or system column; None sorts by id (creation order).
            sort_order: ``asc`` or ``desc``.

        Raises:
            BadRequestError: a bad limit, sort, filter or cursor (named).
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise BadRequestError(f"offset must be between 0 and {MAX_OFFSET}")
        if sort_order not in ("asc", "desc"):
            raise BadRequestError("sort_order must be 'asc' or 'desc'")
        sign = "-" if sort_order == "desc" else "+"
        query = ListQuery(
            filters=parse_filters([(k, v) for k, v in filters if k not in _LIST_OPTIONS]),
            order=f"{sign}{sort_by or 'id'}",
            cursor=cursor,
            limit=limit,
            offset=offset,
            count=True,
        )

        def page(definition: CollectionDefinition) -> RecordPage:
            result = engine_for(self.db, definition).list(principal, query)
            collection_id = str(definition.collection.id)  # once per page, not per row
            return RecordPage(
                records=[record_shape(collection_id, row) for row in result.records],
                total=result.total_count or 0,
                limit=limit,
                offset=offset,
                cursor=result.cursor,
            )

        return self._run(collection, page, retry=True)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _shape(definition: CollectionDefinition, row: Mapping[str, Any]) -> dict[str, Any]:
        return record_shape(str(definition.collection.id), row)


class CollectionValidator:
    """A collection's schema as the record engine's ``RecordValidator``.

    Attached to the collection's default record API, so ``/api/records/v1/{collection}``
    (single, bulk, transactions) checks values exactly as ``/api/collections`` does.

    Args:
        catalog: where related collections are looked up.
        definition: the collection as the API was built from it.
    """

    #: Set by the server only: the id (UUIDv7, the pagination cursor) and the timestamps.
    server_columns = frozenset({"id", "created_at", "updated_at"})

    def __init__(self, catalog: CollectionCatalog, definition: CollectionDefinition) -> None:
        self.catalog = catalog
        self.definition = definition

    def validate(self, principal: Principal, values: Any, *, partial: bool) -> dict[str, Any]:
        """Typed values of the schema's fields, plus ``owner_id`` (which the rules guard).

        Raises:
            ValidationError: a bad, missing or unknown field, a server-set column (``id`` on
                create, ``created_at``, ``updated_at``), or a relation the caller cannot read.
        """
        if not isinstance(values, Mapping):
            raise ValidationError.for_field("body", "expected a JSON object")
        data = dict(values)
        passed: dict[str, Any] = {}
        errors = []
        for name in SYSTEM_COLUMNS:
            if name not in data:
                continue
            value = data.pop(name)
            # owner_id: the access rules decide (never someone else's; unchanged on update).
            # id on update: the engine refuses any id but the record's own.
            if name == "owner_id" or (name == "id" and partial):
                passed[name] = value
            else:
                errors.append(field_error(name, "set by the server", kind="read_only"))
        if errors:
            raise ValidationError(errors)
        checked = validate_record_data(self.definition.schema, data, partial=partial)
        check_relations(self.catalog, principal, self.definition, checked)
        return checked | passed


def with_validator(catalog: CollectionCatalog, definition: CollectionDefinition) -> RecordApiConfig:
    """The collection's record API config with its :class:`CollectionValidator` attached."""
    return replace(definition.api, validator=CollectionValidator(catalog, definition))


def check_relations(
    catalog: CollectionCatalog,
    principal: Principal,
    definition: CollectionDefinition,
    values: Mapping[str, Any],
) -> None:
    """Refuse a relation to a record the caller cannot read, naming the field.

    Security: the check goes through the target collection's read access, and the message is
    the same whether the record is missing or hidden, so a relation field cannot serve as an
    oracle for ids the caller may not know.
    """
    errors = []
    for field, target in definition.schema.relations().items():
        value = values.get(field)
        if value is None:
            continue
        target_definition = catalog.definition(target)
        found: Mapping[str, Any] = {}
        if target_definition is not None:
            target_engine = engine_for(catalog.db, target_definition)
            found = target_engine.read_many(principal, [value])
        if str(value) not in found:
            errors.append(field_error(field, f"no record {value} in {target!r} you can read"))
    if errors:
        raise ValidationError(errors)
