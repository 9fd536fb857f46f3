"""``CollectionService``: the public Python API over collections and their records.

The methods and signatures are the seed's (``seeds/tinybase-python-api.md``); they run as
TinyBase itself (``SYSTEM``: no access rule applies), as the code of functions and extensions
is trusted. Records come back as ``tinybase.db.models.Record`` objects, the same shape
``select(Record)`` reads from the ``_record`` view.

A session made by the running instance (``AppState.session()``, the ``ctx.db`` of
functions) carries the instance's services (:func:`bind_session`): its catalog, the record
engines of its registry and its writer, so a write from Python queues for the one writer
like every HTTP write and its change reaches the instance at once. A session of one's own
(a script) gets services of its own over the session's engine, writing directly.

Writes do not go through the session's own transaction. Before writing, the service commits
the session (ending its transaction: on SQLite an open session transaction would hold a
snapshot or the write lock that the write must wait for); after writing, the session's next
query sees the change. "The service commits its changes", as in the seed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Session

from tinybase.auth.principal import SYSTEM
from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import Database
from tinybase.db.models import Collection, Record
from tinybase.errors import NotFoundError
from tinybase.records.registry import RecordApiRegistry

__all__ = ["CollectionService", "CollectionServices", "Writer", "bind_session"]

_T = TypeVar("_T")
SESSION_KEY = "tinybase.collections"


class Writer(Protocol):
    """Where the service's writes go: the instance's ``DatabaseExecutor``, or the write
    transaction of a function call (``tinybase.functions.transaction``)."""

    def write_blocking(self, fn: Callable[[], _T], *, rows: int = 1) -> _T: ...


@dataclass(frozen=True)
class CollectionServices:
    """What :class:`CollectionService` uses of an instance.

    Attributes:
        catalog: the collections.
        records: their records, through the registry's engines.
        writer: the instance's writer (None: write directly, as a script does).
    """

    catalog: CollectionCatalog
    records: CollectionRecords
    writer: Writer | None = None

    @classmethod
    def standalone(cls, db: Database) -> CollectionServices:
        """Services of their own over ``db`` (no running instance)."""
        catalog = CollectionCatalog(db)
        registry = RecordApiRegistry(db)
        serve_collections(catalog, registry)
        return cls(catalog, CollectionRecords(catalog, registry))

    def write(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` through the writer, or directly without one."""
        return fn() if self.writer is None else self.writer.write_blocking(fn)


def bind_session(session: Session, services: CollectionServices) -> Session:
    """Let :class:`CollectionService` over ``session`` use ``services``; returns it."""
    session.info[SESSION_KEY] = services
    return session


def _services_for(session: Session) -> CollectionServices:
    services = session.info.get(SESSION_KEY)
    if not isinstance(services, CollectionServices):
        bind = session.get_bind()
        engine = bind if isinstance(bind, sa.Engine) else bind.engine
        services = CollectionServices.standalone(Database(engine))
        bind_session(session, services)
    return services


class CollectionService:
    """Collections and records from Python (functions, extensions, scripts).

    Args:
        session: a SQLModel session on TinyBase's database.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._services = _services_for(session)
        self._catalog = self._services.catalog
        self._records = self._services.records

    # -- collections -----------------------------------------------------------------------

    def list_collections(self) -> list[Collection]:
        """List all collections."""
        return self._catalog.list()

    def get_collection_by_name(self, name: str) -> Collection | None:
        """Get a collection by name."""
        return self._catalog.get(name)

    def create_collection(
        self,
        name: str,
        label: str,
        schema: dict[str, Any],
        options: dict[str, Any] | None = None,
    ) -> Collection:
        """Create a new collection (and its table).

        Raises:
            tinybase.errors.ValidationError: a bad name, schema or options.
            tinybase.errors.ConflictError: the name is taken.
        """
        self._end_session_transaction()
        return self._services.write(lambda: self._catalog.create(name, label, schema, options))

    def update_collection(
        self,
        collection: Collection,
        label: str | None = None,
        schema: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> Collection:
        """Update an existing collection; ``schema`` is the full new field list.

        Fields left out of ``schema`` are dropped only when also named in
        ``schema["drop_fields"]`` (otherwise ``ConflictError``).
        """
        self._end_session_transaction()
        return self._services.write(
            lambda: self._catalog.update(collection, label=label, schema=schema, options=options)
        )

    def delete_collection(self, collection: Collection) -> None:
        """Delete a collection and all its records."""
        self._end_session_transaction()
        self._services.write(lambda: self._catalog.delete(collection))

    # -- records ---------------------------------------------------------------------------

    def list_records(
        self,
        collection: Collection,
        owner_id: UUID | None = None,
        limit: int = 100,
        offset: int = 0,
        filters: dict[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: str = "desc",
    ) -> tuple[list[Record], int]:
        """List records with filtering and pagination.

        Args:
            owner_id: only records of this owner.
            filters: ``{field: value}`` equality filters, or keys in the record engine's
                filter language (``{"price[gte]": 10}``).

        Returns:
            The page of records and the total number of matching records.
        """
        pairs = [(key, _query_text(value)) for key, value in (filters or {}).items()]
        if owner_id is not None:
            pairs.append(("owner_id", str(owner_id)))
        page = self._records.list(
            SYSTEM,
            collection,
            filters=pairs,
            limit=limit,
            offset=offset,
            sort_by=sort_by,
            sort_order=sort_order,
        )
        return [_record(row) for row in page.records], page.total

    def create_record(
        self,
        collection: Collection,
        data: dict[str, Any],
        owner_id: UUID | None = None,
    ) -> Record:
        """Create a new record, owned by ``owner_id`` (or nobody)."""
        self._end_session_transaction()
        owner = None if owner_id is None else str(owner_id)
        row = self._services.write(
            lambda: self._records.create(SYSTEM, collection, data, owner_id=owner)
        )
        return _record(row)

    def update_record(
        self,
        collection: Collection,
        record: Record,
        data: dict[str, Any],
        partial: bool = True,
    ) -> Record:
        """Update an existing record: the given fields (``partial``) or all of them."""
        self._end_session_transaction()
        row = self._services.write(
            lambda: self._records.update(SYSTEM, collection, str(record.id), data, partial=partial)
        )
        return _record(row)

    def delete_record(self, record: Record) -> None:
        """Delete a record."""
        self._end_session_transaction()
        collection = next(
            (c for c in self._catalog.list() if c.id == _uuid(record.collection_id)), None
        )
        if collection is None:
            raise NotFoundError("the record's collection no longer exists")
        self._services.write(lambda: self._records.delete(SYSTEM, collection, str(record.id)))

    # -- helpers ---------------------------------------------------------------------------

    def _end_session_transaction(self) -> None:
        if self.session.in_transaction():
            self.session.commit()


def _record(row: dict[str, Any]) -> Record:
    return Record(
        id=_uuid(row["id"]),
        collection_id=_uuid(row["collection_id"]),
        owner_id=None if row["owner_id"] is None else _uuid(row["owner_id"]),
        data={name: _json_value(value) for name, value in row["data"].items()},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _json_value(value: Any) -> Any:
    # Same values as the _record view gives: dates and date-times as ISO 8601 text.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
