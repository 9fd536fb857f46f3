"""Start-up: open the database, migrate it, and build every service the app needs."""

from __future__ import annotations

import logging

from tinybase.api.realtime_setup import build_realtime
from tinybase.api.state import AppState
from tinybase.auth.factory import build_auth_service
from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import database
from tinybase.db.migrate import upgrade
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.registry import RecordApiRegistry
from tinybase.settings import Config, SettingsStore, settings

__all__ = ["build_state"]

logger = logging.getLogger("tinybase.api")


def build_state(config: Config) -> AppState:
    """Build the running instance's state; called once per process from the lifespan.

    Opens the database (creating a SQLite file on first run), brings the system tables up
    to date (safe when several processes start at once) and loads the runtime settings,
    binding the module-level ``tinybase.settings.settings`` to them.
    """
    db = database(config.db_url, write_wait_seconds=config.db_write_wait_seconds)
    try:
        upgrade(db)
        runtime_settings = SettingsStore(db)
        runtime_settings.load()
        auth = build_auth_service(db, config)
    except BaseException:
        db.engine.dispose()
        raise
    settings.bind(runtime_settings)
    logger.info("database ready: %r", db)
    catalog = CollectionCatalog(db)
    registry = RecordApiRegistry(db, config_apis=config.record_apis)
    serve_collections(catalog, registry)
    state = AppState(
        config=config,
        db=db,
        settings=runtime_settings,
        auth=auth,
        users=auth.users,
        tokens=auth.tokens,
        collections=catalog,
        records=CollectionRecords(catalog, registry),
        record_apis=registry,
        executor=DatabaseExecutor(db),
        realtime=build_realtime(config, db, registry, catalog),
    )
    state.background.append(auth.revocation.run)
    state.background.append(state.realtime.run)
    return state
