"""Every record API of the instance by name: collections' defaults, admin-defined, configured.

Sources, in order of precedence (a later API with a taken name is skipped, with a warning):

1. :class:`RecordApiSource` objects (collections provide one: each collection's default API);
2. the ``_record_api`` table (APIs defined by admins through ``/api/admin/record-apis``);
3. ``config.record_apis`` from ``tinybase.toml`` (TrailBase-shaped entries).

For 2 and 3 the table is reflected (tables and views; views are read-only) and TrailBase's
semantics apply: ``READ`` in an ACL grants ``LIST`` too.

Across processes: the registry rebuilds itself when the database says something changed.
Every ``poll_seconds`` (2 s by default), the next lookup reads a version, the row count and
latest ``updated_at`` of ``_record_api`` and ``_collection`` (two tiny tables, one query), and
reloads when it differs. In this process :meth:`invalidate` reloads at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa

from tinybase.db.models import Collection, RecordApi
from tinybase.db.types import UTCDateTime
from tinybase.errors import ConflictError, NotFoundError, TinyBaseError, ValidationError
from tinybase.records.changes import ChangeStream
from tinybase.records.config import RecordApiConfig, RecordValidator
from tinybase.records.engine import RecordEngine
from tinybase.records.file_columns import FileColumn
from tinybase.records.keys import UNREFLECTED_UNIQUE

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = [
    "RecordApiRegistry",
    "RecordApiSource",
    "RegisteredApi",
    "check_exposable",
    "reflect",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_RECORD_APIS: sa.Table = RecordApi.__table__  # type: ignore[attr-defined]
_COLLECTIONS: sa.Table = Collection.__table__  # type: ignore[attr-defined]


class RecordApiSource(Protocol):
    """Something that defines record APIs over tables it owns (collections do)."""

    def record_apis(self) -> Iterable[tuple[RecordApiConfig, sa.Table]]:
        """Its APIs, each with the table it exposes."""
        ...

    def validator_for(self, table_name: str) -> RecordValidator | None:
        """The validator every API over ``table_name`` must use, if the source owns it."""
        ...


def check_exposable(table_name: str) -> None:
    """Refuse TinyBase's own tables: they hold credentials, sessions and secrets.

    Checked where every API is built (:class:`RecordApiRegistry`), whatever defined it:
    the admin API, ``tinybase.toml`` or code.

    Raises:
        ValidationError: ``table_name`` is a system table (``_`` first, or SQLite's own).
    """
    if table_name.startswith("_") or table_name.lower().startswith("sqlite_"):
        raise ValidationError.for_field("table_name", "TinyBase's system tables are private")


@dataclass(frozen=True)
class RegisteredApi:
    """One API: its config, table, engine, and where it was defined."""

    config: RecordApiConfig
    table: sa.Table
    engine: RecordEngine
    origin: str  # "source" (collections), "admin" or "config"


class RecordApiRegistry:
    """Record APIs by name, built lazily and rebuilt on change.

    Args:
        db: the database.
        config_apis: the ``record_apis`` entries of the configuration file.
        sources: providers of APIs (see :class:`RecordApiSource`); more with
            :meth:`add_source`.
        poll_seconds: how often a lookup checks the database for changes made elsewhere.
        changes: where every engine announces its committed writes (a new stream if None).
    """

    def __init__(
        self,
        db: Database,
        *,
        config_apis: Sequence[Mapping[str, Any]] = (),
        sources: Sequence[RecordApiSource] = (),
        poll_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        changes: ChangeStream | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or ChangeStream()
        self._config_apis = list(config_apis)
        self._sources = list(sources)
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._apis: dict[str, RegisteredApi] | None = None
        self._by_table: dict[str, RecordEngine] = {}
        self._files_by_table: dict[str, dict[str, FileColumn]] = {}
        self._file_apis: frozenset[str] = frozenset()
        self._version: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def add_source(self, source: RecordApiSource) -> None:
        """Add a provider of APIs and reload."""
        self._sources.append(source)
        self.invalidate()

    # -- lookups ------------------------------------------------------------------------

    def get(self, name: str, *, origin: str | None = None) -> RecordEngine:
        """The engine of API ``name`` (defined by ``origin``, if given).

        Raises:
            NotFoundError: no such API (or not one from ``origin``).
        """
        registered = self.apis().get(name)
        if registered is None or (origin is not None and registered.origin != origin):
            raise NotFoundError(f"record API {name[:64]!r} not found")
        return registered.engine

    def run(
        self,
        name: str,
        call: Callable[[RecordEngine], _T],
        *,
        retry: bool,
        origin: str | None = None,
    ) -> _T:
        """``call(engine)`` with the engine of API ``name`` (see :meth:`get` for ``origin``).

        Another process may have changed or dropped the API's table within the poll
        interval; when the database refuses the statement, the version is checked now:
        a dropped API is a 404, a changed one is tried once more (``retry``: reads) or a
        409 (writes: the client retries). Any other failure propagates unchanged.
        """
        engine = self.get(name, origin=origin)
        try:
            return call(engine)
        except sa.exc.DBAPIError:
            fresh = self._refresh().get(name)
            if fresh is not None and fresh.engine is engine:
                raise
        if fresh is None or (origin is not None and fresh.origin != origin):
            raise NotFoundError(f"record API {name[:64]!r} not found")
        if not retry:
            raise ConflictError(f"record API {name[:64]!r} changed meanwhile; try again")
        return call(fresh.engine)

    def for_table(self, table_name: str) -> RecordEngine | None:
        """The engine of the API exposing ``table_name`` (the one named like the table first)."""
        self.apis()
        return self._by_table.get(table_name)

    def file_columns_of(self, table_name: str) -> Mapping[str, FileColumn]:
        """The file columns of ``table_name`` over all its APIs, as of the last load (no
        database read: the change stream asks before every write)."""
        return self._files_by_table.get(table_name, {})

    def stores_files(self, api_name: str) -> bool:
        """Whether API ``api_name`` has file columns, as of the last load (no database
        read: the body-size limit asks before a request's body is read)."""
        return api_name in self._file_apis

    def file_tables(self) -> list[str]:
        """The tables with file columns (reloaded first if the database changed)."""
        self.apis()
        return list(self._files_by_table)

    def apis(self) -> dict[str, RegisteredApi]:
        """Every API by name (reloaded first if the database changed)."""
        apis = self._apis
        if apis is None or self._clock() - self._checked_at >= self._poll_seconds:
            apis = self._refresh()
        return apis

    def preload(self) -> None:
        """Load every API now (so :meth:`stores_files`, which never reads the database, knows
        them from the start); the next lookup still checks the database's version first."""
        self.apis()
        self._checked_at = float("-inf")

    def invalidate(self) -> None:
        """Forget everything; the next lookup reloads (call after a change in this process)."""
        with self._lock:
            self._apis = None
            self._version = None

    # -- loading ------------------------------------------------------------------------

    def _refresh(self) -> dict[str, RegisteredApi]:
        with self._lock:
            version = self._read_version()
            self._checked_at = self._clock()
            if self._apis is None or version != self._version:
                self.db.forget()
                self._apis = self._load()
                self._by_table = self._table_index(self._apis)
                self._files_by_table = self._file_index(self._apis)
                self._file_apis = frozenset(
                    name for name, api in self._apis.items() if api.engine.file_columns
                )
                self._version = version
            return self._apis

    def _read_version(self) -> tuple[Any, ...]:
        query = sa.select(
            sa.select(sa.func.count()).select_from(_RECORD_APIS).scalar_subquery(),
            sa.select(sa.func.max(_RECORD_APIS.c.updated_at)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(_COLLECTIONS).scalar_subquery(),
            sa.select(sa.func.max(_COLLECTIONS.c.updated_at)).scalar_subquery(),
        )
        with self.db.read() as connection:
            return tuple(connection.execute(query).one())

    def _load(self) -> dict[str, RegisteredApi]:
        apis: dict[str, RegisteredApi] = {}
        lookup = self.for_table_unlocked
        for source in self._sources:
            for config, table in source.record_apis():
                self._add(apis, config, table, "source", read_only=False, lookup=lookup)
        with self.db.read() as connection:
            rows = connection.execute(sa.select(_RECORD_APIS.c.config)).scalars().all()
        for origin, entries in (("admin", rows), ("config", self._config_apis)):
            for entry in entries:
                self._add_reflected(apis, entry, origin)
        return apis

    def for_table_unlocked(self, table_name: str) -> RecordEngine | None:
        """The table index as built by the last load (used by engines while expanding)."""
        return self._by_table.get(table_name)

    def _add_reflected(
        self, apis: dict[str, RegisteredApi], entry: Mapping[str, Any], origin: str
    ) -> None:
        try:
            config = RecordApiConfig.from_mapping(entry).normalized()
            check_exposable(config.table_name)
            # An API over a table a source owns (a collection's) validates as the source
            # does: otherwise it would store what the collection refuses.
            config = replace(config, validator=self._validator_for(config.table_name))
            with self.db.read() as connection:
                table, is_view = reflect(connection, config.table_name)
            self._add(
                apis, config, table, origin, read_only=is_view, lookup=self.for_table_unlocked
            )
        except (TinyBaseError, sa.exc.SQLAlchemyError) as exc:
            # One broken API (a dropped table, say) must not take the others down.
            name = entry.get("name") if isinstance(entry, Mapping) else None
            logger.warning("record API %r (%s) skipped: %s", name, origin, _reason(exc))

    def _validator_for(self, table_name: str) -> RecordValidator | None:
        for source in self._sources:
            validator = source.validator_for(table_name)
            if validator is not None:
                return validator
        return None

    def _add(
        self,
        apis: dict[str, RegisteredApi],
        config: RecordApiConfig,
        table: sa.Table,
        origin: str,
        *,
        read_only: bool,
        lookup: Callable[[str], RecordEngine | None],
    ) -> None:
        if config.name in apis:
            logger.warning("record API %r (%s) skipped: the name is taken", config.name, origin)
            return
        check_exposable(config.table_name)
        engine = RecordEngine(
            self.db,
            config,
            table,
            read_only=read_only,
            expand_lookup=lookup,
            changes=self.changes,
        )
        apis[config.name] = RegisteredApi(config, table, engine, origin)

    @staticmethod
    def _file_index(apis: Mapping[str, RegisteredApi]) -> dict[str, dict[str, FileColumn]]:
        index: dict[str, dict[str, FileColumn]] = {}
        for registered in apis.values():
            if registered.engine.file_columns:
                columns = index.setdefault(registered.config.table_name, {})
                columns.update(registered.engine.file_columns)
        return index

    @staticmethod
    def _table_index(apis: Mapping[str, RegisteredApi]) -> dict[str, RecordEngine]:
        index: dict[str, RecordEngine] = {}
        for name, registered in apis.items():
            table_name = registered.config.table_name
            if name == table_name or table_name not in index:
                index[table_name] = registered.engine
        return index


def reflect(connection: sa.Connection, table_name: str) -> tuple[sa.Table, bool]:
    """Reflect a table or view; returns it and whether it is a view.

    Raises:
        ValidationError: no such table or view (naming ``table_name``).
    """
    inspector = sa.inspect(connection)
    is_view = table_name in inspector.get_view_names()
    if not is_view and not inspector.has_table(table_name):
        raise ValidationError.for_field("table_name", f"no table or view named {table_name!r}")
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    if connection.dialect.name == "sqlite" and _unreflected_unique_index(connection, table):
        table.info[UNREFLECTED_UNIQUE] = True
    for column in table.columns:
        # Reflected DATETIME/TIMESTAMP columns come back naive: read them as UTC, like every
        # other TinyBase timestamp (ISO 8601 with an offset in JSON).
        if isinstance(column.type, sa.DateTime):
            column.type = UTCDateTime()
    return table, is_view


def _unreflected_unique_index(connection: sa.Connection, table: sa.Table) -> bool:
    """Whether SQLite has a unique ``CREATE INDEX`` on ``table`` that reflection skipped
    (SQLAlchemy skips indexes over expressions, such as ``lower(_email)``)."""
    reflected = {index.name for index in table.indexes}
    quoted = table.name.replace('"', '""')
    rows = connection.exec_driver_sql(f'PRAGMA index_list("{quoted}")').all()
    # Columns: seq, name, unique, origin ("c": CREATE INDEX, "u": UNIQUE, "pk"), partial.
    return any(row[2] and row[3] == "c" and row[1] not in reflected for row in rows)


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "detail", None) or exc).splitlines()[0]
