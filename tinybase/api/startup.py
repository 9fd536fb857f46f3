"""Start-up: open the database, migrate it, and build every service the app needs."""

from __future__ import annotations

import logging
from pathlib import Path

from tinybase.api.realtime_setup import build_realtime
from tinybase.api.state import AppState
from tinybase.auth.factory import build_auth_service
from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import database
from tinybase.db.migrate import upgrade
from tinybase.extensions.before import BeforeRecordHooks
from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.hooks import BEFORE_KINDS, collected_hooks
from tinybase.extensions.loader import load_extensions
from tinybase.extensions.record_hooks import connect_record_hooks
from tinybase.extensions.user_hooks import connect_user_hooks
from tinybase.functions.deploys import DeployStore
from tinybase.functions.isolated import IsolatedFunctions
from tinybase.functions.isolated_calls import isolation_settings
from tinybase.functions.loader import instance_hooks, load_functions
from tinybase.functions.service import build_functions
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.file_cleanup import FileCleanup
from tinybase.records.registry import RecordApiRegistry
from tinybase.records.uploads import Uploads
from tinybase.schedule import build_schedules
from tinybase.settings import Config, SettingsStore, settings
from tinybase.storage import FileStorage, data_directory

__all__ = ["build_state", "work_path"]

logger = logging.getLogger("tinybase.api")


def build_state(config: Config) -> AppState:
    """Build the running instance's state; called once per process from the lifespan.

    Opens the database (creating a SQLite file on first run), brings the system tables up
    to date (safe when several processes start at once) and loads the runtime settings,
    binding the module-level ``tinybase.settings.settings`` to them.

    Extensions are imported first, then the function modules (their hooks are gathered into
    ``state.hooks``); an extension that fails is recorded in ``state.extensions`` and the
    rest of the instance still starts.
    """
    extensions = load_extensions(config.extensions_path, enabled=config.extensions_enabled)
    # Then the function modules, before the hooks are gathered: they may register hooks.
    functions = load_functions(config.functions_path)
    hooks = Hooks(
        instance_hooks(functions, collected_hooks()), queue_size=config.extensions_hook_queue_size
    )
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
    before = BeforeRecordHooks(hooks) if any(map(hooks.has_kind, BEFORE_KINDS)) else None
    serve_collections(catalog, registry, before=before)
    registry.preload()  # the body-size limit asks which APIs store files
    storage = FileStorage(runtime_settings, data_dir=data_directory(config.db_url))
    cleanup = FileCleanup(db, storage, registry.file_columns_of)
    # Only writes to tables with file columns record changes for the cleanup.
    registry.changes.subscribe(cleanup.on_change, tables=cleanup.wants)
    connect_record_hooks(hooks, registry.changes, catalog)
    connect_user_hooks(hooks, auth)
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
        hooks=hooks,
        extensions=extensions,
        storage=storage,
        uploads=Uploads(storage),
        file_cleanup=cleanup,
        realtime=build_realtime(config, db, registry, catalog),
    )
    state.background.append(auth.revocation.run)
    state.background.append(state.realtime.run)
    state.background.append(lambda: cleanup.run(registry.file_tables))
    try:
        state.functions = build_functions(
            functions,
            db=db,
            write=state.executor.write,
            bind_session=state.bind_function_session,
            timeout_seconds=config.function_timeout_seconds,
            threads=config.function_threads,
            isolated=lambda registry: IsolatedFunctions(
                registry,
                isolation_settings(config),
                folder=Path(config.functions_path).expanduser().resolve(),
                work=work_path(config),
                deploys=DeployStore(db),
            ),
            hooks=hooks,
        )
        state.schedules, state.scheduler = build_schedules(
            config, db=db, executor=state.executor, functions=state.functions
        )
        state.background.append(state.functions.isolated.run)
    except BaseException:
        state.close()
        raise
    state.background.append(state.scheduler.run)
    return state


def work_path(config: Config) -> Path:
    """TinyBase's folder for function environments and deployed scripts."""
    chosen = config.function_work_path or str(Path(config.functions_path) / ".tinybase")
    return Path(chosen).expanduser().resolve()
