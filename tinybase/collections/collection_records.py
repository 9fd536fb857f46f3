"""Records of collections, through the record engine, in the seed's ``Record`` shape.

Every operation goes to the :class:`tinybase.records.engine.RecordEngine` of the
collection's default API (the registry's, one per table), which validates ``data`` against
the collection's current schema (:mod:`tinybase.collections.validator`: typed values,
unknown fields refused, errors naming the field), checks the ACLs and compiles the access
rules into the statement itself: a list under an ``owner`` rule returns only the caller's
rows, and a row the caller may not read is a 404.

Records come back as plain dicts ``{id, collection_id, owner_id, data, created_at,
updated_at}``, ready for orjson (no Pydantic model on the read path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tinybase.auth.principal import Principal
from tinybase.collections.catalog import CollectionCatalog, CollectionDefinition
from tinybase.collections.names import SYSTEM_COLUMNS
from tinybase.collections.validation import field_error
from tinybase.db.models import Collection
from tinybase.errors import BadRequestError, NotFoundError, ValidationError
from tinybase.records.engine import RecordEngine
from tinybase.records.file_columns import FileColumn
from tinybase.records.filters import parse_filters
from tinybase.records.query import MAX_LIMIT, MAX_OFFSET, ListQuery
from tinybase.records.registry import RecordApiRegistry

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "CollectionRecords",
    "RecordPage",
    "record_shape",
]

_T = TypeVar("_T")

Within = Callable[[RecordEngine, Callable[[], _T]], _T]
"""Runs a write (the second argument) for an engine, e.g. within a conflict budget."""

_SYSTEM = frozenset(SYSTEM_COLUMNS)

#: The origin of a collection's own record API in the registry.
_OWN_API = "source"

#: The collections family's page size when a request names none (the seed's).
DEFAULT_LIMIT = 100
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
    """Record operations on collections, in the seed's ``Record`` shape, for a caller.

    A thin adapter over the record engine of each collection's default API, the one the
    registry owns (the same engine serves ``/api/records/v1/{collection}``): that engine
    validates with the collection's schema (:mod:`tinybase.collections.validator`), checks
    the ACLs and rules, and retries once when the collection changed in another process. This class
    adds what is the collections family's own: ``data`` holds fields only (system columns
    are the server's), owners set by TinyBase itself, full updates, the ``Record`` shape.

    Args:
        catalog: where collections are looked up.
        registry: the record APIs (collections' default APIs among them).
    """

    def __init__(self, catalog: CollectionCatalog, registry: RecordApiRegistry) -> None:
        self.catalog = catalog
        self.registry = registry

    def definition(self, collection: Collection | str) -> CollectionDefinition:
        """The current definition of a collection; 404 if there is none."""
        name = _name(collection)
        definition = self.catalog.definition(name)
        if definition is None:
            raise NotFoundError(f"collection {name!r} not found")
        return definition

    def engine(self, collection: Collection | str) -> RecordEngine:
        """The record engine of the collection's default API; 404 if there is none."""
        name = _name(collection)
        try:
            return self.registry.get(name, origin=_OWN_API)
        except NotFoundError:
            raise NotFoundError(f"collection {name!r} not found") from None

    def _run(
        self,
        collection: Collection | str,
        call: Callable[[RecordEngine, str], _T],
        *,
        retry: bool,
        within: Within[_T] | None = None,
    ) -> _T:
        """``call(engine, collection_id)`` through the registry (its stale-table retry),
        inside ``within(engine, write)`` if given (a write's conflict budget).

        One lookup of the definition (for the id) and one of the engine: this is the hot
        path of every record request of the family.
        """
        name = _name(collection)
        collection_id = str(self.definition(name).collection.id)

        def run(engine: RecordEngine) -> _T:
            if within is None:
                return call(engine, collection_id)
            return within(engine, lambda: call(engine, collection_id))

        # The collection's own API, not an admin API of the same name (the definition is
        # there, so the registry lacks it only within its poll of a change elsewhere).
        return self.registry.run(name, run, retry=retry, origin=_OWN_API)

    def create(
        self,
        principal: Principal,
        collection: Collection | str,
        data: Any,
        *,
        owner_id: str | None = None,
        within: Within[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a record; the owner is ``owner_id`` (SYSTEM only) or the caller.

        Returns the record, or only its id when the read rule hides it from the caller.
        ``within(engine, write)`` runs the write (the HTTP routes: the conflict budget).

        Raises:
            ValidationError: bad, missing or unknown fields, or a relation to nothing (422).
            PermissionDeniedError / AuthenticationError: the create access denies it.
            ConflictError: a unique value is taken (409).
        """
        values = _fields_only(data)
        if owner_id is not None:
            if not principal.is_admin:
                raise ValidationError.for_field("owner_id", "only TinyBase itself sets owners")
            values["owner_id"] = owner_id

        def create(engine: RecordEngine, collection_id: str) -> dict[str, Any]:
            (record_id,) = engine.create(principal, values)
            return record_shape(collection_id, engine.seen(principal, record_id))

        return self._run(collection, create, retry=False, within=within)

    def read(
        self, principal: Principal, collection: Collection | str, record_id: str
    ) -> dict[str, Any]:
        """One record; 404 when it does not exist or the caller may not read it."""
        return self._run(
            collection,
            lambda engine, collection_id: record_shape(
                collection_id, engine.read(principal, record_id)
            ),
            retry=True,
        )

    def files(
        self, principal: Principal, collection: Collection | str, record_id: str, field: str
    ) -> tuple[str, FileColumn, list[dict[str, Any]]]:
        """The collection's table, file field ``field`` and the stored metadata of its files
        in a record, if the caller may read the record (the engine's read, rule in the SQL).

        Raises:
            NotFoundError: no such collection or record, or the read rule hides it.
            BadRequestError: ``field`` is not a file field.
        """
        return self._run(
            collection,
            lambda engine, _id: (engine.table.name, *engine.files(principal, record_id, field)),
            retry=True,
        )

    def update(
        self,
        principal: Principal,
        collection: Collection | str,
        record_id: str,
        data: Any,
        *,
        partial: bool = True,
        within: Within[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Change a record's fields (only those given when ``partial``; all otherwise).

        Returns the record, or only its id when the read rule hides it from the caller;
        ``within`` as for :meth:`create`.

        Raises:
            NotFoundError: no such record, or the caller may not read it.
            PermissionDeniedError: the caller may read it but not update it.
            ValidationError / ConflictError: as for :meth:`create`.
        """
        values = _fields_only(data)

        def update(engine: RecordEngine, collection_id: str) -> dict[str, Any]:
            row = engine.update(principal, record_id, values, partial=partial)
            return record_shape(collection_id, row)

        return self._run(collection, update, retry=False, within=within)

    def delete(self, principal: Principal, collection: Collection | str, record_id: str) -> None:
        """Delete a record; 404 when it does not exist or the caller may not read it."""
        self._run(
            collection,
            lambda engine, _collection_id: engine.delete(principal, record_id),
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

        def page(engine: RecordEngine, collection_id: str) -> RecordPage:
            result = engine.list(principal, query)
            return RecordPage(
                records=[record_shape(collection_id, row) for row in result.records],
                total=result.total_count or 0,
                limit=limit,
                offset=offset,
                cursor=result.cursor,
            )

        return self._run(collection, page, retry=True)


def _name(collection: Collection | str) -> str:
    return collection if isinstance(collection, str) else collection.name


def _fields_only(data: Any) -> dict[str, Any]:
    """``data`` of the collections family: fields only (the system columns are the server's).

    Raises:
        ValidationError: ``data`` is not an object, or names a system column.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(
            [{"loc": ["body", "data"], "msg": "must be an object", "type": "type"}]
        )
    if _SYSTEM.isdisjoint(data):  # nearly always: one set operation in C
        return dict(data)
    errors = [
        field_error(name, f"unknown field {name!r}", kind="extra_forbidden")
        for name in data
        if name in SYSTEM_COLUMNS
    ]
    raise ValidationError(errors)
