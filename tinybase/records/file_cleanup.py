"""Objects nobody points at any more are deleted, after the commit that let them go.

:class:`FileCleanup` subscribes to the change stream for the tables that have file columns
only (engines of other tables do not pay for recording changes). For each committed change
it works out the objects the row no longer references (a file replaced or removed by an
update, every file of a deleted row) and queues their keys; its background task deletes
them off the writing thread. A rolled-back write publishes nothing, so nothing is deleted.

The orphan sweep (:meth:`FileCleanup.sweep`, every ``sweep_seconds``) removes objects older
than ``grace_seconds`` that no row of their table references: the objects of writes that
crashed between the store and the database, or whose cleanup failed. It reads the file
columns of each table with file columns once per sweep.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import sqlalchemy as sa

from tinybase.errors import StorageError, TinyBaseError
from tinybase.records.changes import RecordChange
from tinybase.records.file_columns import FileColumn, object_key, stored_files
from tinybase.storage.thumbs import THUMBS_PREFIX

if TYPE_CHECKING:
    from tinybase.data import Database
    from tinybase.storage import FileStorage

__all__ = ["FileCleanup"]

logger = logging.getLogger(__name__)

FileColumnsOf = Callable[[str], Mapping[str, FileColumn]]
"""The file columns of a table (empty when it has none)."""


class FileCleanup:
    """Deletes the objects of replaced, removed and deleted files, and sweeps orphans.

    Args:
        db: the database (the sweep reads the file columns).
        storage: the file storage.
        file_columns: the file columns of a table (the record API registry's index).
        interval: how often queued deletions run, in seconds.
        sweep_seconds: how often the orphan sweep runs.
        grace_seconds: how old an unreferenced object must be before the sweep deletes it
            (longer than any write between storing an object and committing its row).
    """

    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        file_columns: FileColumnsOf,
        *,
        interval: float = 0.2,
        sweep_seconds: float = 3600.0,
        grace_seconds: float = 3600.0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.file_columns = file_columns
        self.interval = interval
        self.sweep_seconds = sweep_seconds
        self.grace = timedelta(seconds=grace_seconds)
        self._pending: queue.SimpleQueue[str] = queue.SimpleQueue()

    def wants(self, table: str) -> bool:
        """The change stream's filter: only tables with file columns."""
        return bool(self.file_columns(table))

    def on_change(self, change: RecordChange) -> None:
        """Queue the objects ``change`` released (called after its commit)."""
        columns = self.file_columns(change.table)
        for name in columns:
            kept = _ids(change.after, name)
            for file_id in _ids(change.before, name) - kept:
                self._pending.put(object_key(change.table, name, file_id))

    def flush(self) -> int:
        """Delete every queued object (and its thumbnails); returns how many."""
        done = 0
        while True:
            try:
                key = self._pending.get_nowait()
            except queue.Empty:
                return done
            try:
                self._delete(key)
                done += 1
            except StorageError:
                logger.warning("could not delete %s; the orphan sweep will", key)

    def _delete(self, key: str) -> None:
        store = self.storage.store
        store.delete(key)
        for thumb in store.list(f"{THUMBS_PREFIX}/{key}/"):
            store.delete(thumb.key)

    def sweep(self, tables: Iterable[str], *, now: datetime | None = None) -> int:
        """Delete the objects of ``tables`` older than the grace period that no row
        references, and thumbnails of objects that are gone; returns how many."""
        cutoff = (now or datetime.now(UTC)) - self.grace
        removed = 0
        for table in tables:
            for name in self.file_columns(table):
                referenced = self._referenced(table, name)
                prefix = f"{table}/{name}/"
                for item in self.storage.store.list(prefix):
                    if item.modified < cutoff and item.key[len(prefix) :] not in referenced:
                        self._delete(item.key)
                        removed += 1
        return removed + self._sweep_thumbnails()

    def _sweep_thumbnails(self) -> int:
        store, removed = self.storage.store, 0
        originals: dict[str, bool] = {}
        for item in store.list(f"{THUMBS_PREFIX}/"):
            original = item.key[len(THUMBS_PREFIX) + 1 :].rsplit("/", 1)[0]
            if original not in originals:
                try:
                    store.stat(original)
                    originals[original] = True
                except TinyBaseError:
                    originals[original] = False
            if not originals[original]:
                store.delete(item.key)
                removed += 1
        return removed

    def _referenced(self, table: str, column: str) -> set[str]:
        statement = sa.select(sa.column(column)).select_from(sa.table(table))
        with self.db.read() as connection:
            values = connection.execute(statement).scalars()
            return {item["id"] for value in values for item in stored_files(value)}

    async def run(self, tables: Callable[[], Iterable[str]]) -> None:
        """Background task: delete queued objects every ``interval``; sweep orphans of
        ``tables()`` every ``sweep_seconds``."""
        since_sweep = 0.0
        while True:
            await anyio.sleep(self.interval)
            since_sweep += self.interval
            if not self._pending.empty():
                await anyio.to_thread.run_sync(self.flush)
            if since_sweep >= self.sweep_seconds:
                since_sweep = 0.0
                try:
                    await anyio.to_thread.run_sync(lambda: self.sweep(list(tables())))
                except (TinyBaseError, sa.exc.SQLAlchemyError):
                    logger.warning("orphan file sweep failed; retrying later", exc_info=True)


def _ids(row: Mapping[str, Any] | None, column: str) -> set[str]:
    if row is None:
        return set()
    return {item["id"] for item in stored_files(row.get(column))}
