"""What the app factory builds at start-up and every request handler reaches through deps."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
import sqlalchemy as sa
from anyio.abc import TaskGroup
from sqlmodel import Session

from tinybase.auth.service import AuthService
from tinybase.auth.tokens import TokenService
from tinybase.auth.users import UserService
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.collections.service import CollectionServices, bind_session
from tinybase.data import Database
from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.loader import Extensions
from tinybase.functions.registry import FunctionSpec
from tinybase.functions.service import Functions
from tinybase.functions.transaction import FunctionTransaction
from tinybase.records.changes import ChangeStream
from tinybase.records.conflicts import ConflictBudget
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.registry import RecordApiRegistry
from tinybase.settings import Config, SettingsStore, settings

__all__ = ["AppState", "BackgroundTask"]

logger = logging.getLogger("tinybase.api")

BackgroundTask = Callable[[], Awaitable[None]]
"""A coroutine function that runs until cancelled (a polling loop), started at start-up."""


@dataclass(kw_only=True)
class AppState:
    """The running instance's services, created in the lifespan, never at import time.

    Services add themselves as fields (keyword-only, so new fields may come in any order)
    and are built in :func:`tinybase.api.startup.build_state`. Periodic work goes into
    ``background`` and runs in the app's task group until shutdown.
    """

    config: Config
    db: Database
    settings: SettingsStore
    auth: AuthService
    users: UserService
    tokens: TokenService
    collections: CollectionCatalog
    records: CollectionRecords
    record_apis: RecordApiRegistry
    executor: DatabaseExecutor
    hooks: Hooks
    extensions: Extensions = field(default_factory=Extensions)
    functions: Functions | None = None
    """The instance's functions (built in ``build_state`` once the state exists)."""
    conflicts: ConflictBudget = field(default_factory=ConflictBudget)
    background: list[BackgroundTask] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.background.append(self._poll_settings)

    @property
    def changes(self) -> ChangeStream:
        """Every committed record write of this instance (:mod:`tinybase.records.changes`)."""
        return self.record_apis.changes

    def served_functions(self) -> tuple[FunctionSpec, ...]:
        """The functions this instance serves (the extensions listing says which extension
        brought which)."""
        return () if self.functions is None else tuple(self.functions.registry)

    def session(self) -> Session:
        """A SQLModel session on the instance's database (``ctx.db`` of functions): its
        ``CollectionService`` uses this instance's catalog, record engines and writer."""
        services = CollectionServices(self.collections, self.records, self.executor)
        return bind_session(Session(self.db.engine), services)

    def bind_function_session(self, session: Session, transaction: FunctionTransaction) -> Session:
        """Bind a function call's ``ctx.db`` to this instance's services, with the call's
        own write transaction as the writer (``tinybase.functions.transaction``)."""
        services = CollectionServices(self.collections, self.records, transaction)
        return bind_session(session, services)

    def start_background(self, task_group: TaskGroup) -> None:
        """Start every background task in the app's task group (cancelled at shutdown)."""
        for task in self.background:
            task_group.start_soon(task, name=getattr(task, "__qualname__", repr(task)))

    def close(self) -> None:
        """Release connections and workers; the process is shutting down.

        The lifespan cancels the background tasks first; the module-level ``settings`` go
        back to their defaults if they were bound to this instance.
        """
        settings.unbind(self.settings)
        if self.functions is not None:
            self.functions.close()
        self.executor.close()
        self.db.engine.dispose()

    async def _poll_settings(self) -> None:
        """Re-read the runtime settings every ``settings_poll_seconds``, so that processes
        sharing one database agree within seconds of an admin's change."""
        while True:
            await anyio.sleep(self.config.settings_poll_seconds)
            try:
                changed = await anyio.to_thread.run_sync(self.settings.load)
            except sa.exc.SQLAlchemyError:
                # A transient database error must not stop the polling for good: log, retry.
                logger.warning("runtime settings poll failed; retrying", exc_info=True)
                continue
            if changed:
                logger.info("runtime settings changed; reloaded")
