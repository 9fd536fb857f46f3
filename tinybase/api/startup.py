"""Start-up: open the database, migrate it, and build every service the app needs."""

from __future__ import annotations

import logging

from tinybase.api.state import AppState
from tinybase.auth.factory import build_auth_service
from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import database
from tinybase.db.migrate import upgrade
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.file_cleanup import FileCleanup
from tinybase.records.registry import RecordApiRegistry
from tinybase.records.uploads import Uploads
from tinybase.settings import Config, SettingsStore, settings
from tinybase.storage import FileStorage, data_directory

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
    registry.preload()  # the body-size limit asks which APIs store files
    storage = FileStorage(runtime_settings, data_dir=data_directory(config.db_url))
    cleanup = FileCleanup(db, storage, registry.file_columns_of)
    # Only writes to tables with file columns record changes for the cleanup.
    registry.changes.subscribe(cleanup.on_change, tables=cleanup.wants)
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
        storage=storage,
        uploads=Uploads(storage),
        file_cleanup=cleanup,
    )
    state.background.append(auth.revocation.run)
    state.background.append(lambda: cleanup.run(registry.file_tables))
    return state
