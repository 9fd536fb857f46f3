"""The realtime service of an instance, as :func:`tinybase.api.startup.build_state` builds it."""

from __future__ import annotations

from typing import Any

from tinybase.api.responses import dumps
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import record_shape
from tinybase.data import Database
from tinybase.realtime import EventRelay, RealtimeLimits, RealtimeService
from tinybase.realtime.relay import TableRelay
from tinybase.records.registry import RecordApiRegistry
from tinybase.settings import Config

__all__ = ["build_realtime", "shared"]


def build_realtime(
    config: Config, db: Database, registry: RecordApiRegistry, catalog: CollectionCatalog
) -> RealtimeService:
    """The realtime service, with a relay between processes when they share the database."""
    limits = RealtimeLimits(
        heartbeat_seconds=config.realtime_heartbeat_seconds,
        queue_size=config.realtime_queue_size,
        max_connections=config.realtime_max_connections,
        max_connections_per_user=config.realtime_max_connections_per_user,
    )

    def shape_record(api: str, row: dict[str, Any]) -> dict[str, Any]:
        definition = catalog.definition(api)
        return row if definition is None else record_shape(definition.collection.id, row)

    return RealtimeService(
        registry,
        registry.changes,
        limits=limits,
        shape_record=shape_record,
        encode=dumps,
        relay=_relay(config, db),
    )


def shared(config: Config, db: Database) -> bool:
    """Whether events must travel between processes (``realtime_shared``; unset: on
    PostgreSQL, where any number of processes may serve one database; ``tinybase serve
    --workers N`` sets it for SQLite)."""
    if config.realtime_shared is not None:
        return config.realtime_shared
    return db.dialect == "postgresql"


def _relay(config: Config, db: Database) -> EventRelay | None:
    if not shared(config, db):
        return None
    if db.dialect == "postgresql":
        # Deferred: psycopg is the `postgres` extra, absent from SQLite-only installs.
        from tinybase.realtime.postgres import PostgresRelay

        return PostgresRelay(db)
    return TableRelay(db, poll_seconds=config.realtime_poll_seconds)
