"""File storage: the :class:`ObjectStore` protocol, its local and S3 backends, and
:class:`FileStorage`, which picks the backend the runtime settings ``storage.*`` name.

``storage.enabled`` off (the default): objects go to the local folder ``storage.local_path``
(relative paths are inside the instance's data directory, so a fresh instance needs nothing
else). On: the ``storage.backend`` chosen (``local`` or ``s3`` with the ``s3_*`` settings).
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from tinybase.settings import SettingsStore, StorageSettings
from tinybase.storage.base import CHUNK_SIZE, ObjectInfo, ObjectStore, check_key
from tinybase.storage.local import LocalStore
from tinybase.storage.s3 import S3Options, S3Store

__all__ = [
    "CHUNK_SIZE",
    "FileStorage",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "S3Options",
    "S3Store",
    "build_store",
    "check_key",
    "data_directory",
]


def build_store(options: StorageSettings, *, data_dir: Path) -> ObjectStore:
    """The store ``options`` describe (relative local paths resolved in ``data_dir``)."""
    if options.enabled and options.backend == "s3":
        return S3Store(
            S3Options(
                bucket=options.s3_bucket or "",
                endpoint_url=options.s3_endpoint_url,
                region=options.s3_region,
                access_key_id=options.s3_access_key_id,
                secret_access_key=options.s3_secret_access_key,
                prefix=options.s3_prefix,
                path_style=options.s3_path_style,
            )
        )
    return LocalStore(data_dir / options.local_path)


def data_directory(db_url: str | sa.URL) -> Path:
    """The instance's data directory: the SQLite file's folder, else the working folder."""
    url = sa.engine.make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return Path.cwd()


class FileStorage:
    """The instance's object store, rebuilt when the ``storage.*`` settings change.

    Args:
        settings: the runtime settings (polled by the app; another process's change is
            picked up with them).
        data_dir: the instance's data directory (relative local paths live there).
    """

    def __init__(self, settings: SettingsStore, *, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self._options: StorageSettings | None = None
        self._store: ObjectStore | None = None
        self._guard = threading.Lock()

    @property
    def store(self) -> ObjectStore:
        """The current store (the same object for as long as the settings stay)."""
        options = self.settings.current.storage
        store = self._store
        if store is not None and options is self._options:
            return store
        with self._guard:
            if self._store is None or options != self._options:
                self._store = build_store(options, data_dir=self.data_dir)
            self._options = options
            return self._store

    @property
    def max_file_size(self) -> int:
        """The largest file accepted, in bytes (``storage.max_file_size_mb``)."""
        return self.settings.current.storage.max_file_size_mb * 1024 * 1024
